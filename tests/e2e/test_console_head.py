"""The head's, the supervisor's and the assignee's casework pages in a real browser (Debian's Chromium driven by
Playwright): 并单 and 否定备案 (a missing basis refused at its field first), an extension asked for by the
organization and approved by the head (the handling deadline moves on the demand's page), a 督办 issued by the
supervisor and answered by the station, a special task (专项工作) assigned and reported on, and another station's
head meeting 404 on these pages.

One running system for the module (tests/support/system.py `fresh_system`: the five services in this process, on the
real PostgreSQL and RabbitMQ) behind the console (tests/support/console.py), which uvicorn serves on a free port to the
browser. The demands are made through the APIs first. CONSOLE_SCREENSHOTS=<dir> keeps a screenshot of each page there.
"""

import re
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio

from shared.calendar import add_working_days, china_today, is_workday
from tests.support import auth, events
from tests.support.console import serving, shot, signed_in
from tests.support.system import fresh_system

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

CLERK = f"clerk:{events.STATION}"
HEAD = f"head:{events.STATION}"
OTHER_HEAD = f"head:{events.OTHER_STATION}"
SUPERVISOR = "supervisor:210100"
ORG = "org:org-01"
REPEATED_FIRM = "沈阳并单测试仪器有限公司"
REFUSED_FIRM = "沈阳否定备案测试贸易有限公司"
HANDLED_FIRM = "沈阳延期测试机械有限公司"


async def _demands(system) -> dict:
    repeated = {"name": REPEATED_FIRM, "credit_code": events.credit_code("91210112MA0U00051")}
    original = await system.submit(enterprise=repeated, description="三台压力表需要检定")
    duplicate = await system.submit(enterprise=repeated, description="三台压力表需要检定（重复提交）")
    refused = await system.submit(
        enterprise={"name": REFUSED_FIRM, "credit_code": events.credit_code("91210112MA0U00052")},
        description="请帮忙办理进出口许可证",
    )
    handled = await system.submit(
        enterprise={"name": HANDLED_FIRM, "credit_code": events.credit_code("91210112MA0U00053")}
    )
    await system.assign(handled)  # to org-01, 市计量测试院
    # The head chooses the original among the enterprise's open demands, which tracking's ledger lists.
    await system.get_when(
        "tracking",
        "/ledger?q=" + repeated["credit_code"],
        lambda rows: {str(original), str(duplicate)} <= {r["demand_id"] for r in rows},
        "both demands of the repeated enterprise in the ledger",
    )
    return {"original": original, "duplicate": duplicate, "refused": refused, "handled": handled}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def head():
    """The running system with its demands, and the console's address."""
    async with fresh_system() as system:
        demands = await _demands(system)
        async with serving(system) as base:
            yield system, demands, base


async def test_the_head_merges_a_repeated_demand_and_refuses_another(head, chromium):
    from playwright.async_api import expect

    system, demands, base = head
    async with signed_in(chromium, base, HEAD) as page:
        await page.goto(f"/demands/{demands['duplicate']}")
        await page.get_by_test_id("decisions-link").click()
        form = page.get_by_test_id("merge-form")
        await shot(page, "decisions")
        await form.get_by_label("并入的原需求（同一企业、未办结）").select_option(str(demands["original"]))
        await form.get_by_role("textbox", name="并单原因").fill("同一企业重复提交的同一需求")
        await form.get_by_role("button", name="确认并单").click()
        await expect(page.locator(".flash-ok")).to_contain_text("已并单：并入原需求 hunnan-01-")
        await expect(page).to_have_url(re.compile(f"/demands/{demands['duplicate']}$"))

        await page.goto(f"/demands/{demands['refused']}/decisions")
        form = page.get_by_test_id("refuse-form")
        await form.get_by_role("textbox", name="不予服务的原因").fill("进出口许可不属于质量服务站服务范围")
        await form.get_by_role("button", name="确认否定备案").click()  # no basis: refused at its field
        await expect(form.locator('[data-field="basis"]')).to_be_visible()
        await expect(form.get_by_role("textbox", name="不予服务的原因")).to_have_value(
            "进出口许可不属于质量服务站服务范围"
        )  # what was typed stays
        await form.get_by_role("textbox", name="法律或政策依据").fill("本站服务目录（一次告知清单）")
        await form.get_by_role("button", name="确认否定备案").click()
        await expect(page.locator(".flash-ok")).to_contain_text("已否定备案")

    for key, status in (("duplicate", "merged"), ("refused", "refused")):  # and dispatch agrees
        reply = await system.clients["dispatch"].get(f"/demands/{demands[key]}", headers=auth.HEAD)
        assert reply.json()["status"] == status, reply.text


async def test_an_extension_asked_by_the_organization_and_approved_by_the_head_moves_the_deadline(head, chromium):
    from playwright.async_api import expect

    _, demands, base = head
    demand_id = demands["handled"]
    async with signed_in(chromium, base, ORG) as page:
        await page.goto(f"/demands/{demand_id}")
        await page.get_by_test_id("deadlines-link").click()
        due = (await page.get_by_test_id("due-handling").inner_text()).strip()
        due_day = datetime.strptime(due, "%Y-%m-%d").date()
        new_due = add_working_days(due_day, 5).isoformat()
        rest_day = next(d for d in (due_day + timedelta(days=n) for n in range(1, 30)) if not is_workday(d))
        await page.locator("summary", has_text="申请延期").click()
        form = page.get_by_test_id("extension-form")
        date_field = form.get_by_label("申请延至（须为工作日，晚于当前办结期限）")
        await date_field.fill(rest_day.isoformat())  # a rest day: refused at its field
        await form.get_by_role("textbox", name="延期原因（将告知企业）").fill("企业送检样品需外送省院比对")
        await form.get_by_role("button", name="提交延期申请").click()
        await expect(form.locator('[data-field="new_due_on"]')).to_contain_text("须为工作日")
        await expect(date_field).to_have_attribute("aria-invalid", "true")
        await date_field.fill(new_due)
        await form.get_by_role("button", name="提交延期申请").click()
        await expect(page.locator(".flash-ok")).to_contain_text(f"已提交延期申请（延至 {new_due}）")

    async with signed_in(chromium, base, HEAD) as page:
        await page.get_by_role("link", name="延期审批").click()
        item = page.locator(f'[data-testid="extension-item"][data-demand="{demand_id}"]')
        await expect(item).to_contain_text(new_due)
        await item.get_by_role("link", name="审批").click()
        form = page.get_by_test_id("decision-form")
        await shot(page, "deadlines")
        await form.get_by_label("同意延期").check()
        await form.get_by_role("textbox", name="审批意见（可选）").fill("同意，请告知企业")
        await form.get_by_role("button", name="提交审批").click()
        await expect(page.locator(".flash-ok")).to_contain_text(f"已同意延期，办结期限为 {new_due}")
        await page.goto(f"/demands/{demand_id}")
        handling = page.get_by_test_id("deadlines").locator("tr", has_text="办结时限")
        await expect(handling).to_contain_text(new_due)
        await expect(handling).to_contain_text(f"原定 {due}")


async def test_a_supervision_is_issued_by_the_supervisor_and_answered_by_the_station(head, chromium):
    from playwright.async_api import expect

    _, demands, base = head
    demand_id = demands["handled"]
    async with signed_in(chromium, base, SUPERVISOR) as page:
        await page.goto(f"/demands/{demand_id}")
        await page.get_by_test_id("casework").get_by_role("link", name="督办").click()
        form = page.get_by_test_id("supervise-form")
        await form.get_by_role("textbox", name="督办意见").fill("请说明办理进展，确保按期办结")
        await form.get_by_role("button", name="发出督办").click()
        await expect(page.locator(".flash-ok")).to_contain_text("市级督办")

    async with signed_in(chromium, base, CLERK) as page:
        await page.get_by_role("link", name="督办", exact=True).click()
        item = page.locator(f'[data-testid="supervision"][data-demand="{demand_id}"]')
        await expect(item.get_by_test_id("supervision-comment")).to_have_text("请说明办理进展，确保按期办结")
        await item.locator("summary", has_text="回复督办").click()
        await item.get_by_role("textbox", name="回复内容").fill("样品已外送比对，延期已获批，将按新期限办结")
        await item.get_by_role("button", name="提交回复").click()
        await expect(page.locator(".flash-ok")).to_contain_text("已回复督办")
        answered = page.locator(f'[data-testid="supervision"][data-demand="{demand_id}"]')
        await expect(answered.get_by_test_id("supervision-status")).to_have_text("已回复")
        await expect(answered.get_by_test_id("supervision-answer")).to_contain_text("将按新期限办结")
        await shot(page, "supervisions")


async def test_a_special_task_is_assigned_and_reported_on(head, chromium):
    from playwright.async_api import expect

    _, _, base = head
    due = (china_today(datetime.now(UTC)) + timedelta(days=30)).isoformat()
    async with signed_in(chromium, base, SUPERVISOR) as page:
        await page.get_by_role("link", name="专项工作").click()
        await page.get_by_role("link", name="下达专项工作").click()
        form = page.get_by_test_id("task-form")
        await form.get_by_label("任务名称").fill("世界计量日进园区宣传")
        await form.get_by_role("textbox", name="工作内容与要求").fill("5月20日前在园区开展计量宣传，报送活动照片")
        await form.get_by_label("截止日期（遇节假日顺延至下一工作日）").fill(due)
        await form.get_by_label("沈阳市浑南区一站式质量服务站").check()
        await form.get_by_label("附件 1 名称").fill("活动通知")
        await form.get_by_role("button", name="下达").click()  # an attachment without its reference
        await expect(form.locator('[data-field="attachments.0.ref"]')).to_be_visible()
        await form.get_by_label("附件 1 网址或文号").fill("沈市监发〔2026〕12号")
        await form.get_by_role("button", name="下达").click()
        await expect(page.locator(".flash-ok")).to_contain_text("已下达专项工作「世界计量日进园区宣传」：1 个服务站")
        await expect(page).to_have_url(re.compile(r"/special-tasks/[0-9a-f-]{36}$"))
        task_url = page.url.removeprefix(base)

    async with signed_in(chromium, base, HEAD) as page:
        await page.get_by_role("link", name="专项工作").click()
        await page.get_by_role("link", name="世界计量日进园区宣传").click()
        form = page.get_by_test_id("report-form")
        await form.get_by_label("完成报告（之后不能再填报）").check()
        await form.get_by_role("textbox", name="办理进度与工作内容").fill("已在园区开展宣传，发放资料200份")
        await form.get_by_role("button", name="提交填报").click()
        await expect(page.locator(".flash-ok")).to_contain_text("本站状态「已完成」")
        part = page.locator(f'[data-testid="task-part"][data-station="{events.STATION}"]')
        await expect(part.get_by_test_id("part-state")).to_have_text("已完成")
        await expect(page.get_by_test_id("report-form")).to_have_count(0)  # reported complete: no more reports

    async with signed_in(chromium, base, SUPERVISOR) as page:
        await page.goto(task_url)
        await expect(page.get_by_test_id("task-reports")).to_contain_text("发放资料200份")
        await shot(page, "special-task")

    # Another station's head: not theirs (the task was assigned to one station only).
    async with signed_in(chromium, base, OTHER_HEAD) as page:
        reply = await page.goto(task_url)
        assert reply is not None and reply.status == 404


async def test_another_stations_head_meets_404_on_these_pages(head, chromium):
    from playwright.async_api import expect

    _, demands, base = head
    demand_id = demands["handled"]
    async with signed_in(chromium, base, OTHER_HEAD) as page:
        for path in (f"/demands/{demand_id}/decisions", f"/demands/{demand_id}/deadlines"):
            reply = await page.goto(path)
            assert reply is not None and reply.status == 404, path
            await expect(page.get_by_test_id("error")).to_contain_text("未找到")
            await expect(page.locator("main")).not_to_contain_text(HANDLED_FIRM)
