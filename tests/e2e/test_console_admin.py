"""The registry and calendar pages of the console in a real browser (Debian's Chromium driven by Playwright): the
admin admits a service organization (a wrong credit code refused at its field first), the station's head finds it in
the registry, the city's supervisor suspends it with a reason (refused at the reason without one), the 待复核 filter
and the organization's review as dispatch answers them on a fresh registry (nothing flagged: the flagged rendering,
reasons in red, is covered in tests/unit/test_console_registry.py), and the admin adds and removes a working-day
correction.

One running system for the module (tests/support/system.py `fresh_system`) behind the console, served by uvicorn on a
free port, as tests/e2e/test_console_head.py does.
"""

from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio

from shared.calendar import china_today
from tests.support import auth, events
from tests.support.console import serving, shot, signed_in
from tests.support.system import fresh_system

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

ADMIN = "admin"
HEAD = f"head:{events.STATION}"
SUPERVISOR = "supervisor:210100"
ORG_ID = "org-e2e-21"
ORG_NAME = "浑南区质量检测e2e中心"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def admin():
    async with fresh_system() as system:
        async with serving(system) as base:
            yield system, base


async def test_the_admin_admits_the_head_sees_and_the_supervisor_suspends(admin, chromium):
    from playwright.async_api import expect

    system, base = admin
    years = (china_today(datetime.now(UTC)) + timedelta(days=3650)).isoformat()
    async with signed_in(chromium, base, ADMIN) as page:
        await page.get_by_role("link", name="服务机构库").click()
        await page.get_by_role("link", name="准入服务机构").click()
        form = page.get_by_test_id("organization-form")
        await form.get_by_label("机构编号").fill(ORG_ID)
        await form.get_by_label("机构名称").fill(ORG_NAME)
        code = form.get_by_label("统一社会信用代码")
        await code.fill("12210112MB00000210")  # a wrong check character
        await form.get_by_label("联系人姓名").fill("王工")
        await form.get_by_label("联系电话").fill("13800000021")
        await form.get_by_label("计量").first.check()
        await form.get_by_label("服务区域").fill(events.STATION)
        await form.get_by_label("资质类别").fill("检验检测机构资质认定证书（CMA）")
        await form.get_by_label("证书编号").fill("CMA-000021")
        await form.get_by_label("发证机关").fill("省市场监督管理局")
        await form.get_by_role("textbox", name="资质范围").fill("计量检定与校准")
        await form.get_by_label("有效期起").fill("2024-01-01")
        await form.get_by_label("有效期至（含当日）").first.fill(years)
        await form.get_by_label("协议签订方").fill("浑南区市场监督管理局")
        await form.get_by_label("协议编号").fill("XY-000021")
        await form.get_by_label("协议有效期至（含当日）").fill(years)
        await form.get_by_role("button", name="准入").click()
        await expect(form.locator('[data-field="credit_code"]')).to_contain_text("校验位")
        await expect(code).to_have_attribute("aria-invalid", "true")
        await expect(form.get_by_label("机构名称")).to_have_value(ORG_NAME)  # what was typed stays
        await code.fill(events.credit_code("12210112MB0000021"))
        await form.get_by_role("button", name="准入").click()
        await expect(page.locator(".flash-ok")).to_contain_text(f"已准入服务机构「{ORG_NAME}」")
        await expect(page.get_by_test_id("org-status")).to_contain_text("准入")
        await shot(page, "organization")

    async with signed_in(chromium, base, HEAD) as page:
        await page.get_by_role("link", name="服务机构库").click()
        row = page.locator(f'[data-testid="organization-row"][data-org="{ORG_ID}"]')
        await expect(row).to_contain_text(ORG_NAME)
        await shot(page, "organizations")
        # A fresh registry flags nobody: the 待复核 filter says so, and the organization's review is clear.
        await page.get_by_role("link", name="待复核").click()
        await expect(page.get_by_test_id("no-organizations")).to_contain_text("暂无待复核")
        await page.goto(f"/organizations/{ORG_ID}")
        await expect(page.get_by_test_id("review-clear")).to_contain_text("未提示复核")

    async with signed_in(chromium, base, SUPERVISOR) as page:
        await page.get_by_role("link", name="服务机构库").click()
        await page.get_by_role("link", name=ORG_NAME).click()
        form = page.get_by_test_id("status-form")
        await form.get_by_label("暂停", exact=True).check()
        await form.get_by_role("button", name="确认变更").click()  # no reason: refused at its field
        await expect(form.locator('[data-field="reason"]')).to_contain_text("须填写原因")
        await form.get_by_role("textbox", name="原因（暂停、退出必填）").fill("近期两次超期未办结，暂停派单待整改")
        await form.get_by_role("button", name="确认变更").click()
        await expect(page.locator(".flash-ok")).to_contain_text(f"服务机构「{ORG_NAME}」已暂停")
        await expect(page.get_by_test_id("org-status")).to_contain_text("近期两次超期未办结")
        await expect(page.get_by_test_id("history")).to_contain_text("暂停")

    reply = await system.clients["dispatch"].get(f"/organizations/{ORG_ID}", headers=auth.ADMIN)
    assert reply.json()["status"] == "suspended", reply.text


async def test_the_admin_adds_and_removes_a_working_day_correction(admin, chromium):
    from playwright.async_api import expect

    _, base = admin
    day = "2030-10-12"  # a Saturday, made a 调休上班日
    async with signed_in(chromium, base, ADMIN) as page:
        await page.get_by_role("link", name="工作日历").click()
        form = page.get_by_test_id("calendar-form")
        await form.get_by_role("button", name="保存调整").click()  # no day: refused at its field
        await expect(form.locator('[data-field="day"]')).to_contain_text("请选择日期")
        await form.locator("#f-day").fill(day)
        await form.get_by_label("工作日（调休上班）").check()
        await form.get_by_label("说明（可选，如 国务院办公厅通知）").fill("调休上班")
        await form.get_by_role("button", name="保存调整").click()
        await expect(page.locator(".flash-ok")).to_contain_text(f"已将 {day} 调整为工作日（调休上班）")
        await shot(page, "calendar")
        removing = page.get_by_test_id("calendar-remove-form")
        await removing.get_by_label("撤销调整的日期").fill(day)
        await removing.get_by_role("button", name="撤销调整").click()
        await expect(page.locator(".flash-ok")).to_contain_text(f"已撤销 {day} 的调整")
        await removing.get_by_label("撤销调整的日期").fill(day)  # nothing left to remove: said at the field
        await removing.get_by_role("button", name="撤销调整").click()
        await expect(removing.locator('[data-field="day"]')).to_contain_text("没有工作日调整")


async def test_the_admin_overrides_a_catalogue_item_for_a_station(admin, chromium):
    from playwright.async_api import expect

    _, base = admin
    async with signed_in(chromium, base, ADMIN) as page:
        await page.get_by_role("link", name="服务目录").click()
        await page.get_by_label("服务站").select_option(events.STATION)
        await page.get_by_role("button", name="查看").click()
        row = page.get_by_test_id("catalogue-row").first
        item = await row.get_attribute("data-item")
        await row.get_by_role("link", name="调整").click()
        form = page.get_by_test_id("override-form")
        await expect(form.get_by_label("调整范围")).to_have_value(events.STATION)
        days = form.get_by_label("承诺时限（工作日，可选；不填沿用项目时限）")
        await days.fill("400")  # beyond intake's 365: refused at its field
        await form.get_by_role("button", name="保存调整").click()
        await expect(form.locator('[data-field="time_limit_days"]')).to_be_visible()
        await days.fill("1")
        await form.get_by_role("button", name="保存调整").click()
        await expect(page.locator(".flash-ok")).to_contain_text(f"已保存 {events.STATION} 的目录调整（{item}")
        changed = page.locator(f'[data-testid="catalogue-row"][data-item="{item}"]')
        await expect(changed).to_contain_text(events.STATION)
