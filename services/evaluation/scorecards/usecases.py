"""Scorecard use case: one read in the caller's scope."""

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
    """The rows of `by` for the period (by default this China month up to today, by the service's clock): staff and
    supervisors over their scope or one station of it (404 outside it); an organization only its own row."""
    domain.check_dimension(principal.role, by)
    period = domain.period(start, end, china_today(utcnow()))
    if principal.role is Role.org:
        # An organization has no station scope (row-level security shows it no rating): its own row is read in the
        # system's scope, wherever it served, and only its own key is counted.
        async with uow.begin() as tx:
            rows = await ScorecardStore(tx.conn).rows(by, station_id or "*", period, principal.org)
    else:
        async with uow.begin(principal) as tx:
            rows = await ScorecardStore(tx.conn).rows(by, await tx.scope(station_id), period, None)
    return Scorecard(by, period, station_id, rows)
