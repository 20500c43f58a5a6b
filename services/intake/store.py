"""Intake SQL. Functions take a connection; the caller owns the transaction."""

from uuid import UUID

import asyncpg

from shared.contracts import Channel

from .domain import Category, Demand, Station

_CATEGORIES = "SELECT code, label, time_limit_days FROM categories ORDER BY sort_order"

_NEXT_SERIAL = """
INSERT INTO tracking_counters (station_id, year, last_serial) VALUES ($1, $2, 1)
ON CONFLICT (station_id, year) DO UPDATE SET last_serial = tracking_counters.last_serial + 1
RETURNING last_serial
"""

_INSERT = """
INSERT INTO demands (demand_id, station_id, tracking_no, enterprise_name, credit_code, contact_name,
    contact_phone, categories, description, channel, first_responder, time_limit_days, submitted_at,
    correlation_id, status)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
"""

_COLUMNS = """demand_id, station_id, tracking_no, enterprise_name, credit_code, contact_name, contact_phone,
    categories, description, channel, first_responder, time_limit_days, submitted_at, correlation_id,
    status, archive_no, archived_at"""

_GET = f"SELECT {_COLUMNS} FROM demands WHERE demand_id = $1"
_GET_FOR_UPDATE = _GET + " FOR UPDATE"
# Scoped reads: the station or, for a supervisor, every station below the prefix.
_GET_IN_SCOPE = _GET + " AND (station_id = $2 OR starts_with(station_id, $2 || '/'))"

_LIST = f"""
SELECT {_COLUMNS} FROM demands
WHERE (station_id = $1 OR starts_with(station_id, $1 || '/')) AND ($2::text IS NULL OR status = $2)
ORDER BY submitted_at DESC, tracking_no DESC
LIMIT $3 OFFSET $4
"""

_STATION_COLUMNS = "station_id, name, address, level, parent_id, has_window"
_STATIONS = f"""
SELECT {_STATION_COLUMNS} FROM stations
WHERE $1::text IS NULL OR station_id = $1 OR starts_with(station_id, $1 || '/')
ORDER BY station_id
"""
_STATION = f"SELECT {_STATION_COLUMNS} FROM stations WHERE station_id = $1"
_UPSERT_STATION = f"""
INSERT INTO stations ({_STATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (station_id) DO UPDATE SET name = EXCLUDED.name, address = EXCLUDED.address,
    level = EXCLUDED.level, parent_id = EXCLUDED.parent_id, has_window = EXCLUDED.has_window
"""

_ARCHIVE = "UPDATE demands SET status = $2, archive_no = $3, archived_at = $4 WHERE demand_id = $1"


async def categories(conn: asyncpg.Connection) -> dict[str, Category]:
    return {r["code"]: Category(**r) for r in await conn.fetch(_CATEGORIES)}


async def next_serial(conn: asyncpg.Connection, station_id: str, year: int) -> int:
    return await conn.fetchval(_NEXT_SERIAL, station_id, year)


async def insert(conn: asyncpg.Connection, d: Demand) -> None:
    await conn.execute(
        _INSERT,
        d.demand_id,
        d.station_id,
        d.tracking_no,
        d.enterprise_name,
        d.credit_code,
        d.contact_name,
        d.contact_phone,
        [{"code": c.code, "label": c.label, "time_limit_days": c.time_limit_days} for c in d.categories],
        d.description,
        d.channel.value,
        d.first_responder,
        d.time_limit_days,
        d.submitted_at,
        d.correlation_id,
        d.status,
    )


async def get(conn: asyncpg.Connection, demand_id: UUID, *, for_update: bool = False) -> Demand | None:
    row = await conn.fetchrow(_GET_FOR_UPDATE if for_update else _GET, demand_id)
    return _demand(row) if row else None


async def get_in_scope(conn: asyncpg.Connection, demand_id: UUID, scope: str) -> Demand | None:
    row = await conn.fetchrow(_GET_IN_SCOPE, demand_id, scope)
    return _demand(row) if row else None


async def list_in_scope(conn: asyncpg.Connection, scope: str, status: str | None, limit: int, offset: int) -> list[Demand]:
    return [_demand(r) for r in await conn.fetch(_LIST, scope, status, limit, offset)]


async def stations(conn: asyncpg.Connection, under: str | None) -> list[Station]:
    return [Station(**r) for r in await conn.fetch(_STATIONS, under)]


async def station(conn: asyncpg.Connection, station_id: str) -> Station | None:
    row = await conn.fetchrow(_STATION, station_id)
    return Station(**row) if row else None


async def save_station(conn: asyncpg.Connection, s: Station) -> None:
    await conn.execute(_UPSERT_STATION, s.station_id, s.name, s.address, s.level, s.parent_id, s.has_window)


async def save_archived(conn: asyncpg.Connection, d: Demand) -> None:
    await conn.execute(_ARCHIVE, d.demand_id, d.status, d.archive_no, d.archived_at)


def _demand(row: asyncpg.Record) -> Demand:
    data = dict(row)
    data["categories"] = tuple(Category(**c) for c in data["categories"])
    data["channel"] = Channel(data["channel"])
    return Demand(**data)
