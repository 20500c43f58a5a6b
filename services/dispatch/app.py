"""create_app(settings) -> the dispatch ASGI app; nothing connects until its lifespan starts."""

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
        title="派单服务 Dispatch",
        description="待派单队列、派单与改派，发布 Assigned。Dispatch queue and assignments; publishes Assigned.",
        routers=[api.router],
    )
