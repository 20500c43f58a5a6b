"""What intake's routers take besides shared.api: the service's settings, the status links, the roles.

One place for the settings dependency (FastAPI's "bigger applications" layout keeps its
dependencies beside the routers); the caller, paging and the unit of work come from shared.api.
"""

from typing import Annotated

from fastapi import Depends, Request

from shared.api import allow
from shared.auth import READERS, STAFF, Principal, Role

from .demands.usecases import StatusLinks
from .settings import Settings


async def _settings(request: Request) -> Settings:
    return request.app.state.runtime.settings


Config = Annotated[Settings, Depends(_settings)]


async def _status_links(settings: Config) -> StatusLinks:
    return StatusLinks(settings.status_link_secret, settings.public_url, settings.status_link_days)


Links = Annotated[StatusLinks, Depends(_status_links)]
Staff = Annotated[Principal, allow(*STAFF)]
Reader = Annotated[Principal, allow(*READERS)]
Anyone = Annotated[Principal, allow(*Role)]
Admin = Annotated[Principal, allow(Role.admin)]
