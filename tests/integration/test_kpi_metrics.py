"""The KPI figures tracking derives from its store (issue 12), on the real broker and database.

Tracking alone, its cases made with the events it consumes and its own routes (pause, resolve), at two stations in
two districts of one city and at the city's centre. Every figure is counted from the `cases` table at a scrape, so a
restarted app reports the same, and two apps on one database each report the whole (Prometheus takes
`max without (instance)`). The dates are years away from any clock (the Python clock may be frozen in 2027 while
PostgreSQL's now() is real), so every figure below is the same whenever the test runs; the one demand made now is
not late by the service's clock, which the metrics count with (as the ledger does). The resolved demands were
accepted and resolved in 2025 (the resolutions made with the test's clock travelled there), so their working days
to resolve are fixed too.

Per station, per station and category, per organization and station: the same rules over the same cases.
"""

import contextlib
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
import time_machine
from prometheus_client.parser import text_string_to_metric_families

from shared.contracts import AssigneeKind, CategoryRef, DemandSubmitted, Event
from tests.support import auth, events, infra
from tests.support.apps import capture_queue, make_app, publish_event

pytestmark = pytest.mark.integration

HUNNAN = events.STATION  # 210100/210112/hunnan-01
TIEXI = "210100/210106/tiexi-01"  # another district of the same city
TIEXI_HEAD = auth.bearer("head", TIEXI, name="铁西站长")
CENTRE = "210100/shenyang"  # the city's centre: an id not shaped city/district/station, so no district
H = (HUNNAN, "210112", "210100")  # station_id, district, city
T = (TIEXI, "210106", "210100")
C = (CENTRE, "", "210100")

LONG_AGO = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)  # Monday 3 March 2025, 09:00 in China: response due 4 March
ANSWERED_IN_TIME = LONG_AGO + timedelta(hours=1)
ANSWERED_LATE = LONG_AGO + timedelta(days=7)  # first assigned on 10 March: after the response deadline
PAST_DUE = date(2025, 6, 30)
FAR_DUE = date(2030, 6, 28)
# Working days to resolve from Monday 3 March 2025, counted from the working day after: 17:00 the same day, 0;
# Friday 7 March, 4; Tuesday 1 July, 82: 86 weekdays from 4 March to 1 July, less 5 at rest (清明 4 April, 劳动节
# 1, 2 and 5 May, 端午 2 June), plus the make-up Sunday 27 April.
SAME_DAY = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
FRIDAY = datetime(2025, 3, 7, 2, 0, tzinfo=UTC)
FIRST_OF_JULY = datetime(2025, 7, 1, 2, 0, tzinfo=UTC)

METROLOGY = CategoryRef(code="metrology", label="计量")  # every demand's category unless said otherwise
STANDARDS = CategoryRef(code="standards", label="标准化")
INSPECTION = CategoryRef(code="inspection", label="检验检测")
ORG_02 = {"assignee_id": "org-02", "assignee_name": "省计量科学研究院"}  # org-01 is events.assigned's
STAFF = {"assignee_kind": AssigneeKind.staff, "assignee_id": "staff-01", "assignee_name": "李科员"}
BUCKETS = ("0.0", "1.0", "2.0", "3.0", "5.0", "7.0", "10.0", "15.0", "20.0", "30.0", "60.0", "+Inf")

# Each series' labels in the contract's order (the preamble of issue 12).
LABELS = {
    "qs_demands_open": ("station_id", "district", "city"),
    "qs_demands_overdue": ("station_id", "district", "city", "deadline"),
    "qs_demands_paused": ("station_id", "district", "city"),
    "qs_demands_resolved_on_time_total": ("station_id", "district", "city"),
    "qs_demands_responded_in_time_total": ("station_id", "district", "city"),
    "qs_demands_responded_total": ("station_id", "district", "city"),
    "qs_demands_resolved_total": ("station_id", "district", "city", "outcome"),
    "qs_demand_resolution_working_days_bucket": ("station_id", "district", "city", "le"),
    "qs_demand_resolution_working_days_count": ("station_id", "district", "city"),
    "qs_demand_resolution_working_days_sum": ("station_id", "district", "city"),
    "qs_category_demands_open": ("station_id", "district", "city", "category"),
    "qs_category_demands_overdue": ("station_id", "district", "city", "category", "deadline"),
    "qs_category_demands_paused": ("station_id", "district", "city", "category"),
    "qs_category_demands_resolved_on_time_total": ("station_id", "district", "city", "category"),
    "qs_category_demands_responded_in_time_total": ("station_id", "district", "city", "category"),
    "qs_category_demands_responded_total": ("station_id", "district", "city", "category"),
    "qs_category_demands_resolved_total": ("station_id", "district", "city", "category", "outcome"),
    "qs_category_resolution_working_days_bucket": ("station_id", "district", "city", "category", "le"),
    "qs_category_resolution_working_days_count": ("station_id", "district", "city", "category"),
    "qs_category_resolution_working_days_sum": ("station_id", "district", "city", "category"),
    "qs_organization_demands_open": ("organization_id", "station_id", "district", "city"),
    "qs_organization_demands_overdue": ("organization_id", "station_id", "district", "city"),
    "qs_organization_demands_paused": ("organization_id", "station_id", "district", "city"),
    "qs_organization_demands_resolved_on_time_total": ("organization_id", "station_id", "district", "city"),
    "qs_organization_demands_resolved_total": ("organization_id", "station_id", "district", "city", "outcome"),
    "qs_organization_resolution_working_days_bucket": ("organization_id", "station_id", "district", "city", "le"),
    "qs_organization_resolution_working_days_count": ("organization_id", "station_id", "district", "city"),
    "qs_organization_resolution_working_days_sum": ("organization_id", "station_id", "district", "city"),
}


def histogram(name: str, series: dict[tuple[str, ...], tuple[int, ...]]) -> dict[str, dict]:
    """The expected samples of a working-days histogram from each series' observations, written out by hand: each
    bucket counts the observations at or below its bound (cumulative), +Inf all of them."""
    bounds = [float(b) for b in BUCKETS]
    return {
        f"{name}_bucket": {
            (*labels, le): sum(1 for v in took if v <= bound)
            for labels, took in series.items()
            for le, bound in zip(BUCKETS, bounds, strict=True)
        },
        f"{name}_count": {labels: len(took) for labels, took in series.items()},
        f"{name}_sum": {labels: sum(took) for labels, took in series.items()},
    }


# Counted by hand from the cases made in `make_cases` (see there).
# Each station with a case has every series, 0 included (every outcome too).
EXPECTED = {
    "qs_demands_open": {H: 4, T: 3, C: 1},
    "qs_demands_overdue": {
        (*H, "response"): 1,
        (*H, "handling"): 1,
        (*T, "response"): 1,
        (*T, "handling"): 2,
        (*C, "response"): 0,
        (*C, "handling"): 0,
    },
    "qs_demands_paused": {H: 1, T: 0, C: 0},
    "qs_demands_resolved_on_time_total": {H: 1, T: 1, C: 0},
    "qs_demands_responded_in_time_total": {H: 4, T: 3, C: 0},
    "qs_demands_responded_total": {H: 5, T: 3, C: 0},
    "qs_demands_resolved_total": {
        (*H, "met"): 1,
        (*H, "not_met"): 1,
        (*T, "met"): 1,
        (*T, "not_met"): 0,
        (*C, "met"): 0,
        (*C, "not_met"): 0,
    },
    # The time to resolve: Hunnan's h_on_time (0) and h_resolved_late (82, past every finite bucket), Tiexi's
    # t_on_time (4); the centre resolved nothing.
    **histogram("qs_demand_resolution_working_days", {H: (0, 82), T: (4,), C: ()}),
}
# Per station and category: h_paused names metrology and standards (it counts in both), h_resolved_late standards,
# t_late_2 inspection, every other demand metrology.
HM, HS = (*H, "metrology"), (*H, "standards")
TM, TI = (*T, "metrology"), (*T, "inspection")
CM = (*C, "metrology")
EXPECTED |= {
    # Hunnan metrology: h_unanswered, h_late, h_on_track, h_paused, h_on_time, h_withdrawn; standards: h_paused,
    # h_resolved_late. Tiexi metrology: t_unanswered, t_late_1, t_on_time; inspection: t_late_2. Centre: c_new.
    "qs_category_demands_open": {HM: 4, HS: 1, TM: 2, TI: 1, CM: 1},
    "qs_category_demands_overdue": {
        (*HM, "response"): 1,
        (*HM, "handling"): 1,
        (*HS, "response"): 0,
        (*HS, "handling"): 0,  # h_paused is paused
        (*TM, "response"): 1,
        (*TM, "handling"): 1,
        (*TI, "response"): 0,
        (*TI, "handling"): 1,
        (*CM, "response"): 0,
        (*CM, "handling"): 0,
    },
    "qs_category_demands_paused": {HM: 1, HS: 1, TM: 0, TI: 0, CM: 0},
    "qs_category_demands_resolved_on_time_total": {HM: 1, HS: 0, TM: 1, TI: 0, CM: 0},
    "qs_category_demands_responded_in_time_total": {HM: 4, HS: 1, TM: 2, TI: 1, CM: 0},
    "qs_category_demands_responded_total": {HM: 4, HS: 2, TM: 2, TI: 1, CM: 0},
    "qs_category_demands_resolved_total": {
        (*HM, "met"): 1,
        (*HM, "not_met"): 0,
        (*HS, "met"): 0,
        (*HS, "not_met"): 1,
        (*TM, "met"): 1,
        (*TM, "not_met"): 0,
        (*TI, "met"): 0,
        (*TI, "not_met"): 0,
        (*CM, "met"): 0,
        (*CM, "not_met"): 0,
    },
    **histogram("qs_category_resolution_working_days", {HM: (0,), HS: (82,), TM: (4,), TI: (), CM: ()}),
}
# Per organization and station: org-01 holds h_paused, h_on_time, h_resolved_late and t_late_2, t_on_time; org-02
# h_on_track (t_late_1, which it gave back, is no longer its: no Tiexi series). h_late is a staff member's. What is
# open counts for the holder; resolutions for the first resolver, so org-02, which resolved nothing, has no
# resolution series yet.
O1H, O2H, O1T = ("org-01", *H), ("org-02", *H), ("org-01", *T)
EXPECTED |= {
    "qs_organization_demands_open": {O1H: 1, O2H: 1, O1T: 1},
    "qs_organization_demands_overdue": {O1H: 0, O2H: 0, O1T: 1},
    "qs_organization_demands_paused": {O1H: 1, O2H: 0, O1T: 0},
    "qs_organization_demands_resolved_on_time_total": {O1H: 1, O1T: 1},
    "qs_organization_demands_resolved_total": {
        (*O1H, "met"): 1,
        (*O1H, "not_met"): 1,
        (*O1T, "met"): 1,
        (*O1T, "not_met"): 0,
    },
    **histogram("qs_organization_resolution_working_days", {O1H: (0, 82), O1T: (4,)}),
}
OUTBOX_AGE = "qs_outbox_oldest_pending_seconds"


def submitted(station: str, no: int, at: datetime | None = None, *categories: CategoryRef) -> DemandSubmitted:
    s = events.submitted(station=station, tracking_no=f"2026-{no:06d}")
    s = s.model_copy(update={"categories": list(categories or [METROLOGY])})
    return s if at is None else s.model_copy(update={"submitted_at": at})


def assigned(s: DemandSubmitted, due_on: date, at: datetime | None = None, **assignee) -> Event:
    a = events.assigned(s).model_copy(update={"due_on": due_on, **assignee})
    return a if at is None else a.model_copy(update={"occurred_at": at})


def tracking_app(amqp: str, db: str):
    # The scheduler scans on start and not again during the test; its warnings change no case.
    return make_app("tracking", amqp_url=amqp, database_url=db, scan_every_seconds=3600)


async def scrape(client: httpx.AsyncClient) -> tuple[dict[str, dict[tuple[str, ...], float]], float | None]:
    """The KPI series of /metrics, {name: {label values in the contract's order: value}}, and the outbox age."""
    reply = await client.get("/metrics")
    assert reply.status_code == 200, reply.text
    figures: dict[str, dict[tuple[str, ...], float]] = {name: {} for name in LABELS}
    outbox_age = None
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            if sample.name == OUTBOX_AGE:
                assert sample.labels == {}, sample
                outbox_age = sample.value
            elif sample.name in LABELS:
                assert set(sample.labels) == set(LABELS[sample.name]), sample
                figures[sample.name][tuple(sample.labels[k] for k in LABELS[sample.name])] = sample.value
    return figures, outbox_age


async def statuses(client: httpx.AsyncClient) -> dict[UUID, str]:
    reply = await client.get("/ledger", params={"limit": 100}, headers=auth.SUPERVISOR)
    assert reply.status_code == 200, reply.text
    return {UUID(c["demand_id"]): c["status"] for c in reply.json()}


async def overdue_listed(client: httpx.AsyncClient, headers: dict) -> set[UUID]:
    reply = await client.get("/ledger", params={"list": "overdue"}, headers=headers)
    assert reply.status_code == 200, reply.text
    return {UUID(c["demand_id"]) for c in reply.json()}


async def resolve(client: httpx.AsyncClient, demand: DemandSubmitted, outcome: str, at: datetime, took: int):
    """Resolved by the station's head at `at` (the clock travelled there, the token minted there); the case shows
    the `took` working days."""
    with time_machine.travel(at, tick=True):
        headers = auth.bearer("head", demand.station_id, name="站长")
        reply = await client.post(
            f"/demands/{demand.demand_id}/resolution", json={"outcome": outcome, "summary": "办结"}, headers=headers
        )
    assert reply.status_code == 200, reply.text
    assert reply.json()["resolution_working_days"] == took, reply.text


async def make_cases(amqp: str, client: httpx.AsyncClient) -> dict[str, set[UUID]]:
    """hunnan-01: open and never assigned past its response deadline; assigned to a staff member and late; assigned
    to org-02 and not due; paused (late before the pause; metrology and standards); accepted on 3 March 2025 and
    resolved on time the same day; accepted then, answered late and resolved late (not_met) on 1 July 2025
    (standards); withdrawn.
    tiexi-01: never assigned past its response deadline; assigned to org-02, which gave it back (退单), and late;
    assigned and late (inspection); accepted on 3 March 2025 and resolved on time on 7 March.
    The centre: submitted now by the test's clock, so its response is due on the next working day after that clock's
    today: not late by the service's clock, whatever PostgreSQL's now() says (under QS_TEST_CLOCK=weekday-late
    the real date is past that deadline).
    Every other demand names metrology only, every other assignment is org-01's."""
    h_unanswered = submitted(HUNNAN, 1, LONG_AGO)
    h_late, h_on_track = (submitted(HUNNAN, n) for n in (2, 3))
    h_paused = submitted(HUNNAN, 4, None, METROLOGY, STANDARDS)
    h_on_time = submitted(HUNNAN, 5, LONG_AGO)
    h_resolved_late = submitted(HUNNAN, 6, LONG_AGO, STANDARDS)
    h_withdrawn = submitted(HUNNAN, 7, LONG_AGO)  # its response deadline passed, but it ended: never late
    t_unanswered = submitted(TIEXI, 1, LONG_AGO)
    t_late_1 = submitted(TIEXI, 2)
    t_late_2 = submitted(TIEXI, 3, None, INSPECTION)
    t_on_time = submitted(TIEXI, 4, LONG_AGO)
    c_new = submitted(CENTRE, 1)
    t_late_1_assigned = assigned(t_late_1, PAST_DUE, **ORG_02)
    published = [
        h_unanswered,
        h_late,
        assigned(h_late, PAST_DUE, **STAFF),
        h_on_track,
        assigned(h_on_track, FAR_DUE, **ORG_02),
        h_paused,
        assigned(h_paused, PAST_DUE),
        h_on_time,
        assigned(h_on_time, FAR_DUE, at=ANSWERED_IN_TIME),
        h_resolved_late,
        assigned(h_resolved_late, PAST_DUE, at=ANSWERED_LATE),
        h_withdrawn,
        events.withdrawn(h_withdrawn),
        t_unanswered,
        t_late_1,
        t_late_1_assigned,
        events.returned(t_late_1_assigned, 1),
        t_late_2,
        assigned(t_late_2, PAST_DUE),
        t_on_time,
        assigned(t_on_time, FAR_DUE, at=ANSWERED_IN_TIME),
        c_new,
    ]
    for event in published:
        await publish_event(amqp, event)
    expected = {s.demand_id: "submitted" for s in (h_unanswered, t_unanswered, c_new)}
    expected[h_withdrawn.demand_id] = "withdrawn"
    for s in (h_late, h_on_track, h_paused, h_on_time, h_resolved_late, t_late_2, t_on_time):
        expected[s.demand_id] = "assigned"
    expected[t_late_1.demand_id] = "returned"  # still the station's to handle, and late: no longer org-02's

    async def all_in() -> bool:
        return await statuses(client) == expected

    await infra.eventually(all_in, timeout=30, what="tracking to see every demand in its state")

    reply = await client.post(
        f"/demands/{h_paused.demand_id}/pauses",
        json={"reason_kind": "materials", "reason": "等待企业补充材料"},
        headers=auth.HEAD,
    )
    assert reply.status_code == 201, reply.text
    for s, outcome, at, took in (
        (h_on_time, "met", SAME_DAY, 0),
        (h_resolved_late, "not_met", FIRST_OF_JULY, 82),
        (t_on_time, "met", FRIDAY, 4),
    ):
        await resolve(client, s, outcome, at, took)
    return {
        "hunnan overdue": {h_unanswered.demand_id, h_late.demand_id},
        "tiexi overdue": {t_unanswered.demand_id, t_late_1.demand_id, t_late_2.demand_id},
    }


async def forget_resolution_days(db: str) -> None:
    conn = await asyncpg.connect(db)
    try:
        status = await conn.execute("UPDATE cases SET resolution_working_days = NULL WHERE resolved_at IS NOT NULL")
        assert status == "UPDATE 3", status
    finally:
        await conn.close()


async def outbox_age_is(client: httpx.AsyncClient, check) -> bool:
    _, age = await scrape(client)
    return age is not None and check(age)


@contextlib.asynccontextmanager
async def stuck_outbox_row(db: str):
    """An event written an hour ago that the relay cannot publish (no queue is bound for its routing key, and the
    relay publishes `mandatory`), removed afterwards."""
    conn = await asyncpg.connect(db)
    event_id = uuid4()
    try:
        await conn.execute(
            """INSERT INTO outbox (event_id, routing_key, correlation_id, payload, created_at)
            VALUES ($1, 'kpi.test.unroutable', $2, '{}'::jsonb, now() - interval '1 hour')""",
            event_id,
            uuid4(),
        )
        yield
    finally:
        await conn.execute("DELETE FROM outbox WHERE event_id = $1", event_id)
        await conn.close()


async def test_kpis_come_from_the_store_the_same_after_a_restart_and_on_every_replica(amqp, databases):
    db = databases("tracking")
    # Every demand event tracking publishes (Resolved, CasePaused, the scheduler's warnings) has a queue, so the
    # relay can empty the outbox; nothing is bound outside `demand.`.
    await capture_queue(amqp, "test.kpi.demands", "demand.#")
    async with infra.running(tracking_app(amqp, db)) as client:
        overdue = await make_cases(amqp, client)
        figures, _ = await scrape(client)
        assert figures == EXPECTED
        # The same rule as the ledger's overdue list (which counts with the Python clock's today).
        assert await overdue_listed(client, auth.HEAD) == overdue["hunnan overdue"]
        assert await overdue_listed(client, TIEXI_HEAD) == overdue["tiexi overdue"]
        assert await overdue_listed(client, auth.SUPERVISOR) == overdue["hunnan overdue"] | overdue["tiexi overdue"]
        await infra.eventually(
            lambda: outbox_age_is(client, lambda age: age == 0), what="the relay to publish every event"
        )

    # As if resolved before the time to resolve was kept (migration 0012): the restart measures them again.
    await forget_resolution_days(db)
    # A restart changes nothing: a new app on the same database and vhost reports the same figures.
    async with infra.running(tracking_app(amqp, db)) as first:
        figures, _ = await scrape(first)
        assert figures == EXPECTED
        # A second replica beside it: each reports the whole, not a share of it, and neither doubles.
        async with infra.running(tracking_app(amqp, db)) as second:
            for client in (first, second):
                figures, _ = await scrape(client)
                assert figures == EXPECTED
            for client in (first, second):
                await infra.eventually(
                    lambda c=client: outbox_age_is(c, lambda age: age == 0), what="an empty outbox on each replica"
                )

            # An event stuck for an hour: every replica reports its age (once its last reading, a few seconds at
            # most, is renewed).
            async with stuck_outbox_row(db):
                for client in (first, second):
                    await infra.eventually(
                        lambda c=client: outbox_age_is(c, lambda age: 3600 <= age < 3600 + 600),
                        what="the stuck event's age on each replica",
                    )
            for client in (first, second):
                await infra.eventually(
                    lambda c=client: outbox_age_is(c, lambda age: age == 0), what="an empty outbox again"
                )
