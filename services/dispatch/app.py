"""create_app(settings) -> the dispatch ASGI app; nothing connects until its lifespan starts."""

from pathlib import Path

from fastapi import FastAPI
from faststream import FastStream

from shared.contracts import Assigned
from shared.runtime import ServiceRuntime

from . import api, handlers, usecases
from .settings import Settings

TITLE = "派单服务 Dispatch"
DESCRIPTION = "待派单队列、派单与改派，发布 Assigned。Dispatch queue and assignments; publishes Assigned."


def build(settings: Settings | None = None) -> ServiceRuntime:
    rt = ServiceRuntime(settings or Settings(), Path(__file__).parent / "migrations")
    rt.counters = usecases.Counters(rt)
    handlers.register(rt)
    rt.publishes(Assigned)
    return rt


def create_app(settings: Settings | None = None) -> FastAPI:
    return build(settings).create_app(title=TITLE, description=DESCRIPTION, routers=[api.router])


def asyncapi() -> FastStream:
    """`faststream docs gen --factory services.dispatch.app:asyncapi`"""
    return build().asyncapi(title=TITLE, description=DESCRIPTION)
