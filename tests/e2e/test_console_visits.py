"""Recording a visit (主动进企业走访) in a real browser (Debian's Chromium driven by Playwright): a clerk opens 走访
from the navigation, records a visit (refused at the findings field without them first, what was typed kept), lands on
the visit's page and finds it in the list; the clerk of another city does not.

One running system for the module (tests/support/system.py `fresh_system`) behind the console, served by uvicorn on a
free port, as tests/e2e/test_console_admin.py does: no fixed port is used.
"""

import pytest
import pytest_asyncio

from tests.support import auth, events
from tests.support.console import serving, shot, signed_in
from tests.support.system import fresh_system

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

CLERK = f"clerk:{events.STATION}"
OTHER_CLERK = f"clerk:{events.OTHER_STATION}"
ENTERPRISE = "沈阳走访浏览器测试电子有限公司"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def station():
    async with fresh_system() as system:
        async with serving(system) as base:
            yield system, base


async def test_a_clerk_records_a_visit_and_finds_it_in_the_list(station, chromium):
    from playwright.async_api import expect

    system, base = station
    code = events.credit_code("91210112MA0U00031")
    async with signed_in(chromium, base, CLERK) as page:
        await page.get_by_role("link", name="走访", exact=True).click()
        await expect(page.get_by_test_id("no-visits")).to_be_visible()
        await page.get_by_role("link", name="记录走访").click()
        form = page.get_by_test_id("visit-form")
        await expect(form.get_by_label("走访人员")).not_to_be_empty()  # the signed-in clerk, to start with
        await form.get_by_label("企业名称").fill(ENTERPRISE)
        await form.get_by_label("统一社会信用代码").fill(code)
        await form.get_by_label("走访人员").fill("张晓燕、李明")
        await form.get_by_role("button", name="保存走访记录").click()  # no findings: refused at that field
        await expect(form.locator('[data-field="findings"]')).to_contain_text("必填项缺失")
        await expect(form.get_by_label("企业名称")).to_have_value(ENTERPRISE)  # what was typed stays
        await form.get_by_role("textbox", name="走访发现的问题与需求").fill("企业 8 台电子天平需要校准，咨询 CMA 资质")
        await form.get_by_role("button", name="保存走访记录").click()
        await expect(page.locator(".flash-ok")).to_contain_text(f"对「{ENTERPRISE}」的走访")
        await expect(page.get_by_test_id("visit-findings")).to_contain_text("8 台电子天平需要校准")
        await expect(page.get_by_test_id("visit")).to_contain_text("张晓燕、李明")
        await shot(page, "visit")
        await page.get_by_role("link", name="返回走访记录").click()
        row = page.get_by_test_id("visit-row").filter(has_text=ENTERPRISE)
        await expect(row).to_contain_text("张晓燕、李明")
        await shot(page, "visits")

    visits = (await system.clients["intake"].get("/visits", headers=auth.CLERK)).json()
    assert [v["findings"] for v in visits if v["credit_code"] == code] == ["企业 8 台电子天平需要校准，咨询 CMA 资质"]

    async with signed_in(chromium, base, OTHER_CLERK) as page:
        await page.get_by_role("link", name="走访", exact=True).click()
        await expect(page.get_by_test_id("no-visits")).to_be_visible()
        await expect(page.get_by_text(ENTERPRISE)).to_have_count(0)
