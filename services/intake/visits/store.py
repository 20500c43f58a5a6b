"""Visit SQL: visits and the demands collected on them.

The store is bound to one transaction's connection; the unit of work owns the transaction.
"""

from uuid import UUID

import asyncpg

_VISIT_FIELDS = (
    "visit_id",
    "station_id",
    "credit_code",
    "enterprise_name",
    "staff",
    "visited_on",
    "findings",
    "recorded_by",
)
_VISIT_COLUMNS = ", ".join(_VISIT_FIELDS)
_ADD_VISIT = f"INSERT INTO visits ({_VISIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
_VISIT = f"SELECT {_VISIT_COLUMNS} FROM visits WHERE qs_covers($1, station_id) AND visit_id = $2"
_VISITS = f"""
SELECT {_VISIT_COLUMNS} FROM visits WHERE qs_covers($1, station_id)
ORDER BY visited_on DESC LIMIT $2 OFFSET $3
"""
_VISIT_DEMANDS = "SELECT demand_id, tracking_no FROM demands WHERE visit_id = $1 ORDER BY tracking_no"


class VisitStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def add_visit(self, visit: dict) -> None:
        await self.conn.execute(_ADD_VISIT, *(visit[c] for c in _VISIT_FIELDS))

    async def visit(self, scope: str, visit_id: UUID) -> asyncpg.Record | None:
        return await self.conn.fetchrow(_VISIT, scope, visit_id)

    async def visits(self, scope: str, limit: int, offset: int) -> list[asyncpg.Record]:
        return await self.conn.fetch(_VISITS, scope, limit, offset)

    async def visit_demands(self, visit_id: UUID) -> list[asyncpg.Record]:
        return await self.conn.fetch(_VISIT_DEMANDS, visit_id)
