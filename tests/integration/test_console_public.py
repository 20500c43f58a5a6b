"""The enterprise's pages of the console (/public/…) against the running system (the five services in-process, real
PostgreSQL and RabbitMQ): online submission with the API's field errors at their fields, the receipt with the
private link and its QR code, the status page, the one-time rating link (used once, then the link's end page), and
complaints through the status link with intake's per-link limit shown kindly. No page needs a session or links to a
staff page; the forms still carry the anonymous session's CSRF token. What goes wrong is the enterprise's page too:
a form whose session expired while it was open comes back as typed (nothing sent), a link that is no more or an
address that is none says so with a way on, and a service that cannot be reached keeps what was typed.

Intake trusts 127.0.0.1 as a proxy here (the console's calls come from it), so each test's "phone" names its own
address in X-Forwarded-For and the per-address limits count it, not the console.
"""

import contextlib
import re
import time

import httpx
import pytest

from services.console.app import create_app
from services.console.settings import Settings
from tests.support import auth, events
from tests.support import console as console_support
from tests.support.console import browser, csrf_of
from tests.support.system import System, fresh_system

pytestmark = pytest.mark.integration

STAFF_LINKS = ('href="/ledger"', 'href="/signin"', 'href="/queue"', 'action="/signout"', "工作台")
RECEIPT = re.compile(r"^/public/status/([A-Za-z0-9_-]{20,100})/receipt$")


@pytest.fixture(scope="module")
async def system():
    overrides = {"trusted_proxies": ["127.0.0.1"], "complaint_link_rate_limit": "2/day"}
    async with fresh_system(intake=overrides) as system:
        yield system


@pytest.fixture(scope="module")
async def console(system: System):
    async with console_support.running(system) as app:
        yield app


def phone(client, address: str):
    client.headers["X-Forwarded-For"] = address
    return client


def main_of(page) -> str:
    return page.text.split("<main", 1)[1].split("</main>", 1)[0]


def no_staff_links(page) -> None:
    for link in STAFF_LINKS:
        assert link not in page.text, link


def token_of(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


async def test_an_enterprise_submits_online_and_a_field_error_shows_at_its_field(system, console):
    async with phone(browser(console), "198.51.100.1") as client:
        form = await client.get("/public/submit", params={"station": events.STATION})
        assert form.status_code == 200, form.text
        no_staff_links(form)
        assert "沈阳市浑南区一站式质量服务站" in form.text  # the station named
        assert 'value="metrology.calibration"' in form.text and "个工作日内办结" in form.text and "需准备" in form.text
        key = re.search(r'name="idempotency_key" value="([^"]+)"', form.text).group(1)
        fields = {
            "csrf_token": csrf_of(form),
            "idempotency_key": key,
            "station": events.STATION,
            "enterprise.name": "沈阳网上申报仪表有限公司",
            "enterprise.credit_code": events.credit_code("91210112MA0U00051"),
            "contact.name": "孙八",
            "contact.phone": "12345",
            "description": "一台压力表需要校准",
        }
        # Without the CSRF token: refused, nothing submitted.
        refused = await client.post("/public/submit", data={k: v for k, v in fields.items() if k != "csrf_token"})
        assert refused.status_code == 403

        # A wrong phone and no item: each error at its field, in Chinese, what was typed kept.
        wrong = await client.post("/public/submit", data=fields)
        assert wrong.status_code == 422, wrong.text
        phone_error = re.search(r'data-field="contact\.phone">([^<]+)<', wrong.text)
        assert phone_error and "电话号码无效" in phone_error.group(1), wrong.text
        assert 'id="f-contact-phone"' in wrong.text and 'aria-invalid="true"' in wrong.text
        assert re.search(r'data-field="items"[^>]*>[^<]*[\u4e00-\u9fff]', wrong.text), "items error in Chinese"
        assert 'value="沈阳网上申报仪表有限公司"' in wrong.text
        no_staff_links(wrong)

        done = await client.post(
            "/public/submit", data=fields | {"contact.phone": "13804005151", "items": "metrology.calibration"}
        )
        assert done.status_code == 303, done.text
        token = RECEIPT.match(done.headers["location"]).group(1)

        receipt = await client.get(done.headers["location"])
        assert receipt.status_code == 200, receipt.text
        no_staff_links(receipt)
        printed = re.search(r'data-testid="tracking-no">([^<]+)<', receipt.text).group(1)
        assert re.fullmatch(r"210100/210112/hunnan-01-\d{4}-\d{6}|hunnan-01-\d{4}-\d{6}", printed), printed
        assert f"http://127.0.0.1:8000/public/status/{token}" in receipt.text  # the console's own address
        assert 'src="data:image/svg+xml' in receipt.text  # the QR code, allowed by the page's CSP (img-src data:)

        status = await client.get(f"/public/status/{token}")
        assert status.status_code == 200, status.text
        no_staff_links(status)
        body = main_of(status)
        assert printed in body and "已受理" in body and "计量" in body or "校准" in body
        states = re.findall(r'data-state="(\w+)"', body)
        assert states == ["done", "current", "todo", "todo", "todo"], states
        assert "受理时间 " in body and "年" in body  # China dates, as the enterprise reads them
        assert f"/public/status/{token}/notice.pdf" in body and f"/public/status/{token}/complaints" in body

        notice = await client.get(f"/public/status/{token}/notice.pdf")
        assert notice.status_code == 200 and notice.content.startswith(b"%PDF")

    # Intake has it as an online submission of that station.
    listed = await system.clients["intake"].get("/demands", params={"limit": 500}, headers=auth.HEAD)
    mine = [d for d in listed.json() if d["enterprise_name"] == "沈阳网上申报仪表有限公司"]
    assert len(mine) == 1 and mine[0]["channel"] == "website" and mine[0]["printed_tracking_no"] == printed


async def test_the_enterprise_rates_through_the_one_time_link_once(system, console):
    demand_id = await system.submit()
    await system.assign(demand_id)  # an organization serves it: items 6–9 apply
    await system.resolve(demand_id)
    link = await system.clients["evaluation"].post(f"/surveys/{demand_id}/link", headers=auth.CLERK)
    assert link.status_code == 201, link.text
    token = token_of(link.json()["url"])

    async with phone(browser(console), "198.51.100.2") as client:
        status = await client.get(f"/public/status/{token_of(system.status_urls[demand_id])}")
        body = main_of(status)
        assert re.findall(r'data-state="(\w+)"', body) == ["done", "done", "done", "current", "todo"]
        assert "一次性评价链接" in body  # what is still needed: the rating

        form = await client.get(f"/public/ratings/{token}")
        assert form.status_code == 200, form.text
        no_staff_links(form)
        for number in range(1, 10):
            if number != 5:
                assert f'data-item="{number}"' in form.text, number
        assert "非常满意" in form.text and "不满意" in form.text
        fields = {
            "csrf_token": csrf_of(form),
            "tracking_no": re.search(r'name="tracking_no" value="([^"]+)"', form.text).group(1),
            "round": "1",
            "technician_items": "yes",
            "answers.station_service": "4",
            "answers.technician_civility": "5",
            "answers.problem_solved": "yes",
            "answers.comments": "上门及时",
        }
        # Item 10 left out: refused at its field, the stars kept.
        missing = await client.post(f"/public/ratings/{token}", data=fields)
        assert missing.status_code == 422, missing.text
        assert re.search(r'data-field="answers\.overall"[^>]*>[^<]*[\u4e00-\u9fff]', missing.text)
        assert re.search(r'id="r-station_service-4"[^>]*checked', missing.text)

        rated = await client.post(f"/public/ratings/{token}", data=fields | {"answers.overall": "satisfied"})
        assert rated.status_code == 303 and rated.headers["location"] == "/public/rated"
        thanks = await client.get("/public/rated")
        assert "感谢您的评价" in thanks.text

        again = await client.get(f"/public/ratings/{token}")
        assert again.status_code == 404
        assert "评价链接已失效" in again.text and "已经评价过了" in again.text
        no_staff_links(again)

    survey = await system.clients["evaluation"].get(f"/surveys/{demand_id}", headers=auth.CLERK)
    (rating,) = survey.json()["ratings"]
    assert rating["source"] == "online" and rating["overall"] == "satisfied"
    assert rating["answers"]["technician_civility"] == 5 and rating["answers"]["problem_solved"] is True


async def test_complaints_through_the_status_link_and_the_limit_said_kindly(system, console):
    demand_id = await system.submit()
    token = token_of(system.status_urls[demand_id])
    async with phone(browser(console), "198.51.100.3") as client:
        page = await client.get(f"/public/status/{token}/complaints")
        assert page.status_code == 200, page.text
        no_staff_links(page)
        fields = {"csrf_token": csrf_of(page), "subject": "station", "content": ""}
        empty = await client.post(f"/public/status/{token}/complaints", data=fields)
        assert empty.status_code == 422
        assert re.search(r'data-field="content">[^<]*[\u4e00-\u9fff]', empty.text), empty.text

        for n in (1, 2):  # the link may file two a day here
            filed = await client.post(
                f"/public/status/{token}/complaints", data=fields | {"content": f"第{n}次：窗口无人接待"}
            )
            assert filed.status_code == 303, filed.text
        listed = await client.get(f"/public/status/{token}/complaints")
        assert "投诉已提交，投诉编号" in listed.text
        assert listed.text.count('data-testid="complaint"') == 2 and "第2次：窗口无人接待" in listed.text

        third = await client.post(f"/public/status/{token}/complaints", data=fields | {"content": "第3次：仍无人接待"})
        assert third.status_code == 429
        assert "提交过于频繁" in third.text and "您已提交的投诉会照常办理" in third.text
        assert "第3次：仍无人接待" in third.text  # what was typed stays

    # A link that is none: the link's own end page, no call made with it.
    async with browser(console) as client:
        for path in ("/public/status/" + "A" * 43, "/public/status/not-a-token", "/public/ratings/" + "B" * 43):
            gone = await client.get(path)
            assert gone.status_code == 404 and 'data-testid="gone"' in gone.text, path
            no_staff_links(gone)
        assert (await client.get("/public/anything/else")).status_code == 404


# --- what goes wrong, on the enterprise's pages ---


class Clock:
    """The console's clock, moved by the test: the time a form stays open before it is sent."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class Failing(httpx.AsyncBaseTransport):
    """A service that cannot be reached for the requests `fails` picks; the rest go to the running app."""

    def __init__(self, app, fails) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.fails = fails

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.fails(request):
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)


@contextlib.asynccontextmanager
async def console_with(system: System, *, clock=time.time, intake_fails=None):
    transports = {name: httpx.ASGITransport(app=app) for name, app in system.apps.items()}
    if intake_fails is not None:
        transports["intake"] = Failing(system.apps["intake"], intake_fails)
    app = create_app(Settings(), transports=transports, clock=clock)
    async with app.router.lifespan_context(app):
        yield app


def public_layout(page) -> None:
    """The enterprise's layout (its stylesheet, no staff header), none of the console's links, and a way on."""
    assert 'href="/static/public.css"' in page.text and "console.css" not in page.text
    no_staff_links(page)
    assert re.search(r'<a class="button" href="/public/[^"]*" data-testid="back">', page.text), page.text


async def demands_of(system: System, name: str) -> list[dict]:
    listed = await system.clients["intake"].get("/demands", params={"limit": 500}, headers=auth.HEAD)
    return [d for d in listed.json() if d["enterprise_name"] == name]


async def test_a_form_left_open_past_the_session_comes_back_as_typed_and_goes_through_then(system):
    clock = Clock()
    idle = Settings().idle_timeout_minutes * 60
    name = "沈阳过期表单测试仪器有限公司"
    async with console_with(system, clock=clock) as app, phone(browser(app), "198.51.100.4") as client:
        form = await client.get("/public/submit", params={"station": events.STATION})
        assert form.status_code == 200, form.text
        stale = csrf_of(form)
        fields = {
            "csrf_token": stale,
            "idempotency_key": re.search(r'name="idempotency_key" value="([^"]+)"', form.text).group(1),
            "station": events.STATION,
            "enterprise.name": name,
            "enterprise.credit_code": events.credit_code("91210112MA0U00061"),
            "contact.name": "钱九",
            "contact.phone": "13804006161",
            "items": "metrology.calibration",
            "description": "两台天平需要校准，下周三前送检",
        }
        clock.now += idle + 60  # the phone lay on the desk: the session ended, its CSRF token with it

        expired = await client.post("/public/submit", data=fields)
        assert expired.status_code == 403, expired.text
        no_staff_links(expired)
        assert 'href="/static/public.css"' in expired.text
        assert "已经过期" in expired.text and "您填写的内容已保留" in expired.text
        assert "请按提示修改标出的内容" not in expired.text  # no field is wrong
        for value in (name, "钱九", "13804006161", fields["enterprise.credit_code"], fields["idempotency_key"]):
            assert f'value="{value}"' in expired.text, value
        assert "两台天平需要校准，下周三前送检" in expired.text
        assert re.search(r'value="metrology\.calibration"\s+checked', expired.text), "the chosen item stays chosen"
        fresh = csrf_of(expired)
        assert fresh != stale
        assert await demands_of(system, name) == []  # nothing was sent

        sent = await client.post("/public/submit", data=fields | {"csrf_token": fresh})
        assert sent.status_code == 303 and RECEIPT.match(sent.headers["location"]), sent.text
    (demand,) = await demands_of(system, name)
    assert demand["channel"] == "website"

    # The complaint form too: what was typed stays, nothing is filed.
    demand_id = await system.submit()
    token = token_of(system.status_urls[demand_id])
    async with console_with(system, clock=clock) as app, phone(browser(app), "198.51.100.5") as client:
        page = await client.get(f"/public/status/{token}/complaints")
        clock.now += idle + 60
        fields = {
            "csrf_token": csrf_of(page),
            "subject": "staff",
            "subject_name": "受理窗口工作人员",
            "content": "工作人员态度冷淡，未说明所需材料",
        }
        expired = await client.post(f"/public/status/{token}/complaints", data=fields)
        assert expired.status_code == 403, expired.text
        no_staff_links(expired)
        assert "已经过期" in expired.text and "工作人员态度冷淡，未说明所需材料" in expired.text
        assert re.search(r'value="staff"\s+checked', expired.text) and 'value="受理窗口工作人员"' in expired.text
        assert 'data-testid="complaint"' not in expired.text
        filed = await client.post(f"/public/status/{token}/complaints", data=fields | {"csrf_token": csrf_of(expired)})
        assert filed.status_code == 303, filed.text


async def test_a_status_link_that_is_none_and_other_wrong_addresses_are_the_enterprises_pages(system, console):
    unknown = "A" * 43  # the shape of a status token, but intake knows no such link
    async with phone(browser(console), "198.51.100.6") as client:
        for path in (f"/public/status/{unknown}", f"/public/status/{unknown}/receipt", "/public/status/bad!token"):
            gone = await client.get(path)
            assert gone.status_code == 404, path
            assert 'data-testid="gone"' in gone.text and "查询链接无效或已过期" in gone.text, path
            public_layout(gone)
        notice = await client.get(f"/public/status/{unknown}/notice.pdf")
        assert notice.status_code == 404 and 'data-testid="gone"' in notice.text
        # A complaint sent through it, with a good CSRF token: the link's end page, nothing filed.
        page = await client.get("/public/submit", params={"station": events.STATION})
        fields = {"csrf_token": csrf_of(page), "subject": "station", "content": "无人接待"}
        sent = await client.post(f"/public/status/{unknown}/complaints", data=fields)
        assert sent.status_code == 404 and 'data-testid="gone"' in sent.text
        public_layout(sent)
        # ... and with the session gone too: still the link's end, never the staff's "page expired".
        async with phone(browser(console), "198.51.100.6") as other:
            stale = await other.post(f"/public/status/{unknown}/complaints", data=fields)
        assert stale.status_code == 404 and 'data-testid="gone"' in stale.text

        # An address under /public/ that is none, a method no page takes, a station that is none.
        for reply in (
            await client.get("/public/status"),
            await client.put("/public/submit", data={"csrf_token": fields["csrf_token"]}),
        ):
            assert reply.status_code in (404, 405), reply.text
            assert "您打开的页面不存在" in reply.text
            public_layout(reply)
        nowhere = await client.get("/public/submit", params={"station": "999999/999999/nowhere-01"})
        assert nowhere.status_code == 404 and "未找到该服务站" in nowhere.text
        public_layout(nowhere)


async def test_a_service_away_keeps_what_the_enterprise_typed(system, console):
    name = "沈阳服务中断测试仪器有限公司"
    # intake takes no submission: the form (its catalogue still read) comes back as typed.
    posts_fail = console_with(system, intake_fails=lambda r: r.method == "POST")
    async with posts_fail as app, phone(browser(app), "198.51.100.7") as client:
        form = await client.get("/public/submit", params={"station": events.STATION})
        fields = {
            "csrf_token": csrf_of(form),
            "idempotency_key": re.search(r'name="idempotency_key" value="([^"]+)"', form.text).group(1),
            "station": events.STATION,
            "enterprise.name": name,
            "enterprise.credit_code": events.credit_code("91210112MA0U00071"),
            "contact.name": "孙十",
            "contact.phone": "13804007171",
            "items": "metrology.calibration",
            "description": "压力表校准",
        }
        away = await client.post("/public/submit", data=fields)
        assert away.status_code == 503, away.text
        no_staff_links(away)
        assert "系统暂时无法受理" in away.text and "您填写的内容已保留" in away.text
        assert f'value="{name}"' in away.text and f'value="{fields["idempotency_key"]}"' in away.text
        assert re.search(r'value="metrology\.calibration"\s+checked', away.text)
    assert await demands_of(system, name) == []

    # intake away altogether: the status page says so with a way to load it again; the form keeps the items.
    demand_id = await system.submit()
    token = token_of(system.status_urls[demand_id])
    async with phone(browser(console), "198.51.100.8") as before:  # the form shown while intake was there
        shown = await before.get("/public/submit", params={"station": events.STATION})
        cookies = before.cookies
    async with console_with(system, intake_fails=lambda r: True) as app, phone(browser(app), "198.51.100.8") as client:
        client.cookies = cookies
        status = await client.get(f"/public/status/{token}")
        assert status.status_code == 503 and "服务暂不可用" in status.text, status.text
        public_layout(status)
        assert f'href="/public/status/{token}" data-testid="back">重新加载本页' in status.text
        away = await client.post("/public/submit", data=fields | {"csrf_token": csrf_of(shown)})
        assert away.status_code == 503, away.text
        assert 'data-testid="catalogue-away"' in away.text and "已选择的 1 项服务已保留" in away.text
        assert '<input type="hidden" name="items" value="metrology.calibration">' in away.text
        assert f'value="{name}"' in away.text
    assert await demands_of(system, name) == []

    # Back again: the same form, sent again, goes through once.
    async with phone(browser(console), "198.51.100.7") as client:
        form = await client.get("/public/submit", params={"station": events.STATION})
        sent = await client.post("/public/submit", data=fields | {"csrf_token": csrf_of(form)})
        assert sent.status_code == 303 and RECEIPT.match(sent.headers["location"]), sent.text
    assert len(await demands_of(system, name)) == 1
