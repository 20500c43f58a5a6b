"""Dispatch SQL. Functions take a connection; the caller owns the transaction."""

from uuid import UUID

import asyncpg

from shared.contracts import AssigneeKind, HandlingMode

from .domain import Assignment, QueueItem

_ITEM_COLUMNS = """demand_id, station_id, tracking_no, enterprise_name, categories, description, channel,
    first_responder, time_limit_days, submitted_at, correlation_id, status, round, assignment_count, green_channel,
    first_responder_id, expected_on"""

_UPSERT_ITEM = f"""
INSERT INTO queue ({_ITEM_COLUMNS})
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
ON CONFLICT (demand_id) DO UPDATE SET status = EXCLUDED.status, round = EXCLUDED.round,
    assignment_count = EXCLUDED.assignment_count
"""

_GET_ITEM = f"SELECT {_ITEM_COLUMNS} FROM queue WHERE demand_id = $1"

# Who may see a demand: staff and supervisors by station path; an organization only
# while the demand's current assignment is its own.
_VISIBLE = """(
    ($2 <> '' AND (station_id = $2 OR starts_with(station_id, $2 || '/')))
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


async def save_item(conn: asyncpg.Connection, i: QueueItem) -> None:
    await conn.execute(
        _UPSERT_ITEM,
        i.demand_id,
        i.station_id,
        i.tracking_no,
        i.enterprise_name,
        i.categories,
        i.description,
        i.channel,
        i.first_responder,
        i.time_limit_days,
        i.submitted_at,
        i.correlation_id,
        i.status,
        i.round,
        i.assignment_count,
        i.green_channel,
        i.first_responder_id,
        i.expected_on,
    )


async def get_item(conn: asyncpg.Connection, demand_id: UUID, *, for_update: bool = False) -> QueueItem | None:
    row = await conn.fetchrow(_GET_ITEM + (" FOR UPDATE" if for_update else ""), demand_id)
    return QueueItem(**row) if row else None


async def get_visible(
    conn: asyncpg.Connection, demand_id: UUID, scope: str, org: str, *, for_update: bool = False
) -> QueueItem | None:
    row = await conn.fetchrow(_GET_VISIBLE + (" FOR UPDATE" if for_update else ""), demand_id, scope, org)
    return QueueItem(**row) if row else None


async def list_visible(
    conn: asyncpg.Connection, scope: str, org: str, status: str, limit: int, offset: int
) -> list[QueueItem]:
    return [QueueItem(**r) for r in await conn.fetch(_LIST, status, scope, org, limit, offset)]


async def add_assignment(conn: asyncpg.Connection, a: Assignment, station_id: str) -> None:
    await conn.execute(
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


async def assignments(conn: asyncpg.Connection, demand_id: UUID) -> list[Assignment]:
    rows = await conn.fetch(_ASSIGNMENTS, demand_id)
    return [
        Assignment(
            **{**r, "assignee_kind": AssigneeKind(r["assignee_kind"]), "handling_mode": HandlingMode(r["handling_mode"])}
        )
        for r in rows
    ]


async def remember_resolution(conn: asyncpg.Connection, demand_id: UUID, round_: int) -> None:
    await conn.execute(_REMEMBER_RESOLUTION, demand_id, round_)


async def take_resolution(conn: asyncpg.Connection, demand_id: UUID) -> int | None:
    return await conn.fetchval(_TAKE_RESOLUTION, demand_id)
