"""Station registry SQL: the registry, its tree walks, announcements.

The store is bound to one transaction's connection; the unit of work owns the transaction.
"""

from datetime import datetime

import asyncpg

from shared import stations as station_tree
from shared.contracts import StationRegistered

from .domain import Station

_STATION_COLUMNS = "station_id, name, address, level, parent_id, has_window, phone"
_STATIONS = f"""
SELECT {_STATION_COLUMNS} FROM stations
WHERE $1::text IS NULL OR qs_covers($1, station_id)
ORDER BY station_id
"""
_STATION = f"SELECT {_STATION_COLUMNS} FROM stations WHERE station_id = $1"
_UPSERT_STATION = f"""
INSERT INTO stations ({_STATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (station_id) DO UPDATE SET name = EXCLUDED.name, address = EXCLUDED.address,
    level = EXCLUDED.level, parent_id = EXCLUDED.parent_id, has_window = EXCLUDED.has_window, phone = EXCLUDED.phone
"""
# Each station with its registry ancestors, the root first and the parent last, walked up the parent links.
# The depth bound only guards against a cycle the placement rules already refuse.
_WITH_ANCESTORS = f"""
WITH RECURSIVE up (origin, ancestor, depth) AS (
    SELECT station_id, parent_id, 1 FROM stations WHERE station_id = ANY($1::text[])
    UNION ALL
    SELECT up.origin, s.parent_id, up.depth + 1
    FROM up JOIN stations s ON s.station_id = up.ancestor
    WHERE up.depth < 32
)
SELECT {", ".join(f"s.{c}" for c in _STATION_COLUMNS.split(", "))}, a.ancestors
FROM stations s CROSS JOIN LATERAL (
    SELECT coalesce(array_agg(up.ancestor ORDER BY up.depth DESC) FILTER (WHERE up.ancestor IS NOT NULL),
                    '{{}}'::text[]) AS ancestors
    FROM up WHERE up.origin = s.station_id
) a
WHERE s.station_id = ANY($1::text[])
ORDER BY cardinality(a.ancestors), s.station_id
"""
# Every station registered below one, at any depth.
_DESCENDANTS = """
WITH RECURSIVE down (station_id, depth) AS (
    SELECT station_id, 1 FROM stations WHERE parent_id = $1
    UNION ALL
    SELECT s.station_id, down.depth + 1 FROM stations s JOIN down ON s.parent_id = down.station_id
    WHERE down.depth < 32
)
SELECT DISTINCT station_id FROM down ORDER BY station_id
"""
_CHILD_LEVELS = "SELECT min(level) FROM stations WHERE parent_id = $1"
_DUE = "SELECT station_id FROM stations WHERE announced_at IS NULL OR announced_at < $1 ORDER BY station_id"
_MARK_ANNOUNCED = "UPDATE stations SET announced_at = $2 WHERE station_id = ANY($1::text[])"


class StationStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def stations(self, under: str | None) -> list[Station]:
        return [Station(**r) for r in await self.conn.fetch(_STATIONS, under)]

    async def station(self, station_id: str) -> Station | None:
        row = await self.conn.fetchrow(_STATION, station_id)
        return Station(**row) if row else None

    async def save_station(self, s: Station) -> None:
        await self.conn.execute(
            _UPSERT_STATION, s.station_id, s.name, s.address, s.level, s.parent_id, s.has_window, s.phone
        )

    async def with_ancestors(self, station_ids: list[str]) -> list[tuple[Station, list[str]]]:
        """The stations with their registry ancestors (the root first, the parent last), parents before children."""
        rows = await self.conn.fetch(_WITH_ANCESTORS, station_ids)
        return [(Station(**{k: v for k, v in r.items() if k != "ancestors"}), list(r["ancestors"])) for r in rows]

    async def record_tree(self, event: StationRegistered) -> None:
        """Intake's own copy of the tree (`station_tree`, which `qs_covers` reads), as every service keeps it."""
        await station_tree.record(self, event)

    async def ancestors(self, station_id: str) -> list[str]:
        found = await self.with_ancestors([station_id])
        return found[0][1] if found else []

    async def descendants(self, station_id: str) -> list[str]:
        return [r["station_id"] for r in await self.conn.fetch(_DESCENDANTS, station_id)]

    async def shallowest_child_level(self, station_id: str) -> int | None:
        return await self.conn.fetchval(_CHILD_LEVELS, station_id)

    async def due_for_announcement(self, announced_before: datetime) -> list[str]:
        return [r["station_id"] for r in await self.conn.fetch(_DUE, announced_before)]

    async def mark_announced(self, station_ids: list[str], at: datetime) -> None:
        await self.conn.execute(_MARK_ANNOUNCED, station_ids, at)
