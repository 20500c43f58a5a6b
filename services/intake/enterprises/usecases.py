"""Enterprise use cases: the dossier (一企一册), one unit of work each, in the caller's station scope."""

from dataclasses import replace

from shared.auth import Principal
from shared.db.uow import UnitOfWork
from shared.errors import NotFound
from shared.validation import credit_code_flag

from ..access_log.usecases import log_read
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
    """The dossier holds the enterprise's contacts and assets: the read is logged in its transaction."""
    async with uow.begin(principal) as tx:
        dossier = await tx.store.enterprise(principal.db_scope, credit_code)
        if dossier is None:
            raise NotFound("未找到该企业档案", "enterprise not found")
        await log_read(tx, "enterprise.read", "enterprise", principal.db_scope, [_shown(dossier)])
    return dossier


async def search_enterprises(uow: UnitOfWork[Store], principal: Principal, **filters) -> list[EnterpriseDossier]:
    """A search returns whole dossiers: logged too, with every enterprise it showed."""
    async with uow.begin(principal) as tx:
        found = await tx.store.search_enterprises(principal.db_scope, **filters)
        await log_read(tx, "enterprise.list", "enterprise", principal.db_scope, [_shown(d) for d in found])
    return found


def _shown(dossier: EnterpriseDossier) -> tuple[str, str]:
    return dossier.station_id, dossier.credit_code
