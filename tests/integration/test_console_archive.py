"""The console's 档案 search and 周报 against the running system (the five services in-process, real PostgreSQL and
RabbitMQ): the archive searches (a tracking number by its start, an enterprise by part of its name or its credit
code, the sealing dates) within the person's scope, and the page pages it and names each dossier's enterprise; the
weekly report shows the visits made and the special tasks the archive received (overdue first, per station for a
supervisor), and a report kept before they were recorded says so instead of failing."""

import re
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest

from services.console.pages.archive import last_week, shift_week, week_text
from shared.calendar import china_today, is_workday
from shared.contracts import (
    SpecialTaskAssigned,
    SpecialTaskReported,
    TaskReportKind,
    VisitRecorded,
    printed_tracking_no,
)
from tests.support import auth, events, infra
from tests.support import console as console_support
from tests.support.apps import publish_event
from tests.support.console import browser, sign_in
from tests.support.system import System, fresh_system

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

HUNNAN = events.STATION
TIEXI = "210100/210106/tiexi-01"
FIRMS = ("沈阳档案检索光学仪器有限公司", "沈阳档案检索称重设备有限公司")


@pytest.fixture(scope="module")
async def system():
    async with fresh_system() as system:
        yield system


@pytest.fixture(scope="module")
async def console(system: System):
    async with console_support.running(system) as app:
        yield app


@pytest.fixture(scope="module")
async def sealed(system: System) -> list[dict]:
    """Two dossiers of Hunnan, sealed today: registered, assigned, resolved, rated, archived."""
    out = []
    for n, name in enumerate(FIRMS):
        code = events.credit_code(f"91210112MA0U0009{n}")
        demand = await system.submit(enterprise={"name": name, "credit_code": code})
        await system.assign(demand)
        await system.resolve(demand)
        await system.rate(demand)
        dossier = await system.get_when("archive", f"/dossiers/{demand}", lambda d: True, "the dossier", auth.CLERK)
        out.append(dossier | {"credit_code": code, "name": name})
    return out


def main_of(page) -> str:
    return page.text.split("<main", 1)[1].split("</main>", 1)[0]


def rows_of(page) -> list[str]:
    return re.findall(r'data-testid="dossier-row" data-demand="([^"]+)"', page.text)


def enterprise_of(page, demand_id: str) -> str | None:
    """The 企业 cell of the dossier's row."""
    row = re.search(rf'data-demand="{demand_id}">(.*?)</tr>', page.text, re.S)
    cell = re.search(r'<td data-label="企业">([^<]*)</td>', row.group(1)) if row else None
    return cell.group(1) if cell else None


async def test_the_archive_searches_and_the_page_shows_what_it_found(system, console, sealed):
    first, second = sealed
    today = china_today(datetime.now(UTC))
    async with browser(console) as clerk:
        await sign_in(clerk, f"clerk:{HUNNAN}")
        everything = await clerk.get("/archive")
        assert everything.status_code == 200, everything.text
        assert set(rows_of(everything)) >= {first["demand_id"], second["demand_id"]}
        assert "最近封存" not in everything.text  # the console no longer scans the newest dossiers itself
        # The archive names each dossier's enterprise as sealed: the list has its 企业 column.
        assert "<th>企业</th>" in everything.text
        for d in (first, second):
            assert enterprise_of(everything, d["demand_id"]) == d["name"]

        searches = {
            first["tracking_no"]: [first],  # the tracking number as stored, by its start
            printed_tracking_no(HUNNAN, second["tracking_no"]).upper(): [second],  # as printed, case ignored
            "档案检索称重": [second],  # part of the enterprise's name
            first["credit_code"].lower(): [first],  # its credit code
            first["archive_no"][-6:]: [first],  # part of the archive number
            "档案检索": [first, second],
        }
        for q, expected in searches.items():
            page = await clerk.get("/archive", params={"q": q})
            assert page.status_code == 200, page.text
            assert sorted(rows_of(page)) == sorted(d["demand_id"] for d in expected), q
            assert f'value="{q}"' in page.text  # the search stays in its box

        dated = await clerk.get(
            "/archive", params={"q": "档案检索", "sealed_from": str(today), "sealed_to": str(today)}
        )
        assert len(rows_of(dated)) == 2
        before = str(today - timedelta(days=1))
        none = await clerk.get("/archive", params={"q": "档案检索", "sealed_to": before})
        assert rows_of(none) == [] and "没有找到符合条件的档案" in main_of(none)
        backwards = await clerk.get("/archive", params={"sealed_from": str(today), "sealed_to": before})
        assert backwards.status_code == 422, backwards.text
        error = re.search(r'data-field="sealed_to">([^<]+)<', backwards.text)
        assert error and re.search(r"[\u4e00-\u9fff]", error.group(1)), backwards.text
        too_long = await clerk.get("/archive", params={"q": "档" * 101})
        assert too_long.status_code == 422 and 'data-field="q"' in too_long.text

    async with browser(console) as other:  # another city's clerk: the same search finds nothing
        await sign_in(other, f"clerk:{events.OTHER_STATION}")
        page = await other.get("/archive", params={"q": first["tracking_no"]})
        assert page.status_code == 200 and rows_of(page) == []
        page = await other.get("/archive", params={"q": "档案检索"})
        assert rows_of(page) == []

    async with browser(console) as supervisor:  # Shenyang's supervisor: its area's dossiers
        await sign_in(supervisor, "supervisor:210100")
        page = await supervisor.get("/archive", params={"q": first["credit_code"]})
        assert rows_of(page) == [first["demand_id"]]
        # A whole credit code: the page names the enterprise it found, as sealed.
        named = re.search(r'data-testid="archive-enterprise">企业：<strong>([^<]+)</strong>', page.text)
        assert named and named.group(1) == first["name"], main_of(page)

    # Each search is in the archive's access log with what was searched for.
    log = await system.clients["archive"].get("/access-log", params={"limit": 500}, headers=auth.HEAD)
    assert log.status_code == 200, log.text
    assert any("档案检索" in (r.get("what") or "") for r in log.json()), log.json()[:3]


def _workday(day: date, step: int) -> date:
    while not is_workday(day):
        day += timedelta(days=step)
    return day


async def test_the_weekly_report_shows_visits_and_special_tasks(system, console):
    await system.knows_stations("archive", HUNNAN, TIEXI)
    now = datetime.now(UTC)
    today = china_today(now)
    week = week_text(today)
    visits = [
        VisitRecorded(
            correlation_id=uuid4(),
            visit_id=uuid4(),
            station_id=station,
            credit_code=events.credit_code(code),
            enterprise_name=name,
            staff=["张晓燕", "王工"],
            visited_on=today,
            findings=findings,
            recorded_by="张晓燕",
        )
        for station, code, name, findings in (
            (HUNNAN, "91210112MA0U00101", "沈阳周报走访精密机械有限公司", "计量器具超期未检，需建立台账"),
            (TIEXI, "91210106MA0U00102", "沈阳周报走访铸造有限公司", "特种设备定期检验已到期"),
        )
    ]
    overdue = SpecialTaskAssigned(
        correlation_id=uuid4(),
        task_id=uuid4(),
        issuer_scope="210100",
        issued_by="沈阳市市场监管局",
        title="电梯安全隐患专项排查",
        description="请于截止日前完成并报告",
        due_on=_workday(today - timedelta(days=20), -1),
        issued_at=now - timedelta(days=30),
        stations=[HUNNAN],
    )
    running = SpecialTaskAssigned(
        correlation_id=uuid4(),
        task_id=uuid4(),
        issuer_scope="210100",
        issued_by="沈阳市市场监管局",
        title="质量月活动筹备",
        description="请各站制定方案并填报进度",
        due_on=_workday(today + timedelta(days=30), 1),
        issued_at=now - timedelta(minutes=1),
        stations=[HUNNAN, TIEXI],
    )
    progress = SpecialTaskReported(
        correlation_id=uuid4(),
        task_id=running.task_id,
        report_id=uuid4(),
        station_id=HUNNAN,
        title=running.title,
        due_on=running.due_on,
        kind=TaskReportKind.progress,
        text="已制定活动方案，联系企业 8 家",
        reported_by="周站长",
        reported_at=now,
    )
    for event in (*visits, overdue, running, progress):
        await publish_event(system.amqp, event)

    def received(report: dict) -> bool:
        f = report["figures"]
        return (f["visits"] or {}).get("total") == 2 and (f["special_tasks"] or {}).get("parts") == 3

    await system.get_when("archive", f"/weekly-reports/{week}", received, "the station work", auth.SUPERVISOR)

    async with browser(console) as head:
        await sign_in(head, f"head:{HUNNAN}")
        page = await head.get("/weekly-reports", params={"week": week})
        assert page.status_code == 200, page.text
        body = main_of(page)
        shown = body.split('data-testid="weekly-visits"', 1)[1].split("</section>", 1)[0]
        assert "本周走访 <strong>1</strong> 次，涉及企业 <strong>1</strong> 家" in shown
        assert shown.count('data-testid="visit-row"') == 1 and "沈阳周报走访精密机械有限公司" in shown
        assert "张晓燕、王工" in shown and "计量器具超期未检" in shown and "铸造" not in shown
        assert "<th>服务站</th>" not in shown  # one station's report
        tasks = body.split('data-testid="weekly-tasks"', 1)[1].split("</section>", 1)[0]
        assert re.findall(r'data-testid="task-row" data-state="(\w+)"', tasks) == ["overdue", "open"]
        assert tasks.index("电梯安全隐患专项排查") < tasks.index("质量月活动筹备")  # overdue first
        assert "截至今天" in tasks and str(overdue.due_on) in tasks and "已逾期" in tasks
        assert "已制定活动方案，联系企业 8 家" in tasks and "进度填报" in tasks and "周站长" in tasks
        assert "unavailable" not in body and "暂无数据" not in body

    async with browser(console) as supervisor:
        await sign_in(supervisor, "supervisor:210100")
        body = main_of(await supervisor.get("/weekly-reports", params={"week": week}))
        per_station = re.search(r'data-testid="visits-by-station">([^<]+)<', body)
        assert per_station and per_station.group(1).count("1 次") == 2, body
        assert "浑南" in per_station.group(1) and "铁西" in per_station.group(1)
        tasks = body.split('data-testid="weekly-tasks"', 1)[1].split("</section>", 1)[0]
        assert re.findall(r'data-testid="task-row" data-state="(\w+)"', tasks) == ["overdue", "open", "open"]
        assert "<th>服务站</th>" in tasks


async def test_a_report_kept_before_visits_were_recorded_says_so(system, console):
    # The week before last: kept when first read at any hour (last week is not kept in a Monday's first minutes).
    week = shift_week(last_week(datetime.now(UTC)), -1)
    async with browser(console) as head:
        await sign_in(head, f"head:{HUNNAN}")
        kept = await head.get("/weekly-reports", params={"week": week})  # a finished week: kept when first read
        assert kept.status_code == 200 and 'data-testid="visits-summary"' in kept.text, kept.text
        year, number = week.split("-W")
        changed = await infra.fetch(  # as the archive kept reports before it received station work
            system.databases["archive"],
            "UPDATE weekly_reports SET figures = figures - 'visits' - 'special_tasks'"
            " WHERE station_id = $1 AND iso_year = $2 AND iso_week = $3 AND figures IS NOT NULL RETURNING 1",
            HUNNAN,
            int(year),
            int(number),
        )
        assert len(changed) == 1
        page = await head.get("/weekly-reports", params={"week": week})
        assert page.status_code == 200, page.text
        body = main_of(page)
        assert "本周报生成时档案服务尚未记录走访" in body and "本周报生成时档案服务尚未记录专项工作" in body
        assert 'data-testid="visits-summary"' not in body and 'data-testid="tasks-summary"' not in body
        assert 'data-testid="figure-received"' in body and 'data-testid="plan-form"' in body
