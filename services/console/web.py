"""What every page of the console takes from the framework: the session middleware, the caller, CSRF, rendering,
and turning the services' errors into pages.

A page route is thin: it takes the `Caller` (or `Allowed(...)`), calls the services through `Services`, and
renders one template with `render`. An error from a service becomes the same page as the API's answer means:
404 stays 404 (another station's demand looks like no demand), 403 says the role may not, 401 signs out.
"""

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote
from uuid import uuid4

import structlog
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.auth import Role
from shared.calendar import CHINA
from shared.contracts import printed_tracking_no

from . import session as sessions
from .client import ServiceError, Services
from .people import ROLE_LABELS
from .session import Person, Session, SessionCodec
from .settings import Settings

log = structlog.get_logger(__name__)
TEMPLATES = Path(__file__).parent / "templates"
_STATE = "console_session"
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# Paths whose requests neither count as activity nor rewrite the cookie.
_QUIET = ("/static/", "/vendor/", "/healthz", "/readyz", "/metrics")


# --- the session, on every request ---


class SessionMiddleware:
    """Loads the session cookie before the route runs and writes it back with the reply.

    The cookie is rewritten on every page (`seen_at` = now), which is what makes the idle timeout sliding.
    HttpOnly and SameSite=Lax always; Secure with the __Host- prefix in production. No Max-Age: the browser
    forgets the cookie when it closes (a shared computer at the window).
    """

    def __init__(self, app: ASGIApp, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self.app = app
        self.codec = SessionCodec(settings.session_secret)
        self.idle = settings.idle_timeout_minutes * 60
        self.secure = settings.production
        self.name = sessions.SECURE_COOKIE if self.secure else sessions.COOKIE
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        now = self.clock()
        loaded = sessions.load(self.codec, request.cookies.get(self.name), now, self.idle)
        if loaded.notes:
            log.info("session ended", reason=loaded.notes[0])
        scope.setdefault("state", {})[_STATE] = loaded
        quiet = scope["path"].startswith(_QUIET)

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and (loaded.dirty or not quiet):
                value = self.codec.dumps(replace(loaded.session, seen_at=self.clock()), self.clock())
                headers = MutableHeaders(scope=message)
                attributes = "Path=/; HttpOnly; SameSite=Lax" + ("; Secure" if self.secure else "")
                headers.append("Set-Cookie", f"{self.name}={value}; {attributes}")
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def current_session(request: Request) -> Session:
    return request.scope["state"][_STATE].session


def save_session(request: Request, session: Session) -> None:
    loaded = request.scope["state"][_STATE]
    loaded.session = session
    loaded.dirty = True


def flash(request: Request, kind: str, text: str, link: str | None = None, link_label: str | None = None) -> None:
    save_session(request, sessions.flash(current_session(request), kind, text, link, link_label))


class SecurityHeaders:
    """No framing, no sniffing, no referrer (status links carry the enterprise's token), scripts only from here."""

    CSP = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "content-security-policy" not in headers:
                    headers["Content-Security-Policy"] = self.CSP
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "no-referrer")
                if not scope["path"].startswith(("/static/", "/vendor/")):
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


# --- who is calling ---


class SignInRequired(Exception):
    pass


class CsrfRefused(Exception):
    pass


@dataclass(frozen=True)
class Caller:
    person: Person
    token: str

    @property
    def role(self) -> Role:
        return Role(self.person.role)

    @property
    def station(self) -> str | None:
        return self.person.station


async def _caller(request: Request) -> Caller:
    s = current_session(request)
    if not s.signed_in:
        raise SignInRequired()
    assert s.person is not None and s.token is not None
    return Caller(s.person, s.token)


Signed = Annotated[Caller, Depends(_caller)]


def allowed(*roles: Role):
    """The caller, if their role is one of `roles`; a 403 page otherwise (as the APIs answer a role they refuse)."""

    async def check(caller: Signed) -> Caller:
        if caller.role not in roles:
            raise ServiceError(403, "您的角色无权打开此页面", "role may not open this page", code="forbidden")
        return caller

    return Depends(check)


async def check_csrf(request: Request) -> None:
    """Every unsafe request carries the session's CSRF token: a form field, or the header htmx sends."""
    if request.method not in _UNSAFE:
        return
    submitted = request.headers.get(sessions.CSRF_HEADER)
    if not submitted and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        submitted = (await request.form()).get(sessions.CSRF_FIELD)
    if not sessions.csrf_ok(current_session(request), submitted if isinstance(submitted, str) else None):
        raise CsrfRefused()


async def services(request: Request) -> Services:
    return request.app.state.services


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


Api = Annotated[Services, Depends(services)]


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def local_path(target: str | None, default: str = "/") -> str:
    """Where to go after signing in: a path on this site only (no //host or scheme), else the default."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def redirect(request: Request, url: str) -> Response:
    """303 to `url`; htmx follows HX-Redirect instead (a plain redirect would be swapped into the page)."""
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


# --- rendering ---


def cn_datetime(value: Any) -> str:
    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def cn_date(value: Any) -> str:
    if not value:
        return ""
    return value.isoformat() if isinstance(value, date) else str(value)[:10]


def templates() -> Jinja2Templates:
    t = Jinja2Templates(directory=str(TEMPLATES))
    t.env.filters["cn_datetime"] = cn_datetime
    t.env.filters["cn_date"] = cn_date
    t.env.globals["printed_no"] = printed_tracking_no  # the number as printed: station code first
    t.env.globals["role_labels"] = {str(k): v for k, v in ROLE_LABELS.items()}
    return t


@dataclass(frozen=True)
class NavItem:
    href: str
    label: str


# 档案管理 (pages/archive_admin.py) of the head and the supervisor: retention, disposal, the chain, the access logs.
ARCHIVE_ADMIN_NAV = (NavItem("/archive-retention", "保管期限"), NavItem("/archive-disposals", "档案销毁"),
                     NavItem("/archive-chain", "档案校验"), NavItem("/access-log", "查阅日志"))  # fmt: skip


@dataclass(frozen=True)
class NavGroup:
    """A heading in the navigation and the pages under it: a station's head works with some twenty pages."""

    label: str
    items: tuple[NavItem, ...]


def _group(label: str, *items: NavItem | None) -> NavGroup:
    return NavGroup(label, tuple(i for i in items if i is not None))


def nav(role: Role | None) -> list[NavGroup]:
    """The pages each role works with, grouped as the station's work is (受理, 跟踪, 服务质量, 档案, 管理)."""
    head = role is Role.head
    if role in (Role.clerk, Role.head):
        groups = [
            _group("受理", NavItem("/ledger", "需求台账"), NavItem("/queue", "派单队列") if head else None,
                   NavItem("/demands/new", "登记需求"), NavItem("/visits", "走访"),
                   NavItem("/enterprises", "企业档案")),
            _group("跟踪", NavItem("/supervisions", "督办"), NavItem("/special-tasks", "专项工作"),
                   NavItem("/extensions", "延期审批") if head else None,
                   NavItem("/clock-settings", "时限设置") if head else None),
            _group("服务质量", NavItem("/revisits", "回访"), NavItem("/appointments", "预约"),
                   NavItem("/complaints", "投诉"), NavItem("/supervision", "本站指标") if head else None,
                   NavItem("/scorecards", "评分卡") if head else None),
            _group("档案", NavItem("/archive", "档案"), NavItem("/weekly-reports", "周报"),
                   *(ARCHIVE_ADMIN_NAV if head else ())),
        ]  # fmt: skip
        if head:
            groups.append(_group("管理", NavItem("/organizations", "服务机构库"), NavItem("/staff", "人员与科室")))
        return groups
    if role is Role.supervisor:
        return [
            _group("监管", NavItem("/supervision", "服务站指标"), NavItem("/scorecards", "评分卡"),
                   NavItem("/ledger", "需求台账"), NavItem("/queue", "派单队列"), NavItem("/visits", "走访"),
                   NavItem("/enterprises", "企业档案")),
            _group("跟踪", NavItem("/supervisions", "督办"), NavItem("/special-tasks", "专项工作")),
            _group("服务质量", NavItem("/complaints", "投诉"), NavItem("/revisits", "回访")),
            _group("档案", NavItem("/archive", "档案"), NavItem("/weekly-reports", "周报"), *ARCHIVE_ADMIN_NAV),
            _group("管理", NavItem("/organizations", "服务机构库")),
        ]  # fmt: skip
    if role is Role.org:
        return [_group("承办", NavItem("/ledger", "本机构承办的需求"), NavItem("/appointments", "预约"),
                       NavItem("/complaints", "投诉"))]  # fmt: skip
    if role is Role.admin:
        return [
            _group("运维", NavItem("/stations", "服务站名录"), NavItem("/clock-settings", "服务站时限设置"),
                   NavItem("/organizations", "服务机构库"), NavItem("/calendar", "工作日历"),
                   NavItem("/service-catalogue", "服务目录")),
            _group("档案", NavItem("/archive-retention", "档案保管期限"), NavItem("/archive-chain", "档案校验")),
        ]  # fmt: skip
    return []


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    session, flashes = sessions.take_flashes(current_session(request))
    if flashes:
        save_session(request, session)
    person = session.person if session.signed_in else None
    role = Role(person.role) if person else None
    base = {
        "person": person,
        "role": str(role) if role else None,
        "nav": nav(role),
        "csrf": session.csrf,
        "csrf_field": sessions.CSRF_FIELD,
        "csrf_header": sessions.CSRF_HEADER,
        "flashes": flashes,
        "path": request.url.path,
        "production": settings_of(request).production,
    }
    return request.app.state.templates.TemplateResponse(request, name, {**base, **context}, status_code=status_code)


def error_page(request: Request, status: int, message: str, detail: str | None = None) -> HTMLResponse:
    title = {
        403: "无权访问",
        404: "未找到",
        405: "不支持的操作",
        422: "请求有误",
        500: "系统出错了",
        503: "服务暂不可用",
    }.get(status, "出错了")
    if is_public(request):  # the enterprise's pages: their own layout and words, whatever went wrong
        public_title, public_message = PUBLIC_ERRORS.get(status, ("请求无法处理", message))
        return public_error(request, status, public_title, public_message)
    template = "_error.html" if is_htmx(request) else "error.html"
    return render(request, template, status_code=status, title=title, message=message, detail=detail, status=status)


# --- the enterprise's pages (/public/…): no account, so no staff layout, nav or sign-in on any of their errors ---

PUBLIC = "/public/"
PUBLIC_ERRORS = {
    403: ("页面已过期", "页面已过期或来源无法确认，请重新打开页面后再提交。"),
    404: ("未找到", "您打开的页面不存在，请检查链接是否完整。"),
    405: ("未找到", "您打开的页面不存在，请检查链接是否完整。"),
    503: ("服务暂不可用", "系统暂时无法处理，请稍后再试。"),
}
STALE_FORM = "csrf_refused_shows"


def is_public(request: Request) -> bool:
    return request.url.path.startswith(PUBLIC)


def public_error(
    request: Request,
    status: int,
    title: str,
    message: str,
    back: str | None = None,
    back_label: str | None = None,
) -> HTMLResponse:
    """The enterprise's error page, always with a way on: `back` if given; else, after a 404, the online submission;
    else the same page again (a form posted: the page that showed it)."""
    if back is None:
        if status in (404, 405):
            back, back_label = "/public/submit", "网上申报"
        elif request.method == "GET":
            query = f"?{request.url.query}" if request.url.query else ""
            back, back_label = request.url.path + query, "重新加载本页"
        else:
            back, back_label = request.url.path, "重新打开本页"
    return render(
        request,
        "public/error.html",
        status_code=status,
        title=title,
        message=message,
        back=back,
        back_label=back_label or "返回",
    )


def csrf_refused_shows(recover: Callable[[Request], Awaitable[Response]]):
    """Marks a POST route whose form, when its CSRF token is refused (the session ended while the page stayed open,
    or the browser lost its cookie), is shown again by `recover(request)`: with what was typed and the session's
    fresh token, rather than a page that loses it. `recover` reads the posted form (already parsed) and sends
    nothing on behalf of the refused request; a service error it meets is shown as any other."""

    def mark(endpoint):
        setattr(endpoint, STALE_FORM, recover)
        return endpoint

    return mark


# --- exception handlers ---


async def on_service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    if exc.status == 401 and is_public(request):  # the enterprise has no account to sign in to
        return public_error(request, 403, "无法打开", exc.message or "链接无效或已过期。")
    if exc.status == 401:  # the token is no longer good: sign in again
        fresh = sessions.new_session(time.time(), (sessions.Flash("info", exc.message or "登录已过期，请重新登录。"),))
        save_session(request, fresh)
        return redirect(request, "/signin?next=" + quote(request.url.path))
    if exc.status == 404:
        return error_page(request, 404, "未找到该页面或记录，或它不在您的查看范围内。")
    if exc.status >= 500:
        log.warning("service error shown", target=exc.service, status=exc.status, error=exc.message_en)
        return error_page(request, 503, exc.message or "服务暂不可用，请稍后再试。")
    return error_page(request, exc.status, exc.message)


async def on_sign_in_required(request: Request, exc: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return redirect(request, "/signin?next=" + quote(target, safe=""))


async def on_csrf_refused(request: Request, exc: Exception) -> Response:
    log.info("csrf refused", path=request.url.path)
    recover = getattr(request.scope.get("endpoint"), STALE_FORM, None)
    if recover is not None:
        try:
            return await recover(request)
        except ServiceError as error:
            return await on_service_error(request, error)
    return error_page(request, 403, "页面已过期或来源无法确认，请返回刷新页面后重试。")


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return error_page(request, 404, "未找到该页面或记录，或它不在您的查看范围内。")
    try:
        phrase = HTTPStatus(exc.status_code).phrase
    except ValueError:
        phrase = ""
    return error_page(request, exc.status_code, "请求无法处理。", phrase)


async def on_validation_error(request: Request, exc: Exception) -> Response:
    # A path or query the page cannot take (e.g. a demand id that is not a UUID) names no record.
    return error_page(request, 404, "未找到该页面或记录，或它不在您的查看范围内。")


# --- an error nothing else answers (a bug, a reply the page did not expect): 500, a reference, never a traceback ---

UNEXPECTED = "系统出错了，请稍后再试"


async def on_unexpected_error(request: Request, exc: Exception) -> Response:
    """The error page (the enterprise's own under /public/) with status 500 and a reference id; the traceback is logged
    under the same id, so ops find it from what the person reads out."""
    reference = uuid4().hex[:12]
    log.error("unexpected error", reference=reference, method=request.method, path=request.url.path, exc_info=exc)
    message = f"{UNEXPECTED}。"
    try:
        if is_public(request):
            return public_error(request, 500, "系统出错了", f"{message}错误编号：{reference}")
        return error_page(request, 500, message, f"错误编号：{reference}（联系运维人员时请告知）")
    except Exception:  # the page itself failed: still no traceback, and still the reference
        log.exception("error page failed", reference=reference)
        return HTMLResponse(
            f'<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>系统出错了</title>'
            f"<p>{message}错误编号：{reference}</p></html>",
            status_code=500,
        )


class UnexpectedErrors:
    """Answers an exception that escaped every exception handler with `on_unexpected_error`. Added first, so it sits
    inside the session, security-header and request-metrics middlewares (the page keeps the session and headers; the
    500 is counted): Starlette's own 500 handler (`add_exception_handler(Exception, …)`) runs outside them all, and
    ObserveRequests, outermost, would answer the services' JSON 500. A reply already under way is left to them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_noting(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_noting)
        except Exception as exc:
            if started:
                raise
            response = await on_unexpected_error(Request(scope, receive), exc)
            await response(scope, receive, send)
