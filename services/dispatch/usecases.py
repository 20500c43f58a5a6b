"""Dispatch use cases: one transaction each."""

from datetime import date
from uuid import UUID

from shared.auth import Principal, Role, narrow
from shared.calendar import china_today
from shared.contracts import AssigneeKind, DemandSubmitted, HandlingMode, Resolved, utcnow
from shared.errors import NotFound
from shared.messaging import inbox, outbox
from shared.runtime import ServiceRuntime

from . import domain, store
from .domain import Assignment, QueueItem

CONSUMER = "dispatch"


class Counters:
    def __init__(self, rt: ServiceRuntime) -> None:
        self.assigned = rt.metrics.counter(
            "qs_demands_assigned_total",
            "Dispatch decisions (first and rematch), by station and assignee kind",
            ["station_id", "assignee_kind"],
        )


async def receive_demand(rt: ServiceRuntime, event: DemandSubmitted) -> None:
    async with rt.demand_transaction(event.demand_id) as conn:
        if not await inbox.claim(conn, CONSUMER, event.event_id):
            return
        resolved_round = await store.take_resolution(conn, event.demand_id)
        await store.save_item(conn, domain.receive(event, resolved_round))


async def record_resolved(rt: ServiceRuntime, event: Resolved) -> None:
    async with rt.demand_transaction(event.demand_id) as conn:
        if not await inbox.claim(conn, CONSUMER, event.event_id):
            return
        item = await store.get_item(conn, event.demand_id, for_update=True)
        if item is None:
            await store.remember_resolution(conn, event.demand_id, event.round)
        else:
            await store.save_item(conn, domain.resolve(item, event.round))


async def assign(
    rt: ServiceRuntime,
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
    now = utcnow()
    async with rt.transaction(principal) as conn:
        item = await store.get_visible(conn, demand_id, principal.db_scope, "", for_update=True)
        if item is None:
            raise NotFound("未找到该需求", "demand not found")
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
        await store.save_item(conn, item)
        await store.add_assignment(conn, assignment, item.station_id)
        await outbox.add(conn, domain.assigned_event(item, assignment))
    rt.counters.assigned.labels(item.station_id, kind.value).inc()
    return assignment


async def list_queue(
    rt: ServiceRuntime, principal: Principal, station_id: str | None, status: str, limit: int, offset: int
) -> list[QueueItem]:
    scope = narrow(principal, station_id)
    async with rt.transaction(principal) as conn:
        return await store.list_visible(conn, scope, "", status, limit, offset)


async def get_demand(rt: ServiceRuntime, principal: Principal, demand_id: UUID) -> tuple[QueueItem, list[Assignment]]:
    async with rt.transaction(principal) as conn:
        item = await store.get_visible(conn, demand_id, principal.db_scope, principal.org or "")
        if item is None:
            raise NotFound("未找到该需求", "demand not found")
        return item, await store.assignments(conn, demand_id)
