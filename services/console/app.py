"""The station console: the web front people open, in Chinese, server-rendered (Jinja2) with htmx.

Not an event service: no broker, no database. Every page calls the five services' HTTP APIs with the signed-in
person's token (client.py), so the console shows exactly what the APIs let that person see and do. The session is
an encrypted cookie (session.py); every form carries a CSRF token (web.check_csrf, on every route).
"""

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import structlog
from fastapi import Depends, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from shared.http import ObserveRequests
from shared.observability.metrics import ServiceMetrics

from . import web
from .client import ServiceError, Services
from .oidc import OidcClient
from .pages import archive as archive_pages
from .pages import (
    archive_admin,
    catalogue_admin,
    complaints,
    decisions,
    demands,
    enterprises,
    followups,
    home,
    ledger,
    queue,
    register,
    registry,
    revisits,
    rounds,
    scorecards,
    signin,
    staff,
    supervision,
    supervisor,
    tasks,
    visits,
)
from .pages import calendar as calendar_pages
from .pages import clock as clock_pages
from .pages import public as public_pages
from .settings import Settings

log = structlog.get_logger(__name__)
STATIC = Path(__file__).parent / "static"
HTMX = Path("htmx.org") / "dist"


def create_app(
    settings: Settings | None = None,
    *,
    transports: dict[str, httpx.AsyncBaseTransport] | None = None,
    oidc_transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """`transports` (tests): the services by name, e.g. in-process apps behind httpx.ASGITransport."""
    settings = settings or Settings()
    services = Services(settings, transports)
    oidc = OidcClient(settings, oidc_transport) if settings.oidc_configured else None

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await services.start()
        log.info("console started", port=settings.http_port, production=settings.production)
        try:
            yield
        finally:
            await services.close()
            if oidc is not None:
                await oidc.close()

    app = FastAPI(
        title="服务站工作台 Console",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(web.check_csrf)],
    )
    # The services' HTTP metrics (qs_http_request_seconds by route and status, process memory and CPU) on the
    # console's own registry; it has no store, so nothing is read at a scrape.
    metrics = ServiceMetrics(settings.service_name)
    app.state.settings = settings
    app.state.services = services
    app.state.oidc = oidc
    app.state.metrics = metrics
    app.state.templates = web.templates()
    app.add_middleware(web.UnexpectedErrors)  # innermost: any other error is a 500 page with a reference id
    app.add_middleware(web.SessionMiddleware, settings=settings, clock=clock)
    app.add_middleware(web.SecurityHeaders)
    app.add_middleware(ObserveRequests, metrics=metrics)  # outermost: times every page, whatever answers it
    app.add_exception_handler(ServiceError, web.on_service_error)
    app.add_exception_handler(web.SignInRequired, web.on_sign_in_required)
    app.add_exception_handler(web.CsrfRefused, web.on_csrf_refused)
    app.add_exception_handler(StarletteHTTPException, web.on_http_error)
    app.add_exception_handler(RequestValidationError, web.on_validation_error)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    vendor = settings.node_modules / HTMX
    if vendor.is_dir():
        app.mount("/vendor/htmx", StaticFiles(directory=vendor), name="htmx")
    else:  # the pages still work, without the partial updates
        log.warning("htmx not installed: run `make frontend` (npm ci)", looked_in=str(vendor))

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "console"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        # Ready when it can serve pages; the services' own health is theirs (a page says when one is away).
        return JSONResponse({"status": "ready", "service": "console"})

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    # /demands/new before /demands/{demand_id}
    care = (followups, revisits, complaints, supervisor, scorecards)  # follow-ups, re-visits, complaints, KPIs
    casework = (decisions, clock_pages, supervision, tasks)  # decisions, the clock, 督办, special tasks
    admin = (registry, calendar_pages, catalogue_admin)  # the registry (/organizations/new before its {id}), calendar
    archive = (archive_pages, archive_admin)  # 档案, 周报, 档案册; 保管期限, 法律保全, 销毁, 校验, 查阅日志
    station = (visits, enterprises, staff)  # 走访, 企业档案, 人员与科室 (each /…/new before its {id})
    for module in (
        signin,
        home,
        ledger,
        register,
        demands,
        rounds,
        queue,
        *care,
        *casework,
        *admin,
        *archive,
        *station,
        public_pages,
    ):
        app.include_router(module.router)
    return app
