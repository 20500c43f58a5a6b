"""create_app(settings) -> the evaluation ASGI app; nothing connects until its lifespan starts."""

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
        title="评价服务 Evaluation",
        description="满意度评价，发布 Rated。Satisfaction surveys and ratings; publishes Rated.",
        routers=[api.router],
    )
