"""create_app(settings) -> the archive ASGI app; nothing connects until its lifespan starts."""

from pathlib import Path

from fastapi import FastAPI
from faststream import FastStream

from shared.contracts import Archived
from shared.runtime import ServiceRuntime

from . import api, handlers, usecases
from .settings import Settings

TITLE = "归档服务 Archive"
DESCRIPTION = "收集需求全过程记录，评价后封存编号归档，发布 Archived。Seals numbered, append-only dossiers; publishes Archived."


def build(settings: Settings | None = None) -> ServiceRuntime:
    rt = ServiceRuntime(settings or Settings(), Path(__file__).parent / "migrations")
    rt.counters = usecases.Counters(rt)
    handlers.register(rt)
    rt.publishes(Archived)
    return rt


def create_app(settings: Settings | None = None) -> FastAPI:
    return build(settings).create_app(title=TITLE, description=DESCRIPTION, routers=[api.router])


def asyncapi() -> FastStream:
    """`faststream docs gen --factory services.archive.app:asyncapi`"""
    return build().asyncapi(title=TITLE, description=DESCRIPTION)
