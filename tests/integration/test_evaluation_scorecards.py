"""Evaluation's breakdowns (issues 10 and 12) on the real broker and database: the scorecards' rating side
(GET /scorecards) per station, first responder, organization and category, and the rating metrics per category and
per organization (qs_category_ratings_*, qs_organization_ratings_*), counted from the same ratings.

Evaluation alone: the test publishes what intake, dispatch and tracking would (submissions, a correction, assignments,
a rematch, a reopening, resolutions), some of them out of order, then staff transcribe paper ratings with the test's
clock travelled to chosen instants in November 2026 (one in October), and a supervisor voids one. Every figure below
is counted by hand from DEMANDS.
"""

from datetime import date, datetime
from uuid import uuid4

import httpx
import pytest
import time_machine
from prometheus_client.parser import text_string_to_metric_families

from shared.contracts import (
    AssigneeKind,
    CategoryRef,
    DemandReopened,
    DemandSubmitted,
    StationRegistered,
)
from tests.support import auth, events, infra
from tests.support.apps import capture_queue, make_app, publish_event

pytestmark = pytest.mark.integration

HUNNAN = events.STATION  # 210100/210112/hunnan-01, registered with its name below
TIEXI = "210100/210106/tiexi-01"  # not registered here: labelled by its id
PANYU = events.OTHER_STATION  # 440100/440113/panyu-01, another city
H, T, P = (HUNNAN, "210112", "210100"), (TIEXI, "210106", "210100"), (PANYU, "440113", "440100")
METROLOGY = CategoryRef(code="metrology", label="计量")
TESTING = CategoryRef(code="testing", label="检验检测")
STANDARDIZATION = CategoryRef(code="standardization", label="标准化")
ORG_01 = {"assignee_id": "org-01", "assignee_name": "市计量测试院"}
ORG_02 = {"assignee_id": "org-02", "assignee_name": "省计量科学研究院"}
STAFF = {"assignee_kind": AssigneeKind.staff, "assignee_id": "staff-01", "assignee_name": "李科员"}
NOVEMBER = {"from": "2026-11-01", "to": "2026-11-30"}
DISTRICT_SUPERVISOR = auth.bearer("supervisor", "210100/210112", name="浑南区市场监管局")


def china(text: str) -> datetime:
    return datetime.fromisoformat(text + "+08:00")


def submitted(station: str, no: int, responder: str, responder_id: str | None, *categories) -> DemandSubmitted:
    s = events.submitted(station=station, tracking_no=f"2026-{no:06d}")
    return s.model_copy(
        update={"categories": list(categories), "first_responder": responder, "first_responder_id": responder_id}
    )


def assigned(s, no: int, round_: int = 1, **assignee):
    return events.assigned(s, no).model_copy(update={"round": round_, **(ORG_01 | assignee)})


def resolved(s, assignment_no: int | None, round_: int = 1):
    return events.resolved(s, round_).model_copy(update={"assignment_no": assignment_no})


# d1 Hunnan metrology, 张晓燕 (clerk-zhang), org-01; its resolution does not name the assignment: the latest counts.
D1 = submitted(HUNNAN, 1, "张晓燕", "clerk-zhang", METROLOGY)
# d2 Hunnan metrology + testing, 张晓燕: org-01 gave it back (退单), rematched to org-02, which resolved it.
D2 = submitted(HUNNAN, 2, "张晓燕", "clerk-zhang", METROLOGY, TESTING)
# d3 Hunnan, 王文 (no account known: keyed by name): submitted as testing, corrected to standardization (the
# correction arrives first); round 1 handled by staff and rated 不满意, reopened, round 2 by org-01.
D3 = submitted(HUNNAN, 3, "王文", None, TESTING)
# d4 Tiexi metrology, 李晓梅 (clerk-li), org-01: its resolution arrives before its assignment and submission; rated,
# then voided on appeal. d5 the same, rated in October (outside November).
D4 = submitted(TIEXI, 4, "李晓梅", "clerk-li", METROLOGY)
D5 = submitted(TIEXI, 5, "李晓梅", "clerk-li", METROLOGY)
# d6 Panyu (Guangzhou) metrology, org-02.
D6 = submitted(PANYU, 6, "何家豪", "clerk-he", METROLOGY)
D3_CORRECTED = events.corrected(D3, categories=[STANDARDIZATION], changed=["categories"])
D3_REOPENED = D3.caused(
    DemandReopened,
    round=2,
    verification_id=uuid4(),
    reason="企业反映属实",
    reopened_by="周站长",
    reopened_at=events.utcnow(),
    due_on=date(2026, 12, 31),
    assignment_count=1,
)
D2_FIRST = assigned(D2, 1)
PUBLISHED = [
    StationRegistered(correlation_id=uuid4(), station_id=HUNNAN, name="浑南服务站", level=3),
    D1, assigned(D1, 1), resolved(D1, None),
    D2, D2_FIRST, events.returned(D2_FIRST, 1), assigned(D2, 2, **ORG_02), resolved(D2, 2),
    D3_CORRECTED, D3, assigned(D3, 1, **STAFF), resolved(D3, 1),
    resolved(D4, 1), assigned(D4, 1), D4,
    D5, assigned(D5, 1), resolved(D5, 1),
    D6, assigned(D6, 1, **ORG_02), resolved(D6, 1),
]  # fmt: skip
# (demand, round, overall, item 5, rated at)
RATINGS = [
    (D1, 1, "very_satisfied", True, china("2026-11-03T10:00")),
    (D2, 1, "average", False, china("2026-11-05T10:00")),
    (D3, 1, "dissatisfied", None, china("2026-11-10T10:00")),
    (D4, 1, "satisfied", True, china("2026-11-12T10:00")),
    (D5, 1, "satisfied", True, china("2026-10-30T10:00")),
    (D6, 1, "very_satisfied", True, china("2026-11-04T10:00")),
]
D3_ROUND_2 = (D3, 2, "satisfied", True, china("2026-11-20T10:00"))


def row(key, label, vs=0, s=0, avg=0, dis=0, solved=0, voided=0) -> dict:
    ratings = vs + s + avg + dis
    return {
        "key": key,
        "label": label,
        "ratings": ratings,
        "voided": voided,
        "very_satisfied": vs,
        "satisfied": s,
        "basically_satisfied": avg,
        "dissatisfied": dis,
        "very_dissatisfied": 0,
        "satisfied_count": vs + s,
        "satisfaction_rate": (vs + s) / ratings if ratings else None,
        "solved": solved,
    }


# November in the city of Shenyang (the supervisor of 210100), counted by hand.
HUNNAN_ROW = row(HUNNAN, "浑南服务站", vs=1, s=1, avg=1, dis=1, solved=2)  # d1, d2, d3 round 1 and round 2
BY_STATION = [row(TIEXI, TIEXI, voided=1), HUNNAN_ROW]  # in key order; Tiexi: d4 voided, d5 in October
BY_STAFF = [
    row("clerk-li", "李晓梅", voided=1),
    row("clerk-zhang", "张晓燕", vs=1, avg=1, solved=1),
    row("王文", "王文", s=1, dis=1, solved=1),
]
BY_CATEGORY = [
    row("metrology", "计量", vs=1, avg=1, solved=1, voided=1),  # d1, d2; d4 voided
    row("standardization", "标准化", s=1, dis=1, solved=1),  # d3's corrected category, both rounds
    row("testing", "检验检测", avg=1),  # d2 (d3's testing was corrected away)
]
BY_ORGANIZATION = [
    row("org-01", "市计量测试院", vs=1, s=1, solved=2, voided=1),  # d1, d3 round 2; d4 voided
    row("org-02", "省计量科学研究院", avg=1),  # d2 (rematched to it); d3 round 1 was staff's
]


def evaluation_app(amqp: str, db: str, **settings):
    return make_app("evaluation", amqp_url=amqp, database_url=db, **settings)


async def rate(client: httpx.AsyncClient, demand, round_, overall, solved, at) -> None:
    async def survey_open():
        reply = await client.get(f"/surveys/{demand.demand_id}", headers=auth.SUPERVISOR)
        if reply.status_code != 200:
            reply = await client.get(f"/surveys/{demand.demand_id}", headers=auth.OTHER_SUPERVISOR)
        body = reply.json() if reply.status_code == 200 else {}
        return body.get("status") == "open" and body.get("round") == round_

    await infra.eventually(survey_open, timeout=30, what=f"the survey of {demand.tracking_no} round {round_}")
    answers = {"overall": overall} | ({"problem_solved": solved} if solved is not None else {})
    with time_machine.travel(at, tick=True):
        headers = auth.bearer("clerk", demand.station_id, name="窗口人员")
        reply = await client.post(f"/surveys/{demand.demand_id}/rating", json={"answers": answers}, headers=headers)
    assert reply.status_code == 201, reply.text


async def scorecard(client: httpx.AsyncClient, headers: dict, by: str, **params) -> dict:
    reply = await client.get("/scorecards", params={"by": by, **NOVEMBER, **params}, headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


async def scrape(client: httpx.AsyncClient) -> dict:
    """{family: {(labels… , overall): value}} of the breakdown rating families, and their `satisfied` labels."""
    reply = await client.get("/metrics")
    assert reply.status_code == 200, reply.text
    found: dict = {}
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            if not sample.name.startswith(("qs_category_ratings", "qs_organization_ratings")):
                continue
            if sample.name.endswith("_created"):
                continue
            labels = dict(sample.labels)
            assert labels.pop("satisfied") == str(labels["overall"] in ("very_satisfied", "satisfied")).lower()
            if sample.name.startswith("qs_category"):
                key = (labels.pop("station_id"), labels.pop("district"), labels.pop("city"), labels.pop("category"))
            else:
                key = (labels.pop("organization_id"), labels.pop("station_id"), labels.pop("district"),
                       labels.pop("city"))  # fmt: skip
            found.setdefault(sample.name, {}).setdefault(key, {})[labels.pop("overall")] = int(sample.value)
            assert labels == {}, sample
    return found


def levels(vs=0, s=0, avg=0, dis=0) -> dict:
    return {"very_satisfied": vs, "satisfied": s, "average": avg, "dissatisfied": dis}


# Every rating made (October's too), voided ones included; the voided ones apart. Each station's category
# (organization) with a rating has every level, 0 included.
CATEGORY_RATINGS = {
    (*H, "metrology"): levels(vs=1, avg=1),
    (*H, "testing"): levels(avg=1),
    (*H, "standardization"): levels(s=1, dis=1),
    (*T, "metrology"): levels(s=2),
    (*P, "metrology"): levels(vs=1),
}
CATEGORY_VOIDED = {key: levels() for key in CATEGORY_RATINGS} | {(*T, "metrology"): levels(s=1)}
ORGANIZATION_RATINGS = {
    ("org-01", *H): levels(vs=1, s=1),
    ("org-02", *H): levels(avg=1),
    ("org-01", *T): levels(s=2),
    ("org-02", *P): levels(vs=1),
}
ORGANIZATION_VOIDED = {key: levels() for key in ORGANIZATION_RATINGS} | {("org-01", *T): levels(s=1)}


async def test_scorecards_and_breakdown_metrics_count_the_same_ratings(amqp, databases):
    db = databases("evaluation")
    await capture_queue(amqp, "test.evaluation.scorecards.demands", "demand.#")  # so the relay can publish
    async with infra.running(evaluation_app(amqp, db)) as client:
        for event in PUBLISHED:
            await publish_event(amqp, event)
        for rating in RATINGS:
            await rate(client, *rating)
        void = await client.post(
            f"/surveys/{D4.demand_id}/ratings/1/void", json={"reason": "误评"}, headers=auth.SUPERVISOR
        )
        assert void.status_code == 200, void.text
        # 重办: round 2 goes to org-01 and is rated 满意 (round 1's 不满意 stays with the staff member's round).
        for event in (D3_REOPENED, assigned(D3, 2, round_=2), resolved(D3, 2, round_=2)):
            await publish_event(amqp, event)
        await rate(client, *D3_ROUND_2)

        city = {by: await scorecard(client, auth.SUPERVISOR, by) for by in ("station", "staff", "category")}
        city["organization"] = await scorecard(client, auth.SUPERVISOR, "organization")
        assert city["station"] == {"by": "station", **NOVEMBER, "station_id": None, "rows": BY_STATION}
        assert city["staff"]["rows"] == BY_STAFF
        assert city["category"]["rows"] == BY_CATEGORY
        assert city["organization"]["rows"] == BY_ORGANIZATION

        # The metrics: every rating ever made, per station and category (organization), voided ones apart.
        scraped = await scrape(client)
        assert scraped["qs_category_ratings_total"] == CATEGORY_RATINGS
        assert scraped["qs_category_ratings_voided_total"] == CATEGORY_VOIDED
        assert scraped["qs_organization_ratings_total"] == ORGANIZATION_RATINGS
        assert scraped["qs_organization_ratings_voided_total"] == ORGANIZATION_VOIDED
        # The same definitions: a year's scorecard gives the metrics' valid ratings (total - voided) per category.
        year = await scorecard(client, auth.SUPERVISOR, "category", **{"from": "2026-01-01", "to": "2026-12-31"})
        valid: dict[str, int] = {}
        for key, counts in scraped["qs_category_ratings_total"].items():
            if key[2] == "210100":
                voided = scraped["qs_category_ratings_voided_total"][key]
                valid[key[3]] = valid.get(key[3], 0) + sum(counts.values()) - sum(voided.values())
        assert {r["key"]: r["ratings"] for r in year["rows"]} == valid

        # Scope: a station's staff and the district's supervisor see only Hunnan; another station by name is 404.
        assert (await scorecard(client, auth.CLERK, "station"))["rows"] == [HUNNAN_ROW]
        assert (await scorecard(client, DISTRICT_SUPERVISOR, "category"))["rows"] == [
            row("metrology", "计量", vs=1, avg=1, solved=1),
            row("standardization", "标准化", s=1, dis=1, solved=1),
            row("testing", "检验检测", avg=1),
        ]
        narrowed = await scorecard(client, auth.SUPERVISOR, "organization", station_id=TIEXI)
        assert narrowed["station_id"] == TIEXI and narrowed["rows"] == [row("org-01", "市计量测试院", voided=1)]
        for headers, station_id in ((auth.CLERK, TIEXI), (DISTRICT_SUPERVISOR, TIEXI), (auth.OTHER_SUPERVISOR, HUNNAN)):
            reply = await client.get(
                "/scorecards", params={"by": "station", "station_id": station_id, **NOVEMBER}, headers=headers
            )
            assert reply.status_code == 404, reply.text
        # Guangzhou's supervisor sees org-02 only for Panyu's rating.
        assert (await scorecard(client, auth.OTHER_SUPERVISOR, "organization"))["rows"] == [
            row("org-02", "省计量科学研究院", vs=1, solved=1)
        ]
        # An organization: only its own row, wherever it served (Hunnan's d2 and Panyu's d6); no other dimension.
        assert (await scorecard(client, auth.OTHER_ORG, "organization"))["rows"] == [
            row("org-02", "省计量科学研究院", vs=1, avg=1, solved=1)
        ]
        assert (await scorecard(client, auth.ORG, "organization"))["rows"] == BY_ORGANIZATION[:1]
        for by in ("station", "staff", "category"):
            reply = await client.get("/scorecards", params={"by": by}, headers=auth.ORG)
            assert reply.status_code == 403, reply.text
        assert (await client.get("/scorecards", params={"by": "station"}, headers=auth.ADMIN)).status_code == 403
        assert (await client.get("/scorecards", params={"by": "station"})).status_code == 401

        # A bad request changes nothing and names its field.
        for params, field in (
            ({"by": "station", "from": "2026-11-19", "to": "2026-11-18"}, "to"),
            ({"by": "station", "from": "2025-01-01", "to": "2026-01-02"}, "to"),
            ({"by": "enterprise"}, "by"),
            ({"by": "station", "station_id": "浑南"}, "station_id"),
        ):
            reply = await client.get("/scorecards", params=params, headers=auth.SUPERVISOR)
            assert reply.status_code == 422, (params, reply.text)
            [error] = reply.json()["errors"]
            assert error["field"] == field and error["message"] and error["message_en"], (params, reply.text)

        # By default this China month up to today by the service's clock.
        with time_machine.travel(china("2026-11-25T12:00"), tick=True):
            default = await client.get("/scorecards", params={"by": "station"}, headers=auth.SUPERVISOR)
        assert default.status_code == 200, default.text
        assert (default.json()["from"], default.json()["to"]) == ("2026-11-01", "2026-11-25")
        assert default.json()["rows"] == BY_STATION
