"""What tracking's routes take from the running service: its settings and the clock defaults they give."""

from typing import Annotated

from fastapi import Depends, Request

from .clock.domain import ClockSettings
from .settings import Settings


async def _settings(request: Request) -> Settings:
    return request.app.state.runtime.settings


async def _defaults(request: Request) -> ClockSettings:
    return ClockSettings.of(request.app.state.runtime.settings)


Config = Annotated[Settings, Depends(_settings)]
Defaults = Annotated[ClockSettings, Depends(_defaults)]
