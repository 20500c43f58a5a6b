"""Intake subscribers: the demand's progress for the enterprise's status link, its archiving, and the station tree.

Each subscriber names its queue (bound to the `demand.events` exchange) and the use case it
calls; `UnitOfWork.handle` takes the demand's lock and claims the inbox before the use case.
StationRegistered is intake's own event: it records the tree when it saves a station, and
keeps its copy from the events like every other service.
"""

from shared import stations
from shared.contracts import Archived, Assigned, Rated, Resolved, StationRegistered
from shared.db.uow import UnitOfWork
from shared.messaging import EventRouter
from shared.settings import ServiceSettings

from .demands import usecases as demands
from .store import Store


def subscribers(uow: UnitOfWork[Store], settings: ServiceSettings) -> EventRouter:
    router = EventRouter("intake", delivery_limit=settings.delivery_limit)

    @router.consumes(Assigned, queue="intake.demand.assigned")
    async def on_assigned(event: Assigned) -> None:
        await uow.handle(event, demands.record_progress)

    @router.consumes(Resolved, queue="intake.demand.resolved")
    async def on_resolved(event: Resolved) -> None:
        await uow.handle(event, demands.record_progress)

    @router.consumes(Rated, queue="intake.demand.rated")
    async def on_rated(event: Rated) -> None:
        await uow.handle(event, demands.record_progress)

    @router.consumes(Archived, queue="intake.demand.archived")
    async def on_archived(event: Archived) -> None:
        await uow.handle(event, demands.record_archived)

    @router.consumes(StationRegistered, queue="intake.station.registered")
    async def on_station(event: StationRegistered) -> None:
        await uow.handle(event, stations.record)

    return router
