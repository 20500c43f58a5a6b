"""create_app(settings) -> the intake ASGI app; nothing connects until its lifespan starts."""

from pathlib import Path

from fastapi import FastAPI
from faststream import FastStream

from shared.contracts import DemandSubmitted
from shared.runtime import ServiceRuntime

from . import api, handlers, usecases
from .settings import Settings

TITLE = "需求受理服务 Intake"
DESCRIPTION = "登记企业需求、生成跟踪单号，发布 DemandSubmitted。Registers demands and publishes DemandSubmitted."


def build(settings: Settings | None = None) -> ServiceRuntime:
    rt = ServiceRuntime(settings or Settings(), Path(__file__).parent / "migrations")
    rt.counters = usecases.Counters(rt)
    handlers.register(rt)
    rt.publishes(DemandSubmitted)
    return rt


def create_app(settings: Settings | None = None) -> FastAPI:
    return build(settings).create_app(title=TITLE, description=DESCRIPTION, routers=[api.router, api.public])


def asyncapi() -> FastStream:
    """`faststream docs gen --factory services.intake.app:asyncapi`"""
    return build().asyncapi(title=TITLE, description=DESCRIPTION)
