"""Dispatch SQL. The store is bound to one transaction's connection; the unit of work owns the transaction."""

from dataclasses import fields
from uuid import UUID

import asyncpg

from shared.contracts import AssigneeKind, HandlingMode
from shared.observability.metrics import StoreCounter

from .domain import Assignment, QueueItem

_ITEM_FIELDS = tuple(f.name for f in fields(QueueItem))
_ITEM_COLUMNS = ", ".join(_ITEM_FIELDS)
_ITEM_PLACEHOLDERS = ", ".join(f"${n}" for n in range(1, len(_ITEM_FIELDS) + 1))

_UPSERT_ITEM = f"""
INSERT INTO queue ({_ITEM_COLUMNS}) VALUES ({_ITEM_PLACEHOLDERS})
ON CONFLICT (demand_id) DO UPDATE SET status = EXCLUDED.status, round = EXCLUDED.round,
    assignment_count = EXCLUDED.assignment_count
"""

_GET_ITEM = f"SELECT {_ITEM_COLUMNS} FROM queue WHERE demand_id = $1"

# Who may see a demand: staff and supervisors by station scope (the registry's tree, in `qs_covers`);
# an organization only while the demand's current assignment is its own.
_VISIBLE = """(
    qs_covers($2, station_id)
    OR ($3 <> '' AND EXISTS (
        SELECT 1 FROM assignments a
        WHERE a.demand_id = queue.demand_id AND a.assignment_no = queue.assignment_count
          AND a.assignee_kind = 'organization' AND a.assignee_id = $3))
)"""
_GET_VISIBLE = _GET_ITEM + " AND " + _VISIBLE

_LIST = f"""
SELECT {_ITEM_COLUMNS} FROM queue
WHERE status = $1 AND {_VISIBLE}
ORDER BY green_channel IS NULL, submitted_at, tracking_no
LIMIT $4 OFFSET $5
"""

_ASSIGNMENT_COLUMNS = """demand_id, assignment_no, round, assignee_kind, assignee_id, assignee_name,
    handling_mode, due_on, assigned_by, note, assigned_at"""

_INSERT_ASSIGNMENT = f"""
INSERT INTO assignments ({_ASSIGNMENT_COLUMNS}, station_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
"""

_ASSIGNMENTS = f"SELECT {_ASSIGNMENT_COLUMNS} FROM assignments WHERE demand_id = $1 ORDER BY assignment_no"

_REMEMBER_RESOLUTION = """
INSERT INTO early_resolutions (demand_id, round) VALUES ($1, $2)
ON CONFLICT (demand_id) DO UPDATE SET round = GREATEST(early_resolutions.round, EXCLUDED.round)
"""
_TAKE_RESOLUTION = "DELETE FROM early_resolutions WHERE demand_id = $1 RETURNING round"

COUNTERS = (
    StoreCounter(
        "qs_demands_assigned_total",
        "Dispatch decisions (first and rematch), by station and assignee kind",
        ("station_id", "assignee_kind"),
        "SELECT station_id, assignee_kind, count(*) FROM assignments GROUP BY 1, 2",
    ),
)


class Store:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def save_item(self, item: QueueItem) -> None:
        await self.conn.execute(_UPSERT_ITEM, *(getattr(item, c) for c in _ITEM_FIELDS))

    async def get_item(self, demand_id: UUID, *, for_update: bool = False) -> QueueItem | None:
        row = await self.conn.fetchrow(_GET_ITEM + (" FOR UPDATE" if for_update else ""), demand_id)
        return QueueItem(**row) if row else None

    async def get_visible(self, demand_id: UUID, scope: str, org: str, *, for_update: bool = False) -> QueueItem | None:
        row = await self.conn.fetchrow(_GET_VISIBLE + (" FOR UPDATE" if for_update else ""), demand_id, scope, org)
        return QueueItem(**row) if row else None

    async def list_visible(self, scope: str, org: str, status: str, limit: int, offset: int) -> list[QueueItem]:
        return [QueueItem(**r) for r in await self.conn.fetch(_LIST, status, scope, org, limit, offset)]

    async def add_assignment(self, a: Assignment, station_id: str) -> None:
        await self.conn.execute(
            _INSERT_ASSIGNMENT,
            a.demand_id,
            a.assignment_no,
            a.round,
            a.assignee_kind.value,
            a.assignee_id,
            a.assignee_name,
            a.handling_mode.value,
            a.due_on,
            a.assigned_by,
            a.note,
            a.assigned_at,
            station_id,
        )

    async def assignments(self, demand_id: UUID) -> list[Assignment]:
        rows = await self.conn.fetch(_ASSIGNMENTS, demand_id)
        return [
            Assignment(
                **{
                    **r,
                    "assignee_kind": AssigneeKind(r["assignee_kind"]),
                    "handling_mode": HandlingMode(r["handling_mode"]),
                }
            )
            for r in rows
        ]

    async def remember_resolution(self, demand_id: UUID, round_: int) -> None:
        """A Resolved seen before its DemandSubmitted, kept until the demand arrives."""
        await self.conn.execute(_REMEMBER_RESOLUTION, demand_id, round_)

    async def take_resolution(self, demand_id: UUID) -> int | None:
        return await self.conn.fetchval(_TAKE_RESOLUTION, demand_id)
