"""Visits to enterprises (主动进企业走访) for real: PostgreSQL and RabbitMQ.

A visit is kept and VisitRecorded written to intake's outbox in one transaction; the relay publishes it on the real
broker (persistent, message_id = event_id, the event's correlation id), where a queue bound like a consumer's (the
archive's weekly report counts visits) receives it as a consumer reads it. A retry with the same Idempotency-Key
answers with the first visit and publishes nothing again; a different request under the key is refused (409); bad
input changes nothing and publishes nothing.
"""

from datetime import UTC, datetime

import aio_pika
import pytest

from shared.calendar import china_today
from shared.contracts import VisitRecorded
from tests.support import auth, events, infra
from tests.support.apps import body_of, capture_queue, drain, make_app

pytestmark = pytest.mark.integration

CAPTURE = "test.visits"
CODE = events.credit_code("91210112MA0U00005")


@pytest.fixture
async def intake(amqp, databases):
    # Bound before the service starts, as the archive's queue would be: the relay's publish is mandatory.
    await capture_queue(amqp, CAPTURE, VisitRecorded.routing_key)
    db = databases("intake")
    app = make_app("intake", amqp_url=amqp, database_url=db)
    async with infra.running(app) as client:
        client.db = db
        client.amqp = amqp
        client.captured = []
        yield client


def _visit(**kw) -> dict:
    return {
        "credit_code": CODE,
        "enterprise_name": "沈阳新松精密机械有限公司",
        "staff": ["张晓燕", "周站长"],
        "visited_on": china_today(datetime.now(UTC)).isoformat(),
        "findings": "计量器具超期未检，需建立台账",
    } | kw


async def _outbox(intake) -> list:
    return await infra.fetch(
        intake.db, "SELECT event_id, published_at FROM outbox WHERE routing_key = 'visit.recorded' ORDER BY id"
    )


async def _published(intake, count: int) -> list:
    """The VisitRecorded messages on the broker, once `count` have arrived (all of them so far)."""

    async def check():
        intake.captured.extend(await drain(intake.amqp, CAPTURE))
        return intake.captured if len(intake.captured) >= count else None

    return await infra.eventually(check, what=f"{count} VisitRecorded on the broker")


async def test_a_visit_is_published_on_the_broker_once_whatever_the_retries(intake):
    key = {"Idempotency-Key": "visit-2026-03-02-xinsong"}
    first = await intake.post("/visits", json=_visit(), headers=auth.CLERK | key)
    assert first.status_code == 201, first.text
    visit = first.json()
    assert (visit["station_id"], visit["recorded_by"], visit["staff"]) == (
        events.STATION,
        "张晓燕",
        ["张晓燕", "周站长"],
    )

    # The reply was lost: the same request with the same key is the first visit, not a second one.
    again = await intake.post("/visits", json=_visit(), headers=auth.CLERK | key)
    assert (again.status_code, again.json()) == (201, visit)
    other = await intake.post("/visits", json=_visit(findings="另一次走访"), headers=auth.CLERK | key)
    assert other.status_code == 409 and other.json()["code"] == "idempotency_conflict", other.text
    assert [v["visit_id"] for v in (await intake.get("/visits", headers=auth.HEAD)).json()] == [visit["visit_id"]]

    # One outbox row, written with the visit, published by the relay ...
    published = await infra.eventually(
        lambda: _all_published(intake), what="the visit's outbox row published by the relay"
    )
    assert len(published) == 1
    # ... and on the broker exactly once, as a consumer reads it.
    [message] = await _published(intake, 1)
    event = VisitRecorded.model_validate(body_of(message))
    assert (str(event.visit_id), event.station_id, event.credit_code, event.enterprise_name) == (
        visit["visit_id"],
        events.STATION,
        CODE,
        "沈阳新松精密机械有限公司",
    )
    assert (event.staff, event.visited_on.isoformat(), event.findings, event.recorded_by) == (
        ["张晓燕", "周站长"],
        visit["visited_on"],
        "计量器具超期未检，需建立台账",
        "张晓燕",
    )
    assert event.event_id == published[0]["event_id"]
    assert (message.message_id, message.correlation_id, message.routing_key) == (
        str(event.event_id),
        str(event.correlation_id),
        "visit.recorded",
    )
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert message.headers["x-station-id"] == events.STATION

    # Without a key two posts are two visits, each published with its own correlation.
    second = (await intake.post("/visits", json=_visit(), headers=auth.CLERK)).json()
    assert second["visit_id"] != visit["visit_id"]
    messages = await _published(intake, 2)
    assert [body_of(m)["visit_id"] for m in messages] == [visit["visit_id"], second["visit_id"]]
    assert len({body_of(m)["correlation_id"] for m in messages}) == 2


async def _all_published(intake) -> list | None:
    rows = await _outbox(intake)
    return rows if rows and all(r["published_at"] is not None for r in rows) else None


async def test_a_refused_visit_is_neither_kept_nor_published(intake):
    for bad, field in (
        (_visit(staff=[]), "staff"),
        (_visit(findings=""), "findings"),
        (_visit(credit_code="not-a-code"), "credit_code"),
    ):
        reply = await intake.post("/visits", json=bad, headers=auth.CLERK | {"Idempotency-Key": f"bad-{field}"})
        assert reply.status_code == 422 and reply.json()["errors"][0]["field"] == field, reply.text
    # Only station staff record a visit; a supervisor reads them.
    assert (await intake.post("/visits", json=_visit(), headers=auth.SUPERVISOR)).status_code == 403
    assert await infra.fetch(intake.db, "SELECT visit_id FROM visits") == []
    assert await _outbox(intake) == []
    # A good visit after them is the first thing the broker gets.
    good = (await intake.post("/visits", json=_visit(), headers=auth.HEAD)).json()
    [message] = await _published(intake, 1)
    assert body_of(message)["visit_id"] == good["visit_id"] and body_of(message)["recorded_by"] == "周站长"
