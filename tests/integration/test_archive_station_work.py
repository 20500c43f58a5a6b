"""A station's own work on the real broker and database: VisitRecorded, SpecialTaskAssigned and SpecialTaskReported
published to a running archive, kept once as the stations' records (no dossier, no event log), and the weekly report's
visits made and special tasks against hand counts — per station, over a supervisor's subtree, across the edge of a
China week (Sunday 23:30 / Monday 00:30 Asia/Shanghai), in the printed report, and each read that lists visits in the
access log."""

import io
from datetime import UTC, date, datetime, time, timedelta
from uuid import uuid4

import asyncpg
import pytest
from pypdf import PdfReader

from services.archive.reports.domain import Week
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


def visited(station: str, day: date, enterprise: str, code: str, findings: str) -> VisitRecorded:
    return VisitRecorded(
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


def by_title(report: dict) -> dict[tuple[str, str], dict]:
    return {(p["title"], p["station_id"]): p for p in report["figures"]["special_tasks"]["open"]}


async def test_visits_and_special_tasks_make_the_weekly_reports_figures(archive):
    late, early = edges()
    week, next_week = Week.of(late.date()), Week.of(early.date())
    await registered(archive, (HUNNAN, "浑南区一站式质量服务站"), (TIEXI, "铁西区质量服务站"))

    # Visits: two of Hunnan's and one of Tiexi's in `week` (its Monday and Sunday), one of Hunnan's the next Monday.
    v_monday = visited(HUNNAN, week.start, "沈阳新松精密机械有限公司", "91210112MA0U00005Y", "计量器具台账不全")
    v_sunday = visited(HUNNAN, week.end, "沈阳精工齿轮有限公司", "91210112MA0U000062", "企业" + "标准执行良好" * 30)
    v_tiexi = visited(TIEXI, week.end, "沈阳新松精密机械有限公司", "91210112MA0U00005Y", "特种设备定期检验已到期")
    v_next = visited(HUNNAN, next_week.start, "沈阳华晨零部件有限公司", "91210112MA0U00007X", "需要强检目录培训")

    # Special tasks: `missed` was due before the week (a working day), for Hunnan and Tiexi; Hunnan completed its part
    # on Sunday 23:30, Tiexi never. `long` is due well after, for Hunnan: progress on Sunday, completion on Monday 00:30
    # (the next week in China, still Sunday in UTC). `old` was completed before the week: not in it. `unseen`'s
    # assignment never arrives: Hunnan's progress report makes it known.
    issued = late - timedelta(days=20)
    missed = assigned("计量器具专项检查", workday(week.start - timedelta(days=3), -1), issued, HUNNAN, TIEXI)
    long = assigned("质量月活动筹备", workday(week.end + timedelta(days=40), +1), issued, HUNNAN)
    old = assigned("春季特种设备隐患排查", workday(week.start - timedelta(days=12), -1), issued, HUNNAN)
    unseen = assigned("标准自我声明抽查", workday(week.end + timedelta(days=20), +1), issued, HUNNAN)
    published = [
        v_monday,
        v_sunday,
        v_tiexi,
        v_next,
        missed,
        long,
        old,
        reported(missed, HUNNAN, TaskReportKind.completion, late, "已检查 12 家企业的强检器具"),
        reported(long, HUNNAN, TaskReportKind.progress, late - timedelta(hours=1), "已制定方案"),
        reported(long, HUNNAN, TaskReportKind.completion, early, "活动方案已报市局"),
        reported(old, HUNNAN, TaskReportKind.completion, late - timedelta(days=10), "已完成"),
        reported(unseen, HUNNAN, TaskReportKind.progress, late - timedelta(days=2), "已抽查 3 家"),
    ]
    for event in published:
        await publish_event(archive.amqp, event)
    await publish_event(archive.amqp, v_monday)  # delivered twice: kept once (inbox)
    again = v_monday.model_copy(update={"event_id": uuid4()})  # the same visit published again: kept once (key)
    await publish_event(archive.amqp, again)
    await kept(archive, visits=4, parts=4, reports=5)
    # A station's work is no demand's: nothing of it is in the event log that dossiers are sealed from.
    ids = [e.event_id for e in [*published, again]]
    assert await infra.fetch(archive.db, "SELECT 1 FROM event_log WHERE event_id = ANY($1::uuid[])", ids) == []

    # Hunnan's head: the finished week's report, kept when first asked for.
    reply = await archive.get(f"/weekly-reports/{week}", headers=auth.HEAD)
    assert reply.status_code == 200, reply.text
    report = reply.json()
    assert report["stored"] and report["complete"]
    visits = report["figures"]["visits"]
    assert (visits["total"], visits["enterprises"], visits["not_listed"]) == (2, 2, 0)
    assert [(v["visited_on"], v["enterprise_name"]) for v in visits["listed"]] == [
        (str(week.start), "沈阳新松精密机械有限公司"),
        (str(week.end), "沈阳精工齿轮有限公司"),
    ]
    assert visits["listed"][0]["staff"] == ["张晓燕", "王工"]
    assert len(visits["listed"][1]["findings"]) == 60 and visits["listed"][1]["findings"].endswith("…")
    tasks = report["figures"]["special_tasks"]
    assert tasks["as_of"] == str(week.end + timedelta(days=1))
    counts = tuple(tasks[k] for k in ("tasks", "parts", "progress_reports", "completed", "overdue"))
    assert counts == (3, 3, 2, 1, 0)
    states = {title: p["state"] for (title, _), p in by_title(report).items()}
    assert states == {"计量器具专项检查": "done", "质量月活动筹备": "open", "标准自我声明抽查": "open"}
    assert by_title(report)[("计量器具专项检查", HUNNAN)]["completed_on"] == str(week.end)
    assert by_title(report)[("质量月活动筹备", HUNNAN)]["due_on"] == str(long.due_on)
    assert by_title(report)[("标准自我声明抽查", HUNNAN)]["issued_by"] is None
    assert [(r["title"], r["kind"]) for r in tasks["reports"]] == [
        ("标准自我声明抽查", "progress"),
        ("质量月活动筹备", "progress"),
        ("计量器具专项检查", "completion"),
    ]

    # Kept as made: a visit recorded late for that week does not change the stored report.
    await publish_event(archive.amqp, visited(HUNNAN, week.end, "沈阳老字号仪表厂", "91210112MA0U00008D", "补录"))
    await kept(archive, visits=5, parts=4, reports=5)
    assert (await archive.get(f"/weekly-reports/{week}", headers=auth.HEAD)).json()["figures"] == report["figures"]

    # The next week, for the clerk: Monday's visit; `long` completed Monday 00:30 China.
    after = (await archive.get(f"/weekly-reports/{next_week}", headers=auth.CLERK)).json()
    assert after["figures"]["visits"]["total"] == 1
    assert {title: p["state"] for (title, _), p in by_title(after).items()}["质量月活动筹备"] == "done"
    assert after["figures"]["special_tasks"]["completed"] == 1

    # The city's supervisor: the whole subtree, Tiexi's overdue part first; or one station of it.
    city = (await archive.get(f"/weekly-reports/{week}", headers=auth.SUPERVISOR)).json()
    assert city["subtree"]
    visits = city["figures"]["visits"]
    assert (visits["total"], visits["enterprises"]) == (4, 3)  # the late-recorded visit counts in a live report
    assert {s["station_id"]: s["count"] for s in visits["by_station"]} == {HUNNAN: 3, TIEXI: 1}
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
    for expected in ("走访企业", "本周走访 4 次", "铁西区质量服务站", "特种设备定期检验已到期", "已逾期", "进度填报"):
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
