"""Intake SQL. Functions take a connection; the caller owns the transaction."""

from datetime import date
from uuid import UUID

import asyncpg

from shared.contracts import Channel, GreenChannel

from .domain import (
    CatalogueEntry,
    CatalogueItem,
    Category,
    Demand,
    DemandItem,
    EnterpriseDossier,
    Override,
    Station,
)

# A station's rows, or for a supervisor every station below the prefix.
IN_SCOPE = "(station_id = $1 OR starts_with(station_id, $1 || '/'))"

# --- catalogue --------------------------------------------------------------------------------

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
_LATEST_OVERRIDE_VERSION = "SELECT coalesce(max(version), 0) FROM catalogue_overrides WHERE scope = $1 AND item_code = $2"
_ADD_OVERRIDE = """
INSERT INTO catalogue_overrides (scope, item_code, version, time_limit_days, materials, created_by)
VALUES ($1, $2, $3, $4, $5, $6)
"""


def _item(row: asyncpg.Record) -> CatalogueItem:
    return CatalogueItem(**{**row, "materials": tuple(row["materials"])})


async def categories(conn: asyncpg.Connection) -> dict[str, Category]:
    return {r["code"]: Category(**r) for r in await conn.fetch(_CATEGORIES)}


async def catalogue(conn: asyncpg.Connection) -> tuple[list[CatalogueItem], list[Override], dict[str, int]]:
    items = [_item(r) for r in await conn.fetch(_LATEST_ITEMS)]
    overrides = [
        Override(**{**r, "materials": tuple(r["materials"]) if r["materials"] is not None else None})
        for r in await conn.fetch(_OVERRIDES)
    ]
    order = {r["item_code"]: r["sort_order"] for r in await conn.fetch(_ITEM_ORDER)}
    return items, overrides, order


async def latest_item(conn: asyncpg.Connection, item_code: str) -> CatalogueItem | None:
    row = await conn.fetchrow(_LATEST_ITEM, item_code)
    return _item(row) if row else None


async def add_item(conn: asyncpg.Connection, i: CatalogueItem, by: str) -> None:
    await conn.execute(_ADD_ITEM, i.item_code, i.version, i.category, i.label, i.description, list(i.materials),
                       i.time_limit_days, i.legal_limit_days, i.handled_by, by)  # fmt: skip


async def next_override_version(conn: asyncpg.Connection, scope: str, item_code: str) -> int:
    return await conn.fetchval(_LATEST_OVERRIDE_VERSION, scope, item_code) + 1


async def add_override(conn: asyncpg.Connection, o: Override, by: str) -> None:
    materials = list(o.materials) if o.materials is not None else None
    await conn.execute(_ADD_OVERRIDE, o.scope, o.item_code, o.version, o.time_limit_days, materials, by)


# --- calendar ---------------------------------------------------------------------------------

async def workday_overrides(conn: asyncpg.Connection) -> dict[date, bool]:
    return {r["day"]: r["is_workday"] for r in await conn.fetch("SELECT day, is_workday FROM calendar_overrides")}


async def save_workday(conn: asyncpg.Connection, day: date, is_workday: bool, note: str) -> None:
    await conn.execute(
        """INSERT INTO calendar_overrides (day, is_workday, note) VALUES ($1, $2, $3)
           ON CONFLICT (day) DO UPDATE SET is_workday = EXCLUDED.is_workday, note = EXCLUDED.note""",
        day, is_workday, note,
    )  # fmt: skip


# --- demands ----------------------------------------------------------------------------------

_NEXT_SERIAL = """
INSERT INTO tracking_counters (station_id, year, last_serial) VALUES ($1, $2, 1)
ON CONFLICT (station_id, year) DO UPDATE SET last_serial = tracking_counters.last_serial + 1
RETURNING last_serial
"""

_DEMAND_COLUMNS = (
    "demand_id", "station_id", "tracking_no", "enterprise_name", "credit_code", "contact_name", "contact_phone",
    "categories", "description", "channel", "first_responder", "time_limit_days", "submitted_at", "correlation_id",
    "status", "archive_no", "archived_at", "credit_code_flag", "received_at", "green_channel", "green_channel_reason",
    "details", "visit_id", "possible_duplicate_of", "expected_on", "progress", "first_responder_id",
)  # fmt: skip
_COLUMNS = ", ".join(_DEMAND_COLUMNS)
_INSERT = f"INSERT INTO demands ({_COLUMNS}) VALUES ({', '.join(f'${n}' for n in range(1, len(_DEMAND_COLUMNS) + 1))})"
_GET = f"SELECT {_COLUMNS} FROM demands WHERE demand_id = $1"
_GET_IN_SCOPE = f"SELECT {_COLUMNS} FROM demands WHERE demand_id = $2 AND {IN_SCOPE}"
_LIST = f"""
SELECT {_COLUMNS} FROM demands
WHERE {IN_SCOPE} AND ($2::text IS NULL OR status = $2)
    AND ($3::date IS NULL OR submitted_at >= $3::date::timestamp AT TIME ZONE 'Asia/Shanghai')
    AND ($4::date IS NULL OR submitted_at < ($4::date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai')
ORDER BY submitted_at DESC, tracking_no DESC
LIMIT $5 OFFSET $6
"""
_ITEM_FIELDS = ("position", "item_code", "item_version", "override_scope", "category", "label", "time_limit_days",
                "materials", "handled_by", "materials_received", "remarks")  # fmt: skip
_INSERT_ITEM = f"""
INSERT INTO demand_items (demand_id, station_id, {', '.join(_ITEM_FIELDS)})
VALUES ($1, $2, {', '.join(f'${n}' for n in range(3, len(_ITEM_FIELDS) + 3))})
"""
_ITEMS = f"SELECT demand_id, {', '.join(_ITEM_FIELDS)} FROM demand_items WHERE demand_id = ANY($1::uuid[]) ORDER BY position"
_OPEN_DUPLICATE = """
SELECT d.demand_id FROM demands d JOIN demand_items i USING (demand_id)
WHERE d.station_id = $1 AND d.credit_code = $2 AND d.status = 'open' AND d.progress IN ('submitted', 'assigned')
    AND i.item_code = ANY($3::text[])
ORDER BY d.submitted_at DESC LIMIT 1
"""
_SAVE_PROGRESS = "UPDATE demands SET progress = $2, status = $3, archive_no = $4, archived_at = $5 WHERE demand_id = $1"


async def next_serial(conn: asyncpg.Connection, station_id: str, year: int) -> int:
    return await conn.fetchval(_NEXT_SERIAL, station_id, year)


async def insert(conn: asyncpg.Connection, d: Demand) -> None:
    values = {
        **{c: getattr(d, c) for c in _DEMAND_COLUMNS},
        "categories": [{"code": c.code, "label": c.label, "time_limit_days": c.time_limit_days} for c in d.categories],
        "channel": d.channel.value,
        "green_channel": d.green_channel.value if d.green_channel else None,
    }
    await conn.execute(_INSERT, *(values[c] for c in _DEMAND_COLUMNS))
    for i in d.items:
        await conn.execute(_INSERT_ITEM, d.demand_id, d.station_id, *(
            list(v) if isinstance(v, tuple) else v for v in (getattr(i, f) for f in _ITEM_FIELDS)
        ))  # fmt: skip


async def _with_items(conn: asyncpg.Connection, rows: list[asyncpg.Record]) -> list[Demand]:
    items: dict[UUID, list[DemandItem]] = {}
    for r in await conn.fetch(_ITEMS, [row["demand_id"] for row in rows]):
        data = dict(r)
        demand_id = data.pop("demand_id")
        data["materials"] = tuple(data["materials"])
        data["materials_received"] = tuple(data["materials_received"])
        items.setdefault(demand_id, []).append(DemandItem(**data))
    return [_demand(row, tuple(items.get(row["demand_id"], ()))) for row in rows]


async def get(conn: asyncpg.Connection, demand_id: UUID, *, for_update: bool = False) -> Demand | None:
    row = await conn.fetchrow(_GET + (" FOR UPDATE" if for_update else ""), demand_id)
    return (await _with_items(conn, [row]))[0] if row else None


async def get_in_scope(conn: asyncpg.Connection, demand_id: UUID, scope: str) -> Demand | None:
    row = await conn.fetchrow(_GET_IN_SCOPE, scope, demand_id)
    return (await _with_items(conn, [row]))[0] if row else None


async def list_in_scope(
    conn: asyncpg.Connection, scope: str, status: str | None, since: date | None, until: date | None,
    limit: int, offset: int,
) -> list[Demand]:  # fmt: skip
    return await _with_items(conn, await conn.fetch(_LIST, scope, status, since, until, limit, offset))


async def open_duplicate(conn: asyncpg.Connection, station_id: str, credit_code: str, codes: list[str]) -> UUID | None:
    return await conn.fetchval(_OPEN_DUPLICATE, station_id, credit_code, codes)


async def save_progress(conn: asyncpg.Connection, d: Demand) -> None:
    await conn.execute(_SAVE_PROGRESS, d.demand_id, d.progress, d.status, d.archive_no, d.archived_at)


def _demand(row: asyncpg.Record, items: tuple[DemandItem, ...]) -> Demand:
    data = dict(row)
    data["categories"] = tuple(Category(**c) for c in data["categories"])
    data["channel"] = Channel(data["channel"])
    data["green_channel"] = GreenChannel(data["green_channel"]) if data["green_channel"] else None
    return Demand(**data, items=items)


# --- idempotency and status links ---------------------------------------------------------------

async def lock_idempotency_key(conn: asyncpg.Connection, station_id: str, key: str) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1 || ' ' || $2))", station_id, key)


async def idempotent_result(conn: asyncpg.Connection, station_id: str, key: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT request_sha256, demand_id FROM idempotency_keys WHERE station_id = $1 AND key = $2", station_id, key
    )


async def remember_idempotent(conn: asyncpg.Connection, station_id: str, key: str, digest: str, demand_id: UUID) -> None:
    await conn.execute(
        "INSERT INTO idempotency_keys (station_id, key, request_sha256, demand_id) VALUES ($1, $2, $3, $4)",
        station_id, key, digest, demand_id,
    )  # fmt: skip


async def add_status_link(conn: asyncpg.Connection, digest: str, d: Demand, expires_at) -> None:
    await conn.execute(
        "INSERT INTO status_links (token_sha256, demand_id, station_id, expires_at) VALUES ($1, $2, $3, $4)",
        digest, d.demand_id, d.station_id, expires_at,
    )  # fmt: skip


async def status_link(conn: asyncpg.Connection, digest: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT demand_id, expires_at FROM status_links WHERE token_sha256 = $1", digest)


# --- enterprises ------------------------------------------------------------------------------

_ENTERPRISE_FIELDS = (
    "station_id", "credit_code", "name", "credit_code_flag", "legal_representative", "industry", "size", "employees",
    "output_value_wan", "main_products", "address", "in_park", "park_name", "town", "chain", "chain_leader",
    "own_labs", "labs_cover_own_testing", "contacts", "products", "instruments", "special_equipment", "operator_exams",
)  # fmt: skip
_ENTERPRISE_COLUMNS = ", ".join(_ENTERPRISE_FIELDS)
_UPSERT_ENTERPRISE = f"""
INSERT INTO enterprises ({_ENTERPRISE_COLUMNS}) VALUES ({', '.join(f'${n}' for n in range(1, len(_ENTERPRISE_FIELDS) + 1))})
ON CONFLICT (station_id, credit_code) DO UPDATE SET
    {', '.join(f'{c} = EXCLUDED.{c}' for c in _ENTERPRISE_FIELDS[2:])}, updated_at = now()
"""
_GET_ENTERPRISE = f"SELECT {_ENTERPRISE_COLUMNS} FROM enterprises WHERE {IN_SCOPE} AND credit_code = $2"
_SEARCH_ENTERPRISES = f"""
SELECT {_ENTERPRISE_COLUMNS} FROM enterprises
WHERE {IN_SCOPE}
    AND ($2::text IS NULL OR name ILIKE '%' || $2 || '%' OR credit_code = upper($2))
    AND ($3::text IS NULL OR park_name = $3)
    AND ($4::text IS NULL OR chain = $4)
    AND ($5::text IS NULL OR town = $5)
ORDER BY name LIMIT $6 OFFSET $7
"""
_ENSURE_ENTERPRISE = """
INSERT INTO enterprises (station_id, credit_code, name, credit_code_flag, contacts) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (station_id, credit_code) DO NOTHING
"""


def _dossier(row: asyncpg.Record) -> EnterpriseDossier:
    data = dict(row)
    for table in ("contacts", "products", "instruments", "special_equipment", "operator_exams"):
        data[table] = tuple(data[table])
    if data["output_value_wan"] is not None:
        data["output_value_wan"] = float(data["output_value_wan"])
    return EnterpriseDossier(**data)


async def save_enterprise(conn: asyncpg.Connection, e: EnterpriseDossier) -> None:
    await conn.execute(_UPSERT_ENTERPRISE, *(
        list(v) if isinstance(v, tuple) else v for v in (getattr(e, f) for f in _ENTERPRISE_FIELDS)
    ))  # fmt: skip


async def ensure_enterprise(conn: asyncpg.Connection, d: Demand) -> None:
    """A demand from an enterprise the station has no dossier for starts one (一企一册)."""
    contact = [{"name": d.contact_name, "phone": d.contact_phone}]
    await conn.execute(_ENSURE_ENTERPRISE, d.station_id, d.credit_code, d.enterprise_name, d.credit_code_flag, contact)


async def enterprise(conn: asyncpg.Connection, scope: str, credit_code: str) -> EnterpriseDossier | None:
    row = await conn.fetchrow(_GET_ENTERPRISE, scope, credit_code)
    return _dossier(row) if row else None


async def search_enterprises(
    conn: asyncpg.Connection, scope: str, q: str | None, park: str | None, chain: str | None, town: str | None,
    limit: int, offset: int,
) -> list[EnterpriseDossier]:  # fmt: skip
    return [_dossier(r) for r in await conn.fetch(_SEARCH_ENTERPRISES, scope, q, park, chain, town, limit, offset)]


# --- visits -----------------------------------------------------------------------------------

_VISIT_COLUMNS = "visit_id, station_id, credit_code, enterprise_name, staff, visited_on, findings, recorded_by"


async def add_visit(conn: asyncpg.Connection, visit: dict) -> None:
    await conn.execute(
        f"INSERT INTO visits ({_VISIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        *(visit[c] for c in _VISIT_COLUMNS.split(", ")),
    )


async def visit(conn: asyncpg.Connection, scope: str, visit_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_VISIT_COLUMNS} FROM visits WHERE {IN_SCOPE} AND visit_id = $2", scope, visit_id)


async def visits(conn: asyncpg.Connection, scope: str, limit: int, offset: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {_VISIT_COLUMNS} FROM visits WHERE {IN_SCOPE} ORDER BY visited_on DESC LIMIT $2 OFFSET $3",
        scope, limit, offset,
    )  # fmt: skip


async def visit_demands(conn: asyncpg.Connection, visit_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT demand_id, tracking_no FROM demands WHERE visit_id = $1 ORDER BY tracking_no", visit_id)


# --- stations ---------------------------------------------------------------------------------

_STATION_COLUMNS = "station_id, name, address, level, parent_id, has_window, phone"
_STATIONS = f"""
SELECT {_STATION_COLUMNS} FROM stations
WHERE $1::text IS NULL OR station_id = $1 OR starts_with(station_id, $1 || '/')
ORDER BY station_id
"""
_STATION = f"SELECT {_STATION_COLUMNS} FROM stations WHERE station_id = $1"
_UPSERT_STATION = f"""
INSERT INTO stations ({_STATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (station_id) DO UPDATE SET name = EXCLUDED.name, address = EXCLUDED.address,
    level = EXCLUDED.level, parent_id = EXCLUDED.parent_id, has_window = EXCLUDED.has_window, phone = EXCLUDED.phone
"""


async def stations(conn: asyncpg.Connection, under: str | None) -> list[Station]:
    return [Station(**r) for r in await conn.fetch(_STATIONS, under)]


async def station(conn: asyncpg.Connection, station_id: str) -> Station | None:
    row = await conn.fetchrow(_STATION, station_id)
    return Station(**row) if row else None


async def save_station(conn: asyncpg.Connection, s: Station) -> None:
    await conn.execute(_UPSERT_STATION, s.station_id, s.name, s.address, s.level, s.parent_id, s.has_window, s.phone)
