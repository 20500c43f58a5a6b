"""Intake subscribers: the demand's progress for the enterprise's status link, and its archiving.

Each subscriber names its queue (bound to the `demand.events` exchange) and the use case it
calls; `UnitOfWork.handle` takes the demand's lock and claims the inbox before the use case.
Every service, intake too, also keeps the station registry's tree from `<service>.station.registered`
(shared/stations.py, included by the runtime).
"""

from shared.contracts import Archived, Assigned, Rated, Resolved
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

    return router
