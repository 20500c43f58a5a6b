"""Archive subscribers: every lifecycle event before Archived goes into the demand's record.

Each subscriber names its queue (bound to the `demand.events` exchange) and the use case it
calls; `UnitOfWork.handle` takes the demand's lock and claims the inbox before the use case.
Archived is the archive's own event, published in the transaction that seals the dossier.
"""

from shared.contracts import Assigned, DemandSubmitted, Rated, Resolved
from shared.db.uow import UnitOfWork
from shared.messaging import EventRouter
from shared.settings import ServiceSettings

from . import usecases
from .store import Store


def subscribers(uow: UnitOfWork[Store], settings: ServiceSettings) -> EventRouter:
    router = EventRouter("archive", delivery_limit=settings.delivery_limit)

    @router.consumes(DemandSubmitted, queue="archive.demand.submitted")
    async def on_submitted(event: DemandSubmitted) -> None:
        await uow.handle(event, usecases.collect)

    @router.consumes(Assigned, queue="archive.demand.assigned")
    async def on_assigned(event: Assigned) -> None:
        await uow.handle(event, usecases.collect)

    @router.consumes(Resolved, queue="archive.demand.resolved")
    async def on_resolved(event: Resolved) -> None:
        await uow.handle(event, usecases.collect)

    @router.consumes(Rated, queue="archive.demand.rated")
    async def on_rated(event: Rated) -> None:
        await uow.handle(event, usecases.collect)

    return router
