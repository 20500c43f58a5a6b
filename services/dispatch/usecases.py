"""Dispatch use cases: one unit of work each.

Event use cases get the open unit of work from `UnitOfWork.handle` (lock, inbox claim);
request use cases open their own in the caller's scope.
"""

from datetime import date
from uuid import UUID

from shared.auth import Principal, Role
from shared.calendar import china_today
from shared.contracts import AssigneeKind, DemandSubmitted, HandlingMode, Resolved, utcnow
from shared.db.uow import Tx, UnitOfWork
from shared.errors import NotFound

from . import domain
from .domain import Assignment, QueueItem
from .store import Store

_NOT_FOUND = NotFound("未找到该需求", "demand not found")


async def receive_demand(tx: Tx[Store], event: DemandSubmitted) -> None:
    """A submitted demand joins the queue; resolved already if its Resolved came first."""
    resolved_round = await tx.store.take_resolution(event.demand_id)
    await tx.store.save_item(domain.receive(event, resolved_round))


async def record_resolved(tx: Tx[Store], event: Resolved) -> None:
    """A resolved demand can no longer be rematched; one not yet seen is remembered until it arrives."""
    item = await tx.store.get_item(event.demand_id, for_update=True)
    if item is None:
        await tx.store.remember_resolution(event.demand_id, event.round)
    else:
        await tx.store.save_item(domain.resolve(item, event.round))


async def assign(
    uow: UnitOfWork[Store],
    principal: Principal,
    demand_id: UUID,
    *,
    kind: AssigneeKind,
    assignee_id: str | None,
    assignee_name: str | None,
    mode: HandlingMode,
    due_on: date | None,
    note: str | None,
) -> Assignment:
    """派单 or 改派: the head decides; a clerk may only keep a waiting demand they received (首问负责)."""
    now = utcnow()
    async with uow.begin(principal) as tx:
        item = await tx.store.get_visible(demand_id, principal.db_scope, "", for_update=True)
        if item is None:
            raise _NOT_FOUND
        if principal.role is not Role.head:
            domain.check_clerk_may_keep(item, kind, principal.subject)
        item, assignment = domain.assign(
            item,
            kind=kind,
            assignee_id=assignee_id,
            assignee_name=assignee_name,
            mode=mode,
            due_on=due_on,
            assigned_by=principal.name,
            note=note,
            now=now,
            today=china_today(now),
        )
        await tx.store.save_item(item)
        await tx.store.add_assignment(assignment, item.station_id)
        await tx.publish(domain.assigned_event(item, assignment))
    return assignment


async def list_queue(
    uow: UnitOfWork[Store], principal: Principal, station_id: str | None, status: str, limit: int, offset: int
) -> list[QueueItem]:
    async with uow.begin(principal) as tx:
        return await tx.store.list_visible(await tx.scope(station_id), "", status, limit, offset)


async def get_demand(
    uow: UnitOfWork[Store], principal: Principal, demand_id: UUID
) -> tuple[QueueItem, list[Assignment]]:
    async with uow.begin(principal) as tx:
        item = await tx.store.get_visible(demand_id, principal.db_scope, principal.org or "")
        if item is None:
            raise _NOT_FOUND
        return item, await tx.store.assignments(demand_id)
