"""A station's own work in the archive without I/O: visits and special tasks kept as the station's records (no
dossier), stamped with the archive's clock when received, and the weekly report's visits and special tasks (counted in
the week the archive received them, 补录 marked when their own date is before it) at the edges of a China week, around
春节 (a due date on a holiday moves to the next working day), judged on China's today under the test clock, and kept
only once the week is over (plus the settle margin), so a late arrival is in exactly one report."""

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest
import time_machine

from services.archive.reports import domain as weekly
from services.archive.reports import render
from services.archive.reports.domain import Report, StationWork, Week
from services.archive.stationwork import domain as work
from services.archive.stationwork import usecases
from shared.calendar import CHINA
from shared.contracts import (
    SpecialTaskAssigned,
    SpecialTaskReported,
    TaskReportKind,
    VisitRecorded,
    utcnow,
)
from tests.support.fake_uow import FakeUnitOfWork

SHANGHAI = ZoneInfo("Asia/Shanghai")
HUNNAN = "210100/210112/hunnan-01"
TIEXI = "210100/210106/tiexi-01"
NAMES = {HUNNAN: "浑南区一站式质量服务站", TIEXI: "铁西区质量服务站"}
# 2026-W07 runs from Monday 9 to Sunday 15 February 2026 (China dates). 春节 2026: Saturday 14 February is a 调休
# make-up working day, the holiday runs from Sunday 15 to Monday 23 February; Tuesday 24 is the first working day.
W7 = Week(2026, 7)
SUNDAY_LATE = datetime(2026, 2, 15, 23, 30, tzinfo=SHANGHAI)  # 15:30 UTC: still W7
MONDAY_EARLY = datetime(2026, 2, 16, 0, 30, tzinfo=SHANGHAI)  # Sunday 16:30 UTC, but W8 in China
AFTER_W7 = datetime(2026, 2, 16, 9, 0, tzinfo=SHANGHAI)


def visit(
    station: str,
    day: date,
    enterprise: str,
    code: str,
    findings: str = "计量器具台账不全",
    received_at: datetime | None = None,
) -> work.Visit:
    """A visit, received by the archive at noon (China time) on its day unless said otherwise."""
    at = received_at or datetime.combine(day, time(12), SHANGHAI)
    return work.Visit(uuid4(), station, code, enterprise, ("张晓燕", "王工"), day, findings, "张晓燕", at)


def part(
    task: UUID, title: str, due_on: date, station: str = HUNNAN, issued_by: str | None = "市局质量处"
) -> work.TaskPart:
    issued = None if issued_by is None else datetime(2026, 2, 2, 9, tzinfo=SHANGHAI)
    return work.TaskPart(task, station, title, due_on, issued_by, issued)


def report(
    p: work.TaskPart,
    kind: TaskReportKind,
    at: datetime,
    text: str = "已完成辖区企业摸底",
    received_at: datetime | None = None,
) -> work.TaskReport:
    """A report made at `at`, received by the archive then unless said otherwise."""
    return work.TaskReport(
        uuid4(), p.task_id, p.station_id, p.title, p.due_on, kind, text, "周站长", at, received_at or at
    )


def spring_festival_work(overrides: dict | None = None) -> tuple[StationWork, dict[str, work.TaskPart]]:
    parts = {
        # Due Friday 13 February, completed Sunday 23:30 China: done in W7.
        "done": part(uuid4(), "计量器具专项检查", date(2026, 2, 13)),
        # Due Friday 13, completed Monday 00:30 China (Sunday 16:30 UTC): still overdue when W7 ended.
        "late": part(uuid4(), "特种设备隐患排查", date(2026, 2, 13)),
        # Due Sunday 15, a holiday: the deadline moves to Tuesday 24, so it is open through W7 and W8.
        "holiday": part(uuid4(), "春节期间质量安全宣传", date(2026, 2, 15)),
        # Due on the make-up Saturday 14, a working day: missed by Monday.
        "makeup": part(uuid4(), "企业标准自我声明抽查", date(2026, 2, 14), station=TIEXI),
        # Known only from its reports (its assignment not received yet).
        "unassigned": part(uuid4(), "质量月活动筹备", date(2026, 3, 31), issued_by=None),
    }
    reports = [
        report(parts["done"], TaskReportKind.progress, datetime(2026, 2, 9, 10, tzinfo=SHANGHAI), "已走访 3 家企业"),
        report(parts["done"], TaskReportKind.completion, SUNDAY_LATE),
        report(parts["late"], TaskReportKind.completion, MONDAY_EARLY),
        report(parts["unassigned"], TaskReportKind.progress, datetime(2026, 2, 12, 15, tzinfo=SHANGHAI)),
        report(parts["holiday"], TaskReportKind.progress, datetime(2026, 2, 8, 23, 59, tzinfo=SHANGHAI)),  # W6
    ]
    visits = [
        visit(HUNNAN, date(2026, 2, 9), "沈阳新松精密机械有限公司", "91210112MA0U00005"),
        visit(HUNNAN, date(2026, 2, 14), "沈阳精工齿轮有限公司", "91210112MA0U00006", "企业" + "标准执行情况良好" * 20),
        visit(TIEXI, date(2026, 2, 14), "沈阳新松精密机械有限公司", "91210112MA0U00005"),
    ]
    return StationWork(visits, list(parts.values()), reports, overrides or {}), parts


def by_title(figures: dict) -> dict[str, dict]:
    return {p["title"]: p for p in figures["special_tasks"]["open"]}


def test_a_finished_weeks_special_tasks_stand_as_they_did_at_sunday_2400_china_time():
    stations, parts = spring_festival_work()
    f = weekly.station_work(W7, stations, NAMES, AFTER_W7)
    t = f["special_tasks"]
    assert t["as_of"] == "2026-02-16"  # judged the Monday after the week, as tracking sees it then
    states = {title: p["state"] for title, p in by_title(f).items()}
    assert states == {
        "计量器具专项检查": "done",
        "特种设备隐患排查": "overdue",  # completed 00:30 Monday in China: next week's
        "春节期间质量安全宣传": "open",
        "企业标准自我声明抽查": "overdue",  # due on the make-up Saturday, a working day
        "质量月活动筹备": "open",
    }
    holiday = by_title(f)["春节期间质量安全宣传"]
    assert (holiday["due_on"], holiday["deadline"]) == ("2026-02-15", "2026-02-24")
    assert by_title(f)["计量器具专项检查"]["completed_on"] == "2026-02-15"
    assert by_title(f)["计量器具专项检查"]["reports"] == 2
    assert by_title(f)["质量月活动筹备"]["issued_by"] is None
    assert (t["tasks"], t["parts"], t["progress_reports"], t["completed"], t["overdue"]) == (5, 5, 2, 1, 2)
    assert [p["state"] for p in t["open"][:2]] == ["overdue", "overdue"]  # overdue parts first
    # The week's reports: the W6 report and the Monday-00:30 completion are not this week's.
    assert [(r["title"], r["kind_label"]) for r in t["reports"]] == [
        ("计量器具专项检查", "进度填报"),
        ("质量月活动筹备", "进度填报"),
        ("计量器具专项检查", "完成报告"),
    ]
    assert {r["station"] for r in t["reports"]} == {"浑南区一站式质量服务站"}

    # The next week (W8, all of it 春节): the late part was completed on Monday; the holiday one is still open.
    w8 = weekly.station_work(Week(2026, 8), stations, NAMES, AFTER_W7 + timedelta(days=7))
    states = {title: p["state"] for title, p in by_title(w8).items()}
    assert states["特种设备隐患排查"] == "done" and states["春节期间质量安全宣传"] == "open"
    assert by_title(w8)["特种设备隐患排查"]["completed_on"] == "2026-02-16"
    # The week after: the holiday part's deadline (Tuesday 24) has passed.
    w9 = weekly.station_work(Week(2026, 9), stations, NAMES, AFTER_W7 + timedelta(days=14))
    assert by_title(w9)["春节期间质量安全宣传"]["state"] == "overdue"


def test_a_working_day_correction_moves_a_special_tasks_deadline():
    # A correction (CalendarCorrected) making Tuesday 24 February a day off moves the holiday part's deadline to 25.
    stations, _ = spring_festival_work({date(2026, 2, 24): False})
    w9_tuesday = datetime(2026, 2, 25, 8, tzinfo=SHANGHAI)  # W9 not over: judged on Wednesday 25
    f = weekly.station_work(Week(2026, 9), stations, NAMES, w9_tuesday)
    holiday = by_title(f)["春节期间质量安全宣传"]
    assert (holiday["deadline"], holiday["state"]) == ("2026-02-25", "open")
    assert weekly.task_deadline(date(2026, 2, 15)) == date(2026, 2, 24)


def test_the_current_week_is_judged_on_chinas_today_and_counts_what_has_arrived():
    stations, _ = spring_festival_work()
    wednesday = datetime(2026, 2, 11, 10, tzinfo=SHANGHAI)
    # What the archive holds on Wednesday 10:00: the reports received by then, and one stamped 10:05 by a replica whose
    # clock runs a moment ahead; the current week counts all it has, not cut at the reader's clock.
    arrived = [r for r in stations.reports if r.received_at <= wednesday]
    [ahead] = [r for r in stations.reports if r.title == "质量月活动筹备"]
    ahead = replace(ahead, reported_at=wednesday, received_at=wednesday + timedelta(minutes=5))
    f = weekly.station_work(W7, replace(stations, reports=[*arrived, ahead]), NAMES, wednesday)
    t = f["special_tasks"]
    assert t["as_of"] == "2026-02-11"
    assert {p["state"] for p in t["open"]} == {"open"}  # nothing due before Wednesday
    assert [r["title"] for r in t["reports"]] == ["计量器具专项检查", "质量月活动筹备"]

    # Under the test clock (QS_TEST_CLOCK, e.g. new-year-early: 2027-01-01 00:30 in China, still 2026 in UTC).
    now = utcnow()
    today = now.astimezone(CHINA).date()
    current = Week.of(today)
    assert weekly.station_work(current, stations, NAMES, now)["special_tasks"]["as_of"] == today.isoformat()
    assert weekly.judged_on(current.previous(), now) == current.start


def test_visits_made_are_counted_listed_by_date_and_their_findings_shortened(monkeypatch):
    stations, _ = spring_festival_work()
    v = weekly.station_work(W7, stations, NAMES, AFTER_W7)["visits"]
    assert (v["total"], v["enterprises"], v["not_listed"]) == (3, 2, 0)
    assert v["by_station"] == [
        {"station_id": TIEXI, "label": "铁西区质量服务站", "count": 1},
        {"station_id": HUNNAN, "label": "浑南区一站式质量服务站", "count": 2},
    ]
    assert [x["visited_on"] for x in v["listed"]] == ["2026-02-09", "2026-02-14", "2026-02-14"]
    assert v["listed"][0]["staff"] == ["张晓燕", "王工"]
    long = next(x for x in v["listed"] if x["enterprise_name"] == "沈阳精工齿轮有限公司")["findings"]
    assert len(long) == weekly.SHORT and long.endswith("…") and long.startswith("企业标准执行情况良好")
    assert weekly.short("一行\n两行\t三行") == "一行 两行 三行"
    monkeypatch.setattr(weekly, "LISTED", 2)
    capped = weekly.station_work(W7, stations, NAMES, AFTER_W7)["visits"]
    assert (capped["total"], len(capped["listed"]), capped["not_listed"]) == (3, 2, 1)


def late_entries() -> list[work.Visit]:
    """Visits at the edge of W7, by when the archive received them: one Sunday 23:30 for that Sunday (W7's), one
    Monday 00:30 for the Friday before (补录: W8's, though still Sunday in UTC), Tiexi's Monday 00:30 for that Monday
    (W8's), and one in W9 for a day of W7 (补录 two weeks on)."""
    return [
        visit(HUNNAN, date(2026, 2, 15), "沈阳新松精密机械有限公司", "91210112MA0U00005", received_at=SUNDAY_LATE),
        visit(HUNNAN, date(2026, 2, 13), "沈阳精工齿轮有限公司", "91210112MA0U00006", received_at=MONDAY_EARLY),
        visit(TIEXI, date(2026, 2, 16), "沈阳华晨零部件有限公司", "91210112MA0U00007", received_at=MONDAY_EARLY),
        visit(HUNNAN, date(2026, 2, 10), "沈阳老字号仪表厂", "91210112MA0U00008", received_at=AFTER_W7 + timedelta(7)),
    ]


def test_a_visit_counts_in_the_week_the_archive_received_it_and_one_dated_before_that_week_is_marked_late():
    stations = StationWork(late_entries(), [], [], {})
    w7 = weekly.station_work(W7, stations, NAMES, AFTER_W7)["visits"]
    assert [(x["visited_on"], x["late"]) for x in w7["listed"]] == [("2026-02-15", False)]
    assert (w7["total"], w7["late"]) == (1, 0)  # the Friday visit received on Monday 00:30 is not W7's ...

    w8 = weekly.station_work(Week(2026, 8), stations, NAMES, AFTER_W7 + timedelta(days=7))["visits"]
    assert [(x["visited_on"], x["station_id"], x["late"]) for x in w8["listed"]] == [
        ("2026-02-13", HUNNAN, True),  # ... but W8's, marked 补录, listed with its own date
        ("2026-02-16", TIEXI, False),
    ]
    assert (w8["total"], w8["late"], w8["enterprises"]) == (2, 1, 2)
    assert w8["listed"][0]["received_at"] == MONDAY_EARLY.isoformat()
    # The current week counts what the archive has of it: W8 seen at Monday 00:20 by a replica whose clock is a moment
    # behind already lists what another replica stamped 00:30.
    at_0020 = weekly.station_work(Week(2026, 8), stations, NAMES, MONDAY_EARLY - timedelta(minutes=10))
    assert at_0020["visits"]["total"] == 2
    # Two weeks on, the W7 visit received in W9 is in W9's report, not in W7's (kept as made) nor W8's.
    w9 = weekly.station_work(Week(2026, 9), stations, NAMES, AFTER_W7 + timedelta(days=14))["visits"]
    assert [(x["visited_on"], x["late"]) for x in w9["listed"]] == [("2026-02-10", True)]


def test_a_task_report_counts_in_the_week_the_archive_received_it_and_one_made_before_that_week_is_marked_late():
    """Completed Sunday 23:50 (the week's last minutes) but held up on the way and received Monday 00:30: W7's report
    has the part overdue and no report of it; W8's has the part done and the completion marked 补录."""
    due = part(uuid4(), "计量器具专项检查", date(2026, 2, 13))
    sunday_2350 = datetime(2026, 2, 15, 23, 50, tzinfo=SHANGHAI)
    made = report(due, TaskReportKind.completion, sunday_2350, received_at=MONDAY_EARLY)
    progress = report(due, TaskReportKind.progress, datetime(2026, 2, 12, 9, tzinfo=SHANGHAI))
    stations = StationWork([], [due], [progress, made], {})
    w7 = weekly.station_work(W7, stations, NAMES, AFTER_W7)["special_tasks"]
    assert [(r["kind"], r["late"]) for r in w7["reports"]] == [("progress", False)]
    assert (w7["completed"], w7["overdue"], w7["late_reports"]) == (0, 1, 0)
    assert by_title({"special_tasks": w7})["计量器具专项检查"]["state"] == "overdue"

    w8 = weekly.station_work(Week(2026, 8), stations, NAMES, AFTER_W7 + timedelta(days=7))["special_tasks"]
    [row] = w8["reports"]
    assert (row["kind"], row["late"], row["reported_at"], row["received_at"]) == (
        "completion",
        True,
        sunday_2350.isoformat(),
        MONDAY_EARLY.isoformat(),
    )
    assert (w8["completed"], w8["overdue"], w8["late_reports"]) == (1, 0, 1)
    done = by_title({"special_tasks": w8})["计量器具专项检查"]
    assert (done["state"], done["completed_on"]) == ("done", "2026-02-15")  # done on its own date, counted in W8
    # Made in the week and received in it is not late, however close to the edge (Sunday 23:30 China, 15:30 UTC).
    on_time = report(due, TaskReportKind.progress, SUNDAY_LATE)
    assert (
        weekly.station_work(W7, replace(stations, reports=[on_time]), NAMES, AFTER_W7)["special_tasks"]["reports"][0][
            "late"
        ]
        is False
    )


def test_a_finished_week_is_kept_only_once_it_has_been_over_for_the_settle_margin():
    monday = datetime(2026, 2, 16, 0, 0, tzinfo=SHANGHAI)
    assert not weekly.keepable(W7, SUNDAY_LATE)
    assert weekly.complete(W7, monday) and not weekly.keepable(W7, monday + weekly.SETTLE - timedelta(seconds=1))
    assert weekly.keepable(W7, monday + weekly.SETTLE) and weekly.keepable(W7, MONDAY_EARLY)
    assert weekly.keepable(W7, monday + timedelta(minutes=30))  # Monday 00:30, the tests' instant, is past it


def received(instant: datetime, day: date, recorded_at: datetime | None = None) -> VisitRecorded:
    """A visit on `day` that intake recorded at `recorded_at` (a minute before `instant`, when the archive receives
    it, unless said otherwise)."""
    return VisitRecorded(
        occurred_at=recorded_at or instant - timedelta(minutes=1),
        correlation_id=uuid4(),
        visit_id=uuid4(),
        station_id=HUNNAN,
        credit_code="91210112MA0U00006",
        enterprise_name="沈阳精工齿轮有限公司",
        staff=["张晓燕"],
        visited_on=day,
        findings="周五走访，事后补录",
        recorded_by="张晓燕",
    )


async def arrive(store: "FakeStore", instant: datetime, day: date, recorded_at: datetime | None = None) -> work.Visit:
    """The archive's handler receives the visit at `instant` (the clock stopped there)."""
    event = received(instant, day, recorded_at)
    with time_machine.travel(instant, tick=False):
        await FakeUnitOfWork(store, consumer="archive").handle(event, usecases.record_visit)
    return store.visits[event.visit_id]


def kept_at(store: "FakeStore", week: Week, now: datetime) -> dict | None:
    """The week's visits as the scheduler would keep them at `now` (None while the week may not be kept yet)."""
    if not weekly.keepable(week, now):
        return None
    return weekly.station_work(week, StationWork(list(store.visits.values()), [], [], {}), NAMES, now)["visits"]


@pytest.mark.parametrize(
    "keep_at",
    [MONDAY_EARLY - timedelta(minutes=10), MONDAY_EARLY + timedelta(minutes=5)],
    ids=["kept-before-it-arrives", "kept-after-it-arrives"],
)
async def test_a_visit_arriving_monday_0030_for_last_friday_is_this_weeks_late_and_never_in_last_weeks_kept_report(
    keep_at,
):
    """The gap this closes: a visit for the Friday before that intake recorded Sunday 23:59 and the archive received
    Monday 00:30 China (Sunday 16:30 UTC), whether the scheduler kept last week's report just before it arrived or just
    after. The handler stamps the archive's clock; intake's time plays no part."""
    store = FakeStore()
    v = await arrive(store, MONDAY_EARLY, date(2026, 2, 13), recorded_at=datetime(2026, 2, 15, 23, 59, tzinfo=SHANGHAI))
    assert v.received_at == MONDAY_EARLY
    w7 = kept_at(store, W7, keep_at)
    assert w7 is not None and w7["total"] == 0  # never in last week's kept report
    w8 = weekly.station_work(Week(2026, 8), StationWork([v], [], [], {}), NAMES, MONDAY_EARLY)["visits"]
    assert [(x["visited_on"], x["late"]) for x in w8["listed"]] == [("2026-02-13", True)]
    # In the settle margin after Monday 00:00 the week is not kept yet: a visit stamped 23:59:59.9 on a slow commit is
    # still in, when it is.
    assert kept_at(store, W7, datetime(2026, 2, 16, 0, 1, tzinfo=SHANGHAI)) is None


@pytest.mark.parametrize("instant", [SUNDAY_LATE, MONDAY_EARLY], ids=["sunday-23:30", "monday-00:30"])
async def test_at_the_edge_of_a_china_week_a_visit_received_now_for_friday_is_this_weeks_and_late_once_it_turned(
    instant,
):
    """Under a clock stopped at the edge of a China week: Sunday 23:30 is still W7 (Friday is this week's), Monday 00:30
    is W8 in China though still Sunday in UTC (Friday's visit received now is 补录 in W8's report)."""
    store = FakeStore()
    v = await arrive(store, instant, date(2026, 2, 13))
    with time_machine.travel(instant, tick=False):
        now = utcnow()
    this_week = Week.of(weekly.china_day(now))
    figures = weekly.station_work(this_week, StationWork([v], [], [], {}), NAMES, now)["visits"]
    assert this_week == (W7 if instant == SUNDAY_LATE else Week(2026, 8))
    assert figures["total"] == 1 and figures["listed"][0]["late"] is (instant == MONDAY_EARLY)
    # The week before is over and kept (or kept later) without it.
    later = now + timedelta(hours=1)
    assert kept_at(store, this_week.previous(), later)["total"] == 0


async def test_under_each_test_clock_a_visit_received_now_for_the_day_before_this_week_is_this_weeks_and_late(
    frozen_clock,
):
    """At each awkward instant of tests/support/clock.py (QS_TEST_CLOCK): received now, counted in China's current
    week, 补录 for the day before it, and never in last week's report, kept before or after it arrived."""
    this_week = Week.of(weekly.china_day(utcnow()))
    before = this_week.start - timedelta(days=1)
    store = FakeStore()
    v = await arrive(store, frozen_clock, before)
    assert v.received_at == frozen_clock
    f = weekly.station_work(this_week, StationWork([v], [], [], {}), NAMES, frozen_clock)["visits"]
    assert [(x["visited_on"], x["late"]) for x in f["listed"]] == [(before.isoformat(), True)]
    assert kept_at(store, this_week.previous(), frozen_clock + timedelta(hours=2))["total"] == 0


def test_the_printed_report_marks_late_entries_and_reads_a_report_kept_before_they_were_marked():
    w8 = Week(2026, 8)
    due = part(uuid4(), "计量器具专项检查", date(2026, 2, 13))
    held = report(due, TaskReportKind.completion, datetime(2026, 2, 15, 23, 50, tzinfo=SHANGHAI), "已完成检查")
    held = replace(held, received_at=MONDAY_EARLY)
    figures = weekly.figures(w8, [], []) | weekly.station_work(
        w8, StationWork(late_entries(), [due], [held], {}), NAMES, AFTER_W7 + timedelta(days=7)
    )
    report_ = Report(
        scope=HUNNAN,
        scope_name="浑南区一站式质量服务站",
        week=w8,
        figures=figures,
        generated_at=AFTER_W7 + timedelta(days=7),
        generated_by="scheduler",
        stored=True,
        complete=True,
        plans=[],
        subtree=False,
    )
    view = report_.view()
    assert view["visits"]["late"] == 1 and [r["late"] for r in view["visits"]["rows"]] == [True, False]
    assert view["tasks"]["late_reports"] == 1 and [r["late"] for r in view["tasks"]["reports"]] == [True]
    html = render.weekly_html(view)
    assert (
        "本周走访 2 次（含补录 1 次）" in html and "补录" in html.split("沈阳精工齿轮有限公司")[0].rsplit("<tr>", 1)[1]
    )
    assert "走访按归档服务收到记录的时间计入周报" in html
    assert "补录" in html.split("已完成检查")[0].rsplit("<tr>", 1)[1] and "填报按归档服务收到的时间计入周报" in html

    # A report kept before late entries were marked: no late figures, nothing marked.
    old = {
        **figures["visits"],
        "listed": [
            {k: v for k, v in x.items() if k not in ("late", "received_at")} for x in figures["visits"]["listed"]
        ],
    }
    del old["late"]
    tasks = {
        **figures["special_tasks"],
        "reports": [
            {k: v for k, v in x.items() if k not in ("late", "received_at")}
            for x in figures["special_tasks"]["reports"]
        ],
    }
    del tasks["late_reports"]
    kept = Report(**{**report_.__dict__, "figures": {**figures, "visits": old, "special_tasks": tasks}})
    view = kept.view()
    assert view["visits"]["late"] == 0 and not any(r["late"] for r in view["visits"]["rows"])
    assert not any(r["late"] for r in view["tasks"]["reports"])
    html = render.weekly_html(view)
    assert "含补录" not in html and "<br>补录" not in html and "填报按归档服务收到" not in html


def test_the_weekly_report_shows_visits_and_special_tasks_and_says_when_a_kept_report_has_none():
    stations, _ = spring_festival_work()
    figures = weekly.figures(W7, [], []) | weekly.station_work(W7, stations, NAMES, AFTER_W7)
    report = Report(
        scope="210100",
        scope_name="沈阳市",
        week=W7,
        figures=figures,
        generated_at=AFTER_W7,
        generated_by="市局",
        stored=False,
        complete=True,
        plans=[],
        subtree=True,
    )
    view = report.view()
    assert view["by_station"] and view["visits"]["total"] == 3 and view["tasks"]["overdue"] == 2
    assert "not available" not in str(view) and "unavailable" not in view
    html = render.weekly_html(view)
    for expected in (
        "走访企业",
        "本周走访 3 次，涉及企业 2 家",
        "沈阳精工齿轮有限公司",
        "张晓燕、王工",
        "专项工作",
        "特种设备隐患排查",
        "已逾期",
        "顺延至 2月24日",
        "截至本周末",
        "完成报告",
        "铁西区质量服务站",
    ):
        assert expected in html, expected
    assert "not available" not in html

    # A report kept before the archive received these events: no figures, and the report says so.
    kept = Report(**{**report.__dict__, "figures": weekly.figures(W7, [], []), "subtree": False, "stored": True})
    view = kept.view()
    assert view["visits"] is None and view["tasks"] is None and not view["by_station"]
    html = render.weekly_html(view)
    assert "尚未接收走访记录" in html and "尚未接收专项工作记录" in html


# --------------------------------------------------------------------------- kept as the station's records


class FakeStore:
    def __init__(self) -> None:
        self.visits: dict = {}
        self.parts: dict = {}
        self.reports: dict = {}
        self.parts_received: dict = {}

    async def add_visit(self, v, event_id, occurred_at) -> None:
        self.visits.setdefault(v.visit_id, v)

    async def add_parts(self, parts, event_id, occurred_at, received_at) -> None:
        for p in parts:
            self.parts.setdefault((p.task_id, p.station_id), p)
            self.parts_received.setdefault((p.task_id, p.station_id), received_at)

    async def add_report(self, r, event_id, occurred_at) -> None:
        self.reports.setdefault(r.report_id, r)


async def test_visits_and_special_tasks_are_kept_once_as_the_stations_records_and_publish_nothing():
    uow = FakeUnitOfWork(FakeStore(), consumer="archive")
    recorded = VisitRecorded(
        occurred_at=SUNDAY_LATE,  # intake recorded it Sunday 23:30; the archive receives it Monday 00:30
        correlation_id=uuid4(),
        visit_id=uuid4(),
        station_id=HUNNAN,
        credit_code="91210112MA0U00005",
        enterprise_name="沈阳新松精密机械有限公司",
        staff=["张晓燕"],
        visited_on=date(2026, 2, 14),
        findings="计量器具台账不全",
        recorded_by="张晓燕",
    )
    assigned = SpecialTaskAssigned(
        correlation_id=uuid4(),
        task_id=uuid4(),
        issuer_scope="210100",
        issued_by="市局质量处",
        title="计量器具专项检查",
        description="检查辖区企业强检器具",
        due_on=date(2026, 2, 13),
        issued_at=datetime(2026, 2, 2, 1, tzinfo=UTC),
        stations=[HUNNAN, TIEXI, HUNNAN],
    )
    reported = SpecialTaskReported(
        correlation_id=uuid4(),
        task_id=assigned.task_id,
        report_id=uuid4(),
        station_id=TIEXI,
        title=assigned.title,
        due_on=assigned.due_on,
        kind=TaskReportKind.completion,
        text="已完成",
        reported_by="梁站长",
        reported_at=SUNDAY_LATE,
    )
    for delivered_at in (MONDAY_EARLY, AFTER_W7):  # redelivered later: claimed once (inbox), the first receipt stays
        with time_machine.travel(delivered_at, tick=False):
            await uow.handle(recorded, usecases.record_visit)
            await uow.handle(assigned, usecases.record_task_assigned)
            await uow.handle(reported, usecases.record_task_report)
    store = uow.store
    assert [v.enterprise_name for v in store.visits.values()] == ["沈阳新松精密机械有限公司"]
    # Stamped with the archive's clock when stored, not with intake's time nor the report's own.
    assert [v.received_at for v in store.visits.values()] == [MONDAY_EARLY]
    assert set(store.parts_received.values()) == {MONDAY_EARLY}
    assert [r.received_at for r in store.reports.values()] == [MONDAY_EARLY]
    assert sorted(s for _, s in store.parts) == sorted([HUNNAN, TIEXI])  # one part per station named
    assert {p.issuer_scope for p in store.parts.values()} == {"210100"}
    [r] = store.reports.values()
    assert (r.station_id, r.kind) == (TIEXI, TaskReportKind.completion)
    assert uow.published == []  # nothing sealed, nothing published: no demand's dossier is touched
