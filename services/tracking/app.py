"""create_app(settings) -> the tracking ASGI app; nothing connects until its lifespan starts."""

from pathlib import Path

from fastapi import FastAPI

from shared.runtime import ServiceRuntime

from . import api, handlers, usecases
from .settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    rt = ServiceRuntime(settings or Settings(), Path(__file__).parent / "migrations")
    rt.counters = usecases.Counters(rt)
    handlers.register(rt)
    return rt.create_app(
        title="跟踪服务 Tracking",
        description="台账、跟踪单与办结，发布 Resolved。Ledger, tracking sheet and resolution; publishes Resolved.",
        routers=[api.router],
    )
