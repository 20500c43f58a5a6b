"""Use case: the complaint scorecard for the caller (GET /scorecards). One transaction, read only."""

from datetime import date

from shared.auth import Principal, Role
from shared.calendar import china_today
from shared.contracts import utcnow
from shared.db.uow import UnitOfWork

from . import domain
from .domain import By, Scorecard
from .store import ScorecardStore


async def scorecard(
    uow: UnitOfWork, principal: Principal, by: By, station_id: str | None, start: date | None, end: date | None
) -> Scorecard:
    """Staff and supervisors: the rows of their scope (or of one station inside it; 404 outside); a clerk counts the
    station's complaints, not only those they recorded (figures, not complaints). An organization: its own row by
    organization, of the complaints about it already answered, in the caller's own transaction (row-level security
    shows it exactly those)."""
    domain.check_dimension(principal.role, by)
    today = china_today(utcnow())
    period = domain.period(start, end, today)
    async with uow.begin(principal) as tx:
        if principal.role is Role.org:
            scope, org = station_id or "*", principal.org
        else:
            scope, org = await tx.scope(station_id), None
        rows = await ScorecardStore(tx.conn).rows(by, scope, period, today, org)
    return Scorecard(by=by, period=period, station_id=station_id, rows=rows)
