"""Archive subscribers: every event of a demand's life before Archived goes into its record.

Each subscriber names its queue (bound to the `demand.events` exchange) and the use case it
calls; `UnitOfWork.handle` takes the demand's lock and claims the inbox before the use case.
Archived is the archive's own event, published in the transaction that seals the dossier.
Around the lifecycle: corrections and returns have their own sections of the dossier, and a
refusal, merge or withdrawal ends the demand, sealed like a rated one once its history is complete.
The following of a case (follow-ups, pauses, extensions, warnings, chases, 督办) goes into the
record too, in its own sections; sealing never waits for it (see domain.py). After a 不满意 rating,
its verification (核实), the re-handling it founds (重办) and an appeal's void (申诉复核) decide when
the record is complete, each round kept (domain.py). Re-visits (回访) and the stages of a complaint tied to
a demand (投诉) go into its record as well; a complaint about no demand is acknowledged and not kept.

A station's own work is no demand's and goes into no dossier: visits (走访, VisitRecorded) and special tasks
(专项工作, SpecialTaskAssigned / SpecialTaskReported) are kept as the station's records (stationwork/), under each
fact's own lock, for the weekly report; so are intake's working-day corrections (CalendarCorrected), by which the
report judges a special task overdue.
"""

from shared.calendar_corrections import record_correction
from shared.contracts import (
    Assigned,
    AssignmentReturned,
    CalendarCorrected,
    CaseChased,
    CasePaused,
    CaseResumed,
    CaseSupervised,
    ComplaintUpdated,
    DeadlineWarned,
    DemandCorrected,
    DemandMerged,
    DemandRefused,
    DemandReopened,
    DemandSubmitted,
    DemandWithdrawn,
    ExtensionDecided,
    ExtensionRequested,
    FollowUpRecorded,
    Rated,
    RatingVerified,
    RatingVoided,
    Resolved,
    RevisitRecorded,
    SpecialTaskAssigned,
    SpecialTaskReported,
    SupervisionAnswered,
    VisitRecorded,
)
from shared.db.uow import UnitOfWork
from shared.messaging import EventRouter
from shared.settings import ServiceSettings

from . import usecases
from .stationwork import usecases as station_work
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

    # After a 不满意 rating (domain.md §5.5): 核实, 重办, 申诉复核.

    @router.consumes(RatingVerified, queue="archive.demand.rating_verified")
    async def on_rating_verified(event: RatingVerified) -> None:
        await uow.handle(event, usecases.collect)

    @router.consumes(DemandReopened, queue="archive.demand.reopened")
    async def on_reopened(event: DemandReopened) -> None:
        await uow.handle(event, usecases.collect)

    @router.consumes(RatingVoided, queue="archive.demand.rating_voided")
    async def on_rating_voided(event: RatingVoided) -> None:
        await uow.handle(event, usecases.collect)

    # 服务跟进: the tracking sheet and the clock, kept in the record (domain.md §5.3, §5.6).

    @router.consumes(FollowUpRecorded, queue="archive.demand.followed_up")
    async def on_followed_up(event: FollowUpRecorded) -> None:
        await uow.handle(event, usecases.collect)

    @router.consumes(CasePaused, queue="archive.demand.paused")
    async def on_paused(event: CasePaused) -> None:
        await uow.handle(event, usecases.collect)

    @router.consumes(CaseResumed, queue="archive.demand.resumed")
    async def on_resumed(event: CaseResumed) -> None:
        await uow.handle(event, usecases.collect)

    @router.consumes(ExtensionRequested, queue="archive.demand.extension_requested")
    async def on_extension_requested(event: ExtensionRequested) -> None:
        await uow.handle(event, usecases.collect)

    @router.consumes(ExtensionDecided, queue="archive.demand.extension_decided")
    async def on_extension_decided(event: ExtensionDecided) -> None:
        await uow.handle(event, usecases.collect)

    @router.consumes(DeadlineWarned, queue="archive.demand.warned")
    async def on_warned(event: DeadlineWarned) -> None:
        await uow.handle(event, usecases.collect)

    @router.consumes(CaseChased, queue="archive.demand.chased")
    async def on_chased(event: CaseChased) -> None:
        await uow.handle(event, usecases.collect)

    @router.consumes(CaseSupervised, queue="archive.demand.supervised")
    async def on_supervised(event: CaseSupervised) -> None:
        await uow.handle(event, usecases.collect)

    @router.consumes(SupervisionAnswered, queue="archive.demand.supervision_answered")
    async def on_supervision_answered(event: SupervisionAnswered) -> None:
        await uow.handle(event, usecases.collect)

    # Around a resolved demand (issue 10): 回访 and 投诉.

    @router.consumes(RevisitRecorded, queue="archive.demand.revisited")
    async def on_revisited(event: RevisitRecorded) -> None:
        await uow.handle(event, usecases.collect)

    @router.consumes(ComplaintUpdated, queue="archive.complaint.updated")
    async def on_complaint_updated(event: ComplaintUpdated) -> None:
        # Only a complaint about a demand belongs to a dossier; the others are acknowledged and left to their
        # consumers. Handled under the complaint's lock, not the demand's: a complaint's stage never completes a
        # record, and should the event that does commit meanwhile, the dossier's key refuses a second seal and
        # the message is retried, then logged after sealing like any late event (domain.py).
        if event.demand_id is not None:
            await uow.handle(event, usecases.collect)

    # A station's own work (shared.contracts.STATION_WORK): the station's records, not a demand's (stationwork/).

    @router.consumes(VisitRecorded, queue="archive.visit.recorded")
    async def on_visit_recorded(event: VisitRecorded) -> None:
        await uow.handle(event, station_work.record_visit)

    @router.consumes(SpecialTaskAssigned, queue="archive.special_task.assigned")
    async def on_special_task_assigned(event: SpecialTaskAssigned) -> None:
        await uow.handle(event, station_work.record_task_assigned)

    @router.consumes(SpecialTaskReported, queue="archive.special_task.reported")
    async def on_special_task_reported(event: SpecialTaskReported) -> None:
        await uow.handle(event, station_work.record_task_report)

    # Reference data: the working-day corrections intake owns (a special task's deadline moves past a day off).

    @router.consumes(CalendarCorrected, queue="archive.calendar.corrected")
    async def on_calendar_corrected(event: CalendarCorrected) -> None:
        await uow.handle(event, record_correction)

    return router
