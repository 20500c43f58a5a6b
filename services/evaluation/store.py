"""Evaluation SQL. Functions take a connection; the caller owns the transaction."""

from uuid import UUID

import asyncpg

from shared.contracts import Rated

from .domain import RatingLink, Survey

_COLUMNS = "demand_id, station_id, tracking_no, correlation_id, round, served_by_org, status, opened_at, rated_at"
_UPSERT = f"""
INSERT INTO surveys ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (demand_id) DO UPDATE SET round = EXCLUDED.round, served_by_org = EXCLUDED.served_by_org,
    status = EXCLUDED.status, opened_at = EXCLUDED.opened_at, rated_at = EXCLUDED.rated_at
"""
_GET = f"SELECT {_COLUMNS} FROM surveys WHERE demand_id = $1"
_IN_SCOPE = "(station_id = $2 OR starts_with(station_id, $2 || '/'))"
_GET_IN_SCOPE = _GET + " AND " + _IN_SCOPE
_LIST = f"""
SELECT {_COLUMNS} FROM surveys WHERE ($1::text IS NULL OR status = $1) AND {_IN_SCOPE}
ORDER BY opened_at DESC NULLS LAST LIMIT $3 OFFSET $4
"""
_LINK_COLUMNS = "token_sha256, demand_id, station_id, round, created_by, created_at, expires_at, used_at"
_ADD_LINK = f"INSERT INTO rating_links ({_LINK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
# A new link replaces the demand's earlier unused ones.
_RETIRE_LINKS = "UPDATE rating_links SET expires_at = $2 WHERE demand_id = $1 AND used_at IS NULL AND expires_at > $2"
_GET_LINK = f"SELECT {_LINK_COLUMNS} FROM rating_links WHERE token_sha256 = $1 FOR UPDATE"
_USE_LINK = "UPDATE rating_links SET used_at = $2 WHERE token_sha256 = $1"
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


async def get_in_scope(conn: asyncpg.Connection, demand_id: UUID, scope: str, *, for_update: bool = False) -> Survey | None:
    row = await conn.fetchrow(_GET_IN_SCOPE + (" FOR UPDATE" if for_update else ""), demand_id, scope)
    return Survey(**row) if row else None


async def list_in_scope(conn: asyncpg.Connection, scope: str, status: str | None, limit: int, offset: int) -> list[Survey]:
    return [Survey(**r) for r in await conn.fetch(_LIST, status, scope, limit, offset)]


async def add_link(conn: asyncpg.Connection, link: RatingLink) -> None:
    await conn.execute(_RETIRE_LINKS, link.demand_id, link.created_at)
    await conn.execute(
        _ADD_LINK, link.token_sha256, link.demand_id, link.station_id, link.round, link.created_by, link.created_at,
        link.expires_at, link.used_at,
    )


async def get_link(conn: asyncpg.Connection, token_sha256: str) -> RatingLink | None:
    row = await conn.fetchrow(_GET_LINK, token_sha256)
    return RatingLink(**row) if row else None


async def use_link(conn: asyncpg.Connection, token_sha256: str, when) -> None:
    await conn.execute(_USE_LINK, token_sha256, when)


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
