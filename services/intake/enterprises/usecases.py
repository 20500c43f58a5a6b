"""Enterprise use cases: the dossier (一企一册), one unit of work each, in the caller's station scope."""

from dataclasses import replace

from shared.auth import Principal
from shared.db.uow import UnitOfWork
from shared.errors import NotFound
from shared.validation import credit_code_flag

from ..store import Store
from . import domain
from .domain import EnterpriseDossier


async def save_enterprise(
    uow: UnitOfWork[Store], principal: Principal, dossier: EnterpriseDossier
) -> EnterpriseDossier:
    dossier = replace(dossier, station_id=principal.station, credit_code_flag=credit_code_flag(dossier.credit_code))
    domain.check_park(dossier)
    async with uow.begin(principal) as tx:
        await tx.store.save_enterprise(dossier)
    return dossier


async def get_enterprise(uow: UnitOfWork[Store], principal: Principal, credit_code: str) -> EnterpriseDossier:
    async with uow.begin(principal) as tx:
        dossier = await tx.store.enterprise(principal.db_scope, credit_code)
    if dossier is None:
        raise NotFound("未找到该企业档案", "enterprise not found")
    return dossier


async def search_enterprises(uow: UnitOfWork[Store], principal: Principal, **filters) -> list[EnterpriseDossier]:
    async with uow.begin(principal) as tx:
        return await tx.store.search_enterprises(principal.db_scope, **filters)
