"""Intake subscribers: the demand's progress for the enterprise's status link, and its archiving.

The link tells the enterprise every outcome: assigned, returned (退单), rematched (改派: a higher
assignment_no), referred (转办), resolved, rated, refused (否定备案), merged (并单), archived; and of
the clock, what concerns the enterprise: a pause (挂起) and its end, an approved extension (延期); after a
不满意 rating, its verification (核实) and a re-handling (重办: the round and its deadline). The link also shows when
each step happened (the first assignment, the round's resolution and rating: public/usecases.py records them with
the progress) and, while the round waits for its rating, the one-time rating link evaluation made for the round
(RatingLinkIssued, evaluation's).

Each subscriber names its queue (bound to the `demand.events` exchange) and the use case it
calls; `UnitOfWork.handle` takes the demand's lock and claims the inbox before the use case.
Every service, intake too, also keeps the station registry's tree from `<service>.station.registered`
(shared/stations.py, included by the runtime).
"""

from shared.contracts import (
    Archived,
    Assigned,
    AssignmentReturned,
    CasePaused,
    CaseResumed,
    DemandMerged,
    DemandRefused,
    DemandReopened,
    ExtensionDecided,
    Rated,
    RatingLinkIssued,
    RatingVerified,
    Resolved,
)
from shared.db.uow import UnitOfWork
from shared.messaging import EventRouter
from shared.settings import ServiceSettings

from .demands import usecases as demands
from .public import usecases as status_page
from .store import Store


def subscribers(uow: UnitOfWork[Store], settings: ServiceSettings) -> EventRouter:
    router = EventRouter("intake", delivery_limit=settings.delivery_limit)

    @router.consumes(Assigned, queue="intake.demand.assigned")
    async def on_assigned(event: Assigned) -> None:
        await uow.handle(event, status_page.record_assigned)

    @router.consumes(AssignmentReturned, queue="intake.demand.returned")
    async def on_returned(event: AssignmentReturned) -> None:
        await uow.handle(event, demands.record_returned)

    @router.consumes(DemandRefused, queue="intake.demand.refused")
    async def on_refused(event: DemandRefused) -> None:
        await uow.handle(event, demands.record_closed)

    @router.consumes(DemandMerged, queue="intake.demand.merged")
    async def on_merged(event: DemandMerged) -> None:
        await uow.handle(event, demands.record_closed)

    @router.consumes(Resolved, queue="intake.demand.resolved")
    async def on_resolved(event: Resolved) -> None:
        await uow.handle(event, status_page.record_progress)

    @router.consumes(Rated, queue="intake.demand.rated")
    async def on_rated(event: Rated) -> None:
        await uow.handle(event, status_page.record_progress)

    @router.consumes(RatingLinkIssued, queue="intake.demand.rating_link_issued")
    async def on_rating_link_issued(event: RatingLinkIssued) -> None:
        await uow.handle(event, status_page.record_rating_link)

    @router.consumes(RatingVerified, queue="intake.demand.rating_verified")
    async def on_rating_verified(event: RatingVerified) -> None:
        await uow.handle(event, demands.record_verified)

    @router.consumes(DemandReopened, queue="intake.demand.reopened")
    async def on_reopened(event: DemandReopened) -> None:
        await uow.handle(event, demands.record_reopened)

    @router.consumes(CasePaused, queue="intake.demand.paused")
    async def on_paused(event: CasePaused) -> None:
        await uow.handle(event, demands.record_paused)

    @router.consumes(CaseResumed, queue="intake.demand.resumed")
    async def on_resumed(event: CaseResumed) -> None:
        await uow.handle(event, demands.record_resumed)

    @router.consumes(ExtensionDecided, queue="intake.demand.extension_decided")
    async def on_extension_decided(event: ExtensionDecided) -> None:
        await uow.handle(event, demands.record_extension)

    @router.consumes(Archived, queue="intake.demand.archived")
    async def on_archived(event: Archived) -> None:
        await uow.handle(event, demands.record_archived)

    return router
