"""Access-log use cases: the lines a read writes in its own transaction, and the log in the caller's scope
(a head: the station; a supervisor: its subtree)."""

from datetime import date

from shared.auth import Principal
from shared.contracts import utcnow
from shared.db.uow import Tx, UnitOfWork

from ..store import Store
from . import domain


async def log_read(tx: Tx[Store], purpose: str, kind: domain.Kind, scope: str, shown: list[tuple[str, str]]) -> None:
    """Called inside the reading transaction, so the read and its lines commit together (or neither)."""
    await tx.store.log_access(domain.lines(tx.principal, utcnow(), purpose, kind, scope, shown))


async def access_log(
    uow: UnitOfWork[Store],
    principal: Principal,
    station_id: str | None,
    start: date | None,
    end: date | None,
    limit: int,
    offset: int,
) -> list[dict]:
    since, until = domain.period(start, end)
    async with uow.begin(principal) as tx:
        scope = await tx.scope(station_id)
        return await tx.store.access_log(scope, since, until, limit, offset)
