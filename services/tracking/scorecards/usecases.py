"""Use case: a scorecard for the caller (GET /scorecards). One transaction, read only."""

from datetime import date

from shared.auth import SYSTEM, Principal, Role
from shared.calendar import china_today
from shared.contracts import utcnow
from shared.db.uow import UnitOfWork

from . import domain
from .domain import By, Scorecard
from .store import ScorecardStore


async def scorecard(
    uow: UnitOfWork, principal: Principal, by: By, station_id: str | None, start: date | None, end: date | None
) -> Scorecard:
    """Staff and supervisors: the rows of their scope (or of one station inside it; 404 outside). An organization:
    its own row by organization only, across every station it served (or the one asked for). Its row is counted
    in the service's own scope, as dispatch counts an organization's running record: row-level security shows an
    organization only the cases it holds now, and its scorecard also counts what it resolved before a case moved on
    or was reassigned; only its own counts leave the transaction, never a demand."""
    domain.check_dimension(principal.role, by)
    today = china_today(utcnow())  # the service's clock, as the ledger's work lists and GET /kpis
    period = domain.period(start, end, today)
    if principal.role is Role.org:
        async with uow.begin(SYSTEM) as tx:
            rows = await ScorecardStore(tx.conn).rows(by, station_id or "*", period, today, key=principal.org)
    else:
        async with uow.begin(principal) as tx:
            scope = await tx.scope(station_id)  # 404 for a station outside the caller's scope
            rows = await ScorecardStore(tx.conn).rows(by, scope, period, today)
    return Scorecard(by=by, period=period, station_id=station_id, rows=rows)
