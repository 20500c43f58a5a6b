"""Outbox: state and event commit together; the relay publishes what the broker was not there for."""

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from shared.calendar import china_today
from shared.db import create_pool, ensure_database, migrate
from shared.messaging import outbox
from tests.support import auth, events, infra
from tests.support.apps import body_of, capture_queue, drain, make_app
from tests.support.proxy import TcpProxy

pytestmark = pytest.mark.integration


async def test_demand_and_its_event_commit_together(amqp, databases):
    db = databases("intake")
    async with infra.running(make_app("intake", amqp_url=amqp, database_url=db)) as client:
        reply = await client.post("/demands", json=events.demand_form(), headers=auth.CLERK)
        assert reply.status_code == 201, reply.text
        demand_id = reply.json()["demand_id"]
    rows = await infra.fetch(db, "SELECT demand_id FROM demands")
    pending = await infra.fetch(db, "SELECT routing_key, demand_id, payload FROM outbox WHERE demand_id IS NOT NULL")
    assert [r["demand_id"] for r in rows] == [pending[0]["demand_id"]]
    assert str(pending[0]["demand_id"]) == demand_id
    assert pending[0]["routing_key"] == "demand.submitted"


async def test_rollback_leaves_neither_state_nor_event(amqp, databases):
    db = databases("intake")
    app = make_app("intake", amqp_url=amqp, database_url=db)
    async with infra.running(app):
        rt = app.state.runtime
        event = events.submitted()
        with pytest.raises(RuntimeError):
            async with rt.uow.begin() as tx:
                await tx.store.next_serial(events.STATION, 2026)
                await tx.publish(event)
                raise RuntimeError("crash before commit")
        # The same through the HTTP path: a green-channel request without its reason is refused by the domain
        # rule after the tracking number's serial was drawn.
        reply = await infra.client(app).post(
            "/demands", json=events.demand_form(green_channel="major_project"), headers=auth.CLERK
        )
        assert reply.status_code == 422
        assert reply.json()["errors"][0]["field"] == "green_channel_reason"
    assert await infra.fetch(db, "SELECT * FROM outbox WHERE demand_id IS NOT NULL") == []
    assert await infra.fetch(db, "SELECT * FROM demands") == []
    assert await infra.fetch(db, "SELECT * FROM tracking_counters") == []


async def test_event_written_while_broker_down_is_published_when_it_is_back(vhost, databases):
    proxy = TcpProxy("127.0.0.1", 5672)
    await proxy.start()
    through_proxy = infra.amqp_url(vhost, server=f"amqp://guest:guest@127.0.0.1:{proxy.port}")
    direct = infra.amqp_url(vhost)
    await capture_queue(direct, "test.capture", "demand.submitted")
    db = databases("intake")
    try:
        async with infra.running(make_app("intake", amqp_url=through_proxy, database_url=db)) as client:
            published_on_start = "SELECT 1 FROM outbox HAVING bool_and(published_at IS NOT NULL)"
            await infra.eventually(lambda: infra.fetch(db, published_on_start), what="what intake published on start")
            await proxy.stop()  # the broker is gone for this service
            reply = await client.post("/demands", json=events.demand_form(), headers=auth.CLERK)
            assert reply.status_code == 201, reply.text  # people keep working during the outage
            await infra.eventually(
                lambda: infra.fetch(
                    db, "SELECT 1 FROM outbox WHERE demand_id IS NOT NULL AND attempts > 0 AND published_at IS NULL"
                ),
                what="a failed publish attempt",
            )
            assert await infra.queue_depth(direct, "test.capture") == 0

            await proxy.start()
            await infra.eventually(
                lambda: infra.fetch(
                    db, "SELECT 1 FROM outbox WHERE demand_id IS NOT NULL AND published_at IS NOT NULL"
                ),
                timeout=60,
                what="the relay to publish after the broker came back",
            )
        published = await drain(direct, "test.capture")
        assert len(published) == 1
        assert body_of(published[0])["demand_id"] == reply.json()["demand_id"]
        [row] = await infra.fetch(db, "SELECT event_id FROM outbox WHERE demand_id IS NOT NULL")
        assert published[0].message_id == str(row["event_id"])
        assert published[0].delivery_mode == 2  # persistent
    finally:
        await proxy.stop()


async def test_relay_backs_off_during_an_outage_however_many_events_arrive(vhost, databases):
    """Each new event's NOTIFY wakes the relay, but during a back-off it must not shorten the pause.

    A short publish timeout makes every attempt fail within half a second, so if new events cut the pause
    short the relay would retry ~15 times here (once per event written while it is idle)."""
    proxy = TcpProxy("127.0.0.1", 5672)
    await proxy.start()
    through_proxy = infra.amqp_url(vhost, server=f"amqp://guest:guest@127.0.0.1:{proxy.port}")
    direct = infra.amqp_url(vhost)
    await capture_queue(direct, "test.capture", "#")  # every event intake publishes, so none is unroutable
    db = databases("intake")
    demand_ids: list[str] = []
    all_published = "SELECT 1 FROM outbox HAVING bool_and(published_at IS NOT NULL)"
    try:
        app = make_app("intake", amqp_url=through_proxy, database_url=db, outbox_publish_timeout_seconds=0.3)
        async with infra.running(app) as client:
            await infra.eventually(lambda: infra.fetch(db, all_published), what="what intake published on start")
            await proxy.stop()
            loop = asyncio.get_running_loop()
            outage_ends = loop.time() + 8
            while loop.time() < outage_ends:
                reply = await client.post("/demands", json=events.demand_form(), headers=auth.CLERK)
                assert reply.status_code == 201, reply.text
                demand_ids.append(reply.json()["demand_id"])
                await asyncio.sleep(0.1)  # pacing the writes: a new event (and NOTIFY) every ~0.1 s
            pending = await infra.fetch(db, "SELECT routing_key, attempts FROM outbox WHERE published_at IS NULL")
            assert [r["routing_key"] for r in pending] == ["demand.submitted"] * len(demand_ids)
            assert len(demand_ids) > 20
            attempts = sum(r["attempts"] for r in pending)
            # back-off 1, 2, 4 s (± jitter) over ~8 s: a handful of attempts, not one per event
            assert 1 <= attempts <= 6, attempts

            await proxy.start()
            await infra.eventually(
                lambda: infra.fetch(db, all_published),
                timeout=60,
                what="every event to be published after the broker came back",
            )
        published = [m for m in await drain(direct, "test.capture") if m.routing_key == "demand.submitted"]
        assert sorted(body_of(m)["demand_id"] for m in published) == sorted(demand_ids)  # each exactly once
        rows = await infra.fetch(db, "SELECT event_id FROM outbox WHERE routing_key = 'demand.submitted'")
        assert sorted(m.message_id for m in published) == sorted(str(r["event_id"]) for r in rows)
    finally:
        await proxy.stop()


async def test_unroutable_event_stays_pending(amqp, databases):
    """With no queue bound for demand.submitted the broker returns the message: not a success."""
    db = databases("intake")
    async with infra.running(make_app("intake", amqp_url=amqp, database_url=db)) as client:
        await client.post("/demands", json=events.demand_form(), headers=auth.CLERK)
        [row] = await infra.eventually(
            lambda: infra.fetch(
                db, "SELECT published_at, last_error FROM outbox WHERE demand_id IS NOT NULL AND attempts > 0"
            ),
            what="a publish attempt",
        )
        assert row["published_at"] is None
        assert "NO_ROUTE" in row["last_error"]


async def test_an_unroutable_reference_event_does_not_hold_the_events_behind_it(vhost, databases):
    """A calendar correction nobody subscribes to yet is announced again later; the demand after it goes out."""
    direct = infra.amqp_url(vhost)
    await capture_queue(direct, "test.capture", "demand.submitted")  # demands are routable, calendar.corrected not
    db = databases("intake")
    async with infra.running(make_app("intake", amqp_url=direct, database_url=db)) as client:
        day = (china_today(datetime.now(UTC)) + timedelta(days=400)).isoformat()
        reply = await client.put(f"/calendar/{day}", json={"is_workday": True, "note": "调休上班"}, headers=auth.ADMIN)
        assert reply.status_code == 204, reply.text
        reply = await client.post("/demands", json=events.demand_form(), headers=auth.CLERK)
        assert reply.status_code == 201, reply.text
        [message] = await infra.eventually(lambda: drain(direct, "test.capture"), what="the demand published")
        assert body_of(message)["demand_id"] == reply.json()["demand_id"]
        rows = await infra.fetch(db, "SELECT published_at FROM outbox WHERE routing_key = 'calendar.corrected'")
        assert rows and all(r["published_at"] is not None for r in rows)


async def test_a_batch_goes_out_at_once_with_each_demands_events_in_the_order_written(vhost, databases):
    direct = infra.amqp_url(vhost)
    await capture_queue(direct, "test.capture", "demand.*")
    db = databases("intake")
    app = make_app("intake", amqp_url=direct, database_url=db)
    demands = [events.submitted(tracking_no=f"2026-{n:06d}") for n in range(1, 31)]
    async with infra.running(app):
        async with app.state.runtime.uow.begin() as tx:  # one transaction: the relay finds them in one batch
            for stage in (lambda d: d, events.assigned, events.resolved):
                for demand in demands:
                    await tx.publish(stage(demand))
        messages = []

        async def all_published() -> bool:
            messages.extend(await drain(direct, "test.capture"))
            return len(messages) >= 3 * len(demands)

        await infra.eventually(all_published, what="every event published")
    received: dict[str, list[str]] = {}
    for message in messages:
        received.setdefault(body_of(message)["demand_id"], []).append(message.routing_key)
    assert received == {
        str(d.demand_id): ["demand.submitted", "demand.assigned", "demand.resolved"] for d in demands
    }  # each exactly once, in the order written
    assert all(m.delivery_mode == 2 for m in messages)
    assert await infra.fetch(db, "SELECT id FROM outbox WHERE published_at IS NULL") == []


async def test_a_failed_event_holds_back_its_demands_next_event_not_the_one_published_with_it(vhost, databases):
    """Nothing is bound for demand.submitted here: the first event fails (NO_ROUTE) and its demand's next waits behind
    it, while another demand's event, published at the same moment, is confirmed and marked."""
    direct = infra.amqp_url(vhost)
    await capture_queue(direct, "test.capture", "demand.assigned")
    db = databases("intake")
    app = make_app("intake", amqp_url=direct, database_url=db)
    held, other = events.submitted(), events.submitted(tracking_no="2026-000002")
    async with infra.running(app):
        async with app.state.runtime.uow.begin() as tx:
            for event in (held, events.assigned(held), events.assigned(other)):
                await tx.publish(event)
        state = """
            SELECT routing_key, demand_id, published_at IS NOT NULL AS published, attempts, last_error
            FROM outbox WHERE demand_id IS NOT NULL ORDER BY id
        """
        # the failed one tried again (a probe after the back-off) while its demand's next event still waits
        rows = await infra.eventually(
            lambda: _when(infra.fetch(db, state), lambda rows: rows[0]["attempts"] >= 2),
            timeout=30,
            what="the failed event to be tried again",
        )
        first, held_next, others = rows
        assert (first["demand_id"], first["published"]) == (held.demand_id, False)
        assert "NO_ROUTE" in first["last_error"]
        assert (held_next["demand_id"], held_next["published"], held_next["attempts"]) == (held.demand_id, False, 0)
        assert (others["demand_id"], others["published"]) == (other.demand_id, True)
        [message] = await drain(direct, "test.capture")
        assert body_of(message)["demand_id"] == str(other.demand_id)


async def _when(rows, ok):
    rows = await rows
    return rows if rows and ok(rows) else None


async def test_tracking_numbers_gapless_under_50_concurrent_submissions(amqp, databases):
    db = databases("intake")
    async with infra.running(make_app("intake", amqp_url=amqp, database_url=db, db_pool_max=20)) as client:
        replies = await asyncio.gather(
            *(client.post("/demands", json=events.demand_form(), headers=auth.CLERK) for _ in range(50))
        )
        other = await client.post(
            "/demands", json=events.demand_form(station=events.OTHER_STATION), headers=auth.OTHER_CLERK
        )
    assert all(r.status_code == 201 for r in replies), [r.text for r in replies if r.status_code != 201]
    numbers = sorted(r.json()["tracking_no"] for r in replies)
    year = numbers[0][:4]
    assert numbers == [f"{year}-{n:06d}" for n in range(1, 51)]
    assert other.json()["tracking_no"] == f"{year}-000001"  # each station counts on its own
    assert len(await infra.fetch(db, "SELECT 1 FROM outbox WHERE demand_id IS NOT NULL")) == 51


# --- housekeeping: published outbox rows and inbox rows past their retention --------------------------------

_SEED = """
INSERT INTO outbox (event_id, routing_key, station_id, demand_id, correlation_id, payload, created_at, published_at)
SELECT gen_random_uuid(), 'demand.submitted', 'prune-test', gen_random_uuid(), gen_random_uuid(), '{}'::jsonb,
       now() - $2::interval, CASE WHEN $3 THEN now() - $2::interval END
FROM generate_series(1, $1);
"""
_SEED_INBOX = """
INSERT INTO inbox (consumer, event_id, received_at)
SELECT 'prune-test', gen_random_uuid(), now() - $2::interval FROM generate_series(1, $1)
"""
_STATE = """
WITH o AS (SELECT * FROM outbox WHERE station_id = 'prune-test'),
     i AS (SELECT * FROM inbox WHERE consumer = 'prune-test')
SELECT (SELECT count(*) FROM o WHERE published_at < now() - interval '7 days') AS old_published,
       (SELECT count(*) FROM o WHERE published_at >= now() - interval '7 days') AS recent_published,
       (SELECT count(*) FROM o WHERE published_at IS NULL) AS unpublished,
       (SELECT count(*) FROM i WHERE received_at < now() - interval '30 days') AS old_inbox,
       (SELECT count(*) FROM i WHERE received_at >= now() - interval '30 days') AS recent_inbox
"""
DAYS = timedelta(days=1)


async def _seed(conn) -> None:
    await conn.execute(_SEED, 25, 8 * DAYS, True)  # published 8 days ago: pruned
    await conn.execute(_SEED, 3, 6 * DAYS, True)  # published 6 days ago: kept
    await conn.execute(_SEED, 4, 60 * DAYS, False)  # never published, however old: kept
    await conn.execute(_SEED_INBOX, 25, 31 * DAYS)  # pruned
    await conn.execute(_SEED_INBOX, 3, 29 * DAYS)  # kept


AFTER = {"old_published": 0, "recent_published": 3, "unpublished": 4, "old_inbox": 0, "recent_inbox": 3}


@pytest.fixture
async def outbox_db(databases, tmp_path):
    """A database with the shared outbox and inbox tables, seeded old and new; a pool on it."""
    db = databases("intake")
    await ensure_database(db)
    await migrate(db, "prune-test", tmp_path)
    pool = await create_pool(db, max_size=4)
    async with pool.acquire() as conn:
        await _seed(conn)
        assert dict(await conn.fetchrow(_STATE)) == {**AFTER, "old_published": 25, "old_inbox": 25}
    yield pool
    await pool.close()


async def test_prune_deletes_old_published_and_old_inbox_rows_in_batches(outbox_db):
    pruned = await outbox.prune(outbox_db, outbox_age=7 * DAYS, inbox_age=30 * DAYS, batch=10)
    assert pruned == outbox.Pruned(outbox=25, inbox=25)  # three batches each: 10, 10, 5
    async with outbox_db.acquire() as conn:
        assert dict(await conn.fetchrow(_STATE)) == AFTER


async def test_two_pruners_at_once_both_finish_and_delete_each_row_once(outbox_db):
    first, second = await asyncio.gather(
        outbox.prune(outbox_db, outbox_age=7 * DAYS, inbox_age=30 * DAYS, batch=5),
        outbox.prune(outbox_db, outbox_age=7 * DAYS, inbox_age=30 * DAYS, batch=5),
    )
    done = [p for p in (first, second) if p is not None]
    assert done  # at least one ran; the other skipped (lock taken) or found nothing left
    assert sum(p.outbox for p in done) == 25 and sum(p.inbox for p in done) == 25
    async with outbox_db.acquire() as conn:
        assert dict(await conn.fetchrow(_STATE)) == AFTER


async def test_prune_skips_while_another_replica_holds_the_lock(outbox_db):
    async with outbox_db.acquire() as other_replica:
        assert await other_replica.fetchval("SELECT pg_try_advisory_lock($1)", outbox.PRUNE_LOCK)
        assert await outbox.prune(outbox_db, outbox_age=7 * DAYS, inbox_age=30 * DAYS) is None
        assert (await other_replica.fetchrow(_STATE))["old_published"] == 25  # nothing touched
        await other_replica.execute("SELECT pg_advisory_unlock($1)", outbox.PRUNE_LOCK)
    assert await outbox.prune(outbox_db, outbox_age=7 * DAYS, inbox_age=30 * DAYS) == outbox.Pruned(25, 25)


async def test_running_service_prunes_on_its_own(amqp, databases):
    """The relay's housekeeping runs every prune_every_minutes with the retention settings."""
    db = databases("intake")
    app = make_app(
        "intake",
        amqp_url=amqp,
        database_url=db,
        prune_every_minutes=0.005,
        outbox_retention_days=7,
        inbox_retention_days=30,
    )
    async with infra.running(app):
        async with app.state.runtime.pool.acquire() as conn:
            await _seed(conn)
        await infra.eventually(lambda: _state_is(db, AFTER), what="the old rows to be pruned")


async def _state_is(db: str, expected: dict) -> bool:
    [row] = await infra.fetch(db, _STATE)
    return dict(row) == expected


async def test_a_restart_secures_without_waiting_behind_running_transactions_and_a_new_table_gets_secured(
    databases, tmp_path
):
    """A replica starting while others serve: when nothing is to change, the migration pass takes no table lock, so a
    transaction holding one (as a running replica's do) does not hold the start back. A new station table is still
    given row-level security and the app role's grants."""
    db = databases("intake")
    (tmp_path / "0001_cases.sql").write_text(
        "CREATE TABLE cases (demand_id uuid PRIMARY KEY, station_id text NOT NULL);"
    )
    await ensure_database(db)
    await migrate(db, "secure-test", tmp_path, app_role="qs_secure_test_app")
    busy = await asyncpg.connect(db)
    try:
        async with busy.transaction():  # a running replica's transaction on the table
            await busy.execute("LOCK TABLE cases IN ACCESS SHARE MODE")
            async with asyncio.timeout(15):
                assert await migrate(db, "secure-test", tmp_path, app_role="qs_secure_test_app") == []
        (tmp_path / "0002_visits.sql").write_text("CREATE TABLE visits (visit_id uuid, station_id text NOT NULL);")
        assert await migrate(db, "secure-test", tmp_path, app_role="qs_secure_test_app") == ["secure-test/0002_visits"]
        flags = await busy.fetchrow("SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = 'visits'")
        assert flags["relrowsecurity"] and flags["relforcerowsecurity"]
        assert await busy.fetchval("SELECT has_table_privilege('qs_secure_test_app', 'visits', 'INSERT')")
    finally:
        await busy.close()
