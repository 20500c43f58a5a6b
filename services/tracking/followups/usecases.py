"""Use cases: follow-ups (跟进记录), the appointments list, the printed tracking sheet. One transaction each."""

from datetime import date
from uuid import UUID

from shared.auth import Principal, Role
from shared.calendar import china_today
from shared.contracts import Appointment, FollowUpKind, utcnow
from shared.db.uow import UnitOfWork
from shared.idempotency import Idempotent

from .. import domain as case_domain
from ..domain import DEMAND_NOT_FOUND
from ..store import Store
from . import domain
from .domain import FollowUp, UpcomingAppointment
from .sheet import TrackingSheet


def _org(principal: Principal) -> str:
    return (principal.org or "") if principal.role is Role.org else ""


async def record(
    uow: UnitOfWork[Store],
    principal: Principal,
    demand_id: UUID,
    *,
    kind: FollowUpKind,
    text: str,
    appointment: Appointment | None,
    idempotency_key: str | None = None,
) -> FollowUp:
    """A follow-up on the tracking sheet by the station's staff or the organization assigned now: kept, put on
    the timeline and published (FollowUpRecorded) in one transaction."""
    retry = Idempotent.of(
        idempotency_key, principal.subject, "follow-up", str(demand_id), kind.value, text, appointment
    )
    now = utcnow()
    async with uow.begin(principal) as tx:
        if (earlier := await tx.recall(retry)) is not None:
            if (found := await tx.store.follow_up(UUID(earlier["follow_up_id"]))) is None:
                raise DEMAND_NOT_FOUND  # recorded, but the caller no longer sees the case (e.g. rematched away)
            return found
        case = await tx.store.get_visible(demand_id, principal.db_scope, _org(principal), for_update=True)
        if case is None:
            raise DEMAND_NOT_FOUND
        event = domain.record(
            case,
            kind=kind,
            text=text,
            appointment=appointment,
            recorded_by=principal.name,
            recorded_by_org=principal.org if principal.role is Role.org else None,
            now=now,
            today=china_today(now),
        )
        await tx.store.add_follow_up(event, principal.subject)
        await tx.store.add_entry(event, case_domain.timeline_text(event))
        await tx.publish(event)
        await tx.remember(retry, {"follow_up_id": str(event.follow_up_id)})
    return FollowUp.of(event)


async def follow_ups(uow: UnitOfWork[Store], principal: Principal, demand_id: UUID) -> list[FollowUp]:
    async with uow.begin(principal) as tx:
        if await tx.store.get_visible(demand_id, principal.db_scope, _org(principal)) is None:
            raise DEMAND_NOT_FOUND
        return await tx.store.follow_ups(demand_id)


async def appointments(
    uow: UnitOfWork[Store],
    principal: Principal,
    station_id: str | None,
    start: date | None,
    end: date | None,
    limit: int,
    offset: int,
) -> list[UpcomingAppointment]:
    """Upcoming appointments of the cases being handled: staff and supervisors for their stations (or one of
    them), an organization for the cases assigned to it now (narrowed to a station if it asks)."""
    start, end = domain.window(start, end, china_today(utcnow()))
    async with uow.begin(principal) as tx:
        if principal.role is Role.org:
            scope, only = "", station_id
        else:
            scope, only = await tx.scope(station_id), None
        return await tx.store.appointments(start, end, scope, _org(principal), only, limit, offset)


async def sheet(uow: UnitOfWork[Store], principal: Principal, demand_id: UUID) -> TrackingSheet:
    """What the printed tracking sheet shows; the same visibility as the sheet itself (GET /demands/{id})."""
    now = utcnow()
    async with uow.begin(principal) as tx:
        case = await tx.store.get_visible(demand_id, principal.db_scope, _org(principal))
        if case is None:
            raise DEMAND_NOT_FOUND
        return TrackingSheet(
            case=case,
            entries=await tx.store.timeline(demand_id),
            station_name=await tx.store.station_name(case.station_id),
            printed_at=now,
            today=china_today(now),
        )
