"""Use cases: re-visit tasks made from events, re-visits recorded by the station, the lists and the KPI figures.

Tasks come from events tracking already has, each in the handling transaction (inbox claimed, the demand locked):
the 不满意 rating in the transaction that folds the rating into the case, and the resolution from tracking's own
Resolved heard back from the broker (the resolution itself was recorded in the transaction that published it). A
re-visit locks the case row (get_visible … for_update) and writes its row, the timeline entry and RevisitRecorded
(outbox) in one transaction; a POST may carry an Idempotency-Key: a retry answers with the re-visit recorded first.
"""

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID, uuid4

from shared import kpis as shared_kpis
from shared.auth import Principal
from shared.calendar import china_today
from shared.contracts import Rated, Resolved, RevisitMethod, utcnow
from shared.db.uow import Tx, UnitOfWork
from shared.idempotency import Idempotent

from .. import usecases as cases
from ..clock.domain import ClockSettings
from ..domain import DEMAND_NOT_FOUND
from ..kpis import RevisitReport, Revisits
from . import domain
from .domain import Revisit, Task
from .store import RevisitStore


def _store(tx: Tx) -> RevisitStore:
    """The re-visit tables on the transaction's connection."""
    return RevisitStore(tx.conn)


async def _make(tx: Tx, task: Task | None) -> None:
    if task is not None:
        await _store(tx).add_task(task)


async def record_resolution(tx: Tx, event: Resolved, defaults: ClockSettings = ClockSettings()) -> None:
    """The task a resolution calls for (need not met, or drawn in the station's sample), with the station's settings
    and the calendar as they are now. A resolution of a demand tracking does not know is not its own: nothing."""
    if await tx.store.get(event.demand_id) is None:
        return
    settings, overrides, _, _ = await tx.store.clock_facts(event.station_id, None, defaults)
    await _make(tx, domain.resolution_task(event, settings, overrides))


async def record_rating(tx: Tx, event: Rated, defaults: ClockSettings = ClockSettings()) -> None:
    """The rating folded into the case as any event (usecases.record_event) and, for a 不满意 one, its 差评回访 task."""
    await cases.record_event(tx, event, defaults)
    if domain.rating_calls_for_task(event):  # the clock's facts only for a task that needs its due date
        settings, overrides, _, _ = await tx.store.clock_facts(event.station_id, None, defaults)
        await _make(tx, domain.rating_task(event, settings, overrides))


@dataclass(frozen=True)
class Recorded:
    """What POST /demands/{id}/revisits answers: the re-visit and the demand's tasks after it."""

    revisit: Revisit
    tasks: list[Task]
    today: date


async def record(
    uow: UnitOfWork,
    principal: Principal,
    demand_id: UUID,
    *,
    method: RevisitMethod,
    revisited_at: datetime,
    reached: bool,
    contact: str | None,
    enterprise_said: str | None,
    need_met: bool | None,
    idempotency_key: str | None = None,
) -> Recorded:
    """回访 by the station's clerk or head, after the demand's latest resolution: kept, on the timeline, published."""
    retry = Idempotent.of(
        idempotency_key,
        principal.subject,
        "revisit",
        str(demand_id),
        method.value,
        revisited_at.isoformat(),
        reached,
        contact,
        enterprise_said,
        need_met,
    )
    now = utcnow()
    async with uow.begin(principal) as tx:
        store = _store(tx)
        if (earlier := await tx.recall(retry)) is not None:
            first = await store.revisit(UUID(earlier["revisit_id"]))
            if first is None or await tx.store.get_visible(demand_id, principal.db_scope, "") is None:
                raise DEMAND_NOT_FOUND
            return Recorded(first, await store.tasks_of(demand_id), china_today(now))
        domain.check_record(
            revisited_at=revisited_at,
            reached=reached,
            contact=contact,
            enterprise_said=enterprise_said,
            need_met=need_met,
            now=now,
        )
        case = await tx.store.get_visible(demand_id, principal.db_scope, "", for_update=True)
        if case is None:
            raise DEMAND_NOT_FOUND
        round_, resolved_at = domain.followed_resolution(case)
        domain.check_after_resolution(revisited_at, round_, resolved_at)
        tasks = await store.tasks_of(demand_id)
        event = domain.recorded(
            case,
            round_,
            revisit_id=uuid4(),
            method=method,
            revisited_at=revisited_at,
            reached=reached,
            contact=contact,
            enterprise_said=enterprise_said,
            need_met=need_met,
            by=principal.name,
            now=now,
        )
        voluntary = domain.is_voluntary(tasks, round_)
        revisit = Revisit.of(event, voluntary=voluntary)
        open_tasks = [t for t in tasks if t.done_at is None and t.round <= round_]
        completed = [t for t in open_tasks if domain.completes(t, revisit)]
        await store.add_revisit(revisit, principal.subject)
        text = domain.timeline_text(event, completed, voluntary=voluntary, still_open=len(completed) < len(open_tasks))
        await tx.store.add_entry(event, text)
        await tx.publish(event)
        await tx.remember(retry, {"revisit_id": str(revisit.revisit_id)})
        return Recorded(revisit, await store.tasks_of(demand_id), china_today(now))


@dataclass(frozen=True)
class DemandRevisits:
    tasks: list[Task]
    revisits: list[Revisit]
    today: date


async def of_demand(uow: UnitOfWork, principal: Principal, demand_id: UUID) -> DemandRevisits:
    """A demand's tasks (those not yet appeared included) and re-visits, for its station and supervisors."""
    async with uow.begin(principal) as tx:
        if await tx.store.get_visible(demand_id, principal.db_scope, "") is None:
            raise DEMAND_NOT_FOUND
        store = _store(tx)
        return DemandRevisits(
            await store.tasks_of(demand_id), await store.revisits_of(demand_id), china_today(utcnow())
        )


@dataclass(frozen=True)
class Listed:
    task: Task
    tracking_no: str
    enterprise_name: str | None
    contact_phone: str | None


async def task_list(
    uow: UnitOfWork,
    principal: Principal,
    station_id: str | None,
    status: str | None,
    kind: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Listed], date]:
    """回访任务: the tasks of the caller's stations (or one of them) that have appeared by today, China date by the
    service's clock."""
    today = china_today(utcnow())
    async with uow.begin(principal) as tx:
        scope = await tx.scope(station_id)
        rows = await _store(tx).task_list(scope, today, status, kind, limit, offset)
    listed = [Listed(t, r["tracking_no"], r["enterprise_name"], r["contact_phone"]) for t, r in rows]
    return listed, today


async def kpi_figures(
    uow: UnitOfWork, principal: Principal, station_id: str | None, period: shared_kpis.Period
) -> RevisitReport:
    """GET /kpis's re-visit figures for `period` (the one the rest of the view counts), per station in scope; today
    by the service's clock, as the rest of the view."""
    today = china_today(utcnow())
    async with uow.begin(principal) as tx:
        scope = await tx.scope(station_id)
        rows, voluntary = await _store(tx).kpi_rows(scope, period, today)
    stations = {
        r["station_id"]: Revisits(
            due=r["due"],
            done=r["done"],
            dissatisfied_due=r["dissatisfied_due"],
            dissatisfied_done=r["dissatisfied_done"],
            overdue=r["overdue"],
            voluntary=voluntary.get(r["station_id"], 0),
        )
        for r in rows
    }
    for station, count in voluntary.items():  # voluntary re-visits only
        stations.setdefault(station, Revisits(voluntary=count))
    return RevisitReport(stations)
