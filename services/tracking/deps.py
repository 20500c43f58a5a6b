"""What tracking's routes take from the running service: its settings and the clock defaults they give."""

from typing import Annotated

from fastapi import Depends, Request

from .clock.domain import ClockSettings
from .settings import Settings


def _settings(request: Request) -> Settings:
    return request.app.state.runtime.settings


def _defaults(request: Request) -> ClockSettings:
    return ClockSettings.of(_settings(request))


Config = Annotated[Settings, Depends(_settings)]
Defaults = Annotated[ClockSettings, Depends(_defaults)]
