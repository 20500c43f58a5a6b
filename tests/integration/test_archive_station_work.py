"""A station's own work on the real broker and database: VisitRecorded, SpecialTaskAssigned and SpecialTaskReported
published to a running archive, kept once as the stations' records (no dossier, no event log) stamped with the
archive's clock when received, and the weekly report's visits and special tasks against hand counts. Each counts in
the China week the archive received it, so one that arrives late (entered late, or held up on its way: recorded Sunday
23:59, received Monday 00:30) is in exactly one report, the next, marked 补录, whether the scheduler kept last week's
report before it arrived or after; the archive (in this process) receives each batch under a clock moved to the edge
of a China week (Sunday 23:30 / Monday 00:02 / Monday 00:30 Asia/Shanghai). Also per station, over a supervisor's
subtree, in the printed report, and each read that lists visits in the access log. Also run under QS_TEST_CLOCK at the
edge of a week (2026-11-22T23:30:00+08:00, 2026-11-23T00:30:00+08:00)."""

import io
from datetime import UTC, date, datetime, time, timedelta
from uuid import uuid4

import asyncpg
import pytest
import time_machine
from pypdf import PdfReader

from services.archive.reports import usecases as weekly_reports
from services.archive.reports.domain import SETTLE, Week
from shared.calendar import CHINA, is_workday
from shared.contracts import (
    SpecialTaskAssigned,
    SpecialTaskReported,
    StationRegistered,
    TaskReportKind,
    VisitRecorded,
)
from tests.support import auth, events, infra
from tests.support.apps import make_app, publish_event

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

HUNNAN = events.STATION
TIEXI = "210100/210106/tiexi-01"


def edges() -> tuple[datetime, datetime]:
    """Sunday 23:30 and the Monday 00:30 after it, in China, the Sunday at least a week before today."""
    today = datetime.now(UTC).astimezone(CHINA).date()
    sunday = today - timedelta(days=today.isoweekday() % 7 + 7)
    late = datetime.combine(sunday, time(23, 30), CHINA)
    return late, late + timedelta(hours=1)


def workday(day: date, step: int) -> date:
    """`day`, or the nearest working day from it going back (-1) or forward (+1)."""
    while not is_workday(day):
        day += timedelta(days=step)
    return day


@pytest.fixture
async def archive(amqp, databases):
    db = databases("archive")
    app = make_app("archive", amqp_url=amqp, database_url=db)
    async with infra.running(app) as client:
        client.db, client.amqp, client.app = db, amqp, app
        yield client


async def registered(client, *stations: tuple[str, str]) -> None:
    for station_id, name in stations:
        event = StationRegistered(
            correlation_id=uuid4(), station_id=station_id, name=name, level=3, ancestors=[], parent_id=None
        )
        await publish_event(client.amqp, event)

    async def known():
        rows = await infra.fetch(client.db, "SELECT station_id FROM station_tree")
        return {r["station_id"] for r in rows} >= {s for s, _ in stations}

    await infra.eventually(known, what="the archive to learn the stations")


def visited(
    station: str, day: date, enterprise: str, code: str, findings: str, at: datetime | None = None
) -> VisitRecorded:
    """A visit on `day`, recorded by intake at `at` (now when not given)."""
    return VisitRecorded(
        **({"occurred_at": at} if at else {}),
        correlation_id=uuid4(),
        visit_id=uuid4(),
        station_id=station,
        credit_code=code,
        enterprise_name=enterprise,
        staff=["张晓燕", "王工"],
        visited_on=day,
        findings=findings,
        recorded_by="张晓燕",
    )


def assigned(title: str, due_on: date, at: datetime, *stations: str) -> SpecialTaskAssigned:
    return SpecialTaskAssigned(
        occurred_at=at,
        correlation_id=uuid4(),
        task_id=uuid4(),
        issuer_scope="210100",
        issued_by="沈阳市市场监管局",
        title=title,
        description=f"{title}：请各站按期完成并报告",
        due_on=due_on,
        issued_at=at,
        stations=list(stations),
    )


def reported(task: SpecialTaskAssigned, station: str, kind: TaskReportKind, at: datetime, text: str):
    return SpecialTaskReported(
        occurred_at=at,
        correlation_id=uuid4(),
        task_id=task.task_id,
        report_id=uuid4(),
        station_id=station,
        title=task.title,
        due_on=task.due_on,
        kind=kind,
        text=text,
        reported_by="周站长",
        reported_at=at,
    )


async def kept(client, visits: int, parts: int, reports: int) -> None:
    async def counted():
        conn = await asyncpg.connect(client.db)  # the owner, a superuser here: every station's rows
        try:
            found = (
                await conn.fetchval("SELECT count(*) FROM station_visits"),
                await conn.fetchval("SELECT count(*) FROM special_task_parts"),
                await conn.fetchval("SELECT count(*) FROM special_task_reports"),
            )
        finally:
            await conn.close()
        return found == (visits, parts, reports)

    await infra.eventually(counted, timeout=60, what=f"{visits} visits, {parts} parts, {reports} reports kept")


async def arrive(client, at: datetime, batch: list, visits: int, parts: int, reports: int) -> None:
    """The archive (running in this process) receives `batch` with its clock at `at` (ticking on): published, and
    waited for until kept (the totals kept by then)."""
    with time_machine.travel(at, tick=True):
        for event in batch:
            await publish_event(client.amqp, event)
        await kept(client, visits, parts, reports)


async def received_at(client, table: str, key: str, value) -> datetime:
    [row] = await infra.fetch(client.db, f"SELECT received_at FROM {table} WHERE {key} = $1", value)
    return row["received_at"]


async def weeks_kept(client, week: Week) -> set[str]:
    rows = await infra.fetch(
        client.db,
        "SELECT station_id FROM weekly_reports WHERE iso_year = $1 AND iso_week = $2 AND figures IS NOT NULL",
        week.year,
        week.week,
    )
    return {r["station_id"] for r in rows}


def by_title(report: dict) -> dict[tuple[str, str], dict]:
    return {(p["title"], p["station_id"]): p for p in report["figures"]["special_tasks"]["open"]}


async def test_visits_and_special_tasks_make_the_weekly_reports_figures(archive):
    late, early = edges()
    week, next_week = Week.of(late.date()), Week.of(early.date())
    settling = early - timedelta(minutes=28)  # Monday 00:02: the week is over, its report not kept yet (SETTLE)
    assert settling - datetime.combine(next_week.start, time.min, CHINA) < SETTLE <= early - settling
    await registered(archive, (HUNNAN, "浑南区一站式质量服务站"), (TIEXI, "铁西区质量服务站"))
    runtime = archive.app.state.runtime

    # Visits, each counted in the week the archive received it: Hunnan's on the week's Monday (received then) and on
    # Sunday (received 23:30), Tiexi's on Sunday (23:30); then, the week over, Hunnan's for that Friday received Monday
    # 00:02 (before last week's report is kept), its Monday visit received 00:30, and one recorded Sunday 23:59 that
    # reached the archive at 00:30, after the scheduler kept last week's report: both the next week's, marked 补录.
    monday_10 = datetime.combine(week.start, time(10), CHINA)
    friday = week.end - timedelta(days=2)
    v_monday = visited(
        HUNNAN, week.start, "沈阳新松精密机械有限公司", "91210112MA0U00005Y", "计量器具台账不全", monday_10
    )
    v_sunday = visited(
        HUNNAN, week.end, "沈阳精工齿轮有限公司", "91210112MA0U000062", "企业" + "标准执行良好" * 30, late
    )
    v_tiexi = visited(TIEXI, week.end, "沈阳新松精密机械有限公司", "91210112MA0U00005Y", "特种设备定期检验已到期", late)
    v_friday = visited(HUNNAN, friday, "沈阳鼓风机厂", "91210112MA0U00009B", "周五走访，周一凌晨补录", settling)
    v_next = visited(HUNNAN, next_week.start, "沈阳华晨零部件有限公司", "91210112MA0U00007X", "需要强检目录培训", early)
    sunday_2359 = late + timedelta(minutes=29)
    v_held = visited(HUNNAN, week.end, "沈阳重型机械厂", "91210112MA0U00010C", "周日深夜录入，次日才到", sunday_2359)

    # Special tasks: `missed` was due before the week (a working day), for Hunnan and Tiexi; Hunnan's completion arrived
    # Sunday 23:30; Tiexi's, made Sunday 23:50, arrived Monday 00:02. `long` is due well after, for Hunnan: progress
    # on Sunday, completion Monday 00:30 (the next week in China, still Sunday in UTC). `old` was completed (and
    # received) before the week: not in it. `unseen`'s assignment never arrives: Hunnan's progress report makes it
    # known.
    issued = late - timedelta(days=20)
    missed = assigned("计量器具专项检查", workday(week.start - timedelta(days=3), -1), issued, HUNNAN, TIEXI)
    long = assigned("质量月活动筹备", workday(week.end + timedelta(days=40), +1), issued, HUNNAN)
    old = assigned("春季特种设备隐患排查", workday(week.start - timedelta(days=12), -1), issued, HUNNAN)
    unseen = assigned("标准自我声明抽查", workday(week.end + timedelta(days=20), +1), issued, HUNNAN)
    tiexi_done = reported(missed, TIEXI, TaskReportKind.completion, late + timedelta(minutes=20), "已检查 8 家企业")
    again = v_monday.model_copy(update={"event_id": uuid4()})  # the same visit published again: kept once (key)
    arrivals = [
        (issued, [missed, long, old], (0, 4, 0)),
        (
            late - timedelta(days=10),
            [reported(old, HUNNAN, TaskReportKind.completion, late - timedelta(days=10), "已完成")],
            (0, 4, 1),
        ),
        (monday_10, [v_monday, v_monday, again], (1, 4, 1)),  # delivered twice: kept once (inbox)
        (
            late - timedelta(days=2),
            [reported(unseen, HUNNAN, TaskReportKind.progress, late - timedelta(days=2), "已抽查 3 家")],
            (1, 4, 2),
        ),
        (
            late - timedelta(hours=1),
            [reported(long, HUNNAN, TaskReportKind.progress, late - timedelta(hours=1), "已制定方案")],
            (1, 4, 3),
        ),
        (
            late,
            [
                v_sunday,
                v_tiexi,
                reported(missed, HUNNAN, TaskReportKind.completion, late, "已检查 12 家企业的强检器具"),
            ],
            (3, 4, 4),
        ),
        (settling, [v_friday, tiexi_done], (4, 4, 5)),
    ]
    for at, batch, totals in arrivals:
        await arrive(archive, at, batch, *totals)

    async def handled():  # the re-published visit too, though it added no row
        return await infra.fetch(archive.db, "SELECT 1 FROM inbox WHERE event_id = $1", again.event_id)

    await infra.eventually(handled, what="the re-published visit handled")
    published = [e for _, batch, _ in arrivals for e in batch]
    # A station's work is no demand's: nothing of it is in the event log that dossiers are sealed from.
    ids = [e.event_id for e in published]
    assert await infra.fetch(archive.db, "SELECT 1 FROM event_log WHERE event_id = ANY($1::uuid[])", ids) == []

    # Monday 00:02: the week is over, but its report is not kept yet (the scheduler waits SETTLE; a read computes it).
    with time_machine.travel(settling + timedelta(minutes=1), tick=True):
        await weekly_reports.generate_due(runtime.uow, runtime.settings)
        assert await weeks_kept(archive, week) == set()
        live = (await archive.get(f"/weekly-reports/{week}", headers=auth.HEAD)).json()
        assert live["complete"] and not live["stored"]
    # Monday 00:30: the scheduler keeps it; then Monday's visit, the visit recorded Sunday 23:59 and `long`'s completion
    # arrive.
    with time_machine.travel(early, tick=True):
        await weekly_reports.generate_due(runtime.uow, runtime.settings)
        assert await weeks_kept(archive, week) == {HUNNAN, TIEXI}
    long_done = reported(long, HUNNAN, TaskReportKind.completion, early, "活动方案已报市局")
    await arrive(archive, early + timedelta(minutes=1), [v_next, v_held, long_done], 6, 4, 6)
    # Stamped with the archive's clock when it arrived, not intake's time (Sunday 23:59) nor the report's own.
    held_at = await received_at(archive, "station_visits", "visit_id", v_held.visit_id)
    assert early <= held_at < early + timedelta(minutes=10) and Week.of(held_at.astimezone(CHINA).date()) == next_week
    tiexi_at = await received_at(archive, "special_task_reports", "report_id", tiexi_done.report_id)
    assert settling <= tiexi_at < early

    # Hunnan's head: the finished week's report, kept by the scheduler at Monday 00:30.
    reply = await archive.get(f"/weekly-reports/{week}", headers=auth.HEAD)
    assert reply.status_code == 200, reply.text
    report = reply.json()
    assert report["stored"] and report["complete"] and report["generated_by"] == "scheduler"
    visits = report["figures"]["visits"]
    assert (visits["total"], visits["enterprises"], visits["not_listed"]) == (2, 2, 0)
    assert [(v["visited_on"], v["enterprise_name"]) for v in visits["listed"]] == [
        (str(week.start), "沈阳新松精密机械有限公司"),
        (str(week.end), "沈阳精工齿轮有限公司"),
    ]  # neither the Friday visit received at 00:02 nor the one recorded 23:59 and received 00:30
    assert visits["listed"][0]["staff"] == ["张晓燕", "王工"]
    assert [v["late"] for v in visits["listed"]] == [False, False] and visits["late"] == 0
    sunday_received = datetime.fromisoformat(visits["listed"][1]["received_at"])
    assert late <= sunday_received < late + timedelta(minutes=10)  # Sunday 23:30: still this week's
    assert len(visits["listed"][1]["findings"]) == 60 and visits["listed"][1]["findings"].endswith("…")
    tasks = report["figures"]["special_tasks"]
    assert tasks["as_of"] == str(week.end + timedelta(days=1))
    counts = tuple(tasks[k] for k in ("tasks", "parts", "progress_reports", "completed", "overdue", "late_reports"))
    assert counts == (3, 3, 2, 1, 0, 0)
    states = {title: p["state"] for (title, _), p in by_title(report).items()}
    assert states == {"计量器具专项检查": "done", "质量月活动筹备": "open", "标准自我声明抽查": "open"}
    assert by_title(report)[("计量器具专项检查", HUNNAN)]["completed_on"] == str(week.end)
    assert by_title(report)[("质量月活动筹备", HUNNAN)]["due_on"] == str(long.due_on)
    assert by_title(report)[("标准自我声明抽查", HUNNAN)]["issued_by"] is None
    assert [(r["title"], r["kind"], r["late"]) for r in tasks["reports"]] == [
        ("标准自我声明抽查", "progress", False),
        ("质量月活动筹备", "progress", False),
        ("计量器具专项检查", "completion", False),
    ]
    # Tiexi's kept report: its completion (made Sunday 23:50) arrived Monday 00:02, so the part stood overdue.
    tiexi = await archive.get(f"/weekly-reports/{week}", params={"station_id": TIEXI}, headers=auth.SUPERVISOR)
    tiexi = tiexi.json()
    assert tiexi["stored"] and tiexi["figures"]["special_tasks"]["reports"] == []
    assert by_title(tiexi)[("计量器具专项检查", TIEXI)]["state"] == "overdue"

    # Kept as made: a visit for that week received now (after the report was kept) does not change the stored report;
    # it is in this week's report, marked late (补录), with its own date.
    now_entered = visited(HUNNAN, week.end, "沈阳老字号仪表厂", "91210112MA0U00008D", "隔周补录")
    this_week = Week.of(datetime.now(UTC).astimezone(CHINA).date())
    await publish_event(archive.amqp, now_entered)
    await kept(archive, visits=7, parts=4, reports=6)
    assert (await archive.get(f"/weekly-reports/{week}", headers=auth.HEAD)).json()["figures"] == report["figures"]
    current = (await archive.get(f"/weekly-reports/{this_week}", headers=auth.HEAD)).json()["figures"]["visits"]
    assert [(v["visited_on"], v["late"]) for v in current["listed"] if v["visit_id"] == str(now_entered.visit_id)] == [
        (str(week.end), True)
    ]

    # The next week, for the clerk: Monday's visit; Friday's received Monday 00:02 and Sunday's received 00:30, both
    # 补录 (and the one received now when the next week is this week); `long` completed Monday 00:30 China.
    after = (await archive.get(f"/weekly-reports/{next_week}", headers=auth.CLERK)).json()
    listed = {v["visit_id"]: (v["visited_on"], v["late"]) for v in after["figures"]["visits"]["listed"]}
    expected = {
        str(v_next.visit_id): (str(next_week.start), False),
        str(v_friday.visit_id): (str(friday), True),
        str(v_held.visit_id): (str(week.end), True),
    }
    if this_week == next_week:
        expected[str(now_entered.visit_id)] = (str(week.end), True)
    assert listed == expected
    assert after["figures"]["visits"]["late"] == len(expected) - 1
    assert {title: p["state"] for (title, _), p in by_title(after).items()}["质量月活动筹备"] == "done"
    assert after["figures"]["special_tasks"]["completed"] == 1
    # Tiexi's next week: the part done (on its own date, Sunday), the completion listed there, marked 补录.
    tiexi = await archive.get(f"/weekly-reports/{next_week}", params={"station_id": TIEXI}, headers=auth.SUPERVISOR)
    tasks = tiexi.json()["figures"]["special_tasks"]
    assert [(r["report_id"], r["late"]) for r in tasks["reports"]] == [(str(tiexi_done.report_id), True)]
    assert (tasks["completed"], tasks["overdue"], tasks["late_reports"]) == (1, 0, 1)
    part = by_title(tiexi.json())[("计量器具专项检查", TIEXI)]
    assert (part["state"], part["completed_on"]) == ("done", str(week.end))

    # The city's supervisor: the whole subtree, Tiexi's overdue part first; or one station of it.
    city = (await archive.get(f"/weekly-reports/{week}", headers=auth.SUPERVISOR)).json()
    assert city["subtree"]
    visits = city["figures"]["visits"]
    assert (visits["total"], visits["enterprises"]) == (3, 2)  # live, yet the late arrivals count in the next week only
    assert {s["station_id"]: s["count"] for s in visits["by_station"]} == {HUNNAN: 2, TIEXI: 1}
    tasks = city["figures"]["special_tasks"]
    assert (tasks["tasks"], tasks["parts"], tasks["completed"], tasks["overdue"]) == (3, 4, 1, 1)
    first = tasks["open"][0]
    assert (first["title"], first["station"], first["state"]) == ("计量器具专项检查", "铁西区质量服务站", "overdue")
    one = await archive.get(f"/weekly-reports/{week}", params={"station_id": TIEXI}, headers=auth.SUPERVISOR)
    assert one.json()["figures"]["visits"]["total"] == 1 and one.json()["figures"]["special_tasks"]["overdue"] == 1
    # Another city's station sees none of it.
    panyu = (await archive.get(f"/weekly-reports/{week}", headers=auth.OTHER_HEAD)).json()["figures"]
    assert panyu["visits"]["total"] == 0 and panyu["special_tasks"]["parts"] == 0

    # Printed: HTML and PDF from the one template.
    html = (await archive.get(f"/weekly-reports/{week}/report.html", headers=auth.SUPERVISOR)).text
    for expected in ("走访企业", "本周走访 3 次", "铁西区质量服务站", "特种设备定期检验已到期", "已逾期", "进度填报"):
        assert expected in html, expected
    pdf = await archive.get(f"/weekly-reports/{week}/report.pdf", headers=auth.HEAD)
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    for expected in ("走访企业", "沈阳精工齿轮有限公司", "专项工作", "计量器具专项检查", "已完成"):
        assert expected in text, expected

    # Each read that listed visits is in the access log, one line per station listed; Tiexi's head would see its own.
    log = (await archive.get("/access-log", params={"action": "weekly_report.read"}, headers=auth.SUPERVISOR)).json()
    assert {line["station_id"] for line in log} == {HUNNAN, TIEXI}
    mine = [line for line in log if line["subject_name"] == "周站长" and line["station_id"] == HUNNAN]
    assert mine and mine[-1]["detail"]["week"] == str(week) and len(mine[-1]["detail"]["visit_ids"]) == 2

    # Row-level security is the second wall on the new tables: the service's role sees a station's rows only in scope.
    conn = await asyncpg.connect(archive.app.state.runtime.settings.resolved_app_database_url)
    try:
        for table in ("station_visits", "special_task_parts", "special_task_reports"):
            assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0, table  # no scope set: nothing
            async with conn.transaction():
                await conn.execute("SELECT set_config('qs.scope', $1, true)", TIEXI)
                seen = {r[0] for r in await conn.fetch(f"SELECT DISTINCT station_id FROM {table}")}
            assert seen <= {TIEXI}, (table, seen)
    finally:
        await conn.close()
