"""The enterprise's pages in a real browser on a phone (375×812): Debian's Chromium driven by Playwright, against
the five services as processes and a console process (the fixtures of tests/e2e/conftest.py).

The enterprise submits a demand on the phone form (a wrong phone number first: the error shows at its field), keeps
the receipt's private link (and QR code), opens its status page; the station assigns and resolves it through the
APIs and sends a one-time rating link; the enterprise rates on the rating page, and the same link opened again shows
the used-link page. Then it files a complaint through the status link. Nothing on these pages leads to the staff's
console, and nothing scrolls sideways at 375 px.

CONSOLE_SCREENSHOTS=<dir> keeps a screenshot of each page there (for the README).
"""

import re

import httpx
import pytest

from tests.support import auth, events, infra
from tests.support.console import new_page, reload_until, shot

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

ENTERPRISE = "沈阳手机申报检测有限公司"
PHONE = {"width": 375, "height": 812}


@pytest.fixture(scope="module")
def system_env(system_env):
    """The console is every enterprise's one client address here (all on 127.0.0.1, trusted by nobody): intake's
    per-address limit is raised so that this module's page views do not share ten a minute."""
    env, databases, vhost = system_env
    return env | {"INTAKE_PUBLIC_RATE_LIMIT": "200/minute"}, databases, vhost


async def _fits(page) -> None:
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), page.url
    staff = await page.locator('a[href="/ledger"], a[href="/signin"], a[href="/"], form[action="/signout"]').count()
    assert staff == 0, f"{page.url} links to the staff console"


async def _get_when(client: httpx.AsyncClient, url: str, ok, what: str) -> object:
    async def check():
        reply = await client.get(url, headers=auth.HEAD)
        return reply.json() if reply.status_code == 200 and ok(reply.json()) else None

    return await infra.eventually(check, timeout=30, what=what)


async def _resolve_as_the_station(procs, printed_no: str) -> str:
    """The staff steps through the APIs: find the demand, assign it to an organization, resolve it as that
    organization, send the enterprise a one-time rating link; the link's token."""
    async with httpx.AsyncClient() as client:
        demands = await _get_when(
            client,
            procs.url("intake") + f"/demands?station_id={events.STATION}&limit=500",
            lambda rows: any(d["printed_tracking_no"] == printed_no for d in rows),
            "intake to list the online demand",
        )
        demand_id = next(d["demand_id"] for d in demands if d["printed_tracking_no"] == printed_no)
        await _get_when(client, procs.url("dispatch") + f"/demands/{demand_id}", lambda d: True, "dispatch to see it")
        reply = await client.post(
            procs.url("dispatch") + f"/demands/{demand_id}/assignments",
            json={"assignee_kind": "organization", "assignee_id": "org-01", "assignee_name": "市计量测试院"},
            headers=auth.HEAD,
        )
        assert reply.status_code == 201, reply.text
        await _get_when(
            client, procs.url("tracking") + f"/demands/{demand_id}", lambda c: c["status"] == "assigned", "assigned"
        )
        reply = await client.post(
            procs.url("tracking") + f"/demands/{demand_id}/resolution",
            json={"outcome": "met", "summary": "已上门校准并出具证书"},
            headers=auth.ORG,
        )
        assert reply.status_code == 200, reply.text
        await _get_when(
            client, procs.url("evaluation") + f"/surveys/{demand_id}", lambda s: s["status"] == "open", "survey open"
        )
        link = await client.post(procs.url("evaluation") + f"/surveys/{demand_id}/link", headers=auth.CLERK)
        assert link.status_code == 201, link.text
        return link.json()["url"].rsplit("/", 1)[1]


async def test_an_enterprise_submits_follows_rates_and_complains_on_its_phone(console, chromium, system):
    from playwright.async_api import expect

    procs, _ = system
    context, page = await new_page(chromium, console, **PHONE)
    try:
        # 网上申报, from the station's link; a phone number intake refuses first: the error at its field.
        await page.goto(f"/public/submit?station={events.STATION}")
        await expect(page.get_by_test_id("station-name")).to_contain_text("浑南区")
        await page.get_by_role("textbox", name="企业名称", exact=True).fill(ENTERPRISE)
        await page.get_by_role("textbox", name="统一社会信用代码", exact=True).fill(
            events.credit_code("91210112MA0U00061")
        )
        await page.get_by_role("textbox", name="联系人", exact=True).fill("周九")
        await page.get_by_role("textbox", name="联系电话", exact=True).fill("12345")
        await page.locator("summary", has_text="计量").click()
        await page.get_by_role("checkbox", name=re.compile("校准")).first.check()
        await page.get_by_role("textbox", name="需求描述", exact=True).fill("两台压力表需要校准，请上门")
        await _fits(page)
        await shot(page, "public-submit")
        await page.get_by_role("button", name="提交申报").click()
        phone = page.get_by_role("textbox", name="联系电话", exact=True)
        await expect(page.locator('[data-field="contact.phone"]')).to_contain_text("电话号码无效")
        await expect(phone).to_have_attribute("aria-invalid", "true")
        await expect(page.get_by_role("textbox", name="企业名称", exact=True)).to_have_value(ENTERPRISE)
        await shot(page, "public-submit-error")

        await phone.fill("13804006161")
        await page.get_by_role("button", name="提交申报").click()
        await expect(page.get_by_role("heading", name="申报成功")).to_be_visible()
        printed_no = (await page.get_by_test_id("tracking-no").inner_text()).strip()
        assert re.fullmatch(r"hunnan-01-\d{4}-\d{6}", printed_no), printed_no
        await expect(page.get_by_test_id("qr")).to_be_visible()
        await _fits(page)
        await shot(page, "public-receipt")

        # The private status link: 受理 done, 办理中 where it stands.
        await page.get_by_test_id("status-link").click()
        await expect(page).to_have_url(re.compile(r"/public/status/[A-Za-z0-9_-]{20,}$"))
        status_url = page.url
        await expect(page.get_by_test_id("tracking-no")).to_have_text(printed_no)
        await expect(page.get_by_test_id("progress")).to_contain_text("已受理")
        await expect(page.locator('[data-state="current"]')).to_contain_text("办理中")
        await _fits(page)
        await shot(page, "public-status")

        # The station does its part; the status page then asks for the rating.
        token = await _resolve_as_the_station(procs, printed_no)
        await reload_until(page, page.get_by_test_id("needed"), "the status page asking for the rating")
        await expect(page.locator('[data-state="current"]')).to_contain_text("评价")

        # The one-time rating link, on the phone: stars (6–9 too: an organization served), solved, overall.
        await page.goto(f"/public/ratings/{token}")
        await expect(page.get_by_role("heading", name="服务评价")).to_be_visible()
        await expect(page.locator('fieldset[data-item="9"]')).to_be_visible()
        for item, stars in (("1", 5), ("2", 4), ("6", 5), ("9", 3)):
            await page.locator(f'fieldset[data-item="{item}"] label', has_text=f"{stars} 星").click()  # a star
            await expect(
                page.get_by_role("group", name=re.compile(f"^{item}\\.")).get_by_label(f"{stars} 星")
            ).to_be_checked()
        await page.get_by_role("group", name="5. 您的问题是否得到了解决").get_by_label("是").check()
        await page.get_by_label("满意", exact=True).check()
        await page.get_by_role("textbox", name="11. 您的意见或建议").fill("上门及时，讲解清楚")
        await _fits(page)
        await shot(page, "public-rating")
        await page.get_by_role("button", name="提交评价").click()
        await expect(page.get_by_test_id("rated")).to_contain_text("感谢您的评价")
        # Evaluation's link knows the station's own number (年份-流水号), the printed one without the station code.
        await expect(page.get_by_test_id("flash")).to_contain_text(printed_no.removeprefix("hunnan-01-"))

        reply = await page.goto(f"/public/ratings/{token}")  # the same link again: used
        assert reply is not None and reply.status == 404
        await expect(page.get_by_test_id("gone")).to_contain_text("已经评价过了")
        await _fits(page)
        await shot(page, "public-rating-used")

        # 在线投诉 through the status link.
        await page.goto(status_url)
        await page.get_by_test_id("complaint-link").click()
        form = page.get_by_test_id("complaint-form")
        await form.get_by_label("承办的服务机构").check()
        await form.get_by_role("textbox", name="投诉内容").fill("上门人员迟到一小时，未提前告知")
        await _fits(page)
        await form.get_by_role("button", name="提交投诉").click()
        await expect(page.get_by_test_id("flash")).to_contain_text("投诉已提交")
        complaint = page.get_by_test_id("complaint")
        await expect(complaint).to_contain_text("上门人员迟到一小时")
        await expect(complaint).to_contain_text("投诉服务机构")
        await shot(page, "public-complaints")
    finally:
        await context.close()
