"""Evaluation SQL. Functions take a connection; the caller owns the transaction."""

from uuid import UUID

import asyncpg

from shared.contracts import Rated

from .domain import Survey

_COLUMNS = "demand_id, station_id, tracking_no, correlation_id, round, served_by_org, status, opened_at, rated_at"
_UPSERT = f"""
INSERT INTO surveys ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (demand_id) DO UPDATE SET round = EXCLUDED.round, served_by_org = EXCLUDED.served_by_org,
    status = EXCLUDED.status, opened_at = EXCLUDED.opened_at, rated_at = EXCLUDED.rated_at
"""
_GET = f"SELECT {_COLUMNS} FROM surveys WHERE demand_id = $1"
_LIST = f"""
SELECT {_COLUMNS} FROM surveys WHERE station_id = $1 AND ($2::text IS NULL OR status = $2)
ORDER BY opened_at DESC NULLS LAST LIMIT $3 OFFSET $4
"""
_ADD_RATING = """
INSERT INTO ratings (demand_id, round, station_id, answers, overall, source, recorded_by, rated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
"""
_RATINGS = "SELECT round, answers, source, recorded_by, rated_at FROM ratings WHERE demand_id = $1 ORDER BY round"


async def get(conn: asyncpg.Connection, demand_id: UUID, *, for_update: bool = False) -> Survey | None:
    row = await conn.fetchrow(_GET + (" FOR UPDATE" if for_update else ""), demand_id)
    return Survey(**row) if row else None


async def save(conn: asyncpg.Connection, s: Survey) -> None:
    await conn.execute(
        _UPSERT, s.demand_id, s.station_id, s.tracking_no, s.correlation_id, s.round, s.served_by_org, s.status,
        s.opened_at, s.rated_at,
    )


async def list_for_station(
    conn: asyncpg.Connection, station_id: str, status: str | None, limit: int, offset: int
) -> list[Survey]:
    return [Survey(**r) for r in await conn.fetch(_LIST, station_id, status, limit, offset)]


async def add_rating(conn: asyncpg.Connection, e: Rated) -> None:
    await conn.execute(
        _ADD_RATING,
        e.demand_id,
        e.round,
        e.station_id,
        e.answers.model_dump(mode="json"),
        e.answers.overall.value,
        e.source.value,
        e.recorded_by,
        e.rated_at,
    )


async def ratings(conn: asyncpg.Connection, demand_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(_RATINGS, demand_id)
