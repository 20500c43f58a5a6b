"""Catalogue use cases: one unit of work each.

Reference data, not station-scoped: read by anyone, written by operations in the service's own scope.
"""

from shared.auth import Principal
from shared.db.uow import UnitOfWork
from shared.errors import Invalid, NotFound

from ..store import Store
from . import domain
from .domain import CatalogueEntry, Override


async def list_categories(uow: UnitOfWork[Store]) -> list[domain.Category]:
    async with uow.begin() as tx:
        return list((await tx.store.categories()).values())


async def catalogue(uow: UnitOfWork[Store], station_id: str | None) -> list[CatalogueEntry]:
    """The catalogue as it applies at a station (its overrides), or the city-independent base."""
    async with uow.begin() as tx:
        items, overrides, order = await tx.store.catalogue()
        labels = {c.code: c.label for c in (await tx.store.categories()).values()}
    target = station_id or ""
    entries = [domain.resolve_entry(i, labels[i.category], overrides if target else [], target) for i in items]
    return sorted(entries, key=lambda e: order[e.item.item_code])


async def save_item(uow: UnitOfWork[Store], principal: Principal, item_code: str, **changes) -> CatalogueEntry:
    """A new version of a catalogue item (or its first); demands already submitted keep theirs."""
    async with uow.begin() as tx:
        categories = await tx.store.categories()
        if changes["category"] not in categories:
            raise Invalid("未知的服务类别", "unknown category", field="category")
        item = domain.new_item_version(await tx.store.latest_item(item_code), item_code=item_code, **changes)
        await tx.store.add_item(item, principal.name)
    return domain.resolve_entry(item, categories[item.category].label, [], "")


async def save_override(
    uow: UnitOfWork[Store],
    principal: Principal,
    scope: str,
    item_code: str,
    time_limit_days: int | None,
    materials: list[str] | None,
) -> Override:
    async with uow.begin() as tx:
        item = await tx.store.latest_item(item_code)
        if item is None:
            raise NotFound("未找到该服务项目", "catalogue item not found")
        if time_limit_days is not None:
            domain.check_commitment(time_limit_days, item.legal_limit_days)
        override = Override(
            scope=scope,
            item_code=item_code,
            version=await tx.store.next_override_version(scope, item_code),
            time_limit_days=time_limit_days,
            materials=tuple(materials) if materials is not None else None,
        )
        await tx.store.add_override(override, principal.name)
    return override
