"""Tracking use cases: one unit of work each.

Event use cases get the open unit of work from `UnitOfWork.handle` (lock, inbox claim);
request use cases open their own in the caller's scope.
"""

from datetime import date
from uuid import UUID

from shared import kpis as shared_kpis
from shared.auth import Principal, Role
from shared.calendar import china_today
from shared.contracts import Deliverable, Event, Fee, Outcome, utcnow
from shared.db.uow import Tx, UnitOfWork
from shared.idempotency import Idempotent

from . import domain, kpis
from .clock.domain import ClockSettings
from .clock.usecases import with_clock
from .domain import Case, TimelineEntry
from .store import Store
from .worklists import NO_SEARCH, LedgerQuery, Search, Worklist, warn_before


async def record_event(tx: Tx[Store], event: Event, defaults: ClockSettings = ClockSettings()) -> None:
    """Fold any event of the demand into the case, whatever order they come in, and note it on the sheet.

    `defaults`: the service's clock settings (handlers pass them; a station's own override them)."""
    case = await tx.store.get(event.demand_id, for_update=True)
    case = await with_clock(tx, domain.apply(case, event), defaults)
    await tx.store.save_with_entry(case, event, domain.timeline_text(event))


async def resolve(
    uow: UnitOfWork[Store],
    principal: Principal,
    demand_id: UUID,
    *,
    outcome: Outcome,
    summary: str,
    round_: int | None = None,
    defaults: ClockSettings = ClockSettings(),
    fee: Fee | None = None,
    deliverables: tuple[Deliverable, ...] = (),
    staff_involved: tuple[str, ...] = (),
    idempotency_key: str | None = None,
) -> tuple[Case, date]:
    """办结 of the case's current round (`round_`, when the caller names it, must be that round), with the fee
    charged, the deliverables and the staff involved for the sealed record.

    A retry with the same Idempotency-Key answers the case again (as it is now) and records and publishes nothing;
    without a key, resolving a resolved round is a 409."""
    retry = Idempotent.of(
        idempotency_key,
        principal.subject,
        "resolution",
        str(demand_id),
        outcome.value,
        summary,
        round_,
        fee,
        [d.model_dump(mode="json") for d in deliverables],
        list(staff_involved),
    )
    now = utcnow()
    async with uow.begin(principal) as tx:
        if await tx.recall(retry) is not None:
            case = await tx.store.get_visible(demand_id, principal.db_scope, principal.org or "")
            if case is None:
                raise domain.DEMAND_NOT_FOUND
            return case, china_today(now)
        case = await tx.store.get_visible(demand_id, principal.db_scope, principal.org or "", for_update=True)
        if case is None:
            raise domain.DEMAND_NOT_FOUND
        if round_ is not None:
            domain.check_round(case, round_)
        event = domain.resolve(
            case,
            outcome=outcome,
            summary=summary,
            resolved_by=principal.name,
            now=now,
            fee=fee,
            deliverables=deliverables,
            staff_involved=staff_involved,
        )
        case = await with_clock(tx, domain.apply(case, event), defaults)
        await tx.store.save(case)
        await tx.store.add_entry(event, domain.timeline_text(event))
        await tx.publish(event)
        await tx.remember(retry, {"demand_id": str(demand_id), "round": event.round})
    return case, china_today(now)


async def ledger(
    uow: UnitOfWork[Store],
    principal: Principal,
    station_id: str | None,
    status: str | None,
    limit: int,
    offset: int,
    search: Search = NO_SEARCH,
    *,
    warn_days: int = 1,
) -> tuple[list[Case], date]:
    """台账 and the work lists: `search` narrows the caller's ledger (worklists.py), always within their scope."""
    today = china_today(utcnow())
    async with uow.begin(principal) as tx:
        # An organization's ledger is what is assigned to it, wherever that is.
        scope = "" if principal.role is Role.org else await tx.scope(station_id)
        reach = None
        if search.worklist is Worklist.due_soon:  # working days: the calendar with the stations' corrections
            reach = warn_before(today, await tx.store.calendar_overrides())
        query = LedgerQuery(search, principal.subject, today, due_soon_before=reach, warn_days=warn_days)
        cases = await tx.store.ledger(scope, principal.org or "", status, limit, offset, query)
    return cases, today


async def case_with_timeline(
    uow: UnitOfWork[Store], principal: Principal, demand_id: UUID
) -> tuple[Case, list[TimelineEntry], date]:
    async with uow.begin(principal) as tx:
        case = await tx.store.get_visible(demand_id, principal.db_scope, principal.org or "")
        if case is None:
            raise domain.DEMAND_NOT_FOUND
        return case, await tx.store.timeline(demand_id), china_today(utcnow())


async def kpi_figures(
    uow: UnitOfWork[Store], principal: Principal, station_id: str | None, start: date | None, end: date | None
) -> kpis.Report:
    """The supervisor's view: each station in the caller's scope (or the one asked for; 404 outside it) and the
    whole scope, also per category and per organization, for the period asked for (by default this China month up
    to today); all read in one transaction, so the breakdowns and the stations agree."""
    today = china_today(utcnow())  # the service's clock, as the ledger's work lists and the KPI metrics
    period = shared_kpis.period(start, end, today)
    async with uow.begin(principal) as tx:
        scope = await tx.scope(station_id)
        stations = await tx.store.kpi_figures(scope, period, today)
        by_category, by_organization = await tx.store.kpi_breakdowns(scope, period, today)
    return kpis.Report(period, stations, kpis.total(stations), by_category, by_organization)
