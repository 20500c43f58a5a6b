"""Consumers on the real broker: idempotence, dead-lettering, redelivery limit, replay, reconnection."""

import asyncio
import json
from uuid import UUID

import aio_pika
import pytest

from shared.messaging.replay import replay
from tests.support import auth, events, infra
from tests.support.apps import drain, make_app, publish, publish_event

pytestmark = pytest.mark.integration


def case_exists(db, demand_id):
    return lambda: infra.fetch(db, "SELECT 1 FROM cases WHERE demand_id = $1", demand_id)


@pytest.mark.parametrize("inbox_on", [True, False], ids=["inbox", "inbox-skipped"])
async def test_the_same_event_delivered_twice_is_applied_once(amqp, databases, monkeypatch, inbox_on):
    """The timeline entry is appended per handling, so only the inbox keeps a redelivery from doubling it;
    with the claim skipped the same test sees two entries, which proves the assertion can fail."""
    if not inbox_on:
        # The claim made as ever (scope, lock, row), its answer ignored.
        monkeypatch.setattr("shared.messaging.inbox.claimed", lambda status: True)
    db = databases("tracking")
    async with infra.running(make_app("tracking", amqp_url=amqp, database_url=db)):
        event = events.submitted()
        await publish_event(amqp, event)
        await publish_event(amqp, event)  # a redelivery, e.g. after a crash before the ack
        sentinel = events.submitted(tracking_no="2026-000002")
        await publish_event(amqp, sentinel)  # one consumer handles its queue in order
        await infra.eventually(case_exists(db, sentinel.demand_id), what="the sentinel to be handled")
    entries = await infra.fetch(db, "SELECT 1 FROM timeline WHERE event_id = $1", event.event_id)
    assert len(entries) == (1 if inbox_on else 2)


async def test_events_out_of_order_build_the_same_case(amqp, databases):
    db = databases("tracking")
    async with infra.running(make_app("tracking", amqp_url=amqp, database_url=db)) as client:
        first = events.submitted()
        for event in (events.rated(first), events.assigned(first), first):  # Rated before Assigned before Submitted
            await publish_event(amqp, event)
        sheet = await infra.eventually(
            lambda: _sheet_when(client, first.demand_id, lambda s: s["status"] == "rated" and s["enterprise_name"]),
            what="all three events applied",
        )
    assert sheet["assignee_name"] == "市计量测试院"
    assert len(sheet["timeline"]) == 3


async def _sheet_when(client, demand_id, ok):
    reply = await client.get(f"/demands/{demand_id}", headers=auth.HEAD)
    return reply.json() if reply.status_code == 200 and ok(reply.json()) else None


async def test_malformed_messages_go_to_the_dlq_and_the_consumer_keeps_consuming(amqp, databases):
    db = databases("tracking")
    async with infra.running(make_app("tracking", amqp_url=amqp, database_url=db)):
        await publish(amqp, "demand.submitted", b"{not json")
        no_station = events.submitted().model_dump(mode="json")
        del no_station["station_id"]  # issue: an event without a station id is refused
        await publish(amqp, "demand.submitted", json.dumps(no_station).encode())
        good = events.submitted()
        await publish_event(amqp, good)
        await infra.eventually(case_exists(db, good.demand_id), what="the valid event after the bad ones")
        await infra.eventually(
            lambda: _depth_is(amqp, "tracking.demand.submitted.dlq", 2), what="two messages in the DLQ"
        )
    dead = await drain(amqp, "tracking.demand.submitted.dlq")
    assert {m.headers["x-first-death-reason"] for m in dead} == {"rejected"}
    assert len(await infra.fetch(db, "SELECT 1 FROM cases")) == 1


async def _depth_is(amqp, queue, n):
    return await infra.queue_depth(amqp, queue) == n


async def test_failing_message_is_dead_lettered_after_the_delivery_limit_and_can_be_replayed(amqp, databases):
    db = databases("intake")
    async with infra.running(make_app("intake", amqp_url=amqp, database_url=db, delivery_limit=2)) as client:
        reply = await client.post("/demands", json=events.demand_form(), headers=auth.CLERK)
        demand = reply.json()
        # An Archived for a demand intake does not know fails every time: nack, redeliver, give up.
        orphan = events.archived(events.submitted())
        await publish_event(amqp, orphan)
        await infra.eventually(lambda: _depth_is(amqp, "intake.demand.archived.dlq", 1), what="dead-lettering")
        [message] = await drain(amqp, "intake.demand.archived.dlq")
        assert message.headers["x-first-death-reason"] == "delivery_limit"
        assert message.message_id == str(orphan.event_id)

        # Replay: an Archived for the known demand, dead-lettered by hand, comes back and is handled.
        fixed = events.archived(events.submitted(demand_id=UUID(demand["demand_id"])))
        await publish(amqp, "demand.archived", b"{broken")  # park something in the DLQ first
        await infra.eventually(lambda: _depth_is(amqp, "intake.demand.archived.dlq", 1), what="the broken one")
        await drain(amqp, "intake.demand.archived.dlq")
        await _dead_letter_by_hand(amqp, fixed)
        assert await replay(amqp, "intake.demand.archived") == 1
        await infra.eventually(
            lambda: infra.fetch(db, "SELECT 1 FROM demands WHERE status = 'archived' AND archive_no IS NOT NULL"),
            what="the replayed event to be handled",
        )
        assert await infra.queue_depth(amqp, "intake.demand.archived.dlq") == 0


async def _dead_letter_by_hand(amqp, event):
    connection = await aio_pika.connect(amqp)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        await channel.default_exchange.publish(
            aio_pika.Message(event.model_dump_json().encode(), message_id=str(event.event_id)),
            routing_key="intake.demand.archived.dlq",
        )


async def test_consumer_comes_back_after_losing_its_connection(amqp, vhost, databases):
    db = databases("tracking")
    async with infra.running(make_app("tracking", amqp_url=amqp, database_url=db)) as client:
        assert (await client.get("/readyz")).status_code == 200
        infra.close_all_connections(vhost)
        event = events.submitted()
        await infra.eventually(lambda: _publish_ok(amqp, event), timeout=30, what="publishing to the vhost")
        await infra.eventually(case_exists(db, event.demand_id), timeout=60, what="consumption after reconnect")
        await infra.eventually(lambda: _ready(client), timeout=30, what="/readyz to recover")


async def _publish_ok(amqp, event) -> bool:
    try:
        await publish_event(amqp, event)
    except Exception:
        return False
    return True


async def _ready(client) -> bool:
    return (await client.get("/readyz")).status_code == 200


async def test_readyz_fails_while_a_queue_has_no_consumer(amqp, databases):
    db = databases("evaluation")
    app = make_app("evaluation", amqp_url=amqp, database_url=db)
    async with infra.running(app) as client:
        assert (await client.get("/readyz")).json()["status"] == "ready"
        broker = app.state.runtime.broker
        subscriber = next(s for s in broker.subscribers if "demand.resolved" in str(s.queue.name))
        await subscriber.stop()
        reply = await client.get("/readyz")
        assert reply.status_code == 503
        assert reply.json()["problems"]["queues_without_consumer"] == ["evaluation.demand.resolved"]
        assert (await client.get("/healthz")).status_code == 200  # alive, just not ready


async def test_concurrent_first_events_of_a_demand_do_not_overwrite_each_other(amqp, databases):
    """Submitted and Assigned handled at the same moment for a demand not yet known: both facts survive."""
    from services.tracking import usecases as tracking

    db = databases("tracking")
    app = make_app("tracking", amqp_url=amqp, database_url=db)
    async with infra.running(app):
        rt = app.state.runtime
        for _ in range(10):
            submitted = events.submitted()
            await asyncio.gather(
                rt.uow.handle(submitted, tracking.record_event),
                rt.uow.handle(events.assigned(submitted), tracking.record_event),
            )
            [case] = await infra.fetch(
                db, "SELECT enterprise_name, assignment_no FROM cases WHERE demand_id = $1", submitted.demand_id
            )
            assert case["enterprise_name"] and case["assignment_no"] == 1
