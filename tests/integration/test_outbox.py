"""Outbox: state and event commit together; the relay publishes what the broker was not there for."""

import asyncio
import pytest

from services.intake import store
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
    pending = await infra.fetch(db, "SELECT routing_key, demand_id, payload FROM outbox")
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
            async with rt.transaction() as conn:
                await store.next_serial(conn, events.STATION, 2026)
                await outbox.add(conn, event)
                raise RuntimeError("crash before commit")
        # The same through the HTTP path: a green-channel request without its reason is refused by the domain
        # rule after the tracking number's serial was drawn.
        reply = await infra.client(app).post(
            "/demands", json=events.demand_form(green_channel="major_project"), headers=auth.CLERK
        )
        assert reply.status_code == 422
        assert reply.json()["errors"][0]["field"] == "green_channel_reason"
    assert await infra.fetch(db, "SELECT * FROM outbox") == []
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
            await proxy.stop()  # the broker is gone for this service
            reply = await client.post("/demands", json=events.demand_form(), headers=auth.CLERK)
            assert reply.status_code == 201, reply.text  # people keep working during the outage
            await infra.eventually(
                lambda: infra.fetch(db, "SELECT 1 FROM outbox WHERE attempts > 0 AND published_at IS NULL"),
                what="a failed publish attempt",
            )
            assert await infra.queue_depth(direct, "test.capture") == 0

            await proxy.start()
            await infra.eventually(
                lambda: infra.fetch(db, "SELECT 1 FROM outbox WHERE published_at IS NOT NULL"),
                timeout=60,
                what="the relay to publish after the broker came back",
            )
        published = await drain(direct, "test.capture")
        assert len(published) == 1
        assert body_of(published[0])["demand_id"] == reply.json()["demand_id"]
        [row] = await infra.fetch(db, "SELECT event_id FROM outbox")
        assert published[0].message_id == str(row["event_id"])
        assert published[0].delivery_mode == 2  # persistent
    finally:
        await proxy.stop()


async def test_unroutable_event_stays_pending(amqp, databases):
    """With no queue bound for demand.submitted the broker returns the message: not a success."""
    db = databases("intake")
    async with infra.running(make_app("intake", amqp_url=amqp, database_url=db)) as client:
        await client.post("/demands", json=events.demand_form(), headers=auth.CLERK)
        [row] = await infra.eventually(
            lambda: infra.fetch(db, "SELECT published_at, last_error FROM outbox WHERE attempts > 0"),
            what="a publish attempt",
        )
        assert row["published_at"] is None
        assert "NO_ROUTE" in row["last_error"]


async def test_tracking_numbers_gapless_under_50_concurrent_submissions(amqp, databases):
    db = databases("intake")
    async with infra.running(make_app("intake", amqp_url=amqp, database_url=db, db_pool_max=20)) as client:
        replies = await asyncio.gather(*(client.post("/demands", json=events.demand_form(), headers=auth.CLERK) for _ in range(50)))
        other = await client.post("/demands", json=events.demand_form(station=events.OTHER_STATION), headers=auth.OTHER_CLERK)
    assert all(r.status_code == 201 for r in replies), [r.text for r in replies if r.status_code != 201]
    numbers = sorted(r.json()["tracking_no"] for r in replies)
    year = numbers[0][:4]
    assert numbers == [f"{year}-{n:06d}" for n in range(1, 51)]
    assert other.json()["tracking_no"] == f"{year}-000001"  # each station counts on its own
    assert len(await infra.fetch(db, "SELECT 1 FROM outbox")) == 51
