"""An error nothing else answers (a bug): the console's error page with status 500, "系统出错了，请稍后再试" and a
reference id that the log carries with the traceback; the person sees no traceback and keeps the layout (the staff's,
or the enterprise's own under /public/), the session cookie and the security headers. The errors that have their own
handlers (a service's 404 or 5xx, a missing page, a refused CSRF token, signing in) are answered as before. The
raising routes exist only here, added to the app the test builds."""

import re

import structlog
from fastapi import HTTPException

from services.console import web
from services.console.client import ServiceError
from tests.unit.test_console_web import STATION, browser, console, sign_in

SECRET = "secret-internal-detail"
REFERENCE = re.compile(r"错误编号：([0-9a-f]{12})")


def boom() -> None:
    raise RuntimeError(SECRET)


def service_missing() -> None:
    raise ServiceError(status=404, message="未找到", message_en="not found", service="tracking")


def service_down() -> None:
    raise ServiceError(status=502, message="", message_en="bad gateway", service="tracking")


def forbidden() -> None:
    raise HTTPException(status_code=403)


def app_with_raising_routes():
    app, _ = console()
    for path, endpoint in (
        ("/test-only/boom", boom),
        ("/public/test-only/boom", boom),
        ("/test-only/missing", service_missing),
        ("/test-only/down", service_down),
        ("/test-only/forbidden", forbidden),
    ):
        app.add_api_route(path, endpoint, methods=["GET", "POST"])
        app.router.routes.insert(0, app.router.routes.pop())  # before the pages' catch-alls (/public/{rest:path})
    return app


def no_leak(text: str) -> None:
    assert SECRET not in text and "Traceback" not in text and "RuntimeError" not in text


async def test_an_unexpected_error_is_a_500_page_with_a_reference_the_log_keeps():
    app = app_with_raising_routes()
    async with app.router.lifespan_context(app), browser(app) as client:
        await sign_in(client, f"clerk:{STATION}")
        with structlog.testing.capture_logs() as logs:
            page = await client.get("/test-only/boom")
        assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
        assert "系统出错了，请稍后再试" in page.text and 'data-testid="error"' in page.text
        no_leak(page.text)
        assert "需求台账" in page.text  # the staff's layout: the signed-in clerk's nav is still there
        shown = REFERENCE.search(page.text)
        assert shown, page.text
        errors = [e for e in logs if e["event"] == "unexpected error"]
        assert len(errors) == 1 and errors[0]["log_level"] == "error"
        assert errors[0]["reference"] == shown.group(1) and errors[0]["path"] == "/test-only/boom"
        assert isinstance(errors[0]["exc_info"], RuntimeError)  # the traceback goes to the log
        assert not [e for e in logs if e["event"] == "unhandled error"]  # logged once, here
        # Inside the other middlewares: security headers, the session cookie, the 500 counted by route.
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["set-cookie"].startswith("qs_console=")
        metrics = (await client.get("/metrics")).text
        assert re.search(
            r'qs_http_request_seconds_count\{method="GET",route="/test-only/boom",status="500"\} 1\.0', metrics
        )
        assert (await client.get("/ledger")).status_code == 200  # the session goes on

        again = await client.get("/test-only/boom")
        assert REFERENCE.search(again.text).group(1) != shown.group(1)  # one reference per error
        partial = await client.get("/test-only/boom", headers={"HX-Request": "true"})
        assert partial.status_code == 500 and "系统出错了" in partial.text and "<html" not in partial.text
        posted = await client.post("/test-only/boom", data={"csrf_token": "forged"})
        assert posted.status_code == 403  # the CSRF refusal comes first, as before


async def test_on_the_enterprises_pages_the_public_error_page_says_it():
    app = app_with_raising_routes()
    async with app.router.lifespan_context(app), browser(app) as client:
        with structlog.testing.capture_logs() as logs:
            page = await client.get("/public/test-only/boom", params={"t": "x"})
        assert page.status_code == 500
        assert "系统出错了，请稍后再试" in page.text and "如有急事，请直接致电为您办理的服务站" in page.text
        no_leak(page.text)
        assert "退出" not in page.text and "/signin" not in page.text  # no staff layout for the enterprise
        assert 'href="/public/test-only/boom?t=x"' in page.text  # a way on: the same page again
        [error] = [e for e in logs if e["event"] == "unexpected error"]
        assert REFERENCE.search(page.text).group(1) == error["reference"]


async def test_the_errors_with_their_own_handlers_are_answered_as_before():
    app = app_with_raising_routes()
    async with app.router.lifespan_context(app), browser(app) as client:
        assert (await client.get("/ledger")).status_code == 303  # not signed in: to the sign-in page
        await sign_in(client, f"clerk:{STATION}")
        with structlog.testing.capture_logs() as logs:
            missing = await client.get("/test-only/missing")
            down = await client.get("/test-only/down")
            forbidden = await client.get("/test-only/forbidden")
            nowhere = await client.get("/no-such-page")
            bad_id = await client.get("/demands/not-a-uuid")
            refused = await client.post("/test-only/missing", data={"csrf_token": "forged"})
        assert missing.status_code == 404 and "未找到该页面或记录" in missing.text
        assert down.status_code == 503 and "服务暂不可用" in down.text
        assert forbidden.status_code == 403 and "请求无法处理" in forbidden.text
        assert nowhere.status_code == 404 and bad_id.status_code == 404
        assert refused.status_code == 403 and "页面已过期或来源无法确认" in refused.text
        for page in (missing, down, forbidden, nowhere, bad_id, refused):
            assert "系统出错了" not in page.text and REFERENCE.search(page.text) is None
        assert not [e for e in logs if e["event"] == "unexpected error"]


async def test_when_the_error_page_itself_fails_a_plain_page_still_gives_the_reference(monkeypatch):
    app = app_with_raising_routes()

    def broken(*args, **kwargs):
        raise LookupError("template gone")

    monkeypatch.setattr(web, "error_page", broken)
    async with app.router.lifespan_context(app), browser(app) as client:
        with structlog.testing.capture_logs() as logs:
            page = await client.get("/test-only/boom")
        assert page.status_code == 500 and "系统出错了，请稍后再试" in page.text
        no_leak(page.text)
        assert "template gone" not in page.text
        [error] = [e for e in logs if e["event"] == "unexpected error"]
        assert REFERENCE.search(page.text).group(1) == error["reference"]
        assert [e["reference"] for e in logs if e["event"] == "error page failed"] == [error["reference"]]
