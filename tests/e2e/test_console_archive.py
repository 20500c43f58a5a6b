"""The console's archive pages in a real browser (Debian's Chromium driven by Playwright): the 档案 list and one
dossier with its service record PDF (read back with pypdf), the weekly report (周报) with the head's plan, and the
books page (档案册) with its downloaded PDF.

One running system for the module (tests/support/system.py `fresh_system`) behind the console, which uvicorn serves
on a free port. One demand is sealed through the APIs first: registered, assigned, resolved, rated, archived.
"""

import contextlib
import io
import re
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from pypdf import PdfReader

from services.console.pages.archive import last_week
from shared.contracts import printed_tracking_no
from tests.support import auth, events
from tests.support.console import serving, signed_in
from tests.support.system import fresh_system

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

CLERK = f"clerk:{events.STATION}"
HEAD = f"head:{events.STATION}"
OTHER_CLERK = f"clerk:{events.OTHER_STATION}"
FIRM = "沈阳档案测试仪器有限公司"


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sealed():
    """The running system with one sealed dossier, and the console's address. Every book goes through a job (the
    direct-download limit is 0, the job worker polls often), so the books page shows the job's way."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ARCHIVE_BOOK_SYNC_LIMIT", "0")
        env.setenv("ARCHIVE_JOBS_POLL_SECONDS", "0.2")
        async with _running() as running:
            yield running


@contextlib.asynccontextmanager
async def _running():
    async with fresh_system() as system:
        code = events.credit_code()
        demand = await system.submit(enterprise={"name": FIRM, "credit_code": code})
        await system.assign(demand)
        await system.resolve(demand)
        await system.rate(demand)
        dossier = await system.get_when("archive", f"/dossiers/{demand}", lambda d: True, "the dossier", auth.CLERK)
        async with serving(system) as base:
            yield dossier | {"credit_code": code}, base


async def test_the_archive_list_the_dossier_and_its_service_record_pdf(sealed, chromium):
    from playwright.async_api import expect

    dossier, base = sealed
    printed = printed_tracking_no(dossier["station_id"], dossier["tracking_no"])
    async with signed_in(chromium, base, CLERK) as page:
        await page.get_by_role("link", name="档案", exact=True).click()
        await expect(page).to_have_url(re.compile(r"/archive$"))
        row = page.get_by_test_id("dossier-row").filter(has_text=dossier["archive_no"])
        await expect(row).to_contain_text(printed)
        # The archive searches: by the tracking number as printed, by part of its enterprise's name, by its code.
        search = page.get_by_label("跟踪单号、档案号、企业名称或统一社会信用代码")
        for q in (printed, FIRM[2:8], dossier["credit_code"]):
            await search.fill(q)
            await page.get_by_role("button", name="查找").click()
            await expect(page.get_by_test_id("dossier-row")).to_have_count(1)
            await expect(page.get_by_test_id("dossier-row")).to_contain_text(dossier["archive_no"])
        await page.get_by_role("link", name=printed).click()

        await expect(page.get_by_role("heading", name=f"档案 {dossier['archive_no']}")).to_be_visible()
        await expect(page.get_by_test_id("section-demand")).to_contain_text(FIRM)
        await expect(page.get_by_test_id("section-assignments")).to_contain_text("派单、改派与转办")
        await expect(page.get_by_test_id("section-resolutions")).to_contain_text("已出具证书")
        await expect(page.get_by_test_id("section-ratings")).to_contain_text("满意")
        async with page.expect_download() as info:
            await page.get_by_role("link", name="服务记录表 PDF").click()
        download = await info.value
        text = pdf_text((await download.path()).read_bytes())
        assert "服务记录表" in text and FIRM in text, text[:500]
        whole = await page.request.get(f"/archive/{dossier['demand_id']}/dossier.pdf")
        assert whole.status == 200 and whole.headers["content-type"] == "application/pdf"


async def test_a_dossier_of_another_station_is_not_found(sealed, chromium):
    dossier, base = sealed
    async with signed_in(chromium, base, OTHER_CLERK) as page:
        reply = await page.goto(f"/archive/{dossier['demand_id']}")
        assert reply is not None and reply.status == 404
        pdf = await page.request.get(f"/archive/{dossier['demand_id']}/service-record.pdf")
        assert pdf.status == 404


async def test_the_head_writes_next_weeks_plan_into_last_weeks_report(sealed, chromium):
    from playwright.async_api import expect

    _, base = sealed
    week = last_week(datetime.now(UTC))
    async with signed_in(chromium, base, HEAD) as page:
        await page.get_by_role("link", name="周报", exact=True).click()
        await expect(page.get_by_label("周次")).to_have_value(week)  # last week by default
        await expect(page.get_by_test_id("figure-received")).to_be_visible()
        form = page.get_by_test_id("plan-form")
        await form.get_by_role("button", name="保存计划").click()  # empty: the archive names the field
        await expect(form.locator('[data-field="plan"]')).to_be_visible()
        await form.get_by_label("下周工作计划").fill("走访浑南装备小镇十家企业，开展计量器具送检专题服务")
        await form.get_by_role("button", name="保存计划").click()
        await expect(page.locator(".flash-ok")).to_contain_text("已保存")
        await expect(page.get_by_test_id("plan")).to_contain_text("走访浑南装备小镇十家企业")
        pdf = await page.request.get(f"/weekly-reports/{week}/report.pdf")
        assert pdf.status == 200, await pdf.text()
        assert "走访浑南装备小镇十家企业" in pdf_text(await pdf.body())


async def test_a_clerk_reads_the_report_without_the_plan_form(sealed, chromium):
    from playwright.async_api import expect

    _, base = sealed
    async with signed_in(chromium, base, CLERK) as page:
        await page.goto("/weekly-reports")
        await expect(page.get_by_test_id("weekly-figures")).to_be_visible()
        await expect(page.get_by_test_id("weekly-visits")).to_contain_text("走访企业")
        await expect(page.get_by_test_id("weekly-tasks")).to_contain_text("专项工作")
        await expect(page.get_by_test_id("plan-form")).to_have_count(0)


async def test_a_large_book_becomes_a_job_the_page_follows_to_its_download(sealed, chromium):
    from playwright.async_api import expect

    dossier, base = sealed
    async with signed_in(chromium, base, CLERK) as page:
        await page.goto("/archive-books")
        await page.get_by_role("button", name="生成档案册").click()  # no key: the archive names the field
        await expect(page.locator('[data-field="key"]')).to_be_visible()
        await page.get_by_label("统一社会信用代码 / 产业链 / 专业镇 / 园区名称").fill(dossier["credit_code"])
        await page.get_by_role("button", name="生成档案册").click()
        await expect(page).to_have_url(re.compile(r"/archive-jobs/[0-9a-f-]+$"))
        await expect(page.locator(".flash-ok")).to_contain_text("后台生成")
        link = page.get_by_test_id("job-file")
        await expect(link).to_be_visible(timeout=40_000)  # the page reloads itself until the job is done
        await expect(page.get_by_test_id("job-state")).to_contain_text("已完成")
        async with page.expect_download() as info:
            await link.click()
        download = await info.value
        assert FIRM in pdf_text((await download.path()).read_bytes())
