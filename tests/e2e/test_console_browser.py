"""The console in a real browser: Debian's Chromium driven by Playwright, against the five services as processes
(tests/e2e/conftest.py, ports 18001–18005) and a console process (its `console` fixture).

A clerk signs in on the development page, registers a demand through the form (a wrong phone number first: the
error shows at its field), finds it in the ledger and opens its page; a clerk of another city gets 404 for it; the
head assigns it from the queue. The organization resolves it from the demand's page, the clerk transcribes the
enterprise's paper rating (不满意), finds it in the 待核实 list and verifies it as founded; the head finds it back in
the queue as 重办 with its fixed deadline and the previous assignee. Then the ledger on a phone-sized screen.
Chromium comes from Debian's package (scripts/ensure-infra.sh installs it): Playwright's own browser download cannot
work here and is never used.

CONSOLE_SCREENSHOTS=<dir> keeps a screenshot of each main page there (for the README).
"""

import re

import httpx
import pytest

from tests.support import auth, events
from tests.support.console import reload_until, shot, signed_in

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

CLERK = f"clerk:{events.STATION}"
HEAD = f"head:{events.STATION}"
OTHER_CLERK = f"clerk:{events.OTHER_STATION}"
ORG = "org:org-01"
ENTERPRISE = "沈阳浏览器测试仪表有限公司"


async def test_a_demand_from_the_clerks_form_through_a_dissatisfied_rating_to_rehandling(console, chromium, system):
    from playwright.async_api import expect

    procs, _ = system
    async with signed_in(chromium, console, CLERK) as page:
        await expect(page.get_by_test_id("who")).to_contain_text("服务专员")

        # 登记需求, with a phone number intake refuses first: the error appears next to the phone field.
        await page.get_by_role("link", name="登记需求").click()
        await expect(page.get_by_role("heading", name="登记需求")).to_be_visible()
        await page.get_by_role("textbox", name="统一社会信用代码", exact=True).fill(
            events.credit_code("91210112MA0U00042")
        )
        await page.get_by_role("textbox", name="企业名称", exact=True).fill(ENTERPRISE)
        await page.get_by_role("textbox", name="联系人", exact=True).fill("钱七")
        await page.get_by_role("textbox", name="联系电话", exact=True).fill("12345")
        await page.locator("summary", has_text="计量").click()
        await page.locator('input[name="items"][value="metrology.calibration"]').check()
        await page.get_by_role("textbox", name="需求描述", exact=True).fill("三台压力表需要检定，请安排上门")
        await shot(page, "register")
        await page.get_by_role("button", name="提交登记").click()
        phone_error = page.locator('[data-field="contact.phone"]')
        await expect(phone_error).to_contain_text("电话号码无效")
        await expect(page.get_by_role("textbox", name="联系电话", exact=True)).to_have_attribute("aria-invalid", "true")
        await expect(page.get_by_role("textbox", name="企业名称", exact=True)).to_have_value(
            ENTERPRISE
        )  # what was typed stays

        await page.get_by_role("textbox", name="联系电话", exact=True).fill("13804004242")
        await page.get_by_role("button", name="提交登记").click()
        await expect(page).to_have_url(re.compile(r"/demands/[0-9a-f-]{36}$"))
        demand_id = page.url.rsplit("/", 1)[1]
        status_link = page.get_by_test_id("flash-link")
        await expect(status_link).to_contain_text("/public/status/")
        # Tracking learns of the demand from its event: the page refreshes itself until the sheet is there.
        await expect(page.get_by_test_id("deadlines")).to_be_visible()
        await expect(page.get_by_test_id("tracking-no")).to_contain_text("hunnan-01-")
        await expect(page.get_by_test_id("status")).to_contain_text("已受理")
        await shot(page, "demand")

        # The ledger lists it; the search box (htmx) narrows the list as one types; the row opens the page.
        await page.get_by_role("link", name="需求台账").click()
        await expect(page.get_by_test_id("ledger-row").filter(has_text=ENTERPRISE)).to_be_visible()
        await shot(page, "ledger")
        await page.get_by_label("查询").fill("浏览器测试")
        await expect(page.get_by_test_id("ledger-row")).to_have_count(1)
        await page.get_by_test_id("ledger-row").get_by_role("link").click()
        await expect(page).to_have_url(re.compile(f"/demands/{demand_id}$"))

        # Signing out, then the same page asks to sign in.
        await page.get_by_role("button", name="退出").click()
        await expect(page).to_have_url(re.compile(r"/signin$"))
        await page.goto(f"/demands/{demand_id}")
        await expect(page).to_have_url(re.compile(r"/signin\?next="))

    # A clerk of another city: the page of this demand does not exist for them.
    async with signed_in(chromium, console, OTHER_CLERK) as page:
        reply = await page.goto(f"/demands/{demand_id}")
        assert reply is not None and reply.status == 404
        await expect(page.get_by_test_id("error")).to_contain_text("未找到")
        await expect(page.locator("main")).not_to_contain_text(ENTERPRISE)

    # The head: 派单队列, the form opens in place (htmx), assign to the first-ranked organization.
    async with signed_in(chromium, console, HEAD) as page:
        await page.get_by_role("link", name="派单队列").click()
        item = page.locator(f'[data-demand="{demand_id}"]')
        await expect(item).to_contain_text(ENTERPRISE)
        await item.get_by_role("link", name="派单").click()
        form = item.get_by_test_id("assign-form")
        await expect(form).to_be_visible()
        await expect(page).to_have_url(re.compile(r"/queue$"))  # opened inside the queue, not a new page
        await form.get_by_label("服务机构（按动态评价排序）").select_option("org-01")
        await shot(page, "queue")
        await form.get_by_role("button", name="确认派单").click()
        await expect(page.locator(".flash-ok")).to_contain_text("已派单：市计量测试院")
        await expect(page.locator(f'[data-demand="{demand_id}"]')).to_have_count(0)

        await page.goto(f"/demands/{demand_id}")
        await expect(page.get_by_test_id("assignee")).to_contain_text("市计量测试院")

    async with httpx.AsyncClient() as client:  # and the services agree
        reply = await client.get(procs.url("dispatch") + f"/demands/{demand_id}", headers=auth.HEAD)
        assert reply.json()["status"] == "assigned"

    # The organization resolves it from the demand's page.
    async with signed_in(chromium, console, ORG) as page:
        await page.goto(f"/demands/{demand_id}")
        resolve = page.get_by_test_id("resolve-form")
        await resolve.get_by_label("需求已满足").check()
        await resolve.get_by_role("textbox", name="服务小结（处理过程及结果）").fill(
            "已上门检定三台压力表，出具检定证书"
        )
        await resolve.get_by_role("button", name="确认办结").click()
        await expect(page.locator(".flash-ok")).to_contain_text("第 1 轮已办结")
        await expect(page.get_by_test_id("survey")).to_have_count(0)  # evaluation is for the station to read

    # The clerk transcribes the enterprise's paper form (不满意), then verifies it from the 待核实 list: founded.
    async with signed_in(chromium, console, CLERK) as page:
        await page.goto(f"/demands/{demand_id}")
        await reload_until(page, page.get_by_test_id("link-form"), "the survey open for rating")
        await page.locator("summary", has_text="录入纸质评价表").click()
        rating = page.get_by_test_id("rating-form")
        await rating.get_by_label("1. 您对本次工作站的服务的满意程度").select_option("2")
        await rating.get_by_label("5. 您的问题是否得到了解决").select_option("no")
        await rating.get_by_role("button", name="录入评价").click()  # item 10 left out: refused at its field
        await expect(rating.locator('[data-field="answers.overall"]')).to_be_visible()
        await expect(rating.get_by_label("1. 您对本次工作站的服务的满意程度")).to_have_value("2")  # kept
        await rating.get_by_label("不满意", exact=True).check()
        await rating.get_by_role("textbox", name="11. 您的意见或建议").fill("证书上的器具编号有误")
        await rating.get_by_role("button", name="录入评价").click()
        await expect(page.locator(".flash-ok")).to_contain_text("总体评价「不满意」")
        row = page.get_by_test_id("rating-row").filter(has_text="第 1 轮")
        await expect(row).to_contain_text("不满意")
        await expect(row).to_contain_text("纸质评价表录入")

        await page.goto("/ledger?list=to_verify")
        await reload_until(
            page, page.get_by_test_id("ledger-row").filter(has_text=ENTERPRISE), "the demand in the 待核实 list"
        )
        await page.get_by_test_id("ledger-row").filter(has_text=ENTERPRISE).get_by_role("link").click()
        verify = page.get_by_test_id("verify-form")
        await expect(page.get_by_test_id("to-verify")).to_be_visible()
        await verify.get_by_label("情况属实，重新办理").check()
        await verify.get_by_role("textbox", name="核实情况与理由").fill("电话回访企业负责人，证书器具编号确有错误")
        await verify.get_by_role("textbox", name="核实依据（可选）").fill("回访录音")
        await shot(page, "verify")
        await verify.get_by_role("button", name="提交核实").click()
        await expect(page.locator(".flash-ok")).to_contain_text("需求进入第 2 轮")
        await expect(page.get_by_test_id("round")).to_contain_text("第 2 轮")
        await expect(page.get_by_test_id("status")).to_contain_text("重办待派")
        due = (await page.get_by_test_id("rehandling-due").inner_text()).strip()
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", due), due
        await shot(page, "demand-rehandling")

    # The head: back in the queue as 重办, with the fixed deadline and the previous assignee offered first.
    async with signed_in(chromium, console, HEAD) as page:
        await page.get_by_role("link", name="派单队列").click()
        item = page.locator(f'[data-demand="{demand_id}"]')
        await reload_until(page, item, "the 重办 in the queue")
        await expect(item.get_by_test_id("rehandling")).to_contain_text("重办待派 · 第 2 轮")
        await expect(item.get_by_test_id("rehandling-facts")).to_contain_text(f"重办期限 {due}")
        await expect(item.get_by_test_id("rehandling-facts")).to_contain_text("上一轮承办：市计量测试院")
        await item.get_by_role("link", name="派单").click()
        form = item.get_by_test_id("assign-form")
        await expect(form.get_by_test_id("rehandling-due")).to_have_text(due)
        await expect(form.get_by_test_id("previous-assignee")).to_have_text("市计量测试院")
        await expect(form.get_by_label("服务机构（按动态评价排序）")).to_have_value("org-01")
        await shot(page, "queue-rehandling")


async def test_the_ledger_on_a_phone(console, chromium):
    from playwright.async_api import expect

    async with signed_in(chromium, console, CLERK, width=375, height=740) as page:
        await expect(page.get_by_role("heading", name="需求台账", exact=True)).to_be_visible()
        nothing_wider = await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert nothing_wider, "the ledger scrolls sideways at 375 px"
        await page.get_by_role("link", name="登记需求").click()
        await expect(page.get_by_role("button", name="提交登记")).to_be_visible()
        assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        await shot(page, "register-phone")
