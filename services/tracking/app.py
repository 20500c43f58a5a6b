"""create_app(settings) -> the tracking ASGI app; nothing connects until its lifespan starts."""

from pathlib import Path

from fastapi import FastAPI
from faststream import FastStream

from shared.contracts import Resolved
from shared.runtime import ServiceRuntime

from . import api, handlers, usecases
from .settings import Settings

TITLE = "跟踪服务 Tracking"
DESCRIPTION = "台账、跟踪单与办结，发布 Resolved。Ledger, tracking sheet and resolution; publishes Resolved."


def build(settings: Settings | None = None) -> ServiceRuntime:
    rt = ServiceRuntime(settings or Settings(), Path(__file__).parent / "migrations")
    rt.counters = usecases.Counters(rt)
    handlers.register(rt)
    rt.publishes(Resolved)
    return rt


def create_app(settings: Settings | None = None) -> FastAPI:
    return build(settings).create_app(title=TITLE, description=DESCRIPTION, routers=[api.router])


def asyncapi() -> FastStream:
    """`faststream docs gen --factory services.tracking.app:asyncapi`"""
    return build().asyncapi(title=TITLE, description=DESCRIPTION)
