"""create_app(settings) -> the evaluation ASGI app; nothing connects until its lifespan starts."""

from pathlib import Path

from fastapi import FastAPI
from faststream import FastStream

from shared.contracts import Rated
from shared.runtime import ServiceRuntime

from . import api, handlers, usecases
from .settings import Settings

TITLE = "评价服务 Evaluation"
DESCRIPTION = "满意度评价，发布 Rated。Satisfaction surveys and ratings; publishes Rated."


def build(settings: Settings | None = None) -> ServiceRuntime:
    rt = ServiceRuntime(settings or Settings(), Path(__file__).parent / "migrations")
    rt.counters = usecases.Counters(rt)
    handlers.register(rt)
    rt.publishes(Rated)
    return rt


def create_app(settings: Settings | None = None) -> FastAPI:
    return build(settings).create_app(title=TITLE, description=DESCRIPTION, routers=[api.router, api.public])


def asyncapi() -> FastStream:
    """`faststream docs gen --factory services.evaluation.app:asyncapi`"""
    return build().asyncapi(title=TITLE, description=DESCRIPTION)
