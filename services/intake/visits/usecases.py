"""Visit use cases: one unit of work each, in the caller's station scope.

Recording writes the visit and VisitRecorded (outbox) in one transaction; a POST may carry an Idempotency-Key: a retry
answers with the visit recorded first and publishes nothing again. A visit names the enterprise and what was found
there, so every read of one is logged in its transaction (access log, kind "enterprise", by credit code).
"""

from dataclasses import asdict, dataclass
from datetime import date
from uuid import UUID, uuid4

from shared.auth import Principal
from shared.contracts import utcnow
from shared.db.uow import UnitOfWork
from shared.errors import NotFound
from shared.idempotency import Idempotent

from ..access_log.usecases import log_read
from ..store import Store
from . import domain

_NOT_FOUND = NotFound("未找到该走访记录", "visit not found")


@dataclass(frozen=True)
class VisitForm:
    """A visit as the station's staff record it."""

    credit_code: str
    enterprise_name: str
    staff: list[str]
    visited_on: date
    findings: str


async def record_visit(
    uow: UnitOfWork[Store], principal: Principal, form: VisitForm, *, idempotency_key: str | None = None
) -> dict:
    """主动进企业 by the station's clerk or head, for their own station: kept and published together, once per key."""
    retry = Idempotent.of(idempotency_key, principal.subject, "visit", asdict(form))
    async with uow.begin(principal) as tx:
        if (earlier := await tx.recall(retry)) is not None:
            first = await tx.store.visit(principal.db_scope, UUID(earlier["visit_id"]))
            if first is None:
                raise _NOT_FOUND
            return dict(first)
        visit = {**asdict(form), "visit_id": uuid4(), "station_id": principal.station, "recorded_by": principal.name}
        await tx.store.add_visit(visit)
        await tx.publish(domain.recorded_event(visit, event_id=uuid4(), correlation_id=uuid4(), at=utcnow()))
        await tx.remember(retry, {"visit_id": str(visit["visit_id"])})
    return visit


async def get_visit(uow: UnitOfWork[Store], principal: Principal, visit_id: UUID) -> tuple[dict, list]:
    async with uow.begin(principal) as tx:
        visit = await tx.store.visit(principal.db_scope, visit_id)
        if visit is None:
            raise _NOT_FOUND
        await log_read(tx, "visit.read", "enterprise", principal.db_scope, [_shown(visit)])
        return dict(visit), [dict(r) for r in await tx.store.visit_demands(visit_id)]


async def list_visits(uow: UnitOfWork[Store], principal: Principal, limit: int, offset: int) -> list[dict]:
    """The page of visits shown: logged with every enterprise on it."""
    async with uow.begin(principal) as tx:
        visits = [dict(r) for r in await tx.store.visits(principal.db_scope, limit, offset)]
        await log_read(tx, "visit.list", "enterprise", principal.db_scope, [_shown(v) for v in visits])
        return visits


def _shown(visit) -> tuple[str, str]:
    return visit["station_id"], visit["credit_code"]
