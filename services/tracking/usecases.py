"""Tracking use cases: one transaction each."""

from datetime import date
from uuid import UUID

import asyncpg

from shared.auth import Principal, Role, narrow
from shared.calendar import china_today
from shared.contracts import Event, Outcome, utcnow
from shared.errors import NotFound
from shared.messaging import inbox, outbox
from shared.runtime import ServiceRuntime

from . import domain, store
from .domain import Case

CONSUMER = "tracking"


class Counters:
    def __init__(self, rt: ServiceRuntime) -> None:
        self.resolved = rt.metrics.counter(
            "qs_demands_resolved_total", "Demands resolved (办结), by station and outcome", ["station_id", "outcome"]
        )


async def record_event(rt: ServiceRuntime, event: Event) -> None:
    async with rt.demand_transaction(event.demand_id) as conn:
        if not await inbox.claim(conn, CONSUMER, event.event_id):
            return
        case = await store.get(conn, event.demand_id, for_update=True)
        await store.save(conn, domain.apply(case, event))
        await store.add_entry(conn, event, domain.timeline_text(event))


async def resolve(
    rt: ServiceRuntime, principal: Principal, demand_id: UUID, *, outcome: Outcome, summary: str
) -> tuple[Case, date]:
    now = utcnow()
    async with rt.transaction(principal) as conn:
        case = await store.get_visible(conn, demand_id, principal.db_scope, principal.org or "", for_update=True)
        if case is None:
            raise NotFound("未找到该需求", "demand not found")
        event = domain.resolve(case, outcome=outcome, summary=summary, resolved_by=principal.name, now=now)
        case = domain.apply(case, event)
        await store.save(conn, case)
        await store.add_entry(conn, event, domain.timeline_text(event))
        await outbox.add(conn, event)
    rt.counters.resolved.labels(case.station_id, outcome.value).inc()
    return case, china_today(now)


async def ledger(
    rt: ServiceRuntime, principal: Principal, station_id: str | None, status: str | None, limit: int, offset: int
) -> tuple[list[Case], date]:
    scope = narrow(principal, station_id) if principal.role is not Role.org else ""
    async with rt.transaction(principal) as conn:
        cases = await store.ledger(conn, scope, principal.org or "", status, limit, offset)
    return cases, china_today(utcnow())


async def case_with_timeline(
    rt: ServiceRuntime, principal: Principal, demand_id: UUID
) -> tuple[Case, list[asyncpg.Record], date]:
    async with rt.transaction(principal) as conn:
        case = await store.get_visible(conn, demand_id, principal.db_scope, principal.org or "")
        if case is None:
            raise NotFound("未找到该需求", "demand not found")
        return case, await store.timeline(conn, demand_id), china_today(utcnow())
