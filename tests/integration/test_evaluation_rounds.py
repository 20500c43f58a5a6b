"""Evaluation after a 不满意 rating (issue 10) on the real broker and database: the second round and the appeal.

Evaluation runs alone on its own vhost. The tests publish what the other services would: the demand's assignment and
resolution, then (as tracking will, after a founded verification) the DemandReopened and round 2's assignment and
Resolved, built from the Rated evaluation itself put on the broker (tests/support/rehandling_events.py). What
evaluation publishes is read from plain queues bound like a consumer's.
"""

from datetime import timedelta
from uuid import UUID

import asyncpg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared.calendar import china_today
from shared.contracts import (
    Assigned,
    AssigneeKind,
    DemandSubmitted,
    HandlingMode,
    Outcome,
    Rated,
    RatingLinkIssued,
    RatingSource,
    RatingVoided,
    Resolved,
    utcnow,
)
from tests.support import auth, events, infra
from tests.support import rehandling_events as rh
from tests.support.apps import body_of, capture_queue, drain, make_app, publish_event

pytestmark = pytest.mark.integration

RATED_QUEUE = "test.evaluation.rounds.rated"
VOIDED_QUEUE = "test.evaluation.rounds.voided"
LINKS_QUEUE = "test.evaluation.rounds.rating_links"
DISTRICT_SUPERVISOR = auth.bearer("supervisor", "210100/210112", name="浑南区市场监管局")
OTHER_DISTRICT_SUPERVISOR = auth.bearer("supervisor", "210100/210106", name="铁西区市场监管局")
H = (events.STATION, "210112", "210100")


@pytest.fixture
async def evaluation(amqp, databases):
    """Evaluation with its database URL, and queues catching every Rated and RatingVoided it publishes (and the
    status page's RatingLinkIssued, intake's alone: unroutable, it would hold back the relay)."""
    await capture_queue(amqp, RATED_QUEUE, Rated.routing_key)
    await capture_queue(amqp, VOIDED_QUEUE, RatingVoided.routing_key)
    await capture_queue(amqp, LINKS_QUEUE, RatingLinkIssued.routing_key)
    db = databases("evaluation")
    async with infra.running(make_app("evaluation", amqp_url=amqp, database_url=db)) as client:
        yield client, db


class Broker:
    """What evaluation published, drained as the test goes."""

    def __init__(self, amqp: str) -> None:
        self.amqp = amqp
        self.seen: dict[str, list[dict]] = {RATED_QUEUE: [], VOIDED_QUEUE: []}

    async def one(self, queue: str, ok, what: str) -> dict:
        async def found():
            self.seen[queue].extend(body_of(m) for m in await drain(self.amqp, queue))
            matching = [e for e in self.seen[queue] if ok(e)]
            return matching[0] if len(matching) == 1 else None

        return await infra.eventually(found, what=what)

    async def rated(self, demand_id: UUID, round_: int) -> Rated:
        body = await self.one(
            RATED_QUEUE,
            lambda e: e["demand_id"] == str(demand_id) and e["round"] == round_,
            f"Rated round {round_} on the broker",
        )
        return Rated.model_validate(body)


def survey_when(client, demand_id, ok, headers=auth.HEAD):
    async def check():
        reply = await client.get(f"/surveys/{demand_id}", headers=headers)
        return reply.json() if reply.status_code == 200 and ok(reply.json()) else None

    return check


def handled(db, *evts):
    async def check():
        ids = [e.event_id for e in evts]
        rows = await infra.fetch(db, "SELECT 1 FROM inbox WHERE consumer = 'evaluation' AND event_id = ANY($1)", ids)
        return len(rows) == len(ids)

    return check


async def resolved_survey(amqp, client, **submitted) -> DemandSubmitted:
    """A demand assigned to an organization and resolved (round 1): its survey open."""
    s = events.submitted(**submitted)
    await publish_event(amqp, events.assigned(s))
    await publish_event(amqp, events.resolved(s))
    await infra.eventually(survey_when(client, s.demand_id, lambda v: v["status"] == "open"), what="the survey open")
    return s


async def paper(client, demand_id, overall: str, headers=auth.CLERK):
    reply = await client.post(f"/surveys/{demand_id}/rating", json={"answers": {"overall": overall}}, headers=headers)
    assert reply.status_code == 201, reply.text
    return reply.json()


async def new_link(client, demand_id) -> tuple[str, dict]:
    reply = await client.post(f"/surveys/{demand_id}/link", headers=auth.CLERK)
    assert reply.status_code == 201, reply.text
    return reply.json()["url"].rsplit("/", 1)[1], reply.json()


def second_round(reopening) -> tuple[Assigned, Resolved]:
    """Round 2 as dispatch and tracking would publish it: assignment 2 (caused by the reopening), its resolution."""
    a2 = reopening.caused(
        Assigned,
        round=2,
        assignment_no=2,
        assignee_kind=AssigneeKind.organization,
        assignee_id="org-01",
        assignee_name="市计量测试院",
        handling_mode=HandlingMode.independent,
        due_on=reopening.due_on,
        assigned_by="周站长",
    )
    r2 = a2.caused(
        Resolved,
        round=2,
        assignment_no=2,
        outcome=Outcome.met,
        summary="重新检定并补发证书",
        resolved_by="市计量测试院",
        resolved_at=utcnow(),
    )
    return a2, r2


# --------------------------------------------------------------------------- the second round


async def test_a_dissatisfied_demand_reopened_and_resolved_again_is_rated_in_round_2_through_a_link(evaluation, amqp):
    client, db = evaluation
    broker = Broker(amqp)
    s = await resolved_survey(amqp, client)
    unused, _ = await new_link(client, s.demand_id)  # sent in round 1, never used
    await paper(client, s.demand_id, "dissatisfied")
    first = await broker.rated(s.demand_id, 1)
    assert first.answers.overall == "dissatisfied" and first.source is RatingSource.paper
    assert (await client.get(f"/public/ratings/{unused}")).status_code == 404  # the round is rated

    # 核实属实 → 重办: tracking publishes the DemandReopened (round 2) of the verification of that very Rated.
    reopening = rh.reopened(rh.verified(first))
    await publish_event(amqp, reopening)
    survey = await infra.eventually(
        survey_when(client, s.demand_id, lambda v: v["round"] == 2), what="the survey to move to round 2"
    )
    assert (survey["status"], survey["opened_at"], survey["rated_at"]) == ("waiting", None, None)
    [kept] = survey["ratings"]  # round 1's rating kept as it was
    assert (kept["round"], kept["overall"], kept["final"], kept["voided"]) == (1, "dissatisfied", False, False)
    assert (kept["national_level"], kept["national_level_label"]) == ("dissatisfied", "不满意")
    too_early = {"answers": {"overall": "satisfied"}}
    for path, body in ((f"/surveys/{s.demand_id}/link", None), (f"/surveys/{s.demand_id}/rating", too_early)):
        reply = await client.post(path, json=body, headers=auth.CLERK)
        assert reply.status_code == 409 and "尚未办结" in reply.json()["message"], reply.text

    # Round 2's resolution overtakes its assignment; the survey opens for round 2 on the organization's work.
    a2, r2 = second_round(reopening)
    await publish_event(amqp, r2)
    await publish_event(amqp, a2)
    survey = await infra.eventually(
        survey_when(client, s.demand_id, lambda v: v["status"] == "open" and v["served_by_org"]),
        what="round 2 open",
    )
    assert (survey["round"], survey["assignment_no"]) == (2, 2)

    # Older rounds' events arriving late, and a redelivered reopening, change nothing.
    late = [events.resolved(s), rh.reopened(rh.verified(first))]
    for event in (*late, reopening):
        await publish_event(amqp, event)
    await infra.eventually(handled(db, *late), what="the late events handled")
    assert (await client.get(f"/surveys/{s.demand_id}", headers=auth.HEAD)).json() == survey

    token, issued = await new_link(client, s.demand_id)
    assert issued["also_valid"] == 0  # round 1's link does not count, nor work
    opened = (await client.get(f"/public/ratings/{token}")).json()
    assert (opened["round"], opened["status"], opened["technician_items_apply"]) == (2, "open", True)
    rated = await client.post(f"/public/ratings/{token}", json={"answers": {"overall": "satisfied"}})
    assert rated.status_code == 201 and rated.json()["round"] == 2, rated.text

    second = await broker.rated(s.demand_id, 2)
    assert (second.causation_id, second.correlation_id) == (r2.event_id, s.correlation_id)
    assert (second.source, second.answers.overall) == (RatingSource.online, "satisfied")
    survey = (await client.get(f"/surveys/{s.demand_id}", headers=auth.HEAD)).json()
    assert (survey["round"], survey["status"]) == (2, "rated")
    assert [(r["round"], r["overall"], r["final"], r["national_level"], r["source"]) for r in survey["ratings"]] == [
        (1, "dissatisfied", False, "dissatisfied", "paper"),
        (2, "satisfied", True, "satisfied", "online"),
    ]
    rows = await infra.fetch(db, "SELECT round, event_id FROM ratings WHERE demand_id = $1 ORDER BY round", s.demand_id)
    assert [(r["round"], r["event_id"]) for r in rows] == [(1, first.event_id), (2, second.event_id)]

    # The second rating is final: nothing rates the demand again.
    again = await client.post(
        f"/surveys/{s.demand_id}/rating", json={"answers": {"overall": "average"}}, headers=auth.CLERK
    )
    assert again.status_code == 409 and "第 2 轮已评价" in again.json()["message"], again.text


# --------------------------------------------------------------------------- the appeal (申诉复核)


def _rating_series(text: str) -> dict:
    """{name: {overall or answer: value}} of the rating series of one station's scrape."""
    found: dict = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if not sample.name.startswith("qs_ratings") or sample.name.endswith("_created"):
                continue
            labels = dict(sample.labels)
            assert (labels["station_id"], labels["district"], labels["city"]) == H, sample
            key = labels.get("overall") or labels["solved"]
            found.setdefault(sample.name, {})[key] = int(sample.value)
    return found


def _levels(vs=0, s=0, avg=0, dis=0) -> dict:
    return {"very_satisfied": vs, "satisfied": s, "average": avg, "dissatisfied": dis}


async def test_a_voided_rating_is_kept_announced_and_left_out_of_every_satisfaction_figure(evaluation, amqp):
    client, db = evaluation
    broker = Broker(amqp)
    demands = {}
    for n, overall in enumerate(("dissatisfied", "satisfied", "average"), start=1):
        demands[overall] = s = await resolved_survey(amqp, client, tracking_no=f"2026-{n:06d}")
        reply = await client.post(
            f"/surveys/{s.demand_id}/rating",
            json={"answers": {"overall": overall, "problem_solved": overall != "dissatisfied"}},
            headers=auth.CLERK,
        )
        assert reply.status_code == 201, reply.text
    target = demands["dissatisfied"]
    rated = await broker.rated(target.demand_id, 1)
    today = china_today(utcnow())
    period = {"from": (today - timedelta(days=1)).isoformat(), "to": (today + timedelta(days=1)).isoformat()}

    async def figures():
        metrics = _rating_series((await client.get("/metrics")).text)
        reply = await client.get("/kpis", params=period, headers=auth.SUPERVISOR)
        assert reply.status_code == 200, reply.text
        return metrics, reply.json()["total"]

    metrics, before = await figures()
    assert metrics["qs_ratings_total"] == metrics["qs_ratings_last_30_days"] == _levels(s=1, avg=1, dis=1)
    assert metrics["qs_ratings_voided_total"] == _levels()
    assert (before["satisfaction"]["valid"], before["satisfaction"]["satisfaction_rate"]) == (3, 1 / 3)
    assert before["national"] == {
        "ratings": {"very_satisfied": 0, "satisfied": 1, "basically_satisfied": 1, "dissatisfied": 1,
                    "very_dissatisfied": 0},
        "bad": 1,
        "bad_rate": 1 / 3,
    }  # fmt: skip

    url = f"/surveys/{target.demand_id}/ratings/1/void"
    reason = {"reason": "经申诉复核，企业误选「不满意」"}
    # Only a supervisor whose scope covers the station: staff and organizations are refused, others find nothing.
    for headers, status in (
        (auth.CLERK, 403), (auth.HEAD, 403), (auth.ORG, 403), (auth.ADMIN, 403), (auth.NONE, 401),
        (auth.OTHER_SUPERVISOR, 404), (OTHER_DISTRICT_SUPERVISOR, 404),
    ):  # fmt: skip
        reply = await client.post(url, json=reason, headers=headers)
        assert reply.status_code == status, (headers, reply.text)
    for bad_url, body, status, field in (
        (url, {"reason": "  "}, 422, "reason"),
        (url, {}, 422, "reason"),
        (f"/surveys/{target.demand_id}/ratings/3/void", reason, 422, "round"),
        (f"/surveys/{target.demand_id}/ratings/2/void", reason, 404, None),  # no round-2 rating
    ):
        reply = await client.post(bad_url, json=body, headers=DISTRICT_SUPERVISOR)
        assert reply.status_code == status, reply.text
        if field:
            assert reply.json()["errors"][0]["field"] == field, reply.text
    assert await infra.fetch(db, "SELECT 1 FROM ratings WHERE voided_at IS NOT NULL") == []

    key = {"Idempotency-Key": f"void-{target.demand_id}"}
    voided = await client.post(url, json=reason, headers=DISTRICT_SUPERVISOR | key)
    assert voided.status_code == 200, voided.text
    shown = voided.json()
    assert (shown["voided"], shown["voided_by"], shown["void_reason"]) == (True, "浑南区市场监管局", reason["reason"])
    assert shown["overall"] == "dissatisfied" and shown["voided_at"]
    retried = await client.post(url, json=reason, headers=DISTRICT_SUPERVISOR | key)
    assert (retried.status_code, retried.json()) == (200, shown)  # a retry answers the first result again
    twice = await client.post(url, json=reason, headers=auth.SUPERVISOR)
    assert twice.status_code == 409, twice.text
    assert "不能重复作废" in twice.json()["message"] and "浑南区市场监管局" in twice.json()["message"]
    assert "voided twice" in twice.json()["message_en"] and twice.json()["code"] == "already_voided"

    event = RatingVoided.model_validate(
        await broker.one(VOIDED_QUEUE, lambda e: e["demand_id"] == str(target.demand_id), "RatingVoided on the broker")
    )
    assert (event.round, event.rated_event_id, event.causation_id) == (1, rated.event_id, rated.event_id)
    assert (event.correlation_id, event.voided_by) == (target.correlation_id, "浑南区市场监管局")
    assert event.reason == reason["reason"]
    await infra.eventually(
        lambda: infra.fetch(db, "SELECT 1 FROM outbox WHERE routing_key = $1 AND published_at IS NOT NULL",
                            RatingVoided.routing_key),
        what="the voiding published once",
    )  # fmt: skip
    assert len(await infra.fetch(db, "SELECT 1 FROM outbox WHERE routing_key = $1", RatingVoided.routing_key)) == 1

    # Kept and shown as void; the survey lists the voided round.
    survey = (await client.get(f"/surveys/{target.demand_id}", headers=auth.CLERK)).json()
    assert survey["voided_rounds"] == [1] and survey["status"] == "rated"
    assert survey["ratings"] == [shown]
    listed = (await client.get("/surveys", params={"status": "rated"}, headers=auth.HEAD)).json()
    assert {v["tracking_no"]: v["voided_rounds"] for v in listed} == {
        "2026-000001": [1], "2026-000002": [], "2026-000003": [],
    }  # fmt: skip

    # The counters never drop (a drop reads as a reset): the voided one is counted apart. The 30 days and the view
    # leave it out: 满意率 1/2 instead of 1/3.
    metrics, after = await figures()
    assert metrics["qs_ratings_total"] == _levels(s=1, avg=1, dis=1)
    assert metrics["qs_ratings_voided_total"] == _levels(dis=1)
    assert metrics["qs_ratings_last_30_days"] == _levels(s=1, avg=1)
    assert metrics["qs_ratings_solved_total"] == {"yes": 2, "no": 1}
    assert metrics["qs_ratings_solved_voided_total"] == {"yes": 0, "no": 1}
    assert after["satisfaction"]["ratings"] == _levels(s=1, avg=1)
    assert (after["satisfaction"]["valid"], after["satisfaction"]["satisfaction_rate"]) == (2, 1 / 2)
    assert (after["solution"]["yes"], after["solution"]["no"]) == (2, 0)
    assert after["national"]["ratings"]["dissatisfied"] == 0 and after["national"]["bad"] == 0

    # The database itself keeps the rating: no delete, no rewrite, and a void rating changes no more.
    for sql in (
        "DELETE FROM ratings WHERE demand_id = $1",
        "UPDATE ratings SET void_reason = '改写' WHERE demand_id = $1",
        "UPDATE ratings SET voided_at = NULL, voided_by = NULL, void_reason = NULL WHERE demand_id = $1",
    ):
        with pytest.raises(asyncpg.RaiseError):
            await infra.fetch(db, sql, target.demand_id)
    other = demands["satisfied"].demand_id
    with pytest.raises(asyncpg.RaiseError):
        await infra.fetch(db, "UPDATE ratings SET overall = 'very_satisfied' WHERE demand_id = $1", other)
    with pytest.raises(asyncpg.RaiseError):
        await infra.fetch(db, "TRUNCATE ratings CASCADE")
    assert len(await infra.fetch(db, "SELECT 1 FROM ratings")) == 3
