"""Dispatch SQL. Functions take a connection; the caller owns the transaction."""

from uuid import UUID

import asyncpg

from shared.contracts import AssigneeKind, HandlingMode

from .domain import Assignment, QueueItem

_ITEM_COLUMNS = """demand_id, station_id, tracking_no, enterprise_name, categories, description, channel,
    first_responder, time_limit_days, submitted_at, correlation_id, status, round, assignment_count"""

_UPSERT_ITEM = f"""
INSERT INTO queue ({_ITEM_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
ON CONFLICT (demand_id) DO UPDATE SET status = EXCLUDED.status, round = EXCLUDED.round,
    assignment_count = EXCLUDED.assignment_count
"""

_GET_ITEM = f"SELECT {_ITEM_COLUMNS} FROM queue WHERE demand_id = $1"

_LIST = f"""
SELECT {_ITEM_COLUMNS} FROM queue
WHERE station_id = $1 AND status = $2
ORDER BY submitted_at, tracking_no
LIMIT $3 OFFSET $4
"""

_ASSIGNMENT_COLUMNS = """demand_id, assignment_no, round, assignee_kind, assignee_id, assignee_name,
    handling_mode, due_on, assigned_by, note, assigned_at"""

_INSERT_ASSIGNMENT = f"""
INSERT INTO assignments ({_ASSIGNMENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
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
    )


async def get_item(conn: asyncpg.Connection, demand_id: UUID, *, for_update: bool = False) -> QueueItem | None:
    row = await conn.fetchrow(_GET_ITEM + (" FOR UPDATE" if for_update else ""), demand_id)
    return QueueItem(**row) if row else None


async def list_items(conn: asyncpg.Connection, station_id: str, status: str, limit: int, offset: int) -> list[QueueItem]:
    return [QueueItem(**r) for r in await conn.fetch(_LIST, station_id, status, limit, offset)]


async def add_assignment(conn: asyncpg.Connection, a: Assignment) -> None:
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
