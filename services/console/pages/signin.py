"""Sign-in and sign-out.

Development: a page lists the people the system knows (people.py) and the console mints a development token for
the one chosen (shared.auth.mint, the services' development key). Production: that page is off; people sign in
through the configured OpenID Connect provider (oidc.py). Either way the session holds the token the services
verify, and every form here carries the CSRF token.
"""

import time
from dataclasses import replace
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from shared.auth import Principal, Role, mint

from .. import people
from .. import session as sessions
from ..client import ServiceError, Services
from ..oidc import OidcClient, SignInFailed
from ..session import Person
from ..web import Api, current_session, flash, local_path, render, save_session, settings_of

router = APIRouter()


def _oidc(request: Request) -> OidcClient | None:
    return request.app.state.oidc


async def _directory(api: Services, request: Request) -> tuple[people.Group, ...]:
    """Read with an operations token the console mints for itself: the registry lists are not confidential."""
    settings = settings_of(request)
    token = mint(
        role=Role.admin,
        subject="console-directory",
        name="工作台",
        key=settings.auth_signing_key,
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        ttl=timedelta(minutes=5),
    )
    stations = await api.stations(token)
    organizations = await api.organizations(token)
    return people.directory(stations, organizations)


@router.get("/signin")
async def signin_page(request: Request, api: Api, next: str | None = None) -> Response:
    settings = settings_of(request)
    if current_session(request).signed_in:
        return RedirectResponse(local_path(next), status_code=303)
    groups: tuple[people.Group, ...] = ()
    problem = None
    if not settings.production:
        try:
            groups = await _directory(api, request)
        except ServiceError as exc:
            problem = exc.message
    return render(
        request,
        "signin.html",
        groups=groups,
        problem=problem,
        next=local_path(next),
        oidc=settings.oidc_configured,
    )


@router.post("/signin")
async def signin_as(request: Request, api: Api) -> Response:
    """Development only: sign in as the person chosen on the page (one the directory offers, nobody else)."""
    settings = settings_of(request)
    if settings.production:
        return render(request, "signin.html", status_code=404, groups=(), problem=None, next="/", oidc=False)
    form = await request.form()
    target = local_path(str(form.get("next") or "/"))
    person = people.find(await _directory(api, request), str(form.get("person") or ""))
    if person is None:
        flash(request, "error", "请选择要登录的人员")
        return RedirectResponse("/signin?next=" + target, status_code=303)
    hours = settings.dev_token_hours
    token = mint(
        role=Role(person.role),
        station=person.station,
        org=person.org,
        subject=person.subject,
        name=person.name,
        key=settings.auth_signing_key,
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        ttl=timedelta(hours=hours),
    )
    now = time.time()
    _signed_in(request, person, token, now + hours * 3600, now)
    return RedirectResponse(target, status_code=303)


def _signed_in(request: Request, person: Person, token: str, expires_at: float, now: float) -> None:
    session = sessions.sign_in(current_session(request), person, token, expires_at, now)
    save_session(request, sessions.flash(session, "ok", f"欢迎，{person.name}"))


@router.post("/signout")
async def signout(request: Request) -> Response:
    save_session(request, sessions.new_session(time.time(), (sessions.Flash("ok", "您已安全退出。"),)))
    return RedirectResponse("/signin", status_code=303)


# --- OpenID Connect ---


@router.get("/signin/oidc")
async def oidc_begin(request: Request, next: str | None = None) -> Response:
    client = _oidc(request)
    if client is None:
        return _refused(request)
    try:
        url, pending = await client.begin()
    except SignInFailed as exc:
        flash(request, "error", exc.zh)
        return RedirectResponse("/signin", status_code=303)
    session = current_session(request)
    save_session(request, replace(session, oidc={**pending, "next": local_path(next)}))
    return RedirectResponse(url, status_code=303)


@router.get("/signin/callback")
async def oidc_callback(
    request: Request,
    api: Api,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
) -> Response:
    client = _oidc(request)
    if client is None:
        return _refused(request)
    pending = current_session(request).oidc
    try:
        signed = await client.finish(code=code, state=state, error=error, pending=pending)
    except SignInFailed as exc:
        save_session(request, sessions.new_session(time.time(), (sessions.Flash("error", exc.zh),)))
        return RedirectResponse("/signin", status_code=303)
    person = await _person(api, signed.principal, signed.access_token)
    now = time.time()
    _signed_in(request, person, signed.access_token, signed.expires_at, now)
    return RedirectResponse(local_path((pending or {}).get("next")), status_code=303)


async def _person(api: Services, principal: Principal, token: str) -> Person:
    """Who signed in, with the name of their station or area when the registry has it."""
    scope_name = None
    if principal.station:
        try:
            stations = await api.stations(token)
        except ServiceError:
            stations = []
        names = {s["station_id"]: s["name"] for s in stations}
        scope_name = names.get(principal.station)
        if scope_name is None and principal.role is Role.supervisor:
            for group in people.directory(stations, []):
                for choice in group.choices:
                    if choice.person.role == Role.supervisor and choice.person.station == principal.station:
                        scope_name = choice.person.name
    return Person(
        subject=principal.subject,
        name=principal.name,
        role=str(principal.role),
        station=principal.station,
        org=principal.org,
        scope_name=scope_name,
    )


def _refused(request: Request) -> Response:
    return render(
        request,
        "error.html",
        status_code=404,
        title="未启用统一身份认证",
        message="本系统未配置统一身份认证（OpenID Connect），请联系运维。",
        detail=None,
        status=404,
    )
