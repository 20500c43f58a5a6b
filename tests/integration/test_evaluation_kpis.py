"""Evaluation's satisfaction KPIs (issue 12) on the real broker and database: the rating metrics on /metrics and the
supervisor's view GET /kpis, counted from the same ratings by the same definitions.

Evaluation alone at two stations of one city (two districts): the tests publish the resolutions tracking would, then
staff transcribe paper ratings with the test's clock travelled to chosen instants (tokens minted there too), so each
rating's `rated_at` is known. The 30 days are read with the clock at 23:30 on 18 November 2026 in China and at 00:30 on
19 November (still the 18th in UTC): the window's first day, a rating at 00:30 China time (the day before in UTC), and
a rating made minutes after midnight decide its edges. PostgreSQL's now() is not used; every figure is the same
whenever the test runs.
"""

import contextlib
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
import time_machine
from prometheus_client.parser import text_string_to_metric_families

from shared.contracts import DemandSubmitted
from tests.support import auth, events, infra
from tests.support.apps import body_of, capture_queue, drain, make_app, publish_event
from tests.support.clock import WEEKDAY_EARLY, WEEKDAY_LATE

pytestmark = pytest.mark.integration

HUNNAN = events.STATION  # 210100/210112/hunnan-01
TIEXI = "210100/210106/tiexi-01"  # another district of the same city
H = (HUNNAN, "210112", "210100")
T = (TIEXI, "210106", "210100")
TIEXI_CLERK = auth.bearer("clerk", TIEXI, name="铁西窗口")
DISTRICT_SUPERVISOR = auth.bearer("supervisor", "210100/210112", name="浑南区市场监管局")
LEVELS = ("very_satisfied", "satisfied", "average", "dissatisfied")
DEFAULT_SATISFIED = {"very_satisfied": "true", "satisfied": "true", "average": "false", "dissatisfied": "false"}
NATIONAL = {"very_satisfied": "very_satisfied", "satisfied": "satisfied", "average": "basically_satisfied",
            "dissatisfied": "dissatisfied"}  # fmt: skip


def china(text: str) -> datetime:
    return datetime.fromisoformat(text + "+08:00")


# (station, overall, item 5 answered, rated at). LATE's 30 days are 20 October to 18 November, EARLY's 21 October to
# 19 November (China dates).
RATINGS = {
    "h1": (HUNNAN, "very_satisfied", True, china("2026-10-19T23:30")),  # the day before either window
    "h2": (HUNNAN, "satisfied", True, china("2026-10-20T00:30")),  # LATE's first day (19 October in UTC)
    "h3": (HUNNAN, "average", False, china("2026-11-18T23:00")),  # in both
    "h4": (HUNNAN, "dissatisfied", None, china("2026-11-01T10:00")),  # in both; item 5 left blank
    "h5": (HUNNAN, "satisfied", True, china("2025-12-01T10:00")),  # a year ago
    "t1": (TIEXI, "very_satisfied", True, china("2026-10-20T12:00")),  # LATE's first day
    "t2": (TIEXI, "very_satisfied", True, china("2026-11-10T10:00")),  # in both
    # Rated after the scrape at LATE, 20 minutes past midnight: EARLY's today (18 November in UTC).
    "t3": (TIEXI, "satisfied", False, china("2026-11-19T00:20")),
}
BEFORE_MIDNIGHT = ("h1", "h2", "h3", "h4", "h5", "t1", "t2")

LATE_WINDOW = {"from": "2026-10-20", "to": "2026-11-18"}
EARLY_WINDOW = {"from": "2026-10-21", "to": "2026-11-19"}
A_YEAR = {"from": "2025-11-20", "to": "2026-11-19"}  # every rating: the counters' whole
DECEMBER_2025 = {"from": "2025-12-01", "to": "2025-12-31"}
TARGET = 0.9
CAPTURED = "test.evaluation.kpis.demands"


def by_level(vs=0, s=0, avg=0, dis=0) -> dict[str, int]:
    return dict(zip(LEVELS, (vs, s, avg, dis), strict=True))


# Counted by hand from RATINGS. The counters (every rating) and the 30-day gauges, per station.
TOTAL_LATE = {H: by_level(1, 2, 1, 1), T: by_level(2, 0, 0, 0)}
TOTAL_EARLY = {H: by_level(1, 2, 1, 1), T: by_level(2, 1, 0, 0)}
SOLVED_LATE = {H: {"yes": 3, "no": 1}, T: {"yes": 2, "no": 0}}
SOLVED_EARLY = {H: {"yes": 3, "no": 1}, T: {"yes": 2, "no": 1}}
LAST_30_LATE = {H: by_level(0, 1, 1, 1), T: by_level(2, 0, 0, 0)}  # h2, h3, h4; t1, t2
LAST_30_EARLY = {H: by_level(0, 0, 1, 1), T: by_level(1, 1, 0, 0)}  # h3, h4; t2, t3


def evaluation_app(amqp: str, db: str, **settings):
    return make_app("evaluation", amqp_url=amqp, database_url=db, **settings)


def survey_open(client: httpx.AsyncClient, s: DemandSubmitted):
    async def check():
        reply = await client.get(f"/surveys/{s.demand_id}", headers=auth.SUPERVISOR)
        return reply.status_code == 200 and reply.json()["status"] == "open"

    return check


async def rate(client: httpx.AsyncClient, s: DemandSubmitted, overall: str, solved: bool | None, at: datetime):
    """A paper rating transcribed by the station's clerk at `at` (the clock travelled there, the token minted there)."""
    answers = {"overall": overall} | ({"problem_solved": solved} if solved is not None else {})
    with time_machine.travel(at, tick=True):
        headers = auth.bearer("clerk", s.station_id, name="窗口人员")
        reply = await client.post(f"/surveys/{s.demand_id}/rating", json={"answers": answers}, headers=headers)
    assert reply.status_code == 201, reply.text
    assert datetime.fromisoformat(reply.json()["rated_at"]) - at < timedelta(minutes=1), reply.text


async def rated_events(amqp: str, count: int) -> dict[str, dict]:
    """The Rated events evaluation published (on the seeded test queue), by demand, once `count` have come."""
    seen: dict[str, dict] = {}

    async def all_came():
        for message in await drain(amqp, CAPTURED):
            if message.routing_key == "demand.rated":
                body = body_of(message)
                seen[body["demand_id"]] = body
        return len(seen) >= count and seen

    return await infra.eventually(all_came, timeout=30, what=f"{count} Rated events")


async def scrape(client: httpx.AsyncClient, at: datetime) -> dict:
    """The rating series of /metrics read with the service's clock at `at`: {name: {station: {level or answer: n}}},
    each level's `satisfied` label kept under "satisfied"; and the target gauge."""
    with time_machine.travel(at, tick=True):
        reply = await client.get("/metrics")
    assert reply.status_code == 200, reply.text
    figures: dict = {"satisfied": {}, "target": {}}
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            labels = dict(sample.labels)
            if sample.name == "qs_kpi_target":
                figures["target"][labels["kpi"]] = sample.value
                continue
            if not sample.name.startswith("qs_ratings") or sample.name.endswith("_created"):
                continue
            station = (labels.pop("station_id"), labels.pop("district"), labels.pop("city"))
            key = labels.pop("overall", None) or labels.pop("solved")
            if "satisfied" in labels:
                figures["satisfied"].setdefault(sample.name, {}).setdefault(station, {})[key] = labels.pop("satisfied")
            assert labels == {}, sample
            figures.setdefault(sample.name, {}).setdefault(station, {})[key] = int(sample.value)
    return figures


async def kpis(client: httpx.AsyncClient, headers: dict, **params) -> dict:
    reply = await client.get("/kpis", params=params, headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


def figures(
    levels: dict[str, int], solved: dict[str, int], satisfied_levels=("very_satisfied", "satisfied"), target=TARGET
):
    """The reply's shape for one station or the total, the rates computed from the counts."""
    valid = sum(levels.values())
    satisfied = sum(n for level, n in levels.items() if level in satisfied_levels)
    rate = satisfied / valid if valid else None
    answered = solved["yes"] + solved["no"]
    national = dict.fromkeys(
        ("very_satisfied", "satisfied", "basically_satisfied", "dissatisfied", "very_dissatisfied"), 0
    )
    for level, n in levels.items():  # 好差评 (Overall.national): 一般 is 基本满意, nothing maps to 非常不满意
        national[NATIONAL[level]] += n
    bad = national["dissatisfied"] + national["very_dissatisfied"]
    return {
        "satisfaction": {
            "ratings": levels,
            "valid": valid,
            "satisfied": satisfied,
            "satisfaction_rate": rate,
            "below_target": None if rate is None else rate < target,
        },
        "solution": {**solved, "solution_rate": solved["yes"] / answered if answered else None},
        "national": {"ratings": national, "bad": bad, "bad_rate": bad / valid if valid else None},
    }


def row(station: tuple, levels: dict[str, int], solved: dict[str, int], **definition) -> dict:
    return {
        "station_id": station[0],
        "district": station[1],
        "city": station[2],
        **figures(levels, solved, **definition),
    }


def answer(period: dict, stations: list[dict], total: dict, levels=("very_satisfied", "satisfied"), target=TARGET):
    return {**period, "satisfied_levels": list(levels), "targets": {"satisfaction_rate": target}, "stations": stations,
            "total": total}  # fmt: skip


def strip(station_row: dict) -> dict:
    return {k: v for k, v in station_row.items() if k not in ("station_id", "district", "city")}


NONE_SOLVED = {"yes": 0, "no": 0}
# The view over LATE's 30 days: Hunnan h2 (满意, solved), h3 (一般, unsolved), h4 (不满意, blank); Tiexi t1, t2.
H_LATE = row(H, by_level(0, 1, 1, 1), {"yes": 1, "no": 1})
T_LATE = row(T, by_level(2, 0, 0, 0), {"yes": 2, "no": 0})
LATE_TOTAL = figures(by_level(2, 1, 1, 1), {"yes": 3, "no": 1})
# Over EARLY's 30 days: h3, h4; t2, t3.
H_EARLY = row(H, by_level(0, 0, 1, 1), {"yes": 0, "no": 1})
T_EARLY = row(T, by_level(1, 1, 0, 0), {"yes": 1, "no": 1})


@contextlib.asynccontextmanager
async def seeded(amqp: str, db: str):
    """The app with every rating of RATINGS but t3 made, scraped at LATE first, then t3 made: yields the client and
    the scrape at LATE."""
    await capture_queue(amqp, CAPTURED, "demand.#")  # so the relay can publish Rated
    async with infra.running(evaluation_app(amqp, db, target_satisfaction_rate=TARGET)) as client:
        demands = {
            name: events.submitted(station=station, tracking_no=f"2026-{n:06d}")
            for n, (name, (station, *_)) in enumerate(RATINGS.items(), start=1)
        }
        for s in demands.values():
            await publish_event(amqp, events.resolved(s))
        for s in demands.values():
            await infra.eventually(survey_open(client, s), timeout=30, what=f"the survey of {s.tracking_no} to open")
        for name in BEFORE_MIDNIGHT:
            _, overall, solved, at = RATINGS[name]
            await rate(client, demands[name], overall, solved, at)
        late = await scrape(client, WEEKDAY_LATE)
        _, overall, solved, at = RATINGS["t3"]
        await rate(client, demands["t3"], overall, solved, at)
        yield client, late


async def test_the_metrics_and_the_view_count_the_same_ratings_at_the_edges_of_the_30_days(amqp, databases):
    db = databases("evaluation")
    async with seeded(amqp, db) as (client, late):
        # 23:30 on 18 November in China: the window starts on 20 October (h2 at 00:30 that day, t1 at noon).
        assert late["qs_ratings_total"] == TOTAL_LATE
        assert late["qs_ratings_solved_total"] == SOLVED_LATE
        assert late["qs_ratings_last_30_days"] == LAST_30_LATE
        for name in ("qs_ratings_total", "qs_ratings_last_30_days"):
            assert late["satisfied"][name] == {H: DEFAULT_SATISFIED, T: DEFAULT_SATISFIED}
        assert late["target"] == {"satisfaction_rate": TARGET}

        # 00:30 on 19 November: 20 October has left the window, t3 (00:20) is today's.
        early = await scrape(client, WEEKDAY_EARLY)
        assert early["qs_ratings_total"] == TOTAL_EARLY
        assert early["qs_ratings_solved_total"] == SOLVED_EARLY
        assert early["qs_ratings_last_30_days"] == LAST_30_EARLY

        # The view over the same 30 days gives the gauges' figures, and over every rating the counters'.
        city = await kpis(client, auth.SUPERVISOR, **LATE_WINDOW)
        assert city == answer(LATE_WINDOW, [T_LATE, H_LATE], LATE_TOTAL)
        assert city["total"]["satisfaction"]["satisfaction_rate"] == 3 / 5
        assert [s["satisfaction"]["below_target"] for s in city["stations"]] == [False, True]
        assert {s["station_id"]: s["satisfaction"]["ratings"] for s in city["stations"]} == {
            station[0]: levels for station, levels in late["qs_ratings_last_30_days"].items()
        }
        for window, scraped in ((EARLY_WINDOW, early), (A_YEAR, None)):
            seen = await kpis(client, auth.SUPERVISOR, **window)
            counted = scraped["qs_ratings_last_30_days"] if scraped else early["qs_ratings_total"]
            assert {s["station_id"]: s["satisfaction"]["ratings"] for s in seen["stations"]} == {
                station[0]: levels for station, levels in counted.items()
            }, window
        assert (await kpis(client, auth.SUPERVISOR, **EARLY_WINDOW))["stations"] == [T_EARLY, H_EARLY]
        year = await kpis(client, auth.SUPERVISOR, **A_YEAR)
        assert {s["station_id"]: {k: s["solution"][k] for k in ("yes", "no")} for s in year["stations"]} == {
            station[0]: solved for station, solved in early["qs_ratings_solved_total"].items()
        }

        # A period with only h5: Tiexi has ratings, none in it: zeros, no rate, neither below nor above the target.
        december = await kpis(client, auth.SUPERVISOR, **DECEMBER_2025)
        assert december == answer(
            DECEMBER_2025,
            [row(T, by_level(), NONE_SOLVED), row(H, by_level(s=1), {"yes": 1, "no": 0})],
            figures(by_level(s=1), {"yes": 1, "no": 0}),
        )
        assert december["stations"][0]["satisfaction"]["below_target"] is None

        # By default this China month up to today by the service's clock: at 00:30 on 19 November, 1 to 19 November
        # (h3, h4, t2 and t3, rated on the 19th in China though the 18th in UTC).
        with time_machine.travel(WEEKDAY_EARLY, tick=True):
            default = await kpis(client, auth.bearer("supervisor", "210100", name="沈阳市市场监管局"))
        november = {"from": "2026-11-01", "to": "2026-11-19"}
        assert default == answer(
            november,
            [row(T, by_level(1, 1, 0, 0), {"yes": 1, "no": 1}), row(H, by_level(0, 0, 1, 1), {"yes": 0, "no": 1})],
            figures(by_level(1, 1, 1, 1), {"yes": 1, "no": 2}),
        )

        # Scope: a station's own staff and the district's supervisor see only Hunnan; another station by name is 404.
        hunnan_only = answer(LATE_WINDOW, [H_LATE], strip(H_LATE))
        assert await kpis(client, auth.CLERK, **LATE_WINDOW) == hunnan_only
        assert await kpis(client, auth.HEAD, station_id=HUNNAN, **LATE_WINDOW) == hunnan_only
        assert await kpis(client, DISTRICT_SUPERVISOR, **LATE_WINDOW) == hunnan_only
        assert await kpis(client, auth.SUPERVISOR, station_id=TIEXI, **LATE_WINDOW) == answer(
            LATE_WINDOW, [T_LATE], strip(T_LATE)
        )
        for headers, station_id in ((auth.CLERK, TIEXI), (TIEXI_CLERK, HUNNAN), (DISTRICT_SUPERVISOR, TIEXI),
                                    (auth.OTHER_HEAD, HUNNAN), (auth.OTHER_SUPERVISOR, TIEXI)):  # fmt: skip
            reply = await client.get("/kpis", params={"station_id": station_id, **LATE_WINDOW}, headers=headers)
            assert reply.status_code == 404, reply.text
        empty = answer(LATE_WINDOW, [], figures(by_level(), NONE_SOLVED))
        assert await kpis(client, auth.OTHER_HEAD, **LATE_WINDOW) == empty
        for headers in (auth.ORG, auth.OTHER_ORG, auth.ADMIN):  # organizations and operations are refused
            assert (await client.get("/kpis", params=LATE_WINDOW, headers=headers)).status_code == 403
        assert (await client.get("/kpis", params=LATE_WINDOW)).status_code == 401

        # A bad period changes nothing and names its field.
        for params, field, reason in (
            ({"from": "2026-11-19", "to": "2026-11-18"}, "to", "早于"),
            ({"from": "2025-01-01", "to": "2026-01-02"}, "to", "366"),
            ({"from": "2026-13-01"}, "from", "日期格式"),
            ({"station_id": "浑南"}, "station_id", "格式不正确"),
        ):
            reply = await client.get("/kpis", params=params, headers=auth.SUPERVISOR)
            assert reply.status_code == 422, (params, reply.text)
            [error] = reply.json()["errors"]
            assert error["field"] == field and reason in error["message"] and error["message_en"], (params, reply.text)

    # A restart changes nothing, and a second replica beside it reports the same whole, not a share of it.
    async with infra.running(evaluation_app(amqp, db, target_satisfaction_rate=TARGET)) as first:
        async with infra.running(evaluation_app(amqp, db, target_satisfaction_rate=TARGET)) as second:
            for replica in (first, second):
                assert await scrape(replica, WEEKDAY_EARLY) == early
                assert await kpis(replica, auth.SUPERVISOR, **LATE_WINDOW) == city


async def test_which_levels_are_satisfied_is_a_setting_the_metrics_and_the_view_share(amqp, databases):
    db = databases("evaluation")
    async with seeded(amqp, db):
        pass
    strict = {"satisfied_levels": "very_satisfied", "target_satisfaction_rate": 0.5}
    async with infra.running(evaluation_app(amqp, db, **strict)) as client:
        late = await scrape(client, WEEKDAY_LATE)
        only_very = {"very_satisfied": "true", "satisfied": "false", "average": "false", "dissatisfied": "false"}
        assert late["satisfied"]["qs_ratings_total"] == {H: only_very, T: only_very}
        assert late["satisfied"]["qs_ratings_last_30_days"] == {H: only_very, T: only_very}
        assert late["qs_ratings_last_30_days"] == LAST_30_LATE  # the counts themselves do not change
        assert late["target"] == {"satisfaction_rate": 0.5}

        definition = {"satisfied_levels": ("very_satisfied",), "target": 0.5}
        seen = await kpis(client, auth.SUPERVISOR, **LATE_WINDOW)
        assert seen == answer(
            LATE_WINDOW,
            [
                row(T, by_level(2, 0, 0, 0), {"yes": 2, "no": 0}, **definition),
                row(H, by_level(0, 1, 1, 1), {"yes": 1, "no": 1}, **definition),  # h2's 满意 no longer counts
            ],
            figures(by_level(2, 1, 1, 1), {"yes": 3, "no": 1}, **definition),
            levels=("very_satisfied",),
            target=0.5,
        )
        assert [s["satisfaction"]["satisfied"] for s in seen["stations"]] == [2, 0]
        assert seen["total"]["satisfaction"]["satisfaction_rate"] == 2 / 5
        # The metrics' numerator is the view's: satisfied="true" of the 30-day gauge, per station.
        flags = late["satisfied"]["qs_ratings_last_30_days"]
        satisfied_30d = {
            station[0]: sum(n for level, n in levels.items() if flags[station][level] == "true")
            for station, levels in late["qs_ratings_last_30_days"].items()
        }
        assert satisfied_30d == {s["station_id"]: s["satisfaction"]["satisfied"] for s in seen["stations"]}

        # Rated says whether each rating counts as satisfied under the definition it was recorded with, for dispatch's
        # record and the archive's books: the seeded ones under the default, then a 满意 on paper and one by link
        # under this strict one (at the real clock, after every figure above was read).
        paper, online = (events.submitted(tracking_no=f"2026-{n:06d}") for n in (90, 91))
        for s in (paper, online):
            await publish_event(amqp, events.resolved(s))
            await infra.eventually(survey_open(client, s), timeout=30, what=f"the survey of {s.tracking_no} to open")
        answers = {"answers": {"overall": "satisfied"}}
        reply = await client.post(f"/surveys/{paper.demand_id}/rating", json=answers, headers=auth.CLERK)
        assert reply.status_code == 201, reply.text
        link = await client.post(f"/surveys/{online.demand_id}/link", headers=auth.CLERK)
        assert link.status_code == 201, link.text
        reply = await client.post(f"/public/ratings/{link.json()['url'].rsplit('/', 1)[1]}", json=answers)
        assert reply.status_code == 201, reply.text
        rated = await rated_events(amqp, len(RATINGS) + 2)
        strict_ones = {str(paper.demand_id), str(online.demand_id)}
        assert {d: r["counts_as_satisfied"] for d, r in rated.items() if d in strict_ones} == dict.fromkeys(
            strict_ones, False
        )
        seeded_flags = {
            (r["answers"]["overall"], r["counts_as_satisfied"]) for d, r in rated.items() if d not in strict_ones
        }
        assert seeded_flags == {
            ("very_satisfied", True),
            ("satisfied", True),
            ("average", False),
            ("dissatisfied", False),
        }


def test_the_instants_are_on_either_side_of_midnight_in_china():
    assert WEEKDAY_LATE.astimezone(UTC).date() == WEEKDAY_EARLY.astimezone(UTC).date() == date(2026, 11, 18)
    assert RATINGS["h2"][3].astimezone(UTC).date() == date(2026, 10, 19)
    assert RATINGS["t3"][3].astimezone(UTC).date() == date(2026, 11, 18)
