"""The console's 档案管理 in a real browser (Debian's Chromium driven by Playwright): the head verifies the station's
hash chain (档案校验: 完好), puts a legal hold on a sealed dossier from its page (a reason left out is named at its
field) and lifts it, and the chain is still whole afterwards.

One running system for the module (tests/support/system.py `fresh_system`) behind the console, which uvicorn serves
on a free port, as in test_console_archive.py. One demand is sealed through the APIs first: registered, assigned,
resolved, rated, archived.
"""

import re

import pytest
import pytest_asyncio

from shared.contracts import printed_tracking_no
from tests.support import auth, events
from tests.support.console import serving, signed_in
from tests.support.system import fresh_system

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

HEAD = f"head:{events.STATION}"
FIRM = "沈阳档案保全测试有限公司"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sealed():
    """The running system with one sealed dossier, and the console's address."""
    async with fresh_system() as system:
        demand = await system.submit(enterprise={"name": FIRM, "credit_code": events.credit_code("91210112MA0U00021")})
        await system.assign(demand)
        await system.resolve(demand)
        await system.rate(demand)
        dossier = await system.get_when("archive", f"/dossiers/{demand}", lambda d: True, "the dossier", auth.HEAD)
        async with serving(system) as base:
            yield dossier, base


async def test_the_head_verifies_the_chain_and_holds_and_releases_a_dossier(sealed, chromium):
    from playwright.async_api import expect

    dossier, base = sealed
    printed = printed_tracking_no(dossier["station_id"], dossier["tracking_no"])
    async with signed_in(chromium, base, HEAD) as page:
        await page.get_by_role("link", name="档案校验", exact=True).click()
        await expect(page).to_have_url(re.compile(r"/archive-chain$"))
        await page.get_by_role("button", name="开始校验").click()
        station = page.get_by_test_id("chain-station")
        await expect(station).to_have_count(1)
        await expect(station).to_have_attribute("data-station", events.STATION)
        await expect(station.get_by_test_id("chain-result")).to_have_text("完好")
        await expect(page.get_by_test_id("chain-summary")).to_contain_text("哈希链全部完好")
        await expect(station.get_by_test_id("chain-head")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))

        await page.get_by_role("link", name="档案", exact=True).click()
        await page.get_by_role("link", name=printed).click()
        await expect(page.get_by_role("heading", name=f"档案 {dossier['archive_no']}")).to_be_visible()
        holds = page.get_by_test_id("section-holds")
        await expect(holds).to_contain_text("本档案未设置过法律保全")
        await holds.get_by_role("button", name="设置法律保全").click()  # no reason: the archive names the field
        await expect(page.locator('[data-field="reason"]')).to_be_visible()
        await page.get_by_label("保全理由").fill("企业涉及计量纠纷诉讼，暂停销毁")
        await page.get_by_role("button", name="设置法律保全").click()
        await expect(page).to_have_url(re.compile(rf"/archive/{dossier['demand_id']}#holds$"))
        await expect(page.locator(".flash-ok")).to_contain_text("已设置法律保全")
        holds = page.get_by_test_id("section-holds")
        await expect(holds.get_by_test_id("hold-row")).to_contain_text("企业涉及计量纠纷诉讼")
        await expect(page.get_by_test_id("dossier-facts")).to_contain_text("法律保全中")

        await holds.get_by_label("解除理由").fill("诉讼已审结")
        await holds.get_by_role("button", name="解除保全").click()
        await expect(page.locator(".flash-ok")).to_contain_text("已解除法律保全")
        await expect(page.get_by_test_id("section-holds").get_by_test_id("hold-row")).to_contain_text("诉讼已审结")
        await expect(page.get_by_test_id("dossier-facts")).not_to_contain_text("法律保全中")

        # Every step is in the archive's access log, and the chain is whole still.
        await page.get_by_test_id("dossier-access-log").click()
        log = page.get_by_test_id("archive-log")
        await expect(log.locator('[data-action="hold.set"]')).to_have_count(1)
        await expect(log.locator('[data-action="hold.lift"]')).to_contain_text("诉讼已审结")
        await page.goto("/archive-chain?run=1")
        await expect(page.get_by_test_id("chain-result")).to_have_text("完好")
