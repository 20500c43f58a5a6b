"""The enterprise's status page: its use cases, one unit of work each.

The page is the demand's progress (services/intake/demands) with each step's moment and, while the round waits for
its rating, the one-time rating link evaluation made for it (public/domain.py). The event use cases record the
demand's progress as before (demands.usecases) and, in the same statement, what the page adds.
"""

from dataclasses import dataclass

from shared.contracts import Assigned, Rated, RatingLinkIssued, Resolved, utcnow
from shared.db.uow import Tx, UnitOfWork

from ..changes import usecases as changes
from ..demands import usecases as demands
from ..demands.domain import Demand
from ..stations.domain import Station
from ..store import Store
from . import domain
from .domain import RatingLink, Step


@dataclass(frozen=True)
class StatusPage:
    demand: Demand
    station: Station
    steps: list[Step]
    rating_link: RatingLink | None  # offered now (domain.offered), else None


async def _page(tx: Tx[Store], demand: Demand) -> StatusPage:
    station = await tx.store.station(demand.station_id)
    times = await tx.store.step_times(demand.demand_id)
    link = await tx.store.status_rating_link(demand.demand_id, demand.progress_round)
    return StatusPage(demand, station, domain.steps(demand, times), domain.offered(demand, link, utcnow()))


async def status(uow: UnitOfWork[Store], token: str) -> StatusPage:
    """What the status link shows; the token is the enterprise's only authority and reaches exactly one demand."""
    async with uow.begin() as tx:
        return await _page(tx, await demands.by_status_token(tx.store, token))


async def withdraw(
    uow: UnitOfWork[Store], token: str, reason: str, *, idempotency_key: str | None = None
) -> StatusPage:
    """撤回 through the status link (changes.withdraw_by_token), answered with the page as it then stands."""
    await changes.withdraw_by_token(uow, token, reason, idempotency_key=idempotency_key)
    return await status(uow, token)


# --- events: the demand's progress (as before) and what the page adds, in one transaction -----------------------


async def record_assigned(tx: Tx[Store], event: Assigned) -> None:
    """派单, 改派 or 转办: the handling the enterprise is told of, and the 派单 moment (the earliest assignment's),
    saved in one statement."""
    await demands.record_assigned(tx, event, steps=domain.moment(event))


async def record_progress(tx: Tx[Store], event: Resolved | Rated) -> None:
    """办结 or 评价: the progress (which stops offering the rating link once rated) and the step's moment, saved in one
    statement."""
    await demands.record_progress(tx, event, steps=domain.moment(event))


async def record_rating_link(tx: Tx[Store], event: RatingLinkIssued) -> None:
    """The rating link evaluation made for the round: kept (the latest of the round) for the status page to offer; the
    demand checked in the same statement."""
    if not await tx.store.keep_status_rating_link(domain.rating_link(event)):
        raise LookupError(f"demand {event.demand_id} unknown to intake")  # retried until it is visible
