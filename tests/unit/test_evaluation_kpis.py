"""Evaluation's satisfaction KPIs (services/evaluation/kpis.py, the rating metrics of its store, the use case and the
settings): which levels are satisfied, the 30 China days, rates null rather than NaN, the total of a scope, one
definition for the metrics' `satisfied` label and the view's figures."""

from datetime import date

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from services.evaluation import store as evaluation_store
from services.evaluation import usecases
from services.evaluation.app import SERVICE
from services.evaluation.kpis import (
    DEFAULT_SATISFIED,
    WINDOW_DAYS,
    Definition,
    Figures,
    StationFigures,
    last_days,
    satisfied_levels,
    total,
)
from services.evaluation.kpis_api import NationalLevelsOut
from services.evaluation.settings import Settings
from shared.auth import Principal, Role
from shared.contracts import NationalLevel, Overall
from shared.errors import Invalid, NotFound
from shared.kpis import Period
from shared.observability import ServiceMetrics
from tests.support.clock import CHINA_DATES
from tests.support.fake_uow import FakeUnitOfWork

VS, S, AVG, DIS = Overall
HUNNAN = "210100/210112/hunnan-01"
TIEXI = "210100/210106/tiexi-01"
SUPERVISOR = Principal("sup", "沈阳市市场监管局", Role.supervisor, station="210100")
HEAD = Principal("head", "周站长", Role.head, station=HUNNAN)
STRICT = Definition(satisfied_levels=(VS,), target_satisfaction_rate=0.5)


def levels(vs: int = 0, s: int = 0, avg: int = 0, dis: int = 0) -> dict[Overall, int]:
    return {VS: vs, S: s, AVG: avg, DIS: dis}


def station(station_id: str, by_level: dict[Overall, int], yes: int = 0, no: int = 0) -> StationFigures:
    city, district, _ = station_id.split("/")
    return StationFigures(by_level, yes, no, station_id=station_id, district=district, city=city)


# --- what counts as satisfied --------------------------------------------------------------------------------------


def test_the_satisfied_levels_are_the_top_of_the_scale_and_never_dissatisfied():
    assert satisfied_levels(["satisfied", "very_satisfied"]) == (VS, S)  # in the scale's order
    assert satisfied_levels([VS]) == (VS,)
    assert satisfied_levels([AVG, S, VS]) == (VS, S, AVG)
    for bad in ([], [DIS, VS, S, AVG], [S], [VS, AVG], ["very_pleased"]):
        with pytest.raises(ValueError):
            satisfied_levels(bad)


def test_the_settings_define_satisfied_and_the_target(monkeypatch):
    defaults = Settings()
    assert defaults.satisfied_levels == DEFAULT_SATISFIED == (VS, S)
    assert Definition.of(defaults) == Definition((VS, S), 0.9) == Definition()
    monkeypatch.setenv("EVALUATION_SATISFIED_LEVELS", "very_satisfied, satisfied, average")
    monkeypatch.setenv("EVALUATION_TARGET_SATISFACTION_RATE", "0.85")
    assert Definition.of(Settings()) == Definition((VS, S, AVG), 0.85)
    monkeypatch.setenv("EVALUATION_SATISFIED_LEVELS", '["very_satisfied"]')
    assert Settings().satisfied_levels == (VS,)
    assert Settings(satisfied_levels=["satisfied", "very_satisfied"]).satisfied_levels == (VS, S)
    for bad in ("", "satisfied", "very_satisfied,dissatisfied", "very_satisfied,average", "满意", "[1]"):
        monkeypatch.setenv("EVALUATION_SATISFIED_LEVELS", bad)
        with pytest.raises(ValidationError):
            Settings()
    monkeypatch.delenv("EVALUATION_SATISFIED_LEVELS")
    for bad in ("1.01", "-0.1", "nan", "inf", "九成"):
        monkeypatch.setenv("EVALUATION_TARGET_SATISFACTION_RATE", bad)
        with pytest.raises(ValidationError):
            Settings()


# --- figures and rates ---------------------------------------------------------------------------------------------


def test_satisfaction_is_the_satisfied_levels_over_every_valid_rating():
    f = Figures(levels(vs=3, s=3, avg=2, dis=2), solved_yes=6, solved_no=2)
    assert f.valid == 10
    assert f.satisfied(Definition()) == 6 and f.satisfaction_rate(Definition()) == 0.6
    assert f.satisfied(STRICT) == 3 and f.satisfaction_rate(STRICT) == 0.3
    # 解决率 over the ratings that answer item 5 (here 8 of the 10).
    assert f.solution_rate == 0.75


def test_a_rate_is_null_when_there_is_nothing_to_count():
    nothing = Figures()
    assert nothing.valid == 0 and nothing.satisfied(Definition()) == 0
    assert nothing.satisfaction_rate(Definition()) is None and nothing.solution_rate is None
    # Rated, but nobody answered item 5: a satisfaction rate, no solution rate.
    unanswered = Figures(levels(dis=2))
    assert unanswered.satisfaction_rate(Definition()) == 0.0 and unanswered.solution_rate is None


def test_the_national_scale_maps_every_level_and_counts_bad_ratings():
    """好差评: 非常满意, 满意 as they are, 一般 is 基本满意, 不满意 is 不满意 (差评); nothing maps to 非常不满意."""
    f = Figures(levels(vs=3, s=3, avg=2, dis=2))
    assert f.national == {
        NationalLevel.very_satisfied: 3,
        NationalLevel.satisfied: 3,
        NationalLevel.basically_satisfied: 2,
        NationalLevel.dissatisfied: 2,
        NationalLevel.very_dissatisfied: 0,
    }
    assert list(f.national) == list(NationalLevel)  # every level listed, in the scale's order
    assert sum(f.national.values()) == f.valid
    assert f.bad == 2 and f.bad_rate == 0.2
    assert Figures().bad == 0 and Figures().bad_rate is None
    assert (
        total([station(HUNNAN, levels(avg=1)), station(TIEXI, levels(dis=1))]).national[
            NationalLevel.basically_satisfied
        ]
        == 1
    )
    # The reply lists exactly the national levels.
    assert list(NationalLevelsOut.model_fields) == [level.value for level in NationalLevel]


def test_the_total_adds_the_counts_and_takes_the_rates_of_the_sums():
    stations = [
        station(HUNNAN, levels(vs=1, s=1, avg=1, dis=1), yes=3, no=1),
        station(TIEXI, levels(vs=5, s=1), yes=1, no=0),
    ]
    whole = total(stations)
    assert whole == Figures(levels(vs=6, s=2, avg=1, dis=1), 4, 1)
    assert whole.satisfaction_rate(Definition()) == 8 / 10  # not the mean of 2/4 and 6/6
    assert whole.solution_rate == 4 / 5
    assert total([]) == Figures() and total([]).satisfaction_rate(Definition()) is None


def test_the_last_30_days_are_china_days_ending_today():
    assert WINDOW_DAYS == 30
    assert last_days(date(2026, 11, 18)) == Period(date(2026, 10, 20), date(2026, 11, 18))
    assert last_days(date(2027, 1, 1)) == Period(date(2026, 12, 3), date(2027, 1, 1))
    assert last_days(date(2024, 3, 1)).start == date(2024, 2, 1)  # a leap February of 29 days
    assert last_days(date(2026, 11, 18)).days == 30


def test_the_metrics_window_ends_on_the_china_date_of_the_service_clock(frozen_clock):
    today = CHINA_DATES[frozen_clock]  # 00:30 in China is still yesterday in UTC
    assert evaluation_store.rating_kpis(Definition()).params() == (date.fromordinal(today.toordinal() - 29), today)


# --- the metrics: one reading, the settings' definition in the labels ---------------------------------------------


def test_one_reading_of_the_ratings_gives_a_value_for_each_column_and_the_view_counts_the_same_way():
    s = evaluation_store
    query = s.rating_kpis(Definition())
    assert query.sql.count("count(*)") == sum(family.width for family, _ in query.columns) == 16
    assert {family.name for family, _ in query.columns} == {
        "qs_ratings_total",
        "qs_ratings_voided_total",
        "qs_ratings_last_30_days",
        "qs_ratings_solved_total",
        "qs_ratings_solved_voided_total",
    }
    tree = ("station_id", "district", "city")
    assert s.RATINGS.labels == s.VOIDED.labels == s.LAST_30_DAYS.labels == (*tree, "overall", "satisfied")
    assert s.SOLVED.labels == s.SOLVED_VOIDED.labels == (*tree, "solved")
    kinds = (s.RATINGS.kind, s.VOIDED.kind, s.SOLVED.kind, s.SOLVED_VOIDED.kind, s.LAST_30_DAYS.kind)
    assert kinds == ("counter", "counter", "counter", "counter", "gauge")
    # Voided ratings (申诉复核) are left out by one predicate, in the 30-day gauge and in GET /kpis; the counters never
    # drop (a drop reads as a reset): they count every rating, and the voided ones apart, so valid = total - voided.
    assert s._VALID == "voided_at IS NULL" and s._VOIDED == "voided_at IS NOT NULL"
    assert "WHERE" not in query.sql.split("FROM ratings")[1]
    for column in (*s._per_level(s._VOIDED), *s._per_level(f"{s._VALID} AND {s._RATED_ON} BETWEEN $1 AND $2")):
        assert column in query.sql
    assert f"WHERE {s._VALID} AND qs_covers" in s._KPIS
    for column in (*s._per_level(s._IN_PERIOD), *s._solved(s._IN_PERIOD)):
        assert column in s._KPIS
    assert s._RATED_ON in query.sql and "Asia/Shanghai" in s._RATED_ON


def test_the_satisfied_label_follows_the_definition():
    def labels(definition: Definition) -> dict[str, str]:
        q = evaluation_store.rating_kpis(definition)
        return {further[0]: further[1] for family, further in q.columns if family.name == "qs_ratings_total"}

    assert labels(Definition()) == {"very_satisfied": "true", "satisfied": "true", "average": "false",
                                    "dissatisfied": "false"}  # fmt: skip
    assert labels(STRICT)["satisfied"] == "false"
    assert labels(Definition((VS, S, AVG)))["average"] == "true"


# Per level: every rating 3/3/2/2, voided 1/0/0/1, valid in the 30 days 0/1/1/1; item 5 yes/no 6/2, voided 1/0.
ROW = ("210100/210112/hunnan-01", "210112", "210100", 3, 3, 2, 2, 1, 0, 0, 1, 0, 1, 1, 1, 6, 2, 1, 0)


async def test_every_station_with_a_rating_has_every_series_0_included():
    async def read(queries):
        assert [params for _, params in queries] == [(date(2026, 10, 20), date(2026, 11, 18))]
        return [[ROW]]

    def at(query):
        return type(query)(query.sql, query.labels, query.columns, lambda: (date(2026, 10, 20), date(2026, 11, 18)))

    m = ServiceMetrics("test", reuse_seconds=0)
    m.from_store((at(evaluation_store.rating_kpis(STRICT)),), read)
    await m.refresh()
    text = generate_latest(m.registry).decode()
    served = set()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("qs_ratings") and not sample.name.endswith("_created"):
                labels = dict(sample.labels)
                assert (labels.pop("station_id"), labels.pop("district"), labels.pop("city")) == (
                    HUNNAN,
                    "210112",
                    "210100",
                )
                served.add((sample.name, *labels.values(), sample.value))
    assert served == {
        ("qs_ratings_total", "very_satisfied", "true", 3),
        ("qs_ratings_total", "satisfied", "false", 3),
        ("qs_ratings_total", "average", "false", 2),
        ("qs_ratings_total", "dissatisfied", "false", 2),
        ("qs_ratings_voided_total", "very_satisfied", "true", 1),
        ("qs_ratings_voided_total", "satisfied", "false", 0),
        ("qs_ratings_voided_total", "average", "false", 0),
        ("qs_ratings_voided_total", "dissatisfied", "false", 1),
        ("qs_ratings_last_30_days", "very_satisfied", "true", 0),
        ("qs_ratings_last_30_days", "satisfied", "false", 1),
        ("qs_ratings_last_30_days", "average", "false", 1),
        ("qs_ratings_last_30_days", "dissatisfied", "false", 1),
        ("qs_ratings_solved_total", "yes", 6),
        ("qs_ratings_solved_total", "no", 2),
        ("qs_ratings_solved_voided_total", "yes", 1),
        ("qs_ratings_solved_voided_total", "no", 0),
    }
    assert "# TYPE qs_ratings_last_30_days gauge" in text and "# TYPE qs_ratings_total counter" in text
    assert "# TYPE qs_ratings_voided_total counter" in text


def test_the_service_counts_with_its_settings_and_serves_the_target_as_a_gauge():
    runtime = SERVICE.runtime(Settings(satisfied_levels=["very_satisfied"], target_satisfaction_rate=0.85))
    text = generate_latest(runtime.metrics.registry).decode()  # connects to nothing
    assert "# TYPE qs_kpi_target gauge" in text
    assert 'qs_kpi_target{kpi="satisfaction_rate"} 0.85' in text
    # The store figures this runtime reads at a scrape: per station, per category, per organization; the outbox's age.
    [ratings, by_category, by_organization, _outbox] = runtime.metrics._store.queries
    for query, name in ((ratings, "qs_ratings_total"), (by_category, "qs_category_ratings_total"),
                        (by_organization, "qs_organization_ratings_total")):  # fmt: skip
        assert (name, ("satisfied", "false")) in {(f.name, further) for f, further in query.columns}
    default = SERVICE.runtime(Settings())
    assert ("qs_ratings_total", ("satisfied", "true")) in {
        (f.name, further) for f, further in default.metrics._store.queries[0].columns
    }


# --- the use case --------------------------------------------------------------------------------------------------


class FakeKpiStore:
    """Answers every scope with the stations inside it, and keeps what it was asked."""

    def __init__(self, stations: list[StationFigures]) -> None:
        self.stations = stations
        self.asked: list[tuple[str, Period]] = []

    async def kpi_figures(self, scope: str, asked: Period) -> list[StationFigures]:
        self.asked.append((scope, asked))
        return [s for s in self.stations if s.station_id == scope or s.station_id.startswith(scope + "/")]


async def test_the_use_case_counts_this_china_month_by_default(frozen_clock):
    store = FakeKpiStore([station(HUNNAN, levels(vs=1, avg=1), yes=1), station(TIEXI, levels(s=2))])
    report = await usecases.kpi_figures(FakeUnitOfWork(store), SUPERVISOR, None, None, None)
    today = CHINA_DATES[frozen_clock]  # e.g. 00:30 on 1 January 2027 in China is still 2026 in UTC
    assert report.period == Period(today.replace(day=1), today)
    assert store.asked == [("210100", report.period)]
    assert [s.station_id for s in report.stations] == [HUNNAN, TIEXI]
    assert report.total == Figures(levels(vs=1, s=2, avg=1), 1, 0)


async def test_the_use_case_scopes_like_the_surveys():
    store = FakeKpiStore([station(HUNNAN, levels(vs=1)), station(TIEXI, levels(dis=1))])
    p = (date(2026, 10, 1), date(2026, 10, 31))
    one = await usecases.kpi_figures(FakeUnitOfWork(store), SUPERVISOR, TIEXI, *p)
    assert [s.station_id for s in one.stations] == [TIEXI]
    head = await usecases.kpi_figures(FakeUnitOfWork(store), HEAD, None, *p)
    assert [s.station_id for s in head.stations] == [HUNNAN]
    assert [scope for scope, _ in store.asked] == [TIEXI, HUNNAN]
    with pytest.raises(NotFound):  # another station than the head's own: as if it did not exist
        await usecases.kpi_figures(FakeUnitOfWork(store), HEAD, TIEXI, *p)
    with pytest.raises(Invalid) as refused:  # a bad period is refused before anything is read
        await usecases.kpi_figures(FakeUnitOfWork(store), HEAD, None, date(2026, 11, 1), date(2026, 10, 31))
    assert refused.value.field == "to"
    assert len(store.asked) == 2
