"""The city's figures checked for real: a Prometheus (Debian's package) scrapes the five running services, evaluates
the repository's recording and alert rules (deploy/prometheus/rules), and answers the dashboards' queries.

Seeded through the services' HTTP APIs, at two stations in two districts of Shenyang (210100):

    浑南 hunnan-01 (district 210112): two resolved (one of them rated 满意 and archived since), one awaiting dispatch,
                                      one assigned and paused (挂起), one of metrology and testing rated 不满意 and
                                      reopened for re-handling (重办) after a founded verification
    铁西 tiexi-01  (district 210106): one resolved, one assigned and being handled, one of testing served by org-03
                                      and rated 一般, one rated 非常满意 and voided on appeal (申诉复核)

Every demand names metrology unless said otherwise; org-01 serves every assigned one but the one org-03 served.
Every deadline lies days ahead of the submissions, and the metrics take "today" from the services' clock (the one that
set the deadlines, QS_TEST_CLOCK's included), so at any hour nothing is overdue and every resolution is on time.
"""

import asyncio
import contextlib

import httpx
import pytest
import pytest_asyncio

from devtools import prometheus as prom
from tests.support import auth, events, infra
from tests.support.dashboards import metric_names, panel_queries
from tests.support.system import organization

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

HUNNAN = events.STATION  # 210100/210112/hunnan-01
TIEXI = "210100/210106/tiexi-01"  # seeded by intake's station registry (migrations/0002_stations.sql)
STAFF = {
    HUNNAN: (auth.CLERK, auth.HEAD),
    TIEXI: (auth.bearer("clerk", TIEXI, name="李晓梅"), auth.bearer("head", TIEXI, name="赵站长")),
}
SEED = {
    HUNNAN: ["rated", "resolved", "submitted", "paused", "reopened"],
    TIEXI: ["resolved", "assigned", "rated_average", "voided"],
}
ORG_03 = "org-03"  # a second organization of Shenyang, admitted by the seeding
ORG_03_TOKEN = auth.bearer("org", org=ORG_03, name="沈阳市产品质量监督检验院")
METROLOGY_ITEM = {"code": "metrology.calibration"}
TESTING_ITEM = {"code": "testing.product_testing"}
# What each state's demand names (its categories follow: metrology, testing) and who serves it.
ITEMS = {"reopened": [METROLOGY_ITEM, TESTING_ITEM], "rated_average": [TESTING_ITEM]}
SERVED_BY = {"rated_average": (ORG_03, ORG_03_TOKEN)}
# The rating each rated state's enterprise gives, transcribed by the clerk.
RATING = {"rated": "satisfied", "reopened": "dissatisfied", "rated_average": "average", "voided": "very_satisfied"}

# Hand-computed from SEED. Only stations with a demand have a figure.
OPEN = {HUNNAN: 3.0, TIEXI: 1.0}  # submitted, paused and reopened (重办, waiting for dispatch again); assigned
EXPECTED = {
    "qs:demands_open:station": (("station_id",), OPEN),
    "qs:demands_open:district": (("city", "district"), {("210100", "210112"): 3.0, ("210100", "210106"): 1.0}),
    "qs:demands_open:city": (("city",), {"210100": 4.0}),
    "qs:demands_overdue:station": (
        ("station_id", "deadline"),
        {(s, d): 0.0 for s in (HUNNAN, TIEXI) for d in ("response", "handling")},
    ),
    "qs:demands_overdue:district": (
        ("district", "deadline"),
        {(d, k): 0.0 for d in ("210112", "210106") for k in ("response", "handling")},
    ),
    "qs:demands_overdue:city": (("city", "deadline"), {("210100", "response"): 0.0, ("210100", "handling"): 0.0}),
    "qs:demands_paused:station": (("station_id",), {HUNNAN: 1.0, TIEXI: 0.0}),
    "qs:demands_paused:district": (("district",), {"210112": 1.0, "210106": 0.0}),
    "qs:demands_paused:city": (("city",), {"210100": 1.0}),
    # Resolved: a re-handled demand by its first resolution.
    "qs:demands_resolved:station": (("station_id",), {HUNNAN: 3.0, TIEXI: 3.0}),
    # Nothing late: on time / (resolved + late now) = 1.
    "qs:on_time_rate:station": (("station_id",), {HUNNAN: 1.0, TIEXI: 1.0}),
    "qs:on_time_rate:district": (("district",), {"210112": 1.0, "210106": 1.0}),
    "qs:on_time_rate:city": (("city",), {"210100": 1.0}),
    # 重办率: reopened / resolved.
    "qs:reopen_rate:station": (("station_id",), {HUNNAN: 1 / 3, TIEXI: 0.0}),
    "qs:reopen_rate:city": (("city",), {"210100": 1 / 6}),
    # Assigned on the day of submission: every assigned demand was responded to in time; none is late.
    "qs:demands_responded:station": (("station_id",), {HUNNAN: 4.0, TIEXI: 4.0}),
    "qs:demands_responded_in_time:station": (("station_id",), {HUNNAN: 4.0, TIEXI: 4.0}),
    "qs:response_rate:station": (("station_id",), {HUNNAN: 1.0, TIEXI: 1.0}),
    "qs:response_rate:district": (("district",), {"210112": 1.0, "210106": 1.0}),
    "qs:response_rate:city": (("city",), {"210100": 1.0}),
    "qs_outbox_oldest_pending_seconds": (("job",), dict.fromkeys(prom.SERVICE_ORDER, 0.0)),
    # Intake: every demand registered counts; one enterprise (the form's) is served at each station.
    "qs:demands_submitted:station": (("station_id",), {HUNNAN: 5.0, TIEXI: 4.0}),
    "qs:demands_submitted:city": (("city",), {"210100": 9.0}),
    # Every category of the catalogue has its series, 0 included; the reopened one names metrology and testing.
    "qs:demands_submitted_by_category:city > 0": (
        ("city", "category"),
        {("210100", "metrology"): 8.0, ("210100", "testing"): 2.0},
    ),
    "qs:enterprises_served:station": (("station_id",), {HUNNAN: 1.0, TIEXI: 1.0}),
    "qs:enterprises_served:city": (("city",), {"210100": 2.0}),
    # Evaluation: valid ratings of the last 30 days (the voided 非常满意 left out): Hunnan 满意 and 不满意, Tiexi 一般.
    "qs:ratings_30d:station": (("station_id",), {HUNNAN: 2.0, TIEXI: 1.0}),
    "qs:satisfaction_rate_30d:station": (("station_id",), {HUNNAN: 0.5, TIEXI: 0.0}),
    "qs:satisfaction_rate_30d:city": (("city",), {"210100": 1 / 3}),
    # Per category and per organization: nothing late.
    "qs:on_time_rate:category": (("city", "category"), {("210100", "metrology"): 1.0, ("210100", "testing"): 1.0}),
    "qs:on_time_rate:organization": (
        ("city", "organization_id"),
        {("210100", "org-01"): 1.0, ("210100", ORG_03): 1.0},
    ),
    # 满意率 per category: metrology 满意 (rated) and 不满意 (reopened), the voided one left out: 1 of 2; testing
    # 不满意 (reopened) and 一般: 0 of 2. Per organization: org-01 满意 and 不满意 (the voided one left out), org-03
    # 一般.
    "qs:ratings:category": (("city", "category"), {("210100", "metrology"): 2.0, ("210100", "testing"): 2.0}),
    "qs:satisfaction_rate:category": (
        ("city", "category"),
        {("210100", "metrology"): 0.5, ("210100", "testing"): 0.0},
    ),
    "qs:ratings_by_level:category": (
        ("category", "overall"),
        {
            **{("metrology", level): 0.0 for level in ("very_satisfied", "satisfied", "average", "dissatisfied")},
            **{("testing", level): 0.0 for level in ("very_satisfied", "satisfied", "average", "dissatisfied")},
            ("metrology", "satisfied"): 1.0,
            ("metrology", "dissatisfied"): 1.0,
            ("testing", "average"): 1.0,
            ("testing", "dissatisfied"): 1.0,
        },
    ),
    "qs:ratings:organization": (("city", "organization_id"), {("210100", "org-01"): 2.0, ("210100", ORG_03): 1.0}),
    "qs:satisfaction_rate:organization": (
        ("city", "organization_id"),
        {("210100", "org-01"): 0.5, ("210100", ORG_03): 0.0},
    ),
    # 重办率 per category: metrology 1 reopened of 5 resolved, testing 1 of 2; per organization: org-01 1 of 5, org-03
    # 0 of 1.
    "qs:reopen_rate:category": (("city", "category"), {("210100", "metrology"): 0.2, ("210100", "testing"): 0.5}),
    "qs:reopen_rate:organization": (
        ("city", "organization_id"),
        {("210100", "org-01"): 0.2, ("210100", ORG_03): 0.0},
    ),
}
# Working days to resolve: every demand is resolved moments after its submission, so 0 working days, or 1 when the
# seeding straddles a China midnight before a working day; the test reads them as bounds, not exact figures.
RESOLUTION_DAYS = ("qs:resolution_working_days_avg:station", "qs:resolution_working_days_p90:station")
# The business figures (besides the recording rules, qs:*): tracking's, intake's and evaluation's store-derived
# families and the targets. A dashboard query over them must find a series here, and never NaN.
KPI_PREFIXES = (
    "qs:",
    "qs_demand",
    "qs_category_",
    "qs_organization_",
    "qs_enterprises_",
    "qs_ratings_",
    "qs_kpi_target",
)
# Any other dashboard query finds a series too, unless it reads one of these (a part of the query), for the reason said.
NO_SERIES_HERE = {
    "qs_messages_rejected_total": "no message is rejected to a dead-letter queue in this run",
    'status=~"5.."': "no request is answered with a 5xx in this run",
}
# A KPI query reading one of these (a part of the query) may find nothing, for the reason said; it is never NaN.
KPI_MAY_FIND_NOTHING = {
    "revisit": "no re-visit task falls due in this seed (the one rating is 满意, every need was met, and the"
    " stations sample none of the others), so there is neither a task nor a rate to show",
    "qs:complaints_": "no complaint is made in this seed",
    "[1w": "a 7-day rate or quantile has a point only once Prometheus saw something counted happen (increase()"
    " counts what it saw, and it started moments before the seeding: the demands may have been resolved or rated"
    " before its first look)",
}
# RabbitMQ's own metrics, where the broker has no rabbitmq_prometheus endpoint (scripts/ensure-infra.sh enables it).
BROKER_METRICS = "rabbitmq_"


@pytest.fixture(scope="module")
def prometheus(system, system_env):
    procs, _ = system
    _, _, vhost = system_env
    with prom.running(procs.ports, vhost=vhost) as running:
        yield running


async def _get_when(client: httpx.AsyncClient, url: str, ok, what: str, headers: dict) -> dict:
    async def check():
        reply = await client.get(url, headers=headers)
        return reply.json() if reply.status_code == 200 and ok(reply.json()) else None

    return await infra.eventually(check, timeout=30, what=what)


async def _demand(client: httpx.AsyncClient, procs, station: str, state: str) -> str:
    """One demand at `station`, driven to `state` as the station, the organization and the supervisor would do it."""
    clerk, head = STAFF[station]
    form = events.demand_form(station=station, items=ITEMS.get(state, [METROLOGY_ITEM]))
    reply = await client.post(procs.url("intake") + "/demands", json=form, headers=clerk)
    assert reply.status_code == 201, reply.text
    demand_id = reply.json()["demand_id"]
    case = procs.url("tracking") + f"/demands/{demand_id}"
    if state == "submitted":
        await _get_when(client, case, lambda c: c["status"] == "submitted", "tracking to see it", head)
        return demand_id
    org, org_token = SERVED_BY.get(state, ("org-01", auth.ORG))
    await _get_when(client, procs.url("dispatch") + f"/demands/{demand_id}", lambda d: True, "dispatch", head)
    reply = await client.post(
        procs.url("dispatch") + f"/demands/{demand_id}/assignments",
        json={"assignee_kind": "organization", "assignee_id": org},
        headers=head,
    )
    assert reply.status_code == 201, reply.text
    await _get_when(client, case, lambda c: c["status"] == "assigned", "tracking to see the assignment", head)
    if state == "paused":
        reply = await client.post(
            case + "/pauses", json={"reason_kind": "materials", "reason": "等待企业补充材料"}, headers=org_token
        )
        assert reply.status_code == 201, reply.text
    if state in ("assigned", "paused"):
        return demand_id
    reply = await client.post(
        case + "/resolution", json={"outcome": "met", "summary": "已出具校准证书"}, headers=org_token
    )
    assert reply.status_code == 200, reply.text
    if state not in RATING:
        return demand_id
    # The clerk transcribes the enterprise's paper form.
    survey = procs.url("evaluation") + f"/surveys/{demand_id}"
    await _get_when(client, survey, lambda s: s["status"] == "open", "the survey to open", head)
    reply = await client.post(survey + "/rating", json={"answers": {"overall": RATING[state]}}, headers=clerk)
    assert reply.status_code == 201, reply.text
    if state == "reopened":  # 不满意: the head verifies it as founded, and the demand is re-handled (重办)
        await _get_when(client, case, lambda c: c["awaiting_verification"], "tracking to await verification", head)
        reply = await client.post(
            case + "/verification", json={"finding": "founded", "reason": "企业反映校准证书有误，属实"}, headers=head
        )
        assert reply.status_code == 201, reply.text
        await _get_when(client, survey, lambda s: s["round"] == 2, "evaluation to see the reopening", head)
        return demand_id
    await _get_when(client, case, lambda c: c["status"] == "archived", "the archive", head)
    if state == "voided":  # 申诉复核: the city voids the rating as mistaken
        reply = await client.post(
            survey + "/ratings/1/void", json={"reason": "企业误评，经申诉复核作废"}, headers=auth.SUPERVISOR
        )
        assert reply.status_code == 200, reply.text
    return demand_id


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def seeded(system, prometheus):
    procs, _ = system
    async with httpx.AsyncClient(timeout=10) as client:
        stations = await client.get(procs.url("intake") + "/stations", headers=auth.ADMIN)
        assert {HUNNAN, TIEXI} <= {s["station_id"] for s in stations.json()}, stations.text
        admitted = organization("沈阳市产品质量监督检验院", "12210100MB0000003", ["210100"])
        reply = await client.put(procs.url("dispatch") + f"/organizations/{ORG_03}", json=admitted, headers=auth.ADMIN)
        assert reply.status_code in (200, 201), reply.text
        await asyncio.gather(
            *(_demand(client, procs, station, state) for station, states in SEED.items() for state in states)
        )
    return procs


async def _settled(prometheus: prom.Prometheus, expr: str, labels: tuple[str, ...], expected: dict) -> dict:
    """Poll until `expr` shows `expected` (scrapes and rule evaluations run every second); return what it shows."""
    with contextlib.suppress(AssertionError):  # a timeout: the caller's assert shows the difference
        await infra.eventually(lambda: prometheus.values(expr, *labels) == expected, timeout=30, what=expr)
    return prometheus.values(expr, *labels)


async def test_the_kpi_queries_return_the_hand_computed_figures(seeded, prometheus):
    for expr, (labels, expected) in EXPECTED.items():
        assert await _settled(prometheus, expr, labels, expected) == expected, expr


async def test_the_time_to_resolve_counts_working_days_from_acceptance(seeded, prometheus):
    for expr in RESOLUTION_DAYS:
        await infra.eventually(
            lambda expr=expr: set(prometheus.values(expr, "station_id")) == {HUNNAN, TIEXI}, timeout=30, what=expr
        )
        assert all(0.0 <= v <= 1.0 for v in prometheus.values(expr, "station_id").values()), expr


async def test_every_rule_evaluates_and_no_alert_fires(seeded, prometheus):
    await _settled(prometheus, "qs:demands_open:station", ("station_id",), OPEN)
    groups = prometheus.api("rules")["groups"]
    assert {g["name"] for g in groups} >= {"qs_kpi", "qs_alerts"}
    broken = [(r["name"], r.get("lastError")) for g in groups for r in g["rules"] if r["health"] != "ok"]
    assert broken == []
    # Every alert waits a minute or more (`for`) before it fires, so this also shows none is on its way.
    alerts = prometheus.api("alerts")["alerts"]
    assert [(a["labels"]["alertname"], a["state"], a["labels"]) for a in alerts] == []


async def test_every_dashboard_panel_query_runs_and_finds_series(seeded, prometheus):
    for expr, (labels, expected) in EXPECTED.items():  # every service scraped and every rule evaluated since seeding
        await _settled(prometheus, expr, labels, expected)
    queries = panel_queries()
    assert queries, "no dashboard panel query found"
    exempt = list(NO_SERIES_HERE)
    if prometheus.values('up{job="rabbitmq"}', "job") != {"rabbitmq": 1.0}:
        exempt.append(BROKER_METRICS)
    failed, empty, nan = [], [], []
    for name, expr in queries:
        reply = prometheus.answer(expr)
        if reply["status"] != "success":
            failed.append((name, expr, reply.get("error")))
            continue
        result = reply["data"]["result"]
        if not result and not _may_find_nothing(expr, exempt):
            empty.append((name, expr))
        # A KPI shown as NaN (0/0) is a query without its `> 0` guard on the denominator.
        if _reads_kpis(expr) and any(series["value"][1] == "NaN" for series in _series(reply["data"])):
            nan.append((name, expr, result))
    assert failed == []
    assert empty == []
    assert nan == []


def _reads_kpis(expr: str) -> bool:
    return any(name.startswith(KPI_PREFIXES) for name in metric_names(expr))


def _may_find_nothing(expr: str, exempt: list[str]) -> bool:
    if _reads_kpis(expr):
        return any(part in expr for part in KPI_MAY_FIND_NOTHING)
    return any(part in expr for part in exempt)


def _series(data: dict) -> list[dict]:
    return data["result"] if data["resultType"] == "vector" else [{"metric": {}, "value": data["result"]}]


async def test_a_restart_of_tracking_changes_no_kpi(seeded, prometheus):
    procs = seeded
    before = {}
    for expr, (labels, expected) in EXPECTED.items():
        before[expr] = await _settled(prometheus, expr, labels, expected)

    await procs.kill("tracking")
    # Prometheus sees it gone: the failed scrape marks tracking's series stale and the KPI rules have nothing left.
    await infra.eventually(lambda: prometheus.values('up{job="tracking"}', "job") == {"tracking": 0.0}, what="down")
    await infra.eventually(lambda: prometheus.query("qs:demands_open:city") == [], what="the KPIs gone stale")
    await procs.start("tracking")
    await procs.wait_ready(["tracking"])
    await infra.eventually(lambda: prometheus.values('up{job="tracking"}', "job") == {"tracking": 1.0}, what="up")

    after = {}
    for expr, (labels, expected) in EXPECTED.items():
        after[expr] = await _settled(prometheus, expr, labels, expected)
    assert after == before
