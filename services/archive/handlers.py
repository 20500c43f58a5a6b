"""Archive subscribers: every event of a demand's life before Archived goes into its record.

Each subscriber names its queue (bound to the `demand.events` exchange) and the use case it
calls; `UnitOfWork.handle` takes the demand's lock and claims the inbox before the use case.
Archived is the archive's own event, published in the transaction that seals the dossier.
Around the lifecycle: corrections and returns have their own sections of the dossier, and a
refusal, merge or withdrawal ends the demand, sealed like a rated one once its history is complete.
"""

from shared.contracts import (
    Assigned,
    AssignmentReturned,
    DemandCorrected,
    DemandMerged,
    DemandRefused,
    DemandSubmitted,
    DemandWithdrawn,
    Rated,
    Resolved,
)
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

    @router.consumes(DemandCorrected, queue="archive.demand.corrected")
    async def on_corrected(event: DemandCorrected) -> None:
        await uow.handle(event, usecases.collect)

    @router.consumes(Assigned, queue="archive.demand.assigned")
    async def on_assigned(event: Assigned) -> None:
        await uow.handle(event, usecases.collect)

    @router.consumes(AssignmentReturned, queue="archive.demand.returned")
    async def on_returned(event: AssignmentReturned) -> None:
        await uow.handle(event, usecases.collect)

    @router.consumes(Resolved, queue="archive.demand.resolved")
    async def on_resolved(event: Resolved) -> None:
        await uow.handle(event, usecases.collect)

    @router.consumes(Rated, queue="archive.demand.rated")
    async def on_rated(event: Rated) -> None:
        await uow.handle(event, usecases.collect)

    @router.consumes(DemandRefused, queue="archive.demand.refused")
    async def on_refused(event: DemandRefused) -> None:
        await uow.handle(event, usecases.collect)

    @router.consumes(DemandMerged, queue="archive.demand.merged")
    async def on_merged(event: DemandMerged) -> None:
        await uow.handle(event, usecases.collect)

    @router.consumes(DemandWithdrawn, queue="archive.demand.withdrawn")
    async def on_withdrawn(event: DemandWithdrawn) -> None:
        await uow.handle(event, usecases.collect)

    return router
