"""Tracking subscribers: every event of a demand's life it does not publish itself feeds the ledger.

Each subscriber names its queue (bound to the `demand.events` exchange) and the use case it
calls; `UnitOfWork.handle` takes the demand's lock and claims the inbox before the use case.
Resolved is tracking's own event, recorded in the transaction that publishes it. Around the
lifecycle: the form corrected, an assignment returned, and the demand refused, merged or withdrawn;
and the calendar corrections intake owns, which the clock counts working days with. After a 不满意 rating,
tracking publishes the verification and the reopening itself (services/tracking/rounds) and hears of an appeal that
voided a rating (RatingVoided, evaluation's). Re-visit tasks (services/tracking/revisits) come from a 不满意 rating,
made with the rating's folding, and from tracking's own Resolved heard back from the broker: the resolution was
recorded in the transaction that published it, and its task follows it there like any consumer's would.
"""

from functools import partial

from shared.contracts import (
    Archived,
    Assigned,
    AssignmentReturned,
    CalendarCorrected,
    DemandCorrected,
    DemandMerged,
    DemandRefused,
    DemandSubmitted,
    DemandWithdrawn,
    Rated,
    RatingVoided,
    Resolved,
)
from shared.db.uow import UnitOfWork
from shared.messaging import EventRouter

from . import usecases
from .clock import usecases as clock
from .clock.domain import ClockSettings
from .revisits import usecases as revisits
from .settings import Settings
from .store import Store


def subscribers(uow: UnitOfWork[Store], settings: Settings) -> EventRouter:
    router = EventRouter("tracking", delivery_limit=settings.delivery_limit)
    # The clock counts with the service's defaults where a station has not set its own (TRACKING_RESPONSE_DAYS …).
    defaults = ClockSettings.of(settings)
    record_event = partial(usecases.record_event, defaults=defaults)
    record_calendar_correction = partial(clock.record_calendar_correction, defaults=defaults)
    record_rating = partial(revisits.record_rating, defaults=defaults)
    record_resolution = partial(revisits.record_resolution, defaults=defaults)

    @router.consumes(DemandSubmitted, queue="tracking.demand.submitted")
    async def on_submitted(event: DemandSubmitted) -> None:
        await uow.handle(event, record_event)

    @router.consumes(DemandCorrected, queue="tracking.demand.corrected")
    async def on_corrected(event: DemandCorrected) -> None:
        await uow.handle(event, record_event)

    @router.consumes(Assigned, queue="tracking.demand.assigned")
    async def on_assigned(event: Assigned) -> None:
        await uow.handle(event, record_event)

    @router.consumes(AssignmentReturned, queue="tracking.demand.returned")
    async def on_returned(event: AssignmentReturned) -> None:
        await uow.handle(event, record_event)

    @router.consumes(DemandRefused, queue="tracking.demand.refused")
    async def on_refused(event: DemandRefused) -> None:
        await uow.handle(event, record_event)

    @router.consumes(DemandMerged, queue="tracking.demand.merged")
    async def on_merged(event: DemandMerged) -> None:
        await uow.handle(event, record_event)

    @router.consumes(DemandWithdrawn, queue="tracking.demand.withdrawn")
    async def on_withdrawn(event: DemandWithdrawn) -> None:
        await uow.handle(event, record_event)

    # The resolution's own re-visit task (a need not met, or the demand drawn in the station's sample).
    @router.consumes(Resolved, queue="tracking.demand.resolved")
    async def on_resolved(event: Resolved) -> None:
        await uow.handle(event, record_resolution)

    # Folded like any event, and a 不满意 one makes its 差评回访 task.
    @router.consumes(Rated, queue="tracking.demand.rated")
    async def on_rated(event: Rated) -> None:
        await uow.handle(event, record_rating)

    @router.consumes(RatingVoided, queue="tracking.demand.rating_voided")
    async def on_rating_voided(event: RatingVoided) -> None:
        await uow.handle(event, record_event)

    @router.consumes(Archived, queue="tracking.demand.archived")
    async def on_archived(event: Archived) -> None:
        await uow.handle(event, record_event)

    @router.consumes(CalendarCorrected, queue="tracking.calendar.corrected")
    async def on_calendar_corrected(event: CalendarCorrected) -> None:
        await uow.handle(event, record_calendar_correction)

    return router
