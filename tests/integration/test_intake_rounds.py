"""The enterprise's status link after a 不满意 rating, for real (issue 10): the verification (核实) and the
re-handling (重办) as tracking publishes them, on the real broker, in order and out of it, told in Chinese without
the station's internal record (who verified, why)."""

import json
from datetime import date, timedelta
from uuid import UUID

import pytest

from shared.contracts import DemandSubmitted, Finding, Overall
from tests.support import auth, events, infra
from tests.support import rehandling_events as re_
from tests.support.apps import make_app, publish_event

pytestmark = pytest.mark.integration

STAFF_NAMES = ("李站长",)  # who verified and reopened (rehandling_events)


@pytest.fixture
async def intake(amqp, databases):
    db = databases("intake")
    app = make_app("intake", amqp_url=amqp, database_url=db, public_rate_limit="1000/minute")
    async with infra.running(app) as client:
        client.db, client.amqp = db, amqp
        yield client


async def _submitted(intake) -> tuple[dict, DemandSubmitted, str]:
    reply = await intake.post("/demands", json=events.demand_form(), headers=auth.CLERK)
    assert reply.status_code == 201, reply.text
    demand = reply.json()
    [row] = await infra.fetch(
        intake.db,
        "SELECT payload FROM outbox WHERE demand_id = $1 AND routing_key = 'demand.submitted'",
        UUID(demand["demand_id"]),
    )
    path = "/public/status/" + demand["status_url"].split("/public/status/")[-1]
    return demand, DemandSubmitted.model_validate(json.loads(row["payload"])), path


async def _status_when(intake, path: str, what: str, test) -> dict:
    async def check():
        status = (await intake.get(path)).json()
        return status if test(status) else None

    return await infra.eventually(check, what=what)


def _round_one(s: DemandSubmitted, finding: Finding):
    a1 = events.assigned(s)
    rating = events.rated(s, Overall.dissatisfied)
    return a1, events.resolved(s), rating, re_.verified(rating, finding)


async def test_the_status_link_shows_the_re_handling_round_and_its_deadline(intake):
    demand, s, path = await _submitted(intake)
    due = date.fromisoformat(demand["expected_on"]) + timedelta(days=20)
    a1, resolved, rating, verification = _round_one(s, Finding.founded)
    reopened = re_.reopened(verification, due_on=due)
    # the reopening first (its queue was quicker), round one's events after it
    for event in (reopened, reopened, a1, resolved, rating, verification):  # the second is a redelivery
        await publish_event(intake.amqp, event)
    status = await _status_when(
        intake, path, "the re-handling", lambda st: st["rehandling"] is not None and st["verification"] is not None
    )
    assert (status["progress"], status["round"], status["expected_on"]) == ("reopened", 2, due.isoformat())
    assert status["progress_label"] == (
        f"重办中（第 2 轮）：经核实您反映的问题属实，正在重新安排办理。重办期限：{due.year}年{due.month}月{due.day}日"
    )
    assert status["rehandling"]["due_on"] == due.isoformat() and status["verification"]["finding"] == "founded"
    assert status["can_withdraw"] is False
    shown = json.dumps(status, ensure_ascii=False)
    assert not any(name in shown for name in STAFF_NAMES) and verification.reason not in shown, shown

    a2 = events.assigned(s, no=2).model_copy(update={"round": 2, "due_on": due})
    await publish_event(intake.amqp, a2)
    # round one's assignee is known already: wait for the label to name round two's
    status = await _status_when(intake, path, "round two assigned", lambda st: "承办单位" in st["progress_label"])
    assert status["progress"] == "reopened" and status["handled_by"] == "市计量测试院"
    assert status["progress_label"].startswith("重办中（第 2 轮）：承办单位：市计量测试院。重办期限：")
    await publish_event(intake.amqp, events.resolved(s))  # a late round-one resolution: nothing changes
    await publish_event(intake.amqp, events.resolved(s, round_=2))
    status = await _status_when(intake, path, "round two resolved", lambda st: st["progress"] == "resolved")
    assert (status["progress_label"], status["round"]) == ("已办结，待评价（第 2 轮）", 2)

    staff = (await intake.get(f"/demands/{demand['demand_id']}", headers=auth.HEAD)).json()
    assert (staff["round"], staff["rehandling"]["due_on"], staff["verification"]["finding"]) == (
        2,
        due.isoformat(),
        "founded",
    )
    assert staff["progress_label"] == status["progress_label"] and staff["expected_on"] == demand["expected_on"]
    [row] = await infra.fetch(
        intake.db,
        "SELECT progress, progress_round, reopened_round, reopened_assignment_count, verified_finding FROM demands",
    )
    assert tuple(row) == ("resolved", 2, 2, 1, "founded")


async def test_an_unfounded_verification_is_told_then_the_archiving(intake):
    demand, s, path = await _submitted(intake)
    a1, resolved, rating, verification = _round_one(s, Finding.unfounded)
    for event in (verification, a1, resolved, rating):  # the verification before the rating it verifies
        await publish_event(intake.amqp, event)
    status = await _status_when(intake, path, "the verification", lambda st: st["progress"] == "verified")
    assert status["progress_label"] == "已评价（不满意）。经服务站核实，您反映的情况不属实，本需求即将办结归档"
    assert (status["round"], status["rehandling"]) == (1, None)
    assert (status["verification"]["finding"], status["verification"]["finding_label"]) == ("unfounded", "情况不属实")
    assert status["expected_on"] == demand["expected_on"]

    await publish_event(intake.amqp, events.archived(s))
    status = await _status_when(intake, path, "archived", lambda st: st["progress"] == "archived")
    assert status["archive_no"] == "A2026-000001" and status["verification"]["finding"] == "unfounded"
