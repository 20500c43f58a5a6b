"""create_app(settings) -> the archive ASGI app; nothing connects until its lifespan starts."""

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
        title="归档服务 Archive",
        description="收集需求全过程记录，评价后封存编号归档，发布 Archived。Seals numbered, append-only dossiers; publishes Archived.",
        routers=[api.router],
    )
