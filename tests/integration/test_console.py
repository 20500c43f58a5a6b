"""The console's pages against the running system (the five services in-process, real PostgreSQL and RabbitMQ).

The console calls the services over HTTP as it does in production, here through httpx's ASGI transport into the
in-process apps of `fresh_system`; each test signs in on the development page as a person the registry offers,
with a cookie jar of its own, and reads the pages as a browser would.
"""

import re
import time
from uuid import UUID

import httpx
import pytest

from services.console.app import create_app
from services.console.settings import Settings
from tests.support import auth, events
from tests.support import console as console_support
from tests.support.console import browser, csrf_of, sign_in
from tests.support.system import System, fresh_system

pytestmark = pytest.mark.integration

CLERK = f"clerk:{events.STATION}"
HEAD = f"head:{events.STATION}"
OTHER_CLERK = f"clerk:{events.OTHER_STATION}"


@pytest.fixture(scope="module")
async def system():
    async with fresh_system() as system:
        yield system


@pytest.fixture(scope="module")
async def console(system: System):
    async with console_support.running(system) as app:
        yield app


async def in_ledger(system: System, demand_id: UUID, headers: dict) -> None:
    await system.get_when(
        "tracking", "/ledger", lambda rows: any(r["demand_id"] == str(demand_id) for r in rows), "the ledger", headers
    )


async def test_the_signin_page_offers_the_people_the_system_knows(system, console):
    async with browser(console) as client:
        page = await client.get("/signin")
    assert page.status_code == 200
    for key in (CLERK, HEAD, OTHER_CLERK, "supervisor:210100", "supervisor:210100/210112", "org:org-01", "admin"):
        assert f'value="{key}"' in page.text, key
    assert "沈阳市浑南区一站式质量服务站服务专员" in page.text
    assert "沈阳市市场监督管理局" in page.text and "沈阳市浑南区市场监督管理局" in page.text
    # The session cookie: HttpOnly and SameSite=Lax (Secure only in production, over HTTPS).
    cookie = page.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


async def test_a_clerk_sees_only_their_stations_demands_and_another_stations_page_is_404(system, console):
    own = await system.submit()
    other = await system.submit(events.OTHER_STATION, headers=auth.OTHER_CLERK)
    await in_ledger(system, own, auth.CLERK)
    await in_ledger(system, other, auth.OTHER_CLERK)
    async with browser(console) as client:
        await sign_in(client, CLERK)
        ledger = await client.get("/ledger")
        assert ledger.status_code == 200, ledger.text
        assert f"/demands/{own}" in ledger.text
        assert f"/demands/{other}" not in ledger.text
        assert "沈阳精密仪器有限公司" in ledger.text

        page = await client.get(f"/demands/{own}")
        assert page.status_code == 200, page.text
        assert 'data-testid="deadlines"' in page.text and "响应时限" in page.text
        assert f"/demands/{own}/notice.pdf" in page.text and f"/demands/{own}/sheet.pdf" in page.text

        foreign = await client.get(f"/demands/{other}")
        assert foreign.status_code == 404
        assert "未找到" in foreign.text and "沈阳" not in foreign.text.split("<main", 1)[1].split("</main>")[0]
        for document in ("notice", "notice.pdf", "sheet.pdf"):
            assert (await client.get(f"/demands/{other}/{document}")).status_code == 404, document

        notice = await client.get(f"/demands/{own}/notice.pdf")
        assert notice.status_code == 200 and notice.headers["content-type"] == "application/pdf"
        assert notice.content.startswith(b"%PDF")

    async with browser(console) as client:  # the other station's clerk: the other way round
        await sign_in(client, OTHER_CLERK)
        ledger = await client.get("/ledger")
        assert f"/demands/{other}" in ledger.text and f"/demands/{own}" not in ledger.text
        assert (await client.get(f"/demands/{own}")).status_code == 404


async def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(system, console):
    async with browser(console) as client:
        await sign_in(client, CLERK)
        form = await client.get("/demands/new")
        assert form.status_code == 200
        fields = {
            "enterprise.name": "沈阳伪造请求有限公司",
            "enterprise.credit_code": events.credit_code("91210112MA0U00009"),
            "contact.name": "王五",
            "contact.phone": "13804005678",
            "items": "metrology.calibration",
            "description": "不应被登记",
            "channel": "window",
        }
        before = await system.clients["intake"].get("/demands", params={"limit": 500}, headers=auth.HEAD)
        for token in (None, "forged-" + csrf_of(form)[7:], ""):
            data = fields | ({"csrf_token": token} if token is not None else {})
            reply = await client.post("/demands/new", data=data)
            assert reply.status_code == 403, reply.text
            assert "页面已过期或来源无法确认" in reply.text
        # Nor through htmx's header with a wrong value; nor signing out.
        reply = await client.post("/demands/new", data=fields, headers={"X-CSRF-Token": "nope", "HX-Request": "true"})
        assert reply.status_code == 403
        assert (await client.post("/signout")).status_code == 403
        after = await system.clients["intake"].get("/demands", params={"limit": 500}, headers=auth.HEAD)
        assert len(after.json()) == len(before.json())
        assert "沈阳伪造请求有限公司" not in after.text
        assert (await client.get("/ledger")).status_code == 200  # still signed in


async def test_a_clerk_registers_a_demand_through_the_form_and_a_field_error_is_shown_at_its_field(system, console):
    async with browser(console) as client:
        await sign_in(client, CLERK)
        form = await client.get("/demands/new")
        assert form.status_code == 200
        assert 'value="metrology.calibration"' in form.text and "计量" in form.text
        key = re.search(r'name="idempotency_key" value="([^"]+)"', form.text).group(1)
        fields = {
            "csrf_token": csrf_of(form),
            "idempotency_key": key,
            "enterprise.name": "沈阳表单登记有限公司",
            "enterprise.credit_code": events.credit_code("91210112MA0U00007"),
            "contact.name": "赵六",
            "contact.phone": "12345",
            "items": "metrology.calibration",
            "description": "两台压力表需要检定",
            "channel": "phone",
        }
        wrong = await client.post("/demands/new", data=fields)
        assert wrong.status_code == 422, wrong.text
        error = re.search(
            r'<p class="field-error" id="f-contact-phone-error" data-field="contact.phone">([^<]+)</p>', wrong.text
        )
        assert error and "电话号码无效" in error.group(1), wrong.text
        assert 'value="沈阳表单登记有限公司"' in wrong.text  # what was typed stays
        assert re.search(r'value="metrology.calibration" checked', wrong.text)

        fields["contact.phone"] = "13804007777"
        done = await client.post("/demands/new", data=fields)
        assert done.status_code == 303, done.text
        demand_id = UUID(done.headers["location"].removeprefix("/demands/"))
        page = await client.get(done.headers["location"])
        assert page.status_code == 200
        assert "需求已登记" in page.text and "/public/status/" in page.text  # the status link, to hand over
        again = await client.post("/demands/new", data=fields)  # the same form sent twice: one demand
        assert again.status_code == 303 and again.headers["location"] == done.headers["location"]

    registered = await system.clients["intake"].get(f"/demands/{demand_id}", headers=auth.CLERK)
    assert registered.status_code == 200
    d = registered.json()
    assert d["enterprise_name"] == "沈阳表单登记有限公司" and d["channel"] == "phone"
    assert d["station_id"] == events.STATION and d["contact_phone"] == "+8613804007777"


async def test_the_head_assigns_from_the_queue_and_a_clerk_may_not(system, console):
    demand_id = await system.submit(
        enterprise={"name": "沈阳派单测试有限公司", "credit_code": events.credit_code("91210112MA0U00008")}
    )
    async with browser(console) as clerk:
        await sign_in(clerk, CLERK)
        assert (await clerk.get(f"/queue/{demand_id}/assign")).status_code == 403
    async with browser(console) as client:
        await sign_in(client, HEAD)
        queue = await client.get("/queue")
        assert queue.status_code == 200 and f"/queue/{demand_id}/assign" in queue.text
        form = await client.get(f"/queue/{demand_id}/assign")
        assert form.status_code == 200 and 'value="org-01"' in form.text
        key = re.search(r'name="idempotency_key" value="([^"]+)"', form.text).group(1)
        data = {"csrf_token": csrf_of(form), "idempotency_key": key, "assignee_kind": "organization"}
        missing = await client.post(f"/queue/{demand_id}/assign", data=data | {"handling_mode": "independent"})
        assert missing.status_code == 422 and 'class="field-error"' in missing.text, missing.text
        reply = await client.post(
            f"/queue/{demand_id}/assign", data=data | {"assignee_id": "org-01", "handling_mode": "independent"}
        )
        assert reply.status_code == 303 and reply.headers["location"] == "/queue", reply.text
        after = await client.get("/queue")
        assert "已派单：市计量测试院" in after.text
    await system.get_when(
        "tracking", f"/demands/{demand_id}", lambda c: c["status"] == "assigned", "tracking to see the assignment"
    )


async def test_an_idle_session_ends_and_signing_out_ends_it_too(system):
    offset = [0.0]
    transports = {name: httpx.ASGITransport(app=app) for name, app in system.apps.items()}
    app = create_app(Settings(idle_timeout_minutes=30), transports=transports, clock=lambda: time.time() + offset[0])
    async with app.router.lifespan_context(app), browser(app) as client:
        await sign_in(client, CLERK)
        offset[0] = 29 * 60
        assert (await client.get("/ledger")).status_code == 200  # activity: the 30 minutes start again
        offset[0] = 29 * 60 + 29 * 60
        assert (await client.get("/ledger")).status_code == 200
        offset[0] += 30 * 60
        reply = await client.get("/ledger")
        assert reply.status_code == 303 and reply.headers["location"].startswith("/signin")
        page = await client.get(reply.headers["location"])
        assert "因长时间未操作，您已自动退出" in page.text

        await sign_in(client, CLERK)
        ledger = await client.get("/ledger")
        out = await client.post("/signout", data={"csrf_token": csrf_of(ledger)})
        assert out.status_code == 303
        assert (await client.get("/ledger")).status_code == 303


async def test_pages_need_a_signed_in_person(console):
    async with browser(console) as client:
        for path in ("/", "/ledger", "/queue", "/demands/new", f"/demands/{UUID(int=1)}"):
            reply = await client.get(path)
            assert reply.status_code == 303, path
            assert reply.headers["location"].startswith("/signin?next="), path
        assert (await client.get("/healthz")).status_code == 200


async def test_an_unreachable_service_is_a_chinese_message_not_a_crash(system):
    transports = {name: httpx.ASGITransport(app=app) for name, app in system.apps.items() if name != "tracking"}
    settings = Settings(tracking_url="http://127.0.0.1:9")  # nothing listens on the discard port
    app = create_app(settings, transports=transports)
    async with app.router.lifespan_context(app), browser(app) as client:
        await sign_in(client, CLERK)
        reply = await client.get("/ledger")
        assert reply.status_code == 503
        assert "暂时无法连接跟踪服务" in reply.text


async def test_the_enterprise_is_looked_up_by_credit_code_with_or_without_javascript(system, console):
    code = events.credit_code("91210112MA0U00006")
    dossier = {
        "name": "沈阳档案齐全有限公司",
        "address": "沈阳市浑南区智慧街 1 号",
        "contacts": [{"name": "孙八", "phone": "13804001111"}],
    }
    reply = await system.clients["intake"].put(f"/enterprises/{code}", json=dossier, headers=auth.CLERK)
    assert reply.status_code in (200, 201), reply.text
    async with browser(console) as client:
        await sign_in(client, CLERK)
        form = await client.get("/demands/new")
        token = csrf_of(form)
        # Without JavaScript: the form posts itself with action=lookup and comes back filled in, nothing registered.
        page = await client.post(
            "/demands/new",
            data={
                "csrf_token": token,
                "action": "lookup",
                "enterprise.credit_code": code.lower(),
                "description": "留着",
            },
        )
        assert page.status_code == 200
        assert 'value="沈阳档案齐全有限公司"' in page.text and 'value="孙八"' in page.text
        assert 'value="+8613804001111"' in page.text and "沈阳市浑南区智慧街 1 号" in page.text
        assert ">留着</textarea>" in page.text
        # With htmx: only the enterprise part of the form, the CSRF token in its header.
        part = await client.post(
            "/demands/new/enterprise",
            data={"enterprise.credit_code": code},
            headers={"HX-Request": "true", "X-CSRF-Token": token},
        )
        assert part.status_code == 200 and part.text.lstrip().startswith('<fieldset id="enterprise"')
        assert 'value="沈阳档案齐全有限公司"' in part.text
        unknown = await client.post(
            "/demands/new/enterprise",
            data={"enterprise.credit_code": events.credit_code("91210112MA0U00005")},
            headers={"HX-Request": "true", "X-CSRF-Token": token},
        )
        assert "本站尚无该企业档案" in unknown.text
    # Another station's clerk does not find this station's dossier.
    async with browser(console) as client:
        await sign_in(client, OTHER_CLERK)
        token = csrf_of(await client.get("/demands/new"))
        part = await client.post(
            "/demands/new/enterprise",
            data={"enterprise.credit_code": code},
            headers={"HX-Request": "true", "X-CSRF-Token": token},
        )
        assert "本站尚无该企业档案" in part.text and "沈阳档案齐全有限公司" not in part.text


async def test_a_supervisor_reads_the_ledger_and_queue_of_the_city_but_cannot_assign(system, console):
    own = await system.submit()
    other = await system.submit(events.OTHER_STATION, headers=auth.OTHER_CLERK)
    await in_ledger(system, own, auth.SUPERVISOR)
    await in_ledger(system, other, auth.OTHER_SUPERVISOR)
    async with browser(console) as client:
        await sign_in(client, "supervisor:210100")
        ledger = await client.get("/ledger")
        assert f"/demands/{own}" in ledger.text and f"/demands/{other}" not in ledger.text
        assert ">我的<" not in ledger.text  # no personal list for a bureau
        queue = await client.get("/queue")
        assert queue.status_code == 200 and "/assign" not in queue.text
        assert (await client.get(f"/queue/{own}/assign")).status_code == 403
        assert (await client.get("/demands/new")).status_code == 403
        assert (await client.get(f"/demands/{other}")).status_code == 404
