"""create_app(settings) -> the intake ASGI app; nothing connects until its lifespan starts."""

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
        title="需求受理服务 Intake",
        description="登记企业需求、生成跟踪单号、发布 DemandSubmitted。Registers demands and publishes DemandSubmitted.",
        routers=[api.router],
    )
