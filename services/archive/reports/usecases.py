"""Use cases of the weekly report (周报, 004 §5.5.1): read (a station's or a subtree's), the head's plan, the scheduler.

A station's report of a finished week is a snapshot: taken by the scheduler after the week (every replica runs it;
the table's key makes one report per station and week, and figures once taken are never replaced), or by the first
request for that week, in both cases only once the week has been over for `domain.SETTLE` (before that, and for the
current week, it is computed live and not kept). A supervisor's report over its subtree is computed live from the
same events, with the plans of every station in it. The stations' own work (visits, special tasks) is read from the
archive's records of it with the same scope and kept in the same snapshot: a visit or task report counts in the week
the archive received it, so one that arrives after its own week's report was kept is in the next report, marked
补录; a person's read of a report that lists visits is in the access log.
"""

from datetime import datetime
from uuid import UUID

import structlog

from shared.auth import STAFF, Principal
from shared.contracts import utcnow
from shared.db.uow import Tx, UnitOfWork

from ..exports.settings import ExportSettings
from ..store import Store
from . import domain
from .domain import Plan, Report, StationWork, Week
from .store import ReportStore

log = structlog.get_logger(__name__)

SCHEDULER = "scheduler"


async def _compute(store: ReportStore, scope: str, week: Week, now: datetime) -> dict:
    """The week's figures: the demands' from the logged events, the stations' own work from its records."""
    low, high = week.bounds()
    events = await store.events_around(scope, low - domain.MARGIN, high + domain.MARGIN)
    ids = sorted({e.demand_id for e in events if isinstance(e.demand_id, UUID)})
    forms = await store.forms(ids) if ids else []
    work = StationWork(
        visits=await store.visits(scope, low, high),
        parts=await store.task_parts(scope, low, high),
        reports=await store.task_reports(scope, low, high),
        overrides=await store.calendar_overrides(),
    )
    names = await store.station_names(domain.station_ids(work))
    return domain.figures(week, events, forms) | domain.station_work(week, work, names, now)


async def weekly(uow: UnitOfWork, principal: Principal, week: Week, station_id: str | None) -> Report:
    """A station's report (station staff: their own by default; a supervisor: one station of its subtree named), or,
    for a supervisor naming none, its subtree's. Outside the caller's scope: 404."""
    now = utcnow()
    domain.check_not_future(week, now)
    async with uow.begin(principal) as tx:
        store = ReportStore(tx.conn)
        if station_id is None and principal.role in STAFF:
            station_id = principal.station
        if station_id is None:
            scope = principal.db_scope
            names = await store.station_names([scope])
            plans = await store.plans(scope, week)
            plan_names = await store.station_names([p.station_id for p in plans])
            report = Report(
                scope=scope,
                scope_name=names.get(scope) or f"{scope}（辖区）",
                week=week,
                figures=await _compute(store, scope, week, now),
                generated_at=now,
                generated_by=principal.name,
                stored=False,
                complete=domain.complete(week, now),
                plans=[(p, plan_names.get(p.station_id, p.station_id)) for p in plans],
                subtree=True,
            )
            await _log_visits(tx, report)
            return report
        scope = await tx.scope(station_id)
        row = await store.report(scope, week)
        if (row is None or row["figures"] is None) and domain.keepable(week, now):
            await store.keep_figures(scope, week, await _compute(store, scope, week, now), now, principal.name)
            row = await store.report(scope, week)
        names = await store.station_names([scope])
        stored = row is not None and row["figures"] is not None
        plan = (
            [(Plan(scope, row["plan"], row["plan_by"], row["plan_at"]), names.get(scope, scope))]
            if row is not None and row["plan"] is not None
            else []
        )
        report = Report(
            scope=scope,
            scope_name=names.get(scope, scope),
            week=week,
            figures=row["figures"] if stored else await _compute(store, scope, week, now),
            generated_at=row["generated_at"] if stored else now,
            generated_by=row["generated_by"] if stored else principal.name,
            stored=stored,
            complete=domain.complete(week, now),
            plans=plan,
            subtree=False,
        )
        await _log_visits(tx, report)
        return report


async def _log_visits(tx: Tx[Store], report: Report) -> None:
    """A report listing visits names enterprises and what was found there (走访记录, whose every read intake logs too):
    its read goes into the archive's access log, in the reading transaction, one line per station whose visits it
    listed. A report listing none is not logged."""
    by_station: dict[str, list[str]] = {}
    for v in (report.figures.get("visits") or {}).get("listed") or []:
        by_station.setdefault(v["station_id"], []).append(v["visit_id"])
    p = tx.principal
    for station, ids in by_station.items():
        await tx.store.log_access(
            action="weekly_report.read",
            station_id=station,
            subject=p.subject,
            role=p.role.value,
            name=p.name,
            what=f"周报 {report.week}（走访记录 {len(ids)} 条）",
            detail={"scope": report.scope, "week": str(report.week), "visit_ids": ids},
        )


async def set_plan(uow: UnitOfWork, principal: Principal, week: Week, station_id: str | None, text: str) -> Report:
    """The head writes (or rewrites) the plan for the week after `week`; kept with that week's report."""
    domain.check_not_future(week, utcnow())
    async with uow.begin(principal) as tx:
        scope = await tx.scope(station_id or principal.station)
        await ReportStore(tx.conn).set_plan(scope, week, text, principal.name, utcnow())
    log.info("weekly plan set", station_id=scope, week=str(week))
    return await weekly(uow, principal, week, scope)


async def list_reports(uow: UnitOfWork, principal: Principal, station_id: str | None, limit: int, offset: int) -> list:
    async with uow.begin(principal) as tx:
        scope = await tx.scope(station_id)
        return list(await ReportStore(tx.conn).list(scope, limit, offset))


async def generate_due(uow: UnitOfWork, settings) -> None:
    """The scheduler's round: last week's report of every registered station that has none yet.

    Safe on every replica at once: the figures are written only where none are (the key is the station and week),
    so two replicas computing the same report leave one. After downtime it reports the last finished week; older
    weeks are made when first asked for. In the first minutes of a week (`domain.SETTLE`) it waits for the next round,
    so what the archive received up to the week's end is all in.
    """
    del settings  # the interval is the scheduler's concern (ExportSettings.weekly_report_check_seconds)
    week = domain.last_complete_week(utcnow())
    if not domain.keepable(week, utcnow()):
        return
    async with uow.begin() as tx:
        due = await ReportStore(tx.conn).due(week)
    for station_id in due:
        async with uow.begin() as tx:
            store = ReportStore(tx.conn)
            now = utcnow()
            await store.keep_figures(station_id, week, await _compute(store, station_id, week, now), now, SCHEDULER)
    if due:
        log.info("weekly reports generated", week=str(week), stations=len(due))


def check_every(settings) -> float:
    return ExportSettings.of(settings).weekly_report_check_seconds
