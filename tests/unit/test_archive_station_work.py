"""A station's own work in the archive without I/O: visits and special tasks kept as the station's records (no
dossier), and the weekly report's visits made and special tasks at the edges of a China week, around 春节 (a due date
on a holiday moves to the next working day) and judged on China's today under the test clock. Also the catalogue's
search (GET /dossiers): sealing dates are China dates."""

from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest

from services.archive import domain as archive
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
from shared.errors import Invalid
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


def visit(station: str, day: date, enterprise: str, code: str, findings: str = "计量器具台账不全") -> work.Visit:
    return work.Visit(uuid4(), station, code, enterprise, ("张晓燕", "王工"), day, findings, "张晓燕")


def part(
    task: UUID, title: str, due_on: date, station: str = HUNNAN, issued_by: str | None = "市局质量处"
) -> work.TaskPart:
    issued = None if issued_by is None else datetime(2026, 2, 2, 9, tzinfo=SHANGHAI)
    return work.TaskPart(task, station, title, due_on, issued_by, issued)


def report(p: work.TaskPart, kind: TaskReportKind, at: datetime, text: str = "已完成辖区企业摸底") -> work.TaskReport:
    return work.TaskReport(uuid4(), p.task_id, p.station_id, p.title, p.due_on, kind, text, "周站长", at)


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


def test_the_current_week_is_judged_on_chinas_today_and_counts_reports_up_to_now():
    stations, _ = spring_festival_work()
    wednesday = datetime(2026, 2, 11, 10, tzinfo=SHANGHAI)
    f = weekly.station_work(W7, stations, NAMES, wednesday)
    t = f["special_tasks"]
    assert t["as_of"] == "2026-02-11"
    assert {p["state"] for p in t["open"]} == {"open"}  # nothing due before Wednesday
    assert [r["title"] for r in t["reports"]] == ["计量器具专项检查"]  # Thursday's report is not made yet

    # Under the test clock (QS_TEST_CLOCK, e.g. new-year-early: 2027-01-01 00:30 in China, still 2026 in UTC).
    now = utcnow()
    today = now.astimezone(CHINA).date()
    current = Week.of(today)
    assert weekly.station_work(current, stations, NAMES, now)["special_tasks"]["as_of"] == today.isoformat()
    assert weekly.judged_on(current.previous(), now)[0] == current.start


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

    async def add_visit(self, v, event_id, occurred_at) -> None:
        self.visits.setdefault(v.visit_id, v)

    async def add_parts(self, parts, event_id, occurred_at) -> None:
        for p in parts:
            self.parts.setdefault((p.task_id, p.station_id), p)

    async def add_report(self, r, event_id, occurred_at) -> None:
        self.reports.setdefault(r.report_id, r)


async def test_visits_and_special_tasks_are_kept_once_as_the_stations_records_and_publish_nothing():
    uow = FakeUnitOfWork(FakeStore(), consumer="archive")
    recorded = VisitRecorded(
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
    for _ in range(2):  # a redelivery is claimed once (the inbox); the keys would refuse a second row anyway
        await uow.handle(recorded, usecases.record_visit)
        await uow.handle(assigned, usecases.record_task_assigned)
        await uow.handle(reported, usecases.record_task_report)
    store = uow.store
    assert [v.enterprise_name for v in store.visits.values()] == ["沈阳新松精密机械有限公司"]
    assert sorted(s for _, s in store.parts) == sorted([HUNNAN, TIEXI])  # one part per station named
    assert {p.issuer_scope for p in store.parts.values()} == {"210100"}
    [r] = store.reports.values()
    assert (r.station_id, r.kind) == (TIEXI, TaskReportKind.completion)
    assert uow.published == []  # nothing sealed, nothing published: no demand's dossier is touched


# --------------------------------------------------------------------------- the catalogue's search


def test_a_dossier_search_takes_china_dates_and_refuses_a_period_that_runs_backwards():
    s = archive.dossier_search("A2026-0001", date(2026, 12, 31), date(2027, 1, 1))
    assert s.since == datetime(2026, 12, 30, 16, tzinfo=UTC)  # 00:00 on 31 December in China
    assert s.until == datetime(2027, 1, 1, 16, tzinfo=UTC)  # the day after the last day, 00:00 in China
    assert s.detail() == {"q": "A2026-0001", "sealed_from": "2026-12-31", "sealed_to": "2027-01-01"}
    assert archive.dossier_search(None, None, None) == archive.DossierSearch()
    assert archive.DossierSearch().detail() == {} and archive.DossierSearch().since is None
    with pytest.raises(Invalid) as backwards:
        archive.dossier_search(None, date(2026, 2, 15), date(2026, 2, 14))
    assert backwards.value.field == "sealed_to"
