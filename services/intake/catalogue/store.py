"""Catalogue SQL: categories, item versions, overrides.

The store is bound to one transaction's connection; the unit of work owns the transaction.
"""

import asyncpg

from .domain import CatalogueItem, Category, Override

_CATEGORIES = "SELECT code, label, time_limit_days FROM categories ORDER BY sort_order"
_ITEM_COLUMNS = """item_code, version, category, label, description, materials, time_limit_days, legal_limit_days,
    handled_by"""
_LATEST_ITEMS = f"""
SELECT DISTINCT ON (item_code) {_ITEM_COLUMNS} FROM catalogue_items
ORDER BY item_code, version DESC
"""
_LATEST_ITEM = f"SELECT {_ITEM_COLUMNS} FROM catalogue_items WHERE item_code = $1 ORDER BY version DESC LIMIT 1"
_ITEM_ORDER = "SELECT item_code, min(sort_order) AS sort_order FROM catalogue_items GROUP BY item_code"
_ADD_ITEM = f"""
INSERT INTO catalogue_items ({_ITEM_COLUMNS}, sort_order, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,
        coalesce((SELECT min(sort_order) FROM catalogue_items WHERE item_code = $1),
                 (SELECT coalesce(max(sort_order), 0) + 1 FROM catalogue_items)), $10)
"""
_OVERRIDES = """
SELECT DISTINCT ON (scope, item_code) scope, item_code, version, time_limit_days, materials
FROM catalogue_overrides ORDER BY scope, item_code, version DESC
"""
_LATEST_OVERRIDE_VERSION = (
    "SELECT coalesce(max(version), 0) FROM catalogue_overrides WHERE scope = $1 AND item_code = $2"
)
_ADD_OVERRIDE = """
INSERT INTO catalogue_overrides (scope, item_code, version, time_limit_days, materials, created_by)
VALUES ($1, $2, $3, $4, $5, $6)
"""


def _item(row: asyncpg.Record) -> CatalogueItem:
    return CatalogueItem(**{**row, "materials": tuple(row["materials"])})


class CatalogueStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def categories(self) -> dict[str, Category]:
        return {r["code"]: Category(**r) for r in await self.conn.fetch(_CATEGORIES)}

    async def catalogue(self) -> tuple[list[CatalogueItem], list[Override], dict[str, int]]:
        items = [_item(r) for r in await self.conn.fetch(_LATEST_ITEMS)]
        overrides = [
            Override(**{**r, "materials": tuple(r["materials"]) if r["materials"] is not None else None})
            for r in await self.conn.fetch(_OVERRIDES)
        ]
        order = {r["item_code"]: r["sort_order"] for r in await self.conn.fetch(_ITEM_ORDER)}
        return items, overrides, order

    async def latest_item(self, item_code: str) -> CatalogueItem | None:
        row = await self.conn.fetchrow(_LATEST_ITEM, item_code)
        return _item(row) if row else None

    async def add_item(self, i: CatalogueItem, by: str) -> None:
        await self.conn.execute(
            _ADD_ITEM,
            i.item_code,
            i.version,
            i.category,
            i.label,
            i.description,
            list(i.materials),
            i.time_limit_days,
            i.legal_limit_days,
            i.handled_by,
            by,
        )

    async def next_override_version(self, scope: str, item_code: str) -> int:
        return await self.conn.fetchval(_LATEST_OVERRIDE_VERSION, scope, item_code) + 1

    async def add_override(self, o: Override, by: str) -> None:
        materials = list(o.materials) if o.materials is not None else None
        await self.conn.execute(_ADD_OVERRIDE, o.scope, o.item_code, o.version, o.time_limit_days, materials, by)
