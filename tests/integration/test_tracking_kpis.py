"""The supervisor's KPI view, GET /kpis (issue 12), on the real broker and database.

Tracking alone, its cases made with the events it consumes and its own routes (pause, resolve), at two stations in
two districts of one city. Every date is years away from any clock (the Python clock may be frozen at New Year 2027
while PostgreSQL's now() is real): the demands were submitted and assigned in 2025 (the events say so), resolved in
March to July 2025 (the resolutions are made with the test's clock travelled there, tokens minted there too) or now,
and due in 2025 or in 2030, so every figure below is the same whenever the test runs. The cases resolved now are in
no period asked for, so the time to resolve of every period is fixed too.

The working days to resolve, counted by hand with 2025's calendar (清明 4 April, 劳动节 1–5 May, 端午 2 June at rest
on weekdays; Sunday 27 April, and in the new year Sunday 26 January and Saturday 8 February, make-up working days;
春节 28 January to 4 February at rest), from the working day after acceptance:
3 March → 4 March: 1; 3 March → 6 May: 43; 3 March → 20 June: 75; 3 March → 1 July: 82; 6 January → 20 June: 111.
"""

import contextlib
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import httpx
import pytest
import time_machine
from prometheus_client.parser import text_string_to_metric_families

from shared.calendar import china_today
from shared.contracts import AssigneeKind, CategoryRef, DemandSubmitted, Event, utcnow
from tests.support import auth, events, infra
from tests.support.apps import capture_queue, make_app, publish_event

pytestmark = pytest.mark.integration

HUNNAN = events.STATION  # 210100/210112/hunnan-01
TIEXI = "210100/210106/tiexi-01"  # another district of the same city
DISTRICT_SUPERVISOR = auth.bearer("supervisor", "210100/210112", name="浑南区市场监管局")

# Monday 3 March 2025, 09:00 in China: the response is due on Tuesday 4 March (one working day).
SUBMITTED = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)
IN_TIME = datetime(2025, 3, 4, 2, 0, tzinfo=UTC)  # assigned on 4 March: in time
LATE = datetime(2025, 3, 10, 2, 0, tzinfo=UTC)  # assigned on 10 March: late
SUBMITTED_JAN = datetime(2025, 1, 6, 1, 0, tzinfo=UTC)  # response due 7 January
IN_TIME_JAN = datetime(2025, 1, 7, 2, 0, tzinfo=UTC)
SUBMITTED_FEB = datetime(2025, 2, 24, 1, 0, tzinfo=UTC)  # response due 25 February
LATE_1_MARCH = datetime(2025, 2, 28, 16, 30, tzinfo=UTC)  # 00:30 on 1 March in China (28 February in UTC)
RESOLVED_JUNE = datetime(2025, 6, 20, 2, 0, tzinfo=UTC)  # Friday 20 June 2025, 10:00 in China
RESOLVED_MAY = datetime(2025, 5, 6, 2, 0, tzinfo=UTC)  # Tuesday 6 May 2025, the first working day after 劳动节
RESOLVED_NEXT_DAY = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)  # 17:00 on Tuesday 4 March in China
RESOLVED_1_JULY = datetime(2025, 6, 30, 16, 30, tzinfo=UTC)  # 00:30 on 1 July in China (30 June in UTC)
FAR_DUE = date(2030, 6, 28)

SPRING = {"from": "2025-03-01", "to": "2025-06-30"}  # period A
JULY = {"from": "2025-07-01", "to": "2025-07-31"}
JUNE_2030 = {"from": "2030-06-01", "to": "2030-06-30"}
TARGETS = {
    "on_time_rate": 0.4,
    "response_rate": 0.7,
    "revisit_rate": 0.5,
}  # set on the app, so some rates are below and some not

METROLOGY = CategoryRef(code="metrology", label="计量")  # every demand's category unless said otherwise
STANDARDS = CategoryRef(code="standards", label="标准化")
INSPECTION = CategoryRef(code="inspection", label="检验检测")
ORG_01 = ("org-01", "市计量测试院")  # tests.support.events.assigned's organization
ORG_02 = {"assignee_id": "org-02", "assignee_name": "省计量科学研究院"}
STAFF = {"assignee_kind": AssigneeKind.staff, "assignee_id": "staff-01", "assignee_name": "李科员"}


def submitted(station: str, no: int, at: datetime, *categories: CategoryRef) -> DemandSubmitted:
    s = events.submitted(station=station, tracking_no=f"2025-{no:06d}")
    return s.model_copy(update={"submitted_at": at, "occurred_at": at, "categories": list(categories or [METROLOGY])})


def assigned(s: DemandSubmitted, due_on: date, at: datetime, **assignee) -> Event:
    return events.assigned(s).model_copy(update={"due_on": due_on, "occurred_at": at, **assignee})


def below(rate, target):
    return None if rate is None else rate < target


def handled(handling: tuple, took: tuple[int, ...], p90: int | None) -> dict:
    """The handling figures and the time to resolve: `took`, the working days of the cases resolved in the period
    in increasing order, and their 90th percentile by nearest rank written out by hand."""
    on_time = handling[2] / handling[0] if handling[0] else None
    return {
        "handling": {
            "due": handling[0],
            "resolved_in_period": handling[1],
            "resolved_on_time": handling[2],
            "on_time_rate": on_time,
            "below_target": below(on_time, TARGETS["on_time_rate"]),
            "reopened": 0,
            "reopen_rate": 0.0 if handling[1] else None,
        },
        "resolution": {
            "resolved": len(took),
            "average_working_days": sum(took) / len(took) if took else None,
            "p90_working_days": p90,
        },
    }


def figures(now: tuple, handling: tuple, response: tuple, took: tuple[int, ...] = (), p90: int | None = None) -> dict:
    """The reply's shape for one station or the total, with the rates computed from the counts and the targets."""
    responded = response[1] / response[0] if response[0] else None
    return {
        "now": dict(zip(("open", "overdue_response", "overdue_handling", "paused"), now, strict=True)),
        **handled(handling, took, p90),
        "response": {
            "due": response[0],
            "responded_in_time": response[1],
            "response_rate": responded,
            "below_target": below(responded, TARGETS["response_rate"]),
        },
    }


def revisits(due: int = 0, done: int = 0, overdue: int = 0) -> dict:
    """GET /kpis's re-visit figures (回访): of these cases only h4, resolved with its need not met on 6 May 2025, has a
    re-visit task (due 8 May 2025, never done, so overdue now, whatever the period); nothing was rated."""
    return {
        "due": due,
        "done": done,
        "revisit_rate": done / due if due else None,
        "dissatisfied_due": 0,
        "dissatisfied_done": 0,
        "dissatisfied_revisit_rate": None,
        "overdue": overdue,
        "voluntary": 0,
    }


def row(station_id: str, visits: dict | None = None, **by_group) -> dict:
    city, district, _ = station_id.split("/")
    figured = figures(**by_group) | {"revisits": visits or revisits()}
    return {"station_id": station_id, "district": district, "city": city, **figured}


def category(ref: CategoryRef, **by_group) -> dict:
    return {"category": ref.code, "label": ref.label, **figures(**by_group)}


def organization(org: tuple[str, str], now: tuple, handling: tuple, took: tuple[int, ...] = (), p90=None) -> dict:
    return {
        "organization_id": org[0],
        "name": org[1],
        "now": dict(zip(("open", "overdue_handling", "paused"), now, strict=True)),
        **handled(handling, took, p90),
    }


# Counted by hand from the cases made in `make_cases` (see there), today being any day from late 2026 to 2030.
# handling = (due: handling deadline in the period, resolved or late now; resolved in the period; of the due ones,
# resolved on time). Spring: Hunnan's due are h2 (late now), h3, h4 and h9, h6 being paused; resolved in spring
# h3, h4, h9; on time h3, h9. Tiexi's due is t1 alone (late now): t2 was due in February and t3 in July, though
# both were resolved in June (counted in resolved_in_period, not in due). The time to resolve is of the cases
# resolved in the period: in spring h9 (1), h4 (43), h3 (75) and t3 (75), t2 (111).
H_NOW, T_NOW = (4, 1, 1, 1), (2, 1, 1, 0)
H_SPRING = row(
    HUNNAN, revisits(due=1, overdue=1), now=H_NOW, handling=(4, 3, 2), response=(8, 6), took=(1, 43, 75), p90=75
)
T_SPRING = row(TIEXI, now=T_NOW, handling=(1, 2, 0), response=(5, 3), took=(75, 111), p90=111)
# All five together: the 90th percentile is the ⌈4.5⌉ = 5th smallest, the average 305 / 5 = 61.
SPRING_TOTAL = figures(now=(6, 2, 2, 1), handling=(5, 5, 2), response=(13, 9), took=(1, 43, 75, 75, 111), p90=111) | {
    "revisits": revisits(due=1, overdue=1)
}
# July: t3 and t6 due, both on time; only t6 resolved in July (82 working days).
T_JULY = row(TIEXI, now=T_NOW, handling=(2, 1, 2), response=(0, 0), took=(82,), p90=82)
H_2030 = row(HUNNAN, revisits(overdue=1), now=H_NOW, handling=(1, 0, 1), response=(0, 0))
T_2030 = row(TIEXI, now=T_NOW, handling=(1, 0, 1), response=(0, 0))
TOTAL_2030 = figures(now=(6, 2, 2, 1), handling=(2, 0, 2), response=(0, 0)) | {"revisits": revisits(overdue=1)}
EMPTY = figures(now=(0, 0, 0, 0), handling=(0, 0, 0), response=(0, 0)) | {"revisits": revisits()}
NO_RATE = {"due": 0, "responded_in_time": 0, "response_rate": None, "below_target": None}

# The whole scope per category: h3 names metrology and standards (it counts in both), h4 standards, t2 inspection,
# every other demand metrology. In increasing order of code.
ZERO_NOW = (0, 0, 0, 0)
SPRING_BY_CATEGORY = [
    category(INSPECTION, now=ZERO_NOW, handling=(0, 1, 0), response=(0, 0), took=(111,), p90=111),
    # h1 h2 h3 h5 h6 h8 h9 and t1 t3 t4 t5 t6: due h2 h3 h9 t1, resolved in spring h3 h9 t3.
    category(METROLOGY, now=(6, 2, 2, 1), handling=(4, 3, 2), response=(12, 9), took=(1, 75, 75), p90=75),
    category(STANDARDS, now=ZERO_NOW, handling=(2, 2, 1), response=(2, 1), took=(43, 75), p90=75),
]
HUNNAN_SPRING_BY_CATEGORY = [
    category(METROLOGY, now=H_NOW, handling=(3, 2, 2), response=(7, 6), took=(1, 75), p90=75),
    SPRING_BY_CATEGORY[2],  # h3 and h4 are Hunnan's
]
TIEXI_JULY_BY_CATEGORY = [
    category(INSPECTION, now=ZERO_NOW, handling=(0, 0, 0), response=(0, 0)),
    category(METROLOGY, now=T_NOW, handling=(2, 1, 2), response=(0, 0), took=(82,), p90=82),
]
BY_CATEGORY_2030 = [
    category(INSPECTION, now=ZERO_NOW, handling=(0, 0, 0), response=(0, 0)),
    category(METROLOGY, now=(6, 2, 2, 1), handling=(2, 0, 2), response=(0, 0)),
    category(STANDARDS, now=ZERO_NOW, handling=(0, 0, 0), response=(0, 0)),
]
# The whole scope per organization: org-01 holds h3 h4 h5 h6 h8 and t2 t3 t4 t6; org-02 h9 (t1, which it gave
# back, is no longer its); h2 is a staff member's, and h1, h7, t5 were never assigned.
SPRING_BY_ORGANIZATION = [
    organization(ORG_01, now=(2, 0, 1), handling=(2, 4, 1), took=(43, 75, 75, 111), p90=111),
    organization(("org-02", "省计量科学研究院"), now=(0, 0, 0), handling=(1, 1, 1), took=(1,), p90=1),
]
HUNNAN_SPRING_BY_ORGANIZATION = [
    organization(ORG_01, now=(2, 0, 1), handling=(2, 2, 1), took=(43, 75), p90=75),
    SPRING_BY_ORGANIZATION[1],
]
TIEXI_JULY_BY_ORGANIZATION = [organization(ORG_01, now=(0, 0, 0), handling=(2, 1, 2), took=(82,), p90=82)]
BY_ORGANIZATION_2030 = [
    organization(ORG_01, now=(2, 0, 1), handling=(2, 0, 2)),
    organization(("org-02", "省计量科学研究院"), now=(0, 0, 0), handling=(0, 0, 0)),
]


def strip(station_row: dict) -> dict:
    """A station's figures without its labels: the total of a scope holding that station only."""
    return {k: v for k, v in station_row.items() if k not in ("station_id", "district", "city")}


def tracking_app(amqp: str, db: str):
    # The scheduler scans on start and not again during the test; its warnings change no case.
    return make_app(
        "tracking",
        amqp_url=amqp,
        database_url=db,
        scan_every_seconds=3600,
        target_on_time_rate=TARGETS["on_time_rate"],
        target_response_rate=TARGETS["response_rate"],
        target_revisit_rate=TARGETS["revisit_rate"],
    )


async def resolve(
    client: httpx.AsyncClient, demand: DemandSubmitted, outcome: str, at: datetime | None, took: int | None = None
) -> None:
    """Resolved by the station's head, at `at` (the clock travelled there, the token minted there) or now; `took`:
    the working days the case shows it took."""
    travel = time_machine.travel(at, tick=True) if at else contextlib.nullcontext()
    with travel:
        headers = auth.bearer("head", demand.station_id, name="站长")
        reply = await client.post(
            f"/demands/{demand.demand_id}/resolution", json={"outcome": outcome, "summary": "办结"}, headers=headers
        )
    assert reply.status_code == 200, reply.text
    if at:
        assert datetime.fromisoformat(reply.json()["resolved_at"]) - at < timedelta(minutes=1), reply.text
        assert reply.json()["resolution_working_days"] == took, reply.text


async def statuses(client: httpx.AsyncClient) -> dict[UUID, str]:
    reply = await client.get("/ledger", params={"limit": 100}, headers=auth.SUPERVISOR)
    assert reply.status_code == 200, reply.text
    return {UUID(c["demand_id"]): c["status"] for c in reply.json()}


async def make_cases(amqp: str, client: httpx.AsyncClient) -> None:
    """hunnan-01, all submitted on 3 March 2025:
    h1 never assigned (late to respond now); h2 assigned in time to a staff member, due 30 June, open (late now); h3
    (metrology and standards) assigned in time, due 30 June, resolved 20 June; h4 (standards) assigned late, due 30
    April, resolved 6 May; h5 assigned in time, due 28 June 2030, resolved now; h6 assigned in time, due 30 June,
    paused now; h7 withdrawn; h8 assigned in time, due 28 June 2030, open; h9 assigned in time to org-02, due 27 June,
    resolved on 4 March at 17:00 in China.
    tiexi-01: t1 submitted 3 March, assigned in time to org-02, which gave it back (退单), due 30 May, open (late
    now); t2 (inspection) submitted 6 January, assigned in time, due 28 February, resolved 20 June; t3 submitted 3
    March, assigned in time, due 31 July, resolved 20 June; t4 submitted 24 February, assigned late at 00:30 on 1
    March in China, due 28 June 2030, resolved now; t5 submitted 3 March, never assigned (late to respond now); t6
    submitted 3 March, assigned in time, due 31 July, resolved at 00:30 on 1 July in China.
    Every other demand names metrology only, and every other assignment is org-01's."""
    h = {n: submitted(HUNNAN, n, SUBMITTED) for n in (1, 2, 5, 6, 7, 8, 9)}
    h[3] = submitted(HUNNAN, 3, SUBMITTED, METROLOGY, STANDARDS)
    h[4] = submitted(HUNNAN, 4, SUBMITTED, STANDARDS)
    t = {n: submitted(TIEXI, n, SUBMITTED) for n in (1, 3, 5, 6)}
    t[2] = submitted(TIEXI, 2, SUBMITTED_JAN, INSPECTION)
    t[4] = submitted(TIEXI, 4, SUBMITTED_FEB)
    t1_assigned = assigned(t[1], date(2025, 5, 30), IN_TIME, **ORG_02)
    published: list[Event] = [*h.values(), *t.values()]
    published += [
        assigned(h[2], date(2025, 6, 30), IN_TIME, **STAFF),
        assigned(h[3], date(2025, 6, 30), IN_TIME),
        assigned(h[4], date(2025, 4, 30), LATE),
        assigned(h[5], FAR_DUE, IN_TIME),
        assigned(h[6], date(2025, 6, 30), IN_TIME),
        events.withdrawn(h[7]),
        assigned(h[8], FAR_DUE, IN_TIME),
        assigned(h[9], date(2025, 6, 27), IN_TIME, **ORG_02),
        t1_assigned,
        events.returned(t1_assigned, 1),
        assigned(t[2], date(2025, 2, 28), IN_TIME_JAN),
        assigned(t[3], date(2025, 7, 31), IN_TIME),
        assigned(t[4], FAR_DUE, LATE_1_MARCH),
        assigned(t[6], date(2025, 7, 31), IN_TIME),
    ]
    for event in published:
        await publish_event(amqp, event)
    expected = {s.demand_id: "assigned" for s in (*h.values(), *t.values())}
    expected |= {h[1].demand_id: "submitted", t[5].demand_id: "submitted", h[7].demand_id: "withdrawn"}
    expected[t[1].demand_id] = "returned"

    async def all_in() -> bool:
        return await statuses(client) == expected

    await infra.eventually(all_in, timeout=30, what="tracking to see every demand in its state")

    reply = await client.post(
        f"/demands/{h[6].demand_id}/pauses",
        json={"reason_kind": "materials", "reason": "等待企业补充材料"},
        headers=auth.HEAD,
    )
    assert reply.status_code == 201, reply.text
    for s, outcome, at, took in (
        (h[3], "met", RESOLVED_JUNE, 75),
        (h[4], "not_met", RESOLVED_MAY, 43),
        (h[5], "met", None, None),
        (h[9], "met", RESOLVED_NEXT_DAY, 1),
        (t[2], "met", RESOLVED_JUNE, 111),
        (t[3], "met", RESOLVED_JUNE, 75),
        (t[4], "met", None, None),
        (t[6], "met", RESOLVED_1_JULY, 82),
    ):
        await resolve(client, s, outcome, at, took)


async def kpis(client: httpx.AsyncClient, headers: dict, **params) -> dict:
    reply = await client.get("/kpis", params=params, headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


def answer(
    period: dict, stations: list[dict], total: dict, by_category: list[dict], by_organization: list[dict]
) -> dict:
    return {
        **period,
        "targets": TARGETS,
        "stations": stations,
        "total": total,
        "by_category": by_category,
        "by_organization": by_organization,
    }


async def gauges(client: httpx.AsyncClient) -> tuple[dict[str, dict], dict[str, float]]:
    """{station_id: the "now" figures as the gauges on /metrics give them}, and the targets gauge by kpi."""
    reply = await client.get("/metrics")
    assert reply.status_code == 200, reply.text
    now: dict[str, dict] = {}
    targets = {}
    names = {"qs_demands_open": "open", "qs_demands_paused": "paused"}
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            if sample.name == "qs_kpi_target":
                targets[sample.labels["kpi"]] = sample.value
            elif sample.name in names or sample.name == "qs_demands_overdue":
                name = names.get(sample.name) or f"overdue_{sample.labels['deadline']}"
                now.setdefault(sample.labels["station_id"], {})[name] = int(sample.value)
    return now, targets


async def breakdown_gauges(client: httpx.AsyncClient) -> tuple[dict[str, dict], dict[str, dict]]:
    """The "now" figures of the category and organization gauges on /metrics, added up over the stations:
    ({category: now}, {organization_id: now})."""
    reply = await client.get("/metrics")
    assert reply.status_code == 200, reply.text
    by_category: dict[str, dict] = {}
    by_organization: dict[str, dict] = {}
    names = {
        "qs_category_demands_open": (by_category, "category", "open"),
        "qs_category_demands_paused": (by_category, "category", "paused"),
        "qs_organization_demands_open": (by_organization, "organization_id", "open"),
        "qs_organization_demands_overdue": (by_organization, "organization_id", "overdue_handling"),
        "qs_organization_demands_paused": (by_organization, "organization_id", "paused"),
    }
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            if sample.name == "qs_category_demands_overdue":
                into, key, name = by_category, "category", f"overdue_{sample.labels['deadline']}"
            elif sample.name in names:
                into, key, name = names[sample.name]
            else:
                continue
            now = into.setdefault(sample.labels[key], {})
            now[name] = now.get(name, 0) + int(sample.value)
    return by_category, by_organization


async def test_kpis_per_station_and_scope_for_a_period_equal_to_the_metrics(amqp, databases):
    db = databases("tracking")
    # Every demand event tracking publishes (Resolved, CasePaused) has a queue, so the relay can empty the outbox.
    await capture_queue(amqp, "test.kpis.demands", "demand.#")
    async with infra.running(tracking_app(amqp, db)) as client:
        await make_cases(amqp, client)
        # h4's re-visit task comes from tracking's own Resolved, heard back from the broker.
        await infra.eventually(
            lambda: infra.fetch(db, "SELECT 1 FROM revisit_tasks"), timeout=30, what="the re-visit task of h4"
        )

        # The city's supervisor sees both stations (ordered by id) and the city's total.
        city = await kpis(client, auth.SUPERVISOR, **SPRING)
        assert city == answer(SPRING, [T_SPRING, H_SPRING], SPRING_TOTAL, SPRING_BY_CATEGORY, SPRING_BY_ORGANIZATION)
        assert city["total"]["handling"]["on_time_rate"] == 2 / 5
        assert [s["handling"]["below_target"] for s in city["stations"]] == [True, False]
        assert [s["response"]["below_target"] for s in city["stations"]] == [True, False]
        assert city["total"]["resolution"] == {"resolved": 5, "average_working_days": 61.0, "p90_working_days": 111}
        # h3 counts in both of its categories: the categories add up to more than the total.
        assert sum(c["handling"]["resolved_in_period"] for c in city["by_category"]) == 6
        assert [c["response"]["below_target"] for c in city["by_category"]] == [None, False, True]
        # One station of the city, asked by id; a China date decides the period (t6 resolved at 00:30 on 1 July).
        assert await kpis(client, auth.SUPERVISOR, station_id=TIEXI, **JULY) == answer(
            JULY, [T_JULY], strip(T_JULY), TIEXI_JULY_BY_CATEGORY, TIEXI_JULY_BY_ORGANIZATION
        )
        # Due in 2030 and resolved now: on time; h8, due then and still open, is not due yet. Nothing to respond to:
        # no rate, and so neither below nor above its target. Nothing resolved in it: no time to resolve.
        later = await kpis(client, auth.SUPERVISOR, **JUNE_2030)
        assert later == answer(JUNE_2030, [T_2030, H_2030], TOTAL_2030, BY_CATEGORY_2030, BY_ORGANIZATION_2030)
        assert later["total"]["resolution"] == {"resolved": 0, "average_working_days": None, "p90_working_days": None}
        assert later["total"]["response"] == {
            "due": 0,
            "responded_in_time": 0,
            "response_rate": None,
            "below_target": None,
        }

        # The district's supervisor and the station's head see only Hunnan; the total is Hunnan's.
        hunnan_only = answer(
            SPRING, [H_SPRING], strip(H_SPRING), HUNNAN_SPRING_BY_CATEGORY, HUNNAN_SPRING_BY_ORGANIZATION
        )
        assert await kpis(client, DISTRICT_SUPERVISOR, **SPRING) == hunnan_only
        assert await kpis(client, auth.HEAD, **SPRING) == hunnan_only
        assert await kpis(client, auth.CLERK, station_id=HUNNAN, **SPRING) == hunnan_only
        for headers, station_id in ((auth.HEAD, TIEXI), (DISTRICT_SUPERVISOR, TIEXI), (auth.OTHER_HEAD, HUNNAN)):
            reply = await client.get("/kpis", params={"station_id": station_id, **SPRING}, headers=headers)
            assert reply.status_code == 404, reply.text
        # Another city's head: nothing of Shenyang, an empty total for its own station.
        assert await kpis(client, auth.OTHER_HEAD, **SPRING) == answer(SPRING, [], EMPTY, [], [])
        assert await kpis(client, auth.OTHER_SUPERVISOR, **SPRING) == answer(SPRING, [], EMPTY, [], [])
        for headers in (auth.ORG, auth.OTHER_ORG, auth.ADMIN):
            reply = await client.get("/kpis", params=SPRING, headers=headers)
            assert reply.status_code == 403, reply.text
        assert (await client.get("/kpis", params=SPRING)).status_code == 401

        # The "now" figures are the gauges', and the targets the gauge's.
        now, targets = await gauges(client)
        assert now == {s["station_id"]: s["now"] for s in city["stations"]}
        assert targets == TARGETS
        # So are the city's per category and per organization, the series added up over its stations.
        by_category, by_organization = await breakdown_gauges(client)
        assert by_category == {c["category"]: c["now"] for c in city["by_category"]}
        assert by_organization == {o["organization_id"]: o["now"] for o in city["by_organization"]}

        # By default: this China month up to today (by the service's clock, which the test shares).
        before = china_today(utcnow())
        default = await kpis(client, auth.SUPERVISOR)
        after = china_today(utcnow())
        assert date.fromisoformat(default["to"]) in (before, after)
        assert default["from"] == date.fromisoformat(default["to"]).replace(day=1).isoformat()
        assert default["total"]["now"] == SPRING_TOTAL["now"]


async def test_a_bad_period_is_refused_naming_the_field(amqp, databases):
    async with infra.running(tracking_app(amqp, databases("tracking"))) as client:
        for params, field, reason in (
            ({"from": "2025-07-01", "to": "2025-06-30"}, "to", "早于"),
            ({"from": "2025-01-01", "to": "2026-01-02"}, "to", "366"),
            ({"from": "2025-01-01"}, "from", "366"),  # up to today: far more than 366 days
            ({"from": "2025-13-01"}, "from", "日期格式"),
            ({"to": "0001-01-01"}, "to", "日期不在合理范围内"),
            ({"station_id": "浑南"}, "station_id", "格式不正确"),
        ):
            reply = await client.get("/kpis", params=params, headers=auth.SUPERVISOR)
            assert reply.status_code == 422, (params, reply.text)
            body = reply.json()
            assert body["code"] == "validation_error", body
            [error] = body["errors"]
            assert error["field"] == field and reason in error["message"] and error["message_en"], (params, body)
        # 366 days, both ends included, is a period.
        assert (
            await client.get("/kpis", params={"from": "2024-01-01", "to": "2024-12-31"}, headers=auth.SUPERVISOR)
        ).status_code == 200
