"""The console's aftercare and supervision pages in a real browser (Debian's Chromium driven by Playwright): 跟进记录
and 预约, 回访, 投诉 through its stages, the supervisor's station table and drill-down, and the scorecards with their
XLSX download.

One running system for the module (tests/support/system.py `fresh_system`: the five services in this process, on the
real PostgreSQL and RabbitMQ) behind the console (tests/support/console.py), which uvicorn serves on a free port to
the browser. Two demands are made through the APIs first: one resolved 14 days ago with its need not met (so its
回访 task has appeared, whatever the holidays), made under a clock set back that far; one being handled now.
"""

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
import time_machine

from shared.calendar import china_today
from tests.support import auth, events
from tests.support.console import serving, signed_in
from tests.support.system import fresh_system

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

CLERK = f"clerk:{events.STATION}"
HEAD = f"head:{events.STATION}"
SUPERVISOR = "supervisor:210100"
OTHER_HEAD = f"head:{events.OTHER_STATION}"
RESOLVED_FIRM = "沈阳回访测试机械有限公司"
HANDLED_FIRM = "沈阳跟进测试仪表有限公司"


def _china_today():
    return china_today(datetime.now(UTC))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def care():
    """The running system with its two demands, and the console's address."""
    async with fresh_system() as system:
        demands = await _demands(system)
        async with serving(system) as base:
            yield system, demands, base


async def _demands(system) -> dict:
    tracking = system.clients["tracking"]
    # 14 days back, every working-day calendar has a working day in between: the 回访 task has appeared today.
    with time_machine.travel(datetime.now(UTC) - timedelta(days=14), tick=True):
        clerk, head = auth.bearer("clerk", events.STATION, name="张晓燕"), auth.bearer("head", events.STATION)
        resolved = await system.submit(headers=clerk, enterprise={"name": RESOLVED_FIRM,
                                                                  "credit_code": events.credit_code()})  # fmt: skip
        await system.assign(resolved, headers=head)
        reply = await tracking.post(
            f"/demands/{resolved}/resolution",
            json={"outcome": "not_met", "summary": "所需检定项目本市暂无机构具备资质，已向企业说明"},
            headers=head,
        )
        assert reply.status_code == 200, reply.text
        await system.get_when("tracking", f"/demands/{resolved}/revisits", lambda r: r["tasks"], "the task", clerk)
    handled = await system.submit(enterprise={"name": HANDLED_FIRM, "credit_code": events.credit_code()})
    await system.assign(handled)
    await system.get_when(
        "tracking", "/revisits", lambda rows: any(r["demand_id"] == str(resolved) for r in rows), "the task list"
    )
    return {"resolved": resolved, "handled": handled}


async def test_a_follow_up_with_an_appointment_is_recorded_on_the_demands_page(care, chromium):
    from playwright.async_api import expect

    _, demands, base = care
    tomorrow = (_china_today() + timedelta(days=1)).isoformat()
    async with signed_in(chromium, base, CLERK) as page:
        await page.goto(f"/demands/{demands['handled']}")
        await page.locator("summary", has_text="记录跟进").click()
        form = page.get_by_test_id("followup-form")
        await form.get_by_label("预约", exact=True).check()
        await form.get_by_role("textbox", name="跟进内容").fill("与企业约定上门检定压力表")
        await form.get_by_label("预约日期").fill(tomorrow)
        await form.get_by_label("预约时间（可选）").fill("09:30")
        await form.get_by_label("参加人员").fill("张晓燕、市计量测试院李工")
        await form.get_by_role("button", name="保存跟进").click()  # no place: tracking refuses it at its field
        await expect(form.locator('[data-field="appointment.place"]')).to_be_visible()
        await expect(form.get_by_role("textbox", name="跟进内容")).to_have_value("与企业约定上门检定压力表")  # kept
        await form.get_by_label("地点").fill("企业二号车间")
        await form.get_by_role("button", name="保存跟进").click()
        await expect(page.locator(".flash-ok")).to_contain_text("已记录跟进：预约")
        row = page.get_by_test_id("followup-row").filter(has_text="与企业约定上门检定压力表")
        await expect(row).to_contain_text(f"预约：{tomorrow} 09:30，企业二号车间")
        await expect(page.get_by_role("link", name="跟踪单 PDF")).to_have_attribute(
            "href", f"/demands/{demands['handled']}/sheet.pdf"
        )

        await page.get_by_role("link", name="预约", exact=True).click()
        appointment = page.get_by_test_id("appointment-row").filter(has_text=HANDLED_FIRM)
        await expect(appointment).to_contain_text("企业二号车间")
        await expect(appointment).to_contain_text(tomorrow)


async def test_a_revisit_is_recorded_from_the_task_list(care, chromium):
    from playwright.async_api import expect

    _, demands, base = care
    async with signed_in(chromium, base, CLERK) as page:
        await page.get_by_role("link", name="回访", exact=True).click()
        task = page.locator(f'[data-testid="revisit-task"][data-demand="{demands["resolved"]}"]')
        await expect(task).to_contain_text("未满足需求回访")
        await task.get_by_role("link", name="记录回访").click()
        form = page.get_by_test_id("revisit-form")
        await form.get_by_label("电话回访").check()
        await form.get_by_role("button", name="保存回访").click()  # reached, but whom and what not said
        await expect(form.locator('[data-field="contact"]')).to_contain_text("回访对象")
        await form.get_by_label("回访对象").fill("王建国（企业质量负责人）")
        await form.get_by_role("textbox", name="企业反馈意见").fill("理解暂无机构具备资质，希望有机构后再通知")
        await form.get_by_label("未满足", exact=True).check()
        await form.get_by_role("button", name="保存回访").click()
        await expect(page.locator(".flash-ok")).to_contain_text("已记录电话回访，完成未满足需求回访任务")
        await page.get_by_role("link", name="已回访").click()
        await expect(
            page.locator(f'[data-testid="revisit-task"][data-demand="{demands["resolved"]}"]')
        ).to_contain_text("已回访")
        await page.goto(f"/demands/{demands['resolved']}")
        await expect(page.get_by_test_id("revisit-row")).to_contain_text("王建国（企业质量负责人）")


async def test_a_complaint_is_recorded_and_moved_through_its_stages(care, chromium):
    from playwright.async_api import expect

    _, _, base = care
    async with signed_in(chromium, base, CLERK) as page:
        await page.get_by_role("link", name="投诉", exact=True).click()
        await page.get_by_role("link", name="登记投诉").click()
        form = page.get_by_test_id("complaint-form")
        await form.get_by_label("电话", exact=True).check()
        await form.get_by_label("服务站", exact=True).check()
        await form.get_by_role("textbox", name="投诉人", exact=True).fill("赵先生")
        await form.get_by_label("投诉人联系方式").fill("13804005555")
        await form.get_by_role("textbox", name="投诉内容").fill("窗口人员答复不清楚，来回跑了三次")
        await form.get_by_role("button", name="登记投诉").click()
        await expect(page.locator(".flash-ok")).to_contain_text("投诉已登记，编号 T")
        number = (await page.get_by_test_id("complaint-no").inner_text()).strip()
        complaint_url = page.url

    async with signed_in(chromium, base, HEAD) as page:
        await page.get_by_role("link", name="投诉", exact=True).click()
        await page.get_by_test_id("complaint-row").filter(has_text=number).get_by_role("link").click()
        for stage, note, label in (
            ("acknowledged", "已电话告知赵先生投诉已受理", "已确认"),
            ("investigated", "调阅窗口记录，确有答复不一致", "已调查"),
            ("resolved", "对窗口人员批评教育，制作一次告知清单", "已处理"),
            ("answered", "电话答复赵先生处理结果，赵先生表示认可", "已答复投诉人"),
            ("closed", "整改完成，结案", "已结案"),
        ):
            form = page.get_by_test_id("stage-form")
            if stage == "resolved":  # whether it was founded is required here: refused at its field first
                await form.get_by_role("textbox").first.fill(note)
                await form.get_by_role("button").last.click()
                await expect(page.locator('[data-field="founded"]')).to_be_visible()
                form = page.get_by_test_id("stage-form")
                await form.get_by_label("属实", exact=True).check()
            await form.get_by_role("textbox").first.fill(note)
            await form.get_by_role("button").last.click()
            await expect(page.locator(".flash-ok")).to_contain_text(label)
            row = page.locator(f'[data-testid="stage-row"][data-stage="{stage}"]')
            await expect(row).to_contain_text(note)
            await expect(row).to_contain_text(re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}"))  # when
            await expect(row.locator("td").nth(2)).not_to_be_empty()  # who
        await expect(page.get_by_test_id("complaint-stage")).to_have_text("已结案")
        await expect(page.get_by_test_id("stage-form")).to_have_count(0)

    async with signed_in(chromium, base, OTHER_HEAD) as page:  # another station's complaint does not exist here
        reply = await page.goto(complaint_url)
        assert reply is not None and reply.status == 404


async def test_the_supervisors_station_table_and_a_stations_page(care, chromium):
    from playwright.async_api import expect

    system, demands, base = care
    today = _china_today()
    start = (today - timedelta(days=30)).isoformat()
    reply = await system.clients["tracking"].get(
        "/kpis", params={"from": start, "to": today.isoformat()}, headers=auth.SUPERVISOR
    )
    figures = next(s for s in reply.json()["stations"] if s["station_id"] == events.STATION)
    async with signed_in(chromium, base, SUPERVISOR) as page:
        await page.get_by_role("link", name="服务站指标").click()
        await page.get_by_label("统计期间起").fill(start)
        await page.get_by_label("统计期间止").fill(today.isoformat())
        await page.get_by_role("button", name="统计").click()
        await expect(page.get_by_test_id("period")).to_contain_text(f"{start} 至 {today.isoformat()}")
        row = page.locator(f'[data-testid="station-row"][data-station="{events.STATION}"]')
        await expect(row.locator('[data-kpi="open"]')).to_have_text(str(figures["now"]["open"]))
        await expect(row.locator('[data-kpi="resolved"]')).to_have_text(str(figures["handling"]["resolved_in_period"]))
        assert figures["handling"]["resolved_in_period"] >= 1 and figures["now"]["open"] >= 1
        await expect(page.locator('[data-testid="station-row"][data-station="440100/440113/panyu-01"]')).to_have_count(
            0
        )

        await row.get_by_role("link").click()
        await expect(page.get_by_test_id("station-name")).to_contain_text("浑南")
        await page.get_by_label("查询").fill("回访测试")
        await page.get_by_role("button", name="查询").click()
        await page.get_by_test_id("ledger-row").get_by_role("link").click()
        await expect(page).to_have_url(re.compile(f"/demands/{demands['resolved']}$"))

        reply = await page.goto("/supervision/stations/440100/440113/panyu-01")  # another city's station
        assert reply is not None and reply.status == 404
        await expect(page.get_by_test_id("error")).to_contain_text("未找到")


async def test_the_scorecard_page_and_its_xlsx(care, chromium):
    """The scorecards of whichever services offer GET /scorecards (issue 10) joined in one table, and the XLSX with
    the same figures; a service not offering it yet is named on the page, its columns empty."""
    from openpyxl import load_workbook
    from playwright.async_api import expect

    system, _, base = care
    today = _china_today()
    start = (today - timedelta(days=30)).isoformat()
    query = {"by": "station", "from": start, "to": today.isoformat()}
    offered = {}
    for service in ("tracking", "evaluation", "intake"):
        reply = await system.clients[service].get("/scorecards", params=query, headers=auth.HEAD)
        assert reply.status_code in (200, 404), reply.text
        if reply.status_code == 200:
            offered[service] = {r["key"]: r for r in reply.json()["rows"]}
    async with signed_in(chromium, base, HEAD) as page:
        await page.get_by_role("link", name="评分卡").click()
        await page.get_by_label("统计期间起").fill(start)
        await page.get_by_label("统计期间止").fill(today.isoformat())
        await page.get_by_role("button", name="统计").click()
        for service in {"tracking", "evaluation", "intake"} - set(offered):
            await expect(page.get_by_test_id(f"missing-{service}")).to_be_visible()
        async with page.expect_download() as info:
            await page.get_by_test_id("xlsx").click()
        download = await info.value
        book = load_workbook(io.BytesIO((await download.path()).read_bytes()))
        sheet = book.active
        headers = [c.value for c in sheet[2]]
        assert (
            headers[:2] == ["编号", "服务站"]
            and "按时办结率" in headers
            and "满意率" in headers
            and "投诉数" in headers
        )
        rows = {r[0]: r for r in sheet.iter_rows(min_row=3, values_only=True) if r[0] == events.STATION}
        if not offered:
            await expect(page.get_by_test_id("scorecard-row")).to_have_count(0)
            assert not rows
            return
        row = page.locator(f'[data-testid="scorecard-row"][data-key="{events.STATION}"]')
        await expect(row).to_be_visible()
        xlsx_row = rows[events.STATION]
        for by_key in offered.values():
            figures = by_key.get(events.STATION)
            if figures is None:
                continue
            for name in ("received", "resolved", "ratings", "complaints"):
                if name in figures:
                    await expect(row.locator(f'[data-figure="{name}"]')).to_have_text(str(figures[name]))
                    assert xlsx_row[headers.index(_header(name))] == figures[name]


def _header(name: str) -> str:
    from services.console.pages.scorecards import COLUMNS

    return next(label for _, n, label in COLUMNS if n == name)
