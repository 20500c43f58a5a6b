"""Dispatch use cases: one unit of work each.

Event use cases get the open unit of work from `UnitOfWork.handle` (lock, inbox claim); request use cases
open their own in the caller's scope, and read the demand FOR UPDATE, so they take turns with each other and
with the handlers of the demand's events. Every state-changing request takes an `Idempotency-Key`
(shared.idempotency): a retry after a lost reply answers with the first result and changes nothing more.
"""

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from uuid import UUID

from shared.auth import Principal, Role
from shared.calendar import china_today
from shared.contracts import (
    AssigneeKind,
    Closing,
    DemandCorrected,
    DemandReopened,
    DemandSubmitted,
    DemandWithdrawn,
    Event,
    HandlingMode,
    Referral,
    Resolved,
    utcnow,
)
from shared.db.uow import Tx, UnitOfWork
from shared.errors import Invalid, NotFound
from shared.idempotency import Idempotent

from . import domain
from .domain import Assignment, QueueItem
from .organizations.usecases import check_assignable, record_resolution
from .staff.usecases import resolve_handlers
from .store import Store

_NOT_FOUND = NotFound("未找到该需求", "demand not found")


# --- events ------------------------------------------------------------------------------------------------


def _apply(item: QueueItem, event: Event) -> QueueItem:
    match event:
        case DemandCorrected():
            return domain.correct(item, event)
        case Closing():
            return domain.close(item, event)
        case DemandReopened():
            return domain.reopen(item, event)
    return item


async def receive_demand(tx: Tx[Store], event: DemandSubmitted) -> None:
    """A submitted demand joins the queue, with whatever of it came first (a resolution, a correction, a
    withdrawal, a reopening) applied."""
    if (came_first := await tx.store.take_early(event.demand_id)) is None:
        return  # already here: a submission never moves a demand backwards
    resolved_round, early_events = came_first
    item = domain.receive(event, resolved_round)
    for early in early_events:
        item = _apply(item, early)
    await tx.store.save_item(item)


async def record_resolved(tx: Tx[Store], event: Resolved) -> None:
    """A resolved demand can no longer be rematched; one not yet seen is remembered until it arrives.
    The registry credits the resolution to the organization's running record."""
    await record_resolution(tx, event)
    item = await tx.store.get_item(event.demand_id, for_update=True)
    if item is None:
        await tx.store.remember_resolution(event.demand_id, event.round)
    else:
        await tx.store.save_item(domain.resolve(item, event.round))


async def _record_change(tx: Tx[Store], event: DemandCorrected | DemandWithdrawn) -> None:
    item = await tx.store.get_item(event.demand_id, for_update=True)
    if item is None:
        await tx.store.keep_early_event(event)
    else:
        await tx.store.save_item(_apply(item, event))


async def record_reopening(tx: Tx[Store], event: DemandReopened) -> None:
    """重办: a founded verification sends the demand back to the head's queue for the next round, due by the
    re-handling deadline; a reopening of an older round changes nothing (domain.reopen). One seen before its
    DemandSubmitted is kept until the demand arrives."""
    item = await tx.store.get_item(event.demand_id, for_update=True)
    if item is None:
        await tx.store.keep_early_event(event)
        return
    current = domain.current_assignment(item, await tx.store.assignments(event.demand_id))
    await tx.store.save_item(domain.reopen(item, event, current))


async def record_correction(tx: Tx[Store], event: DemandCorrected) -> None:
    """更正登记: the newest correction's form fields replace those kept here (the assignee's brief with them)."""
    await _record_change(tx, event)


async def record_withdrawal(tx: Tx[Store], event: DemandWithdrawn) -> None:
    """撤回: the demand ends withdrawn (unless an earlier closing ended it); no more assignments."""
    await _record_change(tx, event)


# --- requests: assignment, referral --------------------------------------------------------------------------


@dataclass(frozen=True)
class AssignmentRequest:
    """派单 or 改派. `assignee_id` names the organization; station staff are named by `department_id` (牵头科室)
    and/or `responsible_id` (责任人) with `co_handlers` [(kind, id)]; the first responder needs neither.
    `assignee_name` is ignored: the registry's or the roster's name is used."""

    kind: AssigneeKind
    assignee_id: str | None = None
    assignee_name: str | None = None
    mode: HandlingMode = HandlingMode.independent
    due_on: date | None = None
    note: str | None = None
    department_id: str | None = None
    responsible_id: str | None = None
    co_handlers: tuple[tuple[str, str], ...] = field(default_factory=tuple)


def _check_request(r: AssignmentRequest) -> None:
    if r.kind is AssigneeKind.department:
        raise Invalid(
            "转办其他部门请使用转办（POST /demands/{id}/referrals）",
            "refer to another department with POST /demands/{id}/referrals",
            field="assignee_kind",
        )
    staff_fields = {"department_id": r.department_id, "responsible_id": r.responsible_id, "co_handlers": r.co_handlers}
    if r.kind is not AssigneeKind.staff:
        for name, value in staff_fields.items():
            if value:
                raise Invalid(
                    "牵头科室、责任人和协办方只用于派给本站人员（assignee_kind 为 staff）",
                    f"{name} is only for an assignment to station staff (assignee_kind staff)",
                    field=name,
                )
    if r.kind is AssigneeKind.staff and r.assignee_id:
        raise Invalid(
            "派给本站人员时请用 responsible_id（责任人）和/或 department_id（牵头科室）",
            "name station staff with responsible_id and/or department_id, not assignee_id",
            field="assignee_id",
        )
    if r.kind is AssigneeKind.organization and not r.assignee_id:
        raise Invalid("请指定服务机构编号", "assignee_id (the organization) is required", field="assignee_id")


async def _in_scope(tx: Tx[Store], principal: Principal, demand_id: UUID) -> QueueItem:
    item = await tx.store.get_visible(demand_id, principal.db_scope, "", for_update=True)
    if item is None:
        raise _NOT_FOUND
    return item


async def _remembered(tx: Tx[Store], earlier: dict) -> Assignment:
    found = await tx.store.assignment(UUID(earlier["demand_id"]), earlier["assignment_no"])
    assert found is not None, "a remembered assignment is kept with its result"
    return found


async def _save_assignment(tx: Tx[Store], item: QueueItem, assignment: Assignment, retry: Idempotent | None) -> None:
    await tx.store.save_assigned(item, assignment)
    await tx.publish(domain.assigned_event(item, assignment))
    await tx.remember(retry, {"demand_id": str(item.demand_id), "assignment_no": assignment.assignment_no})


async def assign(
    uow: UnitOfWork[Store],
    principal: Principal,
    demand_id: UUID,
    request: AssignmentRequest,
    *,
    idempotency_key: str | None = None,
) -> Assignment:
    """派单 or 改派 (the next assignment while assigned or after a return): the head decides; a clerk may only keep
    a waiting demand they received (首问负责), never a re-handling. An organization must be admitted, qualified for
    the demand's items and serve its station through the due date (in a re-handling round, its re-handling
    deadline); station staff are resolved from the station's roster."""
    _check_request(request)
    retry = Idempotent.of(idempotency_key, principal.subject, "assignment", str(demand_id), asdict(request))
    now = utcnow()
    today = china_today(now)
    async with uow.begin(principal) as tx:
        if (earlier := await tx.recall(retry)) is not None:
            return await _remembered(tx, earlier)
        item = await _in_scope(tx, principal, demand_id)
        domain.check_open(item, "派单", "assigned")
        if principal.role is not Role.head:
            domain.check_clerk_may_keep(item, request.kind, principal.subject)
        # The calendar corrections are read only when the due date is counted in working days from today.
        overrides = (
            await tx.store.calendar_overrides() if domain.counts_working_days(item, request.due_on, today) else None
        )
        due_on = domain.due_date(item, request.due_on, today, overrides)
        assignee_id, assignee_name, lead = request.assignee_id, None, None
        if request.kind is AssigneeKind.organization:
            org = await check_assignable(
                tx,
                org_id=request.assignee_id,
                station_id=item.station_id,
                categories=item.category_codes,
                item_codes=item.item_codes,
                due_on=due_on,
                today=today,
            )
            assignee_id, assignee_name = org.org_id, org.name
        elif request.kind is AssigneeKind.staff:
            lead = await resolve_handlers(
                tx,
                item.station_id,
                department_id=request.department_id,
                responsible_id=request.responsible_id,
                co_handlers=list(request.co_handlers),
            )
            assignee_id, assignee_name = lead.assignee_id, lead.assignee_name
        item, assignment = domain.assign(
            item,
            kind=request.kind,
            assignee_id=assignee_id,
            assignee_name=assignee_name,
            mode=request.mode,
            due_on=due_on,
            assigned_by=principal.name,
            note=request.note,
            now=now,
            today=today,
            department_id=lead.department_id if lead else None,
            department=lead.department if lead else None,
            co_handlers=lead.co_handlers if lead else (),
        )
        await _save_assignment(tx, item, assignment, retry)
    return assignment


async def refer(
    uow: UnitOfWork[Store],
    principal: Principal,
    demand_id: UUID,
    referral: Referral,
    due_on: date | None,
    *,
    idempotency_key: str | None = None,
) -> Assignment:
    """转办 to another government department (head only): an assignment the station keeps following."""
    request = {"referral": referral.model_dump(mode="json"), "due_on": due_on}
    retry = Idempotent.of(idempotency_key, principal.subject, "referral", str(demand_id), request)
    now = utcnow()
    today = china_today(now)
    async with uow.begin(principal) as tx:
        if (earlier := await tx.recall(retry)) is not None:
            return await _remembered(tx, earlier)
        item = await _in_scope(tx, principal, demand_id)
        item, assignment = domain.refer(
            item,
            referral=referral,
            due_on=due_on,
            assigned_by=principal.name,
            now=now,
            today=today,
            overrides=await tx.store.calendar_overrides(),
        )
        await _save_assignment(tx, item, assignment, retry)
    return assignment


# --- requests: return, refusal, merge --------------------------------------------------------------------


async def give_back(
    uow: UnitOfWork[Store], principal: Principal, demand_id: UUID, reason: str, *, idempotency_key: str | None = None
) -> Assignment:
    """退单 by the current assignee (see domain.give_back); the demand waits again at the top of the queue.
    Returns the assignment given back."""
    retry = Idempotent.of(idempotency_key, principal.subject, "return", str(demand_id), reason)
    now = utcnow()
    org = principal.org if principal.role is Role.org else None
    async with uow.begin(principal) as tx:
        if (earlier := await tx.recall(retry)) is not None:
            return await _remembered(tx, earlier)
        item = await tx.store.get_visible(demand_id, principal.db_scope, org or "", for_update=True)
        if item is None:
            # An organization no longer sees a demand once its assignment is not current: late, if it had one.
            if org and await tx.store.org_had_assignment(demand_id, org):
                raise domain.LATE_RETURN
            raise _NOT_FOUND
        item, returned, event = domain.give_back(
            item,
            await tx.store.assignments(demand_id),
            role=principal.role,
            subject=principal.subject,
            org=org,
            reason=reason,
            by=principal.name,
            now=now,
        )
        await tx.store.record_return(item, returned)
        await tx.publish(event)
        await tx.remember(retry, {"demand_id": str(demand_id), "assignment_no": returned.assignment_no})
    return returned


async def refuse(
    uow: UnitOfWork[Store],
    principal: Principal,
    demand_id: UUID,
    reason: str,
    basis: str,
    *,
    idempotency_key: str | None = None,
) -> tuple[QueueItem, list[Assignment]]:
    """否定备案 (head only): the demand ends refused, with the reason and the legal or policy basis."""
    retry = Idempotent.of(idempotency_key, principal.subject, "refusal", str(demand_id), reason, basis)
    async with uow.begin(principal) as tx:
        if await tx.recall(retry) is None:
            item = await _in_scope(tx, principal, demand_id)
            item, event = domain.refuse(item, reason=reason, basis=basis, by=principal.name, now=utcnow())
            await tx.store.save_item(item)
            await tx.publish(event)
            await tx.remember(retry, {"demand_id": str(demand_id)})
        return await _with_assignments(tx, principal, demand_id)


async def merge(
    uow: UnitOfWork[Store],
    principal: Principal,
    demand_id: UUID,
    into: UUID,
    reason: str,
    *,
    idempotency_key: str | None = None,
) -> tuple[QueueItem, list[Assignment]]:
    """并单 (head only): a repeated demand of the same enterprise merged into the open original, in scope."""
    retry = Idempotent.of(idempotency_key, principal.subject, "merge", str(demand_id), str(into), reason)
    async with uow.begin(principal) as tx:
        if await tx.recall(retry) is None:
            # Both rows locked in one order, so two merges of the same pair wait for each other, never deadlock.
            locked: dict[UUID, QueueItem | None] = {}
            for d in sorted({demand_id, into}):
                locked[d] = await tx.store.get_visible(d, principal.db_scope, "", for_update=True)
            item, original = locked[demand_id], locked[into]
            if item is None:
                raise _NOT_FOUND
            if original is None:
                raise Invalid("未找到要并入的原需求", "the demand to merge into was not found", field="into")
            item, event = domain.merge(item, original, reason=reason, by=principal.name, now=utcnow())
            await tx.store.save_item(item)
            await tx.publish(event)
            await tx.remember(retry, {"demand_id": str(demand_id)})
        return await _with_assignments(tx, principal, demand_id)


async def _with_assignments(tx: Tx[Store], principal: Principal, demand_id: UUID) -> tuple[QueueItem, list]:
    item = await tx.store.get_visible(demand_id, principal.db_scope, principal.org or "")
    if item is None:
        raise _NOT_FOUND
    return item, await tx.store.assignments(demand_id)


# --- reading -----------------------------------------------------------------------------------------------


async def list_queue(
    uow: UnitOfWork[Store], principal: Principal, station_id: str | None, status: str, limit: int, offset: int
) -> list[QueueItem]:
    async with uow.begin(principal) as tx:
        return await tx.store.list_visible(await tx.scope(station_id), "", status, limit, offset)


async def get_demand(
    uow: UnitOfWork[Store], principal: Principal, demand_id: UUID
) -> tuple[QueueItem, list[Assignment]]:
    async with uow.begin(principal) as tx:
        return await _with_assignments(tx, principal, demand_id)


async def org_assignments(uow: UnitOfWork[Store], principal: Principal, limit: int, offset: int) -> list[dict]:
    """An organization's assignments: current ones with the demand (never the enterprise's contact: that is in
    the brief, whose reads are logged), past ones (given back, rematched away, ended) by tracking number only."""
    async with uow.begin(principal) as tx:
        return await tx.store.org_assignments(principal.org or "", limit, offset)


@dataclass(frozen=True)
class Brief:
    """服务所需信息: what the assignee needs to serve the demand."""

    item: QueueItem
    assignment: Assignment | None  # the current one
    details: dict  # the detail tables the reader may see
    read_at: datetime


async def brief(uow: UnitOfWork[Store], principal: Principal, demand_id: UUID) -> Brief:
    """The enterprise's contact, address, items and detail tables. An organization reads it only while the
    demand is handled under its current assignment, and only the tables of its categories; station staff and
    supervisors in scope read it all. Every read is logged (who, role, organization, when)."""
    now = utcnow()
    org = principal.org if principal.role is Role.org else None
    async with uow.begin(principal) as tx:
        item = await tx.store.get_visible(demand_id, principal.db_scope, org or "")
        if item is None:
            raise _NOT_FOUND
        current = domain.current_assignment(item, await tx.store.assignments(demand_id))
        categories = None
        if org is not None:
            if not domain.org_may_read_brief(item, current, org):
                raise _NOT_FOUND
            registered = await tx.store.organization(org)
            categories = registered.categories if registered else ()
        details = domain.details_for(item.details, categories)
        reader = (principal.subject, principal.name, principal.role.value)
        await tx.store.log_brief_read(demand_id, item.station_id, reader, org, now)
    return Brief(item=item, assignment=current, details=details, read_at=now)
