"""Evaluation subscribers: DemandSubmitted and DemandCorrected say the form's categories and first responder (for the
breakdowns and scorecards); Assigned says who served; Resolved opens the survey (and makes the round's one-time link
for the enterprise's status page, announced to intake by RatingLinkIssued), or, when it names an assignment not seen
yet, leaves it waiting for that Assigned, which opens it then (with that link); a closing closes it; a reopening
(重办, DemandReopened) moves it to the next round, to be opened by that round's Resolved.

Each subscriber names its queue (bound to the `demand.events` exchange) and the use case it
calls; `UnitOfWork.handle` takes the demand's lock and claims the inbox before the use case.
Rated, RatingVoided and RatingLinkIssued are evaluation's own events, written to the outbox with the change that
produced them.
A refusal, merge or withdrawal ends the demand unresolved: its survey is closed, never rated.
"""

from functools import partial

from shared.contracts import (
    Assigned,
    DemandCorrected,
    DemandMerged,
    DemandRefused,
    DemandReopened,
    DemandSubmitted,
    DemandWithdrawn,
    Resolved,
)
from shared.db.uow import UnitOfWork
from shared.messaging import EventRouter

from . import usecases
from .settings import Settings
from .store import Store


def subscribers(uow: UnitOfWork[Store], settings: Settings) -> EventRouter:
    router = EventRouter("evaluation", delivery_limit=settings.delivery_limit)
    # The status page's link, made as the station's are (EVALUATION_PUBLIC_URL, EVALUATION_RATING_LINK_DAYS).
    status_page = usecases.StatusPageLinks.of(settings)
    open_survey = partial(usecases.open_survey, status_page=status_page)
    record_assigned = partial(usecases.record_assigned, status_page=status_page)  # it may open a waiting round

    @router.consumes(DemandSubmitted, queue="evaluation.demand.submitted")
    async def on_submitted(event: DemandSubmitted) -> None:
        await uow.handle(event, usecases.record_submitted)

    @router.consumes(DemandCorrected, queue="evaluation.demand.corrected")
    async def on_corrected(event: DemandCorrected) -> None:
        await uow.handle(event, usecases.record_correction)

    @router.consumes(Assigned, queue="evaluation.demand.assigned")
    async def on_assigned(event: Assigned) -> None:
        await uow.handle(event, record_assigned)

    @router.consumes(Resolved, queue="evaluation.demand.resolved")
    async def on_resolved(event: Resolved) -> None:
        await uow.handle(event, open_survey)

    @router.consumes(DemandReopened, queue="evaluation.demand.reopened")
    async def on_reopened(event: DemandReopened) -> None:
        await uow.handle(event, usecases.reopen_survey)

    @router.consumes(DemandRefused, queue="evaluation.demand.refused")
    async def on_refused(event: DemandRefused) -> None:
        await uow.handle(event, usecases.close_survey)

    @router.consumes(DemandMerged, queue="evaluation.demand.merged")
    async def on_merged(event: DemandMerged) -> None:
        await uow.handle(event, usecases.close_survey)

    @router.consumes(DemandWithdrawn, queue="evaluation.demand.withdrawn")
    async def on_withdrawn(event: DemandWithdrawn) -> None:
        await uow.handle(event, usecases.close_survey)

    return router
