"""The supervisor's KPI view (services/tracking/kpis.py, the use case and the targets): the period in China dates,
rates that are null rather than NaN, the total of a scope, and the targets as settings and as a gauge."""

from datetime import date

import pytest
from prometheus_client import generate_latest
from pydantic import ValidationError

from services.tracking import store as tracking_store
from services.tracking import usecases
from services.tracking.app import SERVICE
from services.tracking.kpis import (
    CategoryFigures,
    Figures,
    Handling,
    Now,
    OrganizationFigures,
    ResolutionTime,
    Response,
    StationFigures,
    Targets,
    nearest_rank,
    total,
)
from services.tracking.settings import Settings
from shared.auth import Principal, Role
from shared.errors import Invalid, NotFound
from shared.kpis import MAX_DAYS, Period, below, period, rate
from tests.support.clock import CHINA_DATES
from tests.support.fake_uow import FakeUnitOfWork

HUNNAN = "210100/210112/hunnan-01"
TIEXI = "210100/210106/tiexi-01"
SUPERVISOR = Principal("sup", "沈阳市市场监管局", Role.supervisor, station="210100")
HEAD = Principal("head", "周站长", Role.head, station=HUNNAN)


def test_a_rate_is_null_when_there_is_nothing_to_count():
    assert rate(0, 0) is None
    assert rate(3, 0) is None  # never a division error, never NaN
    assert rate(0, 4) == 0.0
    assert rate(1, 3) == 1 / 3
    assert rate(4, 4) == 1.0
    assert Handling().on_time_rate is None and Response().response_rate is None
    assert Handling(due=4, resolved_in_period=5, resolved_on_time=3).on_time_rate == 0.75
    assert Response(due=8, responded_in_time=6).response_rate == 0.75


def test_below_target_is_strict_and_null_without_a_rate():
    assert below(None, 0.9) is None
    assert below(0.89, 0.9) is True
    assert below(0.9, 0.9) is False  # meeting the target is not below it
    assert below(1.0, 0.9) is False
    assert below(0.0, 0.0) is False


def test_the_period_defaults_to_this_month_up_to_today():
    today = date(2026, 11, 18)
    assert period(None, None, today) == Period(date(2026, 11, 1), today)
    # Only the start given: up to today; only the end given: from the first of its month.
    assert period(date(2026, 9, 15), None, today) == Period(date(2026, 9, 15), today)
    assert period(None, date(2025, 6, 30), today) == Period(date(2025, 6, 1), date(2025, 6, 30))
    # On the first of a month the default is that day alone.
    assert period(None, None, date(2027, 1, 1)) == Period(date(2027, 1, 1), date(2027, 1, 1))
    assert period(date(2025, 6, 30), date(2025, 6, 30), today).days == 1


def test_a_period_ends_on_or_after_its_start_or_is_refused_naming_the_field_given():
    with pytest.raises(Invalid) as refused:
        period(date(2025, 7, 1), date(2025, 6, 30), date(2026, 11, 18))
    assert refused.value.field == "to" and refused.value.status == 422
    assert "早于" in refused.value.zh and "before" in refused.value.en
    # A start after today with no end: the end is today, and the field the caller gave is the start.
    with pytest.raises(Invalid) as refused:
        period(date(2026, 12, 1), None, date(2026, 11, 18))
    assert refused.value.field == "from"


def test_a_period_is_at_most_366_days():
    assert MAX_DAYS == 366
    leap_year = period(date(2024, 1, 1), date(2024, 12, 31), date(2026, 11, 18))
    assert leap_year.days == 366
    assert period(date(2025, 1, 1), date(2026, 1, 1), date(2026, 11, 18)).days == 366
    with pytest.raises(Invalid) as refused:
        period(date(2025, 1, 1), date(2026, 1, 2), date(2026, 11, 18))
    assert refused.value.field == "to" and "366" in refused.value.zh and "366" in refused.value.en
    with pytest.raises(Invalid) as refused:
        period(date(2025, 11, 1), None, date(2026, 11, 18))  # from 1 November 2025 to today: 383 days
    assert refused.value.field == "from"


def station(
    station_id: str, now: Now, handling: Handling, response: Response, took: tuple[int, ...] = ()
) -> StationFigures:
    city, district, _ = station_id.split("/")
    return StationFigures(
        now, handling, response, ResolutionTime(took), station_id=station_id, district=district, city=city
    )


def test_the_total_adds_the_counts_and_takes_the_rates_of_the_sums():
    stations = [
        station(HUNNAN, Now(4, 1, 1, 1), Handling(4, 3, 2), Response(8, 6), took=(0, 2, 9)),
        station(TIEXI, Now(2, 1, 1, 0), Handling(3, 2, 1), Response(4, 2), took=(1, 4)),
    ]
    whole = total(stations)
    assert whole == Figures(Now(6, 2, 2, 1), Handling(7, 5, 3), Response(12, 8), ResolutionTime((0, 1, 2, 4, 9)))
    assert whole.handling.on_time_rate == 3 / 7  # not the mean of 2/4 and 1/3
    assert whole.response.response_rate == 8 / 12
    # The time to resolve of all the cases together, not a mean of the stations' figures.
    assert whole.resolution.average == 16 / 5 and whole.resolution.p90 == 9 and whole.resolution.resolved == 5
    nothing = total([])
    assert nothing == Figures()
    assert nothing.handling.on_time_rate is None and nothing.response.response_rate is None
    assert nothing.resolution.average is None and nothing.resolution.p90 is None and nothing.resolution.resolved == 0


def test_the_90th_percentile_is_the_nearest_rank_one_of_the_values():
    assert nearest_rank([], 90) is None
    assert nearest_rank([7], 90) == 7
    # n = 10: the 9th smallest; n = 11: ⌈9.9⌉ = the 10th; n = 20: the 18th; n = 70: the 63rd.
    assert nearest_rank(list(range(1, 11)), 90) == 9
    assert nearest_rank(list(range(1, 12)), 90) == 10
    assert nearest_rank(list(range(1, 21)), 90) == 18
    assert nearest_rank(list(range(1, 71)), 90) == 63
    assert nearest_rank([0, 0, 0, 1, 30], 90) == 30  # ⌈4.5⌉ = the 5th: never interpolated
    assert nearest_rank([1, 2], 50) == 1 and nearest_rank([1, 2, 3], 1) == 1
    r = ResolutionTime((0, 0, 1, 3, 3, 4, 5, 6, 8, 21))
    assert r.average == 51 / 10 and r.p90 == 8 and r.resolved == 10
    assert ResolutionTime((5, 1)) + ResolutionTime((3,)) == ResolutionTime((1, 3, 5))  # kept in increasing order


METROLOGY = CategoryFigures(handling=Handling(1, 1, 1), category="metrology", label="计量")
ORG_01 = OrganizationFigures(handling=Handling(1, 1, 0), organization_id="org-01", name="市计量测试院")


class FakeKpiStore:
    """Answers every scope with the stations inside it (and the same breakdowns), and keeps what it was asked."""

    def __init__(self, stations: list[StationFigures]) -> None:
        self.stations = stations
        self.asked: list[tuple[str, Period]] = []
        self.today: list[date] = []
        self.broken_down: list[tuple[str, Period, date]] = []

    async def kpi_figures(self, scope: str, asked: Period, today: date) -> list[StationFigures]:
        self.asked.append((scope, asked))
        self.today.append(today)
        return [s for s in self.stations if s.station_id == scope or s.station_id.startswith(scope + "/")]

    async def kpi_breakdowns(self, scope: str, asked: Period, today: date):
        self.broken_down.append((scope, asked, today))
        return [METROLOGY], [ORG_01]


async def test_the_use_case_counts_this_china_month_by_default(frozen_clock):
    store = FakeKpiStore([station(HUNNAN, Now(1, 0, 0, 0), Handling(1, 1, 1), Response(1, 1), took=(3,))])
    report = await usecases.kpi_figures(FakeUnitOfWork(store), SUPERVISOR, None, None, None)
    asked, stations, whole = report.period, report.stations, report.total
    today = CHINA_DATES[frozen_clock]  # e.g. 00:30 on 1 January 2027 in China is still 2026 in UTC
    assert asked == Period(today.replace(day=1), today)
    assert store.asked == [("210100", asked)]
    assert store.today == [today]  # late means late by the service's clock, as for the ledger and the metrics
    assert [s.station_id for s in stations] == [HUNNAN] and whole.handling.on_time_rate == 1.0
    assert whole.resolution == ResolutionTime((3,))
    # The breakdowns are of the same scope, period and today.
    assert store.broken_down == [("210100", asked, today)]
    assert report.by_category == [METROLOGY] and report.by_organization == [ORG_01]


async def test_the_use_case_scopes_like_the_ledger():
    store = FakeKpiStore([])
    p = (date(2025, 3, 1), date(2025, 6, 30))
    await usecases.kpi_figures(FakeUnitOfWork(store), SUPERVISOR, TIEXI, *p)
    await usecases.kpi_figures(FakeUnitOfWork(store), HEAD, None, *p)
    assert [scope for scope, _ in store.asked] == [TIEXI, HUNNAN]
    assert [scope for scope, _, _ in store.broken_down] == [TIEXI, HUNNAN]
    with pytest.raises(NotFound):  # another station than the head's own: as if it did not exist
        await usecases.kpi_figures(FakeUnitOfWork(store), HEAD, TIEXI, *p)
    with pytest.raises(Invalid):  # a bad period is refused before anything is read
        await usecases.kpi_figures(FakeUnitOfWork(store), HEAD, None, date(2025, 7, 1), date(2025, 6, 30))
    assert len(store.asked) == 2


def test_the_targets_are_settings_between_0_and_1(monkeypatch):
    defaults = Settings()
    assert Targets.of(defaults) == Targets(on_time_rate=0.9, response_rate=0.95)
    monkeypatch.setenv("TRACKING_TARGET_ON_TIME_RATE", "0.8")
    monkeypatch.setenv("TRACKING_TARGET_RESPONSE_RATE", "1")
    assert Targets.of(Settings()) == Targets(on_time_rate=0.8, response_rate=1.0)
    for bad in ("1.01", "-0.1", "nan", "inf", "九成"):
        monkeypatch.setenv("TRACKING_TARGET_ON_TIME_RATE", bad)
        with pytest.raises(ValidationError):
            Settings()


def test_tracking_serves_its_targets_as_a_gauge():
    runtime = SERVICE.runtime(Settings(target_on_time_rate=0.85, target_response_rate=0.9))  # connects to nothing
    text = generate_latest(runtime.metrics.registry).decode()
    assert "# TYPE qs_kpi_target gauge" in text
    assert 'qs_kpi_target{kpi="on_time_rate"} 0.85' in text
    assert 'qs_kpi_target{kpi="response_rate"} 0.9' in text


def test_each_kpi_reading_gives_a_value_for_each_column_and_the_breakdowns_reuse_the_station_rules():
    s = tracking_store
    queries = (s.CASE_KPIS, s.CATEGORY_KPIS, s.ORGANIZATION_HELD_KPIS, s.ORGANIZATION_RESOLVED_KPIS)
    for query in queries:
        values = query.sql.count("count(*)") + query.sql.count("COALESCE(sum(")
        assert values == sum(family.width for family, _ in query.columns), query.sql
    station_rules = (s._OPEN, s._LATE_HANDLING, s._PAUSED, s._RESOLVED_ON_TIME, s._TOOK)
    for query in (s.CASE_KPIS, s.CATEGORY_KPIS):
        assert all(rule in query.sql for rule in station_rules)
    assert all(rule in s.ORGANIZATION_HELD_KPIS.sql for rule in (s._OPEN, s._LATE_HANDLING, s._PAUSED))
    assert all(rule in s.ORGANIZATION_RESOLVED_KPIS.sql for rule in (s._RESOLVED_ON_TIME, s._TOOK, s._REOPENED))
    for query in (s.CASE_KPIS, s.CATEGORY_KPIS):
        assert s._LATE_RESPONSE in query.sql and s._RESPONDED_IN_TIME in query.sql
    assert (
        s._HELD_BY_ORGANIZATION in s.ORGANIZATION_HELD_KPIS.sql and s._HELD_BY_ORGANIZATION in s._KPIS_BY_ORGANIZATION
    )
    # Resolutions count for the organization that resolved first, whoever holds the case in a later round.
    assert "COALESCE(first_assignee_id, assignee_id) AS organization_id" in s.ORGANIZATION_RESOLVED_KPIS.sql
    names = {family.name: family for q in queries for family, _ in q.columns}
    for name in (
        "qs_demand_resolution_working_days",
        "qs_category_resolution_working_days",
        "qs_organization_resolution_working_days",
    ):
        assert names[name].kind == "histogram" and names[name].buckets == (0, 1, 2, 3, 5, 7, 10, 15, 20, 30, 60)
    assert names["qs_category_demands_open"].labels == ("station_id", "district", "city", "category")
    assert names["qs_organization_demands_open"].labels == ("organization_id", "station_id", "district", "city")
    assert set(queries) <= set(s.COUNTERS)
