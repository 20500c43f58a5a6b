"""Dispatch subscribers: submitted demands fill the queue; corrections, withdrawals, resolutions and reopenings
(重办) change it; ratings, voided ratings (申诉复核) and complaints about organizations (投诉) feed the registry's
running record; calendar corrections keep dispatch's due dates with intake's.

Each subscriber names its queue (bound to the `demand.events` exchange) and the use case it
calls; `UnitOfWork.handle` takes the demand's lock and claims the inbox before the use case.
Assigned, AssignmentReturned, DemandRefused and DemandMerged are dispatch's own events, recorded in the
transaction that publishes them.
"""

from shared.contracts import (
    CalendarCorrected,
    ComplaintUpdated,
    DemandCorrected,
    DemandReopened,
    DemandSubmitted,
    DemandWithdrawn,
    Rated,
    RatingVoided,
    Resolved,
)
from shared.db.uow import UnitOfWork
from shared.messaging import EventRouter
from shared.settings import ServiceSettings

from . import usecases
from .calendar import usecases as calendar
from .organizations import usecases as organizations
from .store import Store


def subscribers(uow: UnitOfWork[Store], settings: ServiceSettings) -> EventRouter:
    router = EventRouter("dispatch", delivery_limit=settings.delivery_limit)

    @router.consumes(DemandSubmitted, queue="dispatch.demand.submitted")
    async def on_submitted(event: DemandSubmitted) -> None:
        await uow.handle(event, usecases.receive_demand)

    @router.consumes(DemandCorrected, queue="dispatch.demand.corrected")
    async def on_corrected(event: DemandCorrected) -> None:
        await uow.handle(event, usecases.record_correction)

    @router.consumes(DemandWithdrawn, queue="dispatch.demand.withdrawn")
    async def on_withdrawn(event: DemandWithdrawn) -> None:
        await uow.handle(event, usecases.record_withdrawal)

    @router.consumes(Resolved, queue="dispatch.demand.resolved")
    async def on_resolved(event: Resolved) -> None:
        await uow.handle(event, usecases.record_resolved)

    @router.consumes(DemandReopened, queue="dispatch.demand.reopened")
    async def on_reopened(event: DemandReopened) -> None:
        await uow.handle(event, usecases.record_reopening)

    @router.consumes(Rated, queue="dispatch.demand.rated")
    async def on_rated(event: Rated) -> None:
        await uow.handle(event, organizations.record_rating)

    @router.consumes(RatingVoided, queue="dispatch.demand.rating_voided")
    async def on_rating_voided(event: RatingVoided) -> None:
        await uow.handle(event, organizations.record_voided_rating)

    @router.consumes(ComplaintUpdated, queue="dispatch.complaint.updated")
    async def on_complaint(event: ComplaintUpdated) -> None:
        await uow.handle(event, organizations.record_complaint)

    @router.consumes(CalendarCorrected, queue="dispatch.calendar.corrected")
    async def on_calendar_corrected(event: CalendarCorrected) -> None:
        await uow.handle(event, calendar.record_correction)

    return router
