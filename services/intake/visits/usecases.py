"""Visit use cases: one unit of work each, in the caller's station scope."""

from uuid import UUID, uuid4

from shared.auth import Principal
from shared.db.uow import UnitOfWork
from shared.errors import NotFound

from ..store import Store


async def record_visit(uow: UnitOfWork[Store], principal: Principal, **visit) -> dict:
    record = {**visit, "visit_id": uuid4(), "station_id": principal.station, "recorded_by": principal.name}
    async with uow.begin(principal) as tx:
        await tx.store.add_visit(record)
    return record


async def get_visit(uow: UnitOfWork[Store], principal: Principal, visit_id: UUID) -> tuple[dict, list]:
    async with uow.begin(principal) as tx:
        visit = await tx.store.visit(principal.db_scope, visit_id)
        if visit is None:
            raise NotFound("未找到该走访记录", "visit not found")
        return dict(visit), [dict(r) for r in await tx.store.visit_demands(visit_id)]


async def list_visits(uow: UnitOfWork[Store], principal: Principal, limit: int, offset: int) -> list[dict]:
    async with uow.begin(principal) as tx:
        return [dict(r) for r in await tx.store.visits(principal.db_scope, limit, offset)]
