"""Archive SQL. Functions take a connection; the caller owns the transaction."""

from uuid import UUID

import asyncpg

from shared.contracts import Event

from .domain import Dossier, LoggedEvent

_LOG = """
INSERT INTO event_log (event_id, demand_id, station_id, routing_key, occurred_at, payload)
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING
"""
_EVENTS = "SELECT event_id, routing_key, occurred_at, payload FROM event_log WHERE demand_id = $1"
_NEXT_SERIAL = """
INSERT INTO archive_counters (station_id, year, last_serial) VALUES ($1, $2, 1)
ON CONFLICT (station_id, year) DO UPDATE SET last_serial = archive_counters.last_serial + 1
RETURNING last_serial
"""
_DOSSIER_COLUMNS = "demand_id, station_id, tracking_no, archive_no, sealed_at, retain_until, content, content_sha256"
_INSERT_DOSSIER = f"INSERT INTO dossiers ({_DOSSIER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
_GET_DOSSIER = f"SELECT {_DOSSIER_COLUMNS} FROM dossiers WHERE demand_id = $1"
_IN_SCOPE = "(station_id = $2 OR starts_with(station_id, $2 || '/'))"
_GET_IN_SCOPE = _GET_DOSSIER + " AND " + _IN_SCOPE
_LIST = f"""
SELECT {_DOSSIER_COLUMNS} FROM dossiers WHERE (station_id = $1 OR starts_with(station_id, $1 || '/'))
ORDER BY sealed_at DESC LIMIT $2 OFFSET $3
"""
_LOG_ACCESS = "INSERT INTO access_log (demand_id, station_id, subject, role) VALUES ($1, $2, $3, $4)"


async def log_event(conn: asyncpg.Connection, event: Event) -> None:
    await conn.execute(
        _LOG,
        event.event_id,
        event.demand_id,
        event.station_id,
        event.routing_key,
        event.occurred_at,
        event.model_dump(mode="json"),
    )


async def events(conn: asyncpg.Connection, demand_id: UUID) -> list[LoggedEvent]:
    return [LoggedEvent(**r) for r in await conn.fetch(_EVENTS, demand_id)]


async def next_serial(conn: asyncpg.Connection, station_id: str, year: int) -> int:
    return await conn.fetchval(_NEXT_SERIAL, station_id, year)


async def insert_dossier(conn: asyncpg.Connection, d: Dossier) -> None:
    await conn.execute(
        _INSERT_DOSSIER,
        d.demand_id,
        d.station_id,
        d.tracking_no,
        d.archive_no,
        d.sealed_at,
        d.retain_until,
        d.content,
        d.content_sha256,
    )


async def get_dossier(conn: asyncpg.Connection, demand_id: UUID) -> Dossier | None:
    row = await conn.fetchrow(_GET_DOSSIER, demand_id)
    return Dossier(**row) if row else None


async def get_in_scope(conn: asyncpg.Connection, demand_id: UUID, scope: str) -> Dossier | None:
    row = await conn.fetchrow(_GET_IN_SCOPE, demand_id, scope)
    return Dossier(**row) if row else None


async def list_in_scope(conn: asyncpg.Connection, scope: str, limit: int, offset: int) -> list[Dossier]:
    return [Dossier(**r) for r in await conn.fetch(_LIST, scope, limit, offset)]


async def log_access(conn: asyncpg.Connection, d: Dossier, subject: str, role: str) -> None:
    await conn.execute(_LOG_ACCESS, d.demand_id, d.station_id, subject, role)
