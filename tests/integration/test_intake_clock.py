"""What the enterprise's status link says of the clock, for real: tracking's pause, resumption and extension
decisions on the real broker, in order and out of it, told in Chinese without any staff name (issue 9)."""

import json
from datetime import date, timedelta
from uuid import UUID

import pytest

from shared.contracts import DemandSubmitted, PauseReason
from tests.support import auth, events, infra
from tests.support import following_events as fe
from tests.support.apps import make_app, publish_event

pytestmark = pytest.mark.integration

STAFF_NAMES = ("张晓燕", "周站长")  # fe's paused_by / resumed_by / decided_by


@pytest.fixture
async def intake(amqp, databases):
    db = databases("intake")
    app = make_app("intake", amqp_url=amqp, database_url=db, public_rate_limit="1000/minute")
    async with infra.running(app) as client:
        client.db, client.amqp = db, amqp
        yield client


async def _submitted(intake) -> tuple[dict, DemandSubmitted, str]:
    reply = await intake.post("/demands", json=events.demand_form(first_responder="王晓燕"), headers=auth.CLERK)
    assert reply.status_code == 201, reply.text
    demand = reply.json()
    [row] = await infra.fetch(
        intake.db,
        "SELECT payload FROM outbox WHERE demand_id = $1 AND routing_key = 'demand.submitted'",
        UUID(demand["demand_id"]),
    )
    return demand, DemandSubmitted.model_validate(json.loads(row["payload"])), demand["status_url"].split(":8001")[-1]


async def _status_when(intake, path: str, what: str, test) -> dict:
    async def check():
        status = (await intake.get(path)).json()
        return status if test(status) else None

    return await infra.eventually(check, what=what)


async def test_the_status_link_shows_the_pause_and_then_the_extension(intake):
    demand, s, path = await _submitted(intake)
    promised = date.fromisoformat(demand["expected_on"])
    assert demand["printed_tracking_no"] == "hunnan-01-" + demand["tracking_no"]
    a = events.assigned(s)
    await publish_event(intake.amqp, a)
    await _status_when(intake, path, "assigned", lambda st: st["progress"] == "assigned")

    pause = fe.paused(a, PauseReason.sample, reason="请寄送 3 只压力表样品")
    await publish_event(intake.amqp, pause)
    status = await _status_when(intake, path, "the pause", lambda st: st["paused"] is not None)
    assert status["printed_tracking_no"] == demand["printed_tracking_no"]
    assert (status["paused"]["reason_label"], status["paused"]["reason"]) == ("等待样品", "请寄送 3 只压力表样品")
    assert status["clock_label"].startswith("计时暂停：等待样品（请寄送 3 只压力表样品）。")
    assert date.fromisoformat(status["expected_on"]) == promised  # the date moves when the clock runs again

    moved = promised + timedelta(days=3)
    await publish_event(intake.amqp, fe.resumed(pause, days=2, handling_due_on=moved))
    status = await _status_when(intake, path, "the resumption", lambda st: st["paused"] is None)
    assert date.fromisoformat(status["expected_on"]) == moved
    assert status["pauses"][0]["paused_working_days"] == 2

    refused = fe.extension_requested(a, due_on=moved, new_due_on=moved + timedelta(days=10))
    await publish_event(intake.amqp, fe.extension_decided(refused, approved=False))
    request = fe.extension_requested(a, due_on=moved, new_due_on=moved + timedelta(days=14))
    approval = fe.extension_decided(request, approved=True)
    await publish_event(intake.amqp, approval)
    await publish_event(intake.amqp, approval)  # redelivered: the inbox absorbs it
    status = await _status_when(intake, path, "the extension", lambda st: st["extensions"])
    assert date.fromisoformat(status["expected_on"]) == moved + timedelta(days=14)
    [extension] = status["extensions"]  # the refused one is not told
    assert (extension["reason"], extension["due_on"]) == (request.reason, moved.isoformat())
    assert status["clock_label"].startswith("办理期限已延长至") and request.reason in status["clock_label"]
    shown = json.dumps(status, ensure_ascii=False)
    assert not any(name in shown for name in STAFF_NAMES), shown

    [(kept,)] = await infra.fetch(intake.db, "SELECT count(*) FROM demand_extensions")
    assert kept == 1
    # The staff's own reply names the number as printed too; the promise of the notice is unchanged there.
    staff = (await intake.get(f"/demands/{demand['demand_id']}", headers=auth.HEAD)).json()
    assert (
        staff["printed_tracking_no"] == demand["printed_tracking_no"] and staff["expected_on"] == demand["expected_on"]
    )
    notice = (await intake.get(f"/demands/{demand['demand_id']}/notice", headers=auth.CLERK)).text
    assert f"跟踪单号：<strong>{demand['printed_tracking_no']}</strong>" in notice


async def test_a_resumption_before_its_pause_and_a_pause_for_an_unknown_demand(intake):
    demand, s, path = await _submitted(intake)
    pause = fe.paused(s, PauseReason.site_date, reason="等企业确定现场检定日期")
    due = date.fromisoformat(demand["expected_on"]) + timedelta(days=1)
    await publish_event(intake.amqp, fe.resumed(pause, days=1, handling_due_on=due))
    await infra.eventually(
        lambda: infra.fetch(intake.db, "SELECT 1 FROM demand_pauses WHERE resumed_at IS NOT NULL"), what="resumption"
    )
    # Of which assignment the pause was, and so whether its date holds, only the pause says.
    assert (await intake.get(path)).json()["expected_on"] == demand["expected_on"]
    await publish_event(intake.amqp, pause)
    status = await _status_when(intake, path, "the pause filled in", lambda st: st["pauses"])
    assert status["paused"] is None and status["pauses"][0]["reason_label"] == "等待企业确定现场时间"
    assert status["expected_on"] == due.isoformat()
    [row] = await infra.fetch(intake.db, "SELECT reason_kind, resumed_at IS NOT NULL AS ended FROM demand_pauses")
    assert (row["reason_kind"], row["ended"]) == ("site_date", True)


async def test_after_an_extension_and_a_rematch_the_link_shows_the_new_assignments_promise(intake):
    demand, s, path = await _submitted(intake)
    promised = date.fromisoformat(demand["expected_on"])
    first = events.assigned(s, no=1)
    await publish_event(intake.amqp, first)
    request = fe.extension_requested(first, due_on=promised, new_due_on=promised + timedelta(days=14))
    approval = fe.extension_decided(request).model_copy(update={"assignment_no": 1})
    await publish_event(intake.amqp, approval)
    extended = (promised + timedelta(days=14)).isoformat()
    await _status_when(intake, path, "the extension", lambda st: st["expected_on"] == extended)

    await publish_event(intake.amqp, events.returned(first, 1))
    await publish_event(intake.amqp, events.assigned(s, no=2))  # 改派: tracking counts afresh from here
    status = await _status_when(intake, path, "the rematch", lambda st: st["progress"] == "rematched")
    assert status["expected_on"] == demand["expected_on"] and status["clock_label"] is None
    assert [e["new_due_on"] for e in status["extensions"]] == [extended]  # told as what happened, not in force
    [(kept,)] = await infra.fetch(intake.db, "SELECT assignment_no FROM demand_extensions")
    assert kept == 1
