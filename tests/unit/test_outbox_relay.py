"""The relay's batch: published at once, one demand's events in turn, each marked only after its own confirm.

A fake pool and broker stand in for PostgreSQL and RabbitMQ; tests/integration/test_outbox.py runs the same rules on
the real ones.
"""

import asyncio
import contextlib
from types import SimpleNamespace
from uuid import UUID, uuid4

import pytest
from aiormq.exceptions import PublishError
from pamqp.commands import Basic

from shared.messaging import outbox
from shared.messaging.outbox import OutboxRelay, in_turns
from shared.observability import ServiceMetrics

A, B, C = UUID(int=1), UUID(int=2), UUID(int=3)


def row(id_: int, demand: UUID | None, routing_key: str = "demand.submitted") -> dict:
    return {
        "id": id_,
        "event_id": uuid4(),
        "routing_key": routing_key,
        "station_id": "210100/210112/hunnan-01",
        "demand_id": demand,
        "correlation_id": uuid4(),
        "payload": f'{{"id": {id_}}}',  # the relay reads the payload as JSON text
    }


class FakeConn:
    def __init__(self, rows: list[dict], pending: int) -> None:
        self.rows, self.pending = rows, pending
        self.executed: list[tuple] = []
        self.counts = 0

    @contextlib.asynccontextmanager
    async def transaction(self):
        yield

    async def fetch(self, sql, limit):
        return self.rows[:limit]

    async def execute(self, sql, *args):
        self.executed.append((" ".join(sql.split()), *args))

    async def fetchval(self, sql):
        assert "count(*)" in sql
        self.counts += 1
        return self.pending


class FakePool:
    def __init__(self, conn: FakeConn) -> None:
        self.conn = conn

    @contextlib.asynccontextmanager
    async def acquire(self):
        yield self.conn


class FakeBroker:
    """Confirms after a few loop turns; records what was in flight when each publish started."""

    def __init__(self, unroutable: frozenset[str] = frozenset()) -> None:
        self.unroutable = unroutable
        self.started: list[int] = []
        self.in_flight: set[int] = set()
        self.most_in_flight = 0
        self.confirmed: list[int] = []

    async def publish(self, body, *, routing_key, message_id, **_):
        key = int(body.decode().split(":")[1].strip(" }"))
        self.started.append(key)
        self.in_flight.add(key)
        self.most_in_flight = max(self.most_in_flight, len(self.in_flight))
        for _ in range(3):
            await asyncio.sleep(0)
        self.in_flight.discard(key)
        if routing_key in self.unroutable:
            returned = SimpleNamespace(
                delivery=Basic.Return(
                    reply_code=312, reply_text="NO_ROUTE", exchange="qs.events", routing_key=routing_key
                )
            )
            raise PublishError(returned, returned.delivery)
        self.confirmed.append(key)
        return Basic.Ack()


def relay(conn: FakeConn, broker: FakeBroker, batch: int = 100) -> OutboxRelay:
    return OutboxRelay(
        pool=FakePool(conn), dsn="", broker=broker, metrics=ServiceMetrics("test"), app_id="test", batch=batch
    )


def marked_published(conn: FakeConn) -> list[int]:
    return [ids for sql, *args in conn.executed if sql.startswith("UPDATE outbox SET published_at") for ids in args[0]]


def marked_failed(conn: FakeConn) -> list[int]:
    return [args[0] for sql, *args in conn.executed if "last_error" in sql]


def test_a_batch_splits_into_turns_per_demand_and_per_routing_key_without_one():
    rows = [row(1, A), row(2, B), row(3, A), row(4, None, "station.registered"), row(5, C), row(6, None, "x.y")]
    rows.append(row(7, None, "station.registered"))
    assert [[r["id"] for r in turn] for turn in in_turns(rows)] == [[1, 3], [2], [4, 7], [5], [6]]


async def test_the_batch_goes_out_at_once_and_one_demands_events_in_turn():
    conn = FakeConn([row(1, A), row(2, B), row(3, A, "demand.assigned"), row(4, C), row(5, A, "demand.resolved")], 5)
    broker = FakeBroker()
    assert await relay(conn, broker).publish_pending() == (5, False)
    assert broker.started[:3] == [1, 2, 4]  # the first of each demand at once
    assert broker.most_in_flight == 3
    assert [k for k in broker.started if k in (1, 3, 5)] == [1, 3, 5]
    assert broker.confirmed.index(1) < broker.started.index(3) and broker.confirmed.index(3) < broker.started.index(5)
    assert sorted(marked_published(conn)) == [1, 2, 3, 4, 5]
    assert conn.counts == 0  # a batch that was not full needs no count for the gauge


async def test_an_unroutable_demand_event_holds_back_its_demand_and_stops_new_publishes():
    rows = [row(1, A, "demand.nobody"), row(2, B), row(3, A), row(4, C)]
    conn = FakeConn(rows, 4)
    broker = FakeBroker(unroutable=frozenset({"demand.nobody"}))
    assert await relay(conn, broker).publish_pending() == (2, True)
    assert 3 not in broker.started  # behind the failed one of its demand
    assert sorted(marked_published(conn)) == [2, 4]  # in flight with it, confirmed: marked
    assert marked_failed(conn) == [1]


async def test_after_a_failure_no_further_publish_starts():
    rows = [row(1, A, "demand.nobody"), row(2, B), row(3, B, "demand.assigned")]
    conn = FakeConn(rows, 3)
    broker = FakeBroker(unroutable=frozenset({"demand.nobody"}))
    published, failed = await relay(conn, broker).publish_pending()
    assert failed and 1 not in marked_published(conn)
    # 2 went out with 1; 3 waited for 2's confirm, which came after 1 had failed
    assert broker.started == [1, 2] and marked_published(conn) == [2] and published == 1


async def test_an_unroutable_reference_event_is_not_a_failure():
    conn = FakeConn([row(1, None, "calendar.corrected"), row(2, A)], 2)
    broker = FakeBroker(unroutable=frozenset({"calendar.corrected"}))
    assert await relay(conn, broker).publish_pending() == (2, False)
    assert sorted(marked_published(conn)) == [1, 2]


async def test_the_pending_gauge_is_counted_only_after_full_batches_and_not_every_pass():
    conn = FakeConn([row(i, uuid4()) for i in range(1, 4)], pending=250)
    the_relay = relay(conn, FakeBroker(), batch=3)
    await the_relay.publish_pending()
    await the_relay.publish_pending()
    assert conn.counts == 1  # full batches: counted once, then not again within outbox._COUNT_EVERY
    assert the_relay._metrics.outbox_pending._value.get() == 250 - 3


@pytest.mark.parametrize("limit, expected", [(1, [1]), (None, [1, 2, 3])])
async def test_a_probe_after_a_failure_publishes_one_event(limit, expected):
    conn = FakeConn([row(1, A), row(2, B), row(3, C)], 3)
    broker = FakeBroker()
    await relay(conn, broker).publish_pending(limit)
    assert sorted(broker.started) == expected


async def test_passes_are_spaced_so_a_busy_relay_batches_and_an_idle_one_starts_at_once():
    the_relay = relay(FakeConn([], 0), FakeBroker())
    loop = asyncio.get_running_loop()
    started = loop.time()
    await the_relay._space_out()  # idle: at once
    first = loop.time()
    await the_relay._space_out()  # right after a pass: waits out the interval
    second = loop.time()
    assert first - started < outbox._PASS_SECONDS / 2
    assert second - first >= outbox._PASS_SECONDS * 0.9
