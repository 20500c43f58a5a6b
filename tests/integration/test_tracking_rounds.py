"""Verification and re-handling (核实、重办, issue 10) in tracking, through the real services on the real broker and
databases: a demand assigned, resolved and rated 不满意 awaits verification (the 待核实 list, the clock's 核实时限, the
gauge); the head verifies it as founded, and RatingVerified and DemandReopened are on the broker, the case in round 2
with the re-handling deadline; dispatch puts it back in its head's queue, the head assigns it, tracking resolves round
2 and evaluation takes the second rating. Unfounded: RatingVerified only. A voided 不满意 rating (RatingVoided, as
evaluation publishes it) needs no verification. The metrics and GET /kpis count the re-handling.

Tests that touch "today" read it from the events themselves (the China date of the reopening), so they pass at
any hour.
"""

import json
from datetime import date
from uuid import UUID

import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared.calendar import add_working_days, china_today
from shared.contracts import DemandReopened, Finding, Rated, RatingVerified
from tests.support import auth, events, infra
from tests.support import rehandling_events as rh
from tests.support.apps import body_of, capture_queue, drain, publish_event
from tests.support.system import System, fresh_system, organization

pytestmark = pytest.mark.integration

CAPTURE = "test.tracking.rounds"
NOT_FIRST_RESPONDER = auth.bearer("clerk", events.STATION, name="王文", subject="clerk-wangwen")
seen_on_broker: list[dict] = []


@pytest.fixture(scope="module")
async def system():
    async with fresh_system() as system:
        for key in ("demand.rating_verified", "demand.reopened"):
            await capture_queue(system.amqp, f"{CAPTURE}.{key}", key)
        yield system


async def on_broker(system: System, routing_key: str, demand_id: UUID) -> list[dict]:
    """What the relay published with `routing_key` about the demand (the capture queues keep it all)."""
    seen_on_broker.extend(
        {"routing_key": routing_key, **body_of(m)} for m in await drain(system.amqp, f"{CAPTURE}.{routing_key}")
    )
    return [e for e in seen_on_broker if e["routing_key"] == routing_key and e["demand_id"] == str(demand_id)]


async def outbox(system: System, service: str, routing_key: str, demand_id: UUID) -> list[dict]:
    rows = await infra.fetch(
        system.databases[service],
        "SELECT payload FROM outbox WHERE routing_key = $1 AND demand_id = $2 ORDER BY id",
        routing_key,
        demand_id,
    )
    return [json.loads(r["payload"]) for r in rows]


async def rated_dissatisfied(system: System) -> tuple[UUID, Rated]:
    """Submitted by the clerk (its first responder), assigned to org-01, resolved, and rated 不满意 on paper by staff;
    tracking has recorded the rating."""
    demand = await system.submit()
    await system.assign(demand)
    await system.resolve(demand)
    reply = await system.clients["evaluation"].post(
        f"/surveys/{demand}/rating", json={"answers": {"overall": "dissatisfied"}}, headers=auth.CLERK
    )
    assert reply.status_code == 201, reply.text
    await system.get_when(
        "tracking", f"/demands/{demand}", lambda c: c["awaiting_verification"], "tracking to await verification"
    )
    [rated] = await outbox(system, "evaluation", "demand.rated", demand)
    return demand, Rated.model_validate(rated)


async def overrides(system: System) -> dict[date, bool]:
    rows = await infra.fetch(
        system.databases["tracking"], "SELECT day, is_workday FROM calendar_corrections WHERE is_workday IS NOT NULL"
    )
    return {r["day"]: r["is_workday"] for r in rows}


async def gauges(system: System) -> dict[str, float]:
    """The station's re-handling figures on tracking's /metrics."""
    text = (await system.clients["tracking"].get("/metrics")).text
    wanted = {"qs_demands_reopened_total", "qs_demands_awaiting_verification"}
    return {
        s.name: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name in wanted and s.labels.get("station_id") == events.STATION
    }


def resolved_by_organization(text: str) -> dict[tuple[str, str], float]:
    """{(organization, family): value} of the per-organization resolution counters on tracking's /metrics."""
    wanted = {"qs_organization_demands_resolved_total", "qs_organization_demands_reopened_total"}
    found: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name in wanted and s.labels.get("station_id") == events.STATION:
                key = (s.labels["organization_id"], s.name)
                found[key] = found.get(key, 0) + s.value
    return found


async def verify(system: System, demand: UUID, finding: str, headers=auth.HEAD, key: str | None = None):
    body = {"finding": finding, "reason": "企业反映检测报告出具时间晚于约定", "evidence": "电话回访记录"}
    extra = {"Idempotency-Key": key} if key else {}
    return await system.clients["tracking"].post(f"/demands/{demand}/verification", json=body, headers=headers | extra)


async def to_verify(system: System, headers=auth.HEAD) -> set[str]:
    reply = await system.clients["tracking"].get("/ledger", params={"list": "to_verify"}, headers=headers)
    assert reply.status_code == 200, reply.text
    return {c["demand_id"] for c in reply.json()}


async def test_founded_reopens_the_demand_for_round_2_through_dispatch_to_a_second_rating(system):
    tracking = system.clients["tracking"]
    before = await gauges(system)
    demand, rated = await rated_dissatisfied(system)

    # 待核实: on the list, on the clock, in the gauge.
    assert str(demand) in await to_verify(system) and str(demand) in await to_verify(system, auth.CLERK)
    assert str(demand) not in await to_verify(system, auth.ORG)  # an organization verifies nothing
    clock = (await tracking.get(f"/demands/{demand}/clock", headers=auth.CLERK)).json()
    [deadline] = [d for d in clock["deadlines"] if d["kind"] == "verification"]
    assert (deadline["label"], deadline["status"], deadline["round"]) == ("核实时限", "open", 1)
    rated_on = china_today(rated.rated_at)
    assert deadline["due_on"] == add_working_days(rated_on, 2, await overrides(system)).isoformat()
    mid = await gauges(system)
    assert mid["qs_demands_awaiting_verification"] == before.get("qs_demands_awaiting_verification", 0) + 1

    # Only the head or the first responder; another station does not find it; nothing published meanwhile.
    for headers, status in (
        (NOT_FIRST_RESPONDER, 403),
        (auth.SUPERVISOR, 403),
        (auth.ORG, 403),
        (auth.OTHER_HEAD, 404),
    ):
        reply = await verify(system, demand, "founded", headers)
        assert reply.status_code == status, (headers, reply.text)
    assert await outbox(system, "tracking", "demand.rating_verified", demand) == []

    reply = await verify(system, demand, "founded", key="verify-1")
    assert reply.status_code == 201, reply.text
    case = reply.json()
    assert (case["round"], case["status"], case["status_label"]) == (2, "reopened", "重办待派")
    again = await verify(system, demand, "founded", key="verify-1")  # a retry: the same answer, nothing more
    assert again.status_code == 201, again.text
    assert (again.json()["verification_id"], again.json()["reopening_id"]) == (
        case["verification_id"],
        case["reopening_id"],
    )
    twice = await verify(system, demand, "founded", headers=auth.CLERK)
    assert twice.status_code == 409, twice.text  # round 2 has no rating to verify

    # On the broker, as the relay published them.
    [verified] = await infra.eventually(
        lambda: on_broker(system, "demand.rating_verified", demand), what="RatingVerified on the broker"
    )
    [reopened] = await infra.eventually(
        lambda: on_broker(system, "demand.reopened", demand), what="DemandReopened on the broker"
    )
    verification, reopening = RatingVerified.model_validate(verified), DemandReopened.model_validate(reopened)
    assert (verification.round, verification.rated_event_id, verification.finding) == (
        1,
        rated.event_id,
        Finding.founded,
    )
    assert verification.causation_id == rated.event_id and verification.verified_by == "周站长"
    assert (reopening.round, reopening.verification_id, reopening.causation_id) == (
        2,
        verification.event_id,
        verification.event_id,
    )
    due = add_working_days(china_today(reopening.reopened_at), 5, await overrides(system))
    assert (reopening.due_on, reopening.assignment_count, reopening.previous_assignee_id) == (due, 1, "org-01")
    assert (str(verification.event_id), str(reopening.event_id)) == (case["verification_id"], case["reopening_id"])

    # Tracking's case and clock in round 2; off the 待核实 list; counted.
    assert (case["due_on"], case["handling_due_on"]) == (due.isoformat(), due.isoformat())
    assert case["resolved_at"] is None and case["overall"] is None and case["awaiting_verification"] is False
    clock = (await tracking.get(f"/demands/{demand}/clock", headers=auth.HEAD)).json()
    [handling] = [d for d in clock["deadlines"] if d["kind"] == "handling"]
    assert (handling["due_on"], handling["round"], handling["status"]) == (due.isoformat(), 2, "open")
    assert str(demand) not in await to_verify(system)
    after = await gauges(system)
    assert after["qs_demands_reopened_total"] == before.get("qs_demands_reopened_total", 0) + 1
    assert after["qs_demands_awaiting_verification"] == before.get("qs_demands_awaiting_verification", 0)
    kpis = (await tracking.get("/kpis", headers=auth.HEAD)).json()
    [station] = [s for s in kpis["stations"] if s["station_id"] == events.STATION]
    assert station["handling"]["reopened"] >= 1 and kpis["total"]["handling"]["reopened"] >= 1
    assert station["handling"]["resolved_in_period"] >= station["handling"]["reopened"]

    # Dispatch puts it back in the head's queue for round 2; the head assigns it; tracking follows.
    queued = await system.get_when(
        "dispatch", f"/demands/{demand}", lambda q: q["round"] == 2, "dispatch to reopen the demand"
    )
    assert (queued["status"], queued["rehandling"], queued["due_on"]) == ("waiting", True, due.isoformat())
    # Round 2 goes to another organization; round 1's resolution stays counted for the one that resolved it.
    before = resolved_by_organization((await tracking.get("/metrics")).text)
    assert before[("org-01", "qs_organization_demands_resolved_total")] == 1
    assert before[("org-01", "qs_organization_demands_reopened_total")] == 1
    second_org = organization("沈阳市产品质量检验研究院", "12210100MB0000003", ["210100"])
    admitted = await system.clients["dispatch"].put("/organizations/org-03", json=second_org, headers=auth.ADMIN)
    assert admitted.status_code in (200, 201), admitted.text
    reply = await system.clients["dispatch"].post(
        f"/demands/{demand}/assignments",
        json={"assignee_kind": "organization", "assignee_id": "org-03", "assignee_name": second_org["name"]},
        headers=auth.HEAD,
    )
    assert reply.status_code == 201, reply.text
    assigned = await system.get_when(
        "tracking", f"/demands/{demand}", lambda c: c["status"] == "assigned", "tracking to see round 2's assignment"
    )
    assert (assigned["round"], assigned["status_label"], assigned["handling_due_on"]) == (2, "重办中", due.isoformat())
    assert resolved_by_organization((await tracking.get("/metrics")).text) == before
    org_03 = auth.bearer("org", org="org-03", name=second_org["name"])

    # Round 2 resolved (the page names its round) and rated again by the enterprise, on paper.
    stale = await tracking.post(
        f"/demands/{demand}/resolution",
        json={"outcome": "met", "summary": "重新出具报告", "round": 1},
        headers=org_03,
    )
    assert stale.status_code == 409, stale.text
    resolved = await tracking.post(
        f"/demands/{demand}/resolution",
        json={"outcome": "met", "summary": "重新出具报告", "round": 2},
        headers=org_03,
    )
    assert resolved.status_code == 200, resolved.text
    assert (resolved.json()["round"], resolved.json()["status_label"]) == (2, "重办已办结")
    [_, second] = await outbox(system, "tracking", "demand.resolved", demand)
    assert (second["round"], second["assignment_no"]) == (2, 2)
    await system.get_when(
        "evaluation",
        f"/surveys/{demand}",
        lambda s: s["round"] == 2 and s["status"] == "open",
        "evaluation to open round 2's survey",
    )
    rating = await system.clients["evaluation"].post(
        f"/surveys/{demand}/rating", json={"answers": {"overall": "satisfied"}}, headers=auth.CLERK
    )
    assert rating.status_code == 201, rating.text
    final = await system.get_when(
        "tracking", f"/demands/{demand}", lambda c: c["overall"] == "satisfied", "tracking to record round 2's rating"
    )
    assert final["round"] == 2 and final["awaiting_verification"] is False
    texts = [e["text"] for e in final["timeline"]]
    for said in (
        "企业评价：不满意",
        "核实第 1 轮「不满意」评价：情况属实，重新办理",
        "启动重办（第 2 轮）",
        "重办办结（第 2 轮）",
    ):
        assert any(said in t for t in texts), (said, texts)
    assert any("企业评价（第 2 轮）：满意" in t for t in texts), texts
    sheet = await tracking.get(f"/demands/{demand}/sheet.html", headers=auth.HEAD)
    assert sheet.status_code == 200 and "第 2 轮（核实属实后重办" in sheet.text, sheet.text[:200]


async def test_unfounded_publishes_the_verification_only(system):
    demand, rated = await rated_dissatisfied(system)
    reply = await verify(system, demand, "unfounded", headers=auth.CLERK)  # the first responder
    assert reply.status_code == 201, reply.text
    case = reply.json()
    assert (case["round"], case["status"], case["finding"], case["reopening_id"]) == (1, "rated", "unfounded", None)
    [verified] = await infra.eventually(
        lambda: on_broker(system, "demand.rating_verified", demand), what="RatingVerified on the broker"
    )
    assert (verified["finding"], verified["rated_event_id"]) == ("unfounded", str(rated.event_id))
    assert await outbox(system, "tracking", "demand.reopened", demand) == []
    assert str(demand) not in await to_verify(system)
    clock = (await system.clients["tracking"].get(f"/demands/{demand}/clock", headers=auth.HEAD)).json()
    [deadline] = [d for d in clock["deadlines"] if d["kind"] == "verification"]
    assert (deadline["status"], deadline["finding"]) == ("met", "unfounded")


async def test_a_voided_dissatisfied_rating_needs_no_verification(system):
    demand, rated = await rated_dissatisfied(system)
    void = rh.voided(rated)
    await publish_event(system.amqp, void)  # as evaluation publishes it after an appeal (申诉复核)
    sheet = await system.get_when(
        "tracking", f"/demands/{demand}", lambda c: c["rating_voided_at"] is not None, "tracking to hear of the void"
    )
    assert sheet["awaiting_verification"] is False
    assert any("申诉复核：第 1 轮企业评价作废" in e["text"] for e in sheet["timeline"])
    assert str(demand) not in await to_verify(system)
    reply = await verify(system, demand, "founded")
    assert reply.status_code == 409 and "作废" in reply.json()["message"], reply.text
    assert await outbox(system, "tracking", "demand.rating_verified", demand) == []
