"""Evaluation SQL. The store is bound to one transaction's connection; the unit of work owns the transaction."""

from datetime import datetime
from uuid import UUID

import asyncpg

from shared.contracts import Rated
from shared.observability.metrics import StoreCounter

from .domain import SURVEY_FIELDS, Rating, RatingLink, Survey

_COLUMNS = ", ".join(SURVEY_FIELDS)
_PLACEHOLDERS = ", ".join(f"${n}" for n in range(1, len(SURVEY_FIELDS) + 1))
# What a survey keeps of its demand (station, tracking number, correlation) is fixed by the first event seen.
_FIXED = ("demand_id", "station_id", "tracking_no", "correlation_id")
_UPDATES = ", ".join(f"{c} = EXCLUDED.{c}" for c in SURVEY_FIELDS if c not in _FIXED)
_UPSERT = f"""
INSERT INTO surveys ({_COLUMNS}) VALUES ({_PLACEHOLDERS})
ON CONFLICT (demand_id) DO UPDATE SET {_UPDATES}
"""
_GET = f"SELECT {_COLUMNS} FROM surveys WHERE demand_id = $1"
_GET_IN_SCOPE = _GET + " AND qs_covers($2, station_id)"
_LIST = f"""
SELECT {_COLUMNS} FROM surveys WHERE ($1::text IS NULL OR status = $1) AND qs_covers($2, station_id)
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

COUNTERS = (
    StoreCounter(
        "qs_ratings_total",
        "Satisfaction ratings, by station and overall level",
        ("station_id", "overall"),
        "SELECT station_id, overall, count(*) FROM ratings GROUP BY 1, 2",
    ),
)


class Store:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def get(self, demand_id: UUID, *, for_update: bool = False) -> Survey | None:
        row = await self.conn.fetchrow(_GET + (" FOR UPDATE" if for_update else ""), demand_id)
        return Survey(**row) if row else None

    async def save(self, survey: Survey) -> None:
        await self.conn.execute(_UPSERT, *(getattr(survey, c) for c in SURVEY_FIELDS))

    async def get_in_scope(self, demand_id: UUID, scope: str, *, for_update: bool = False) -> Survey | None:
        row = await self.conn.fetchrow(_GET_IN_SCOPE + (" FOR UPDATE" if for_update else ""), demand_id, scope)
        return Survey(**row) if row else None

    async def list_in_scope(self, scope: str, status: str | None, limit: int, offset: int) -> list[Survey]:
        return [Survey(**r) for r in await self.conn.fetch(_LIST, status, scope, limit, offset)]

    async def add_link(self, link: RatingLink) -> None:
        await self.retire_links(link.demand_id, link.created_at)
        await self.conn.execute(
            _ADD_LINK,
            link.token_sha256,
            link.demand_id,
            link.station_id,
            link.round,
            link.created_by,
            link.created_at,
            link.expires_at,
            link.used_at,
        )

    async def retire_links(self, demand_id: UUID, when: datetime) -> None:
        """The demand's unused links stop working at `when`."""
        await self.conn.execute(_RETIRE_LINKS, demand_id, when)

    async def get_link(self, token_sha256: str) -> RatingLink | None:
        row = await self.conn.fetchrow(_GET_LINK, token_sha256)
        return RatingLink(**row) if row else None

    async def use_link(self, token_sha256: str, when: datetime) -> None:
        await self.conn.execute(_USE_LINK, token_sha256, when)

    async def add_rating(self, e: Rated) -> None:
        await self.conn.execute(
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

    async def ratings(self, demand_id: UUID) -> list[Rating]:
        return [Rating(**r) for r in await self.conn.fetch(_RATINGS, demand_id)]
