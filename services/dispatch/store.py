"""Dispatch SQL. The store is bound to one transaction's connection; the unit of work owns the transaction.

`Store` is the one store of the service, composed of the sub-domains' mixins (the registry, the staff roster,
the calendar copy) and the demands' own SQL below, all on the same connection.
"""

from dataclasses import fields
from datetime import datetime
from uuid import UUID

import asyncpg

from shared.contracts import EVENT_TYPES, AssigneeKind, Event, HandlingMode
from shared.db.together import together
from shared.observability.metrics import StoreCounter

from .calendar.store import CalendarStore
from .domain import Assignment, QueueItem
from .organizations.store import OrganizationStore
from .staff.store import StaffStore

_ITEM_FIELDS = tuple(f.name for f in fields(QueueItem))
_ITEM_COLUMNS = ", ".join(_ITEM_FIELDS)
_ITEM_PLACEHOLDERS = ", ".join(f"${n}" for n in range(1, len(_ITEM_FIELDS) + 1))

# Every save follows a read of the row FOR UPDATE (or a handler's lock on the demand), so it writes it whole.
_UPSERT_ITEM = f"""
INSERT INTO queue ({_ITEM_COLUMNS}) VALUES ({_ITEM_PLACEHOLDERS})
ON CONFLICT (demand_id) DO UPDATE SET {", ".join(f"{c} = EXCLUDED.{c}" for c in _ITEM_FIELDS if c != "demand_id")}
"""

_GET_ITEM = f"SELECT {_ITEM_COLUMNS} FROM queue WHERE demand_id = $1"

# Who may see a demand: staff and supervisors by station scope (the registry's tree, in `qs_covers`);
# an organization only while the demand's current assignment is its own and not given back (退单). Row-level
# security asks the same of an organization (migrations/0007_decisions.sql).
_VISIBLE = """(
    qs_covers($2, station_id)
    OR ($3 <> '' AND EXISTS (
        SELECT 1 FROM assignments a
        WHERE a.demand_id = queue.demand_id AND a.assignment_no = queue.assignment_count
          AND a.assignee_kind = 'organization' AND a.assignee_id = $3 AND a.returned_at IS NULL))
)"""
_GET_VISIBLE = _GET_ITEM + " AND " + _VISIBLE

# Green channel first (绿色通道, 002 §6.3.3); within it and after it, re-handlings (重办, round > 1) by their
# re-handling deadline, the nearest first (their clock runs from the reopening); then demands given back and
# waiting for a rematch; then the rest as they came in.
_LIST = f"""
SELECT {_ITEM_COLUMNS} FROM queue
WHERE status = $1 AND {_VISIBLE}
ORDER BY green_channel IS NULL, round > 1 DESC, due_on NULLS LAST,
    (status = 'waiting' AND returned_no > 0 AND returned_no = assignment_count) DESC, submitted_at, tracking_no
LIMIT $4 OFFSET $5
"""

_ASSIGNMENT_COLUMNS = """demand_id, assignment_no, round, assignee_kind, assignee_id, assignee_name,
    handling_mode, due_on, assigned_by, note, assigned_at, department_id, department, co_handlers, referral,
    event_id, returned_at, returned_by, return_reason"""

_INSERT_ASSIGNMENT = f"""
INSERT INTO assignments ({_ASSIGNMENT_COLUMNS}, station_id, tracking_no)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
"""

_ASSIGNMENTS = f"SELECT {_ASSIGNMENT_COLUMNS} FROM assignments WHERE demand_id = $1 ORDER BY assignment_no"
_ASSIGNMENT = f"SELECT {_ASSIGNMENT_COLUMNS} FROM assignments WHERE demand_id = $1 AND assignment_no = $2"

# 退单, in one statement: both updates see the rows as they were before it, so an organization's row-level
# policies (the current assignment is its own and not given back) hold for both rows it writes.
_RETURN = """
WITH queue_row AS (
    UPDATE queue SET status = $6, returned_no = $2, returned_at = $3
    WHERE demand_id = $1 AND assignment_count = $2
)
UPDATE assignments SET returned_at = $3, returned_by = $4, return_reason = $5
WHERE demand_id = $1 AND assignment_no = $2 AND returned_at IS NULL
"""

_HAD_ASSIGNMENT = """
SELECT EXISTS (SELECT 1 FROM assignments
               WHERE demand_id = $1 AND assignee_kind = 'organization' AND assignee_id = $2)
"""

# An organization's assignments (its own rows of `assignments`), each with the demand while it is current and
# not given back (the queue row an organization may see). Never the enterprise's contact: that is read in the
# brief, where every read is logged (access_log).
_ORG_ASSIGNMENTS = """
SELECT a.demand_id, a.station_id, a.tracking_no, a.assignment_no, a.round, a.assignee_name, a.handling_mode,
       a.due_on, a.assigned_by, a.assigned_at, a.returned_at, a.return_reason,
       q.status AS demand_status, q.enterprise_name, q.categories
FROM assignments a
LEFT JOIN queue q ON q.demand_id = a.demand_id AND q.assignment_count = a.assignment_no AND a.returned_at IS NULL
WHERE a.assignee_kind = 'organization' AND a.assignee_id = $1
ORDER BY (q.status = 'assigned') IS NOT TRUE, a.assigned_at DESC, a.demand_id, a.assignment_no
LIMIT $2 OFFSET $3
"""

_LOG_BRIEF_READ = """
INSERT INTO access_log (demand_id, station_id, reader, reader_name, reader_role, org_id, read_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
"""

_REMEMBER_RESOLUTION = """
INSERT INTO early_resolutions (demand_id, round) VALUES ($1, $2)
ON CONFLICT (demand_id) DO UPDATE SET round = GREATEST(early_resolutions.round, EXCLUDED.round)
"""

_KEEP_EARLY = """
INSERT INTO early_events (event_id, demand_id, station_id, routing_key, payload) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (event_id) DO NOTHING
"""
# For a DemandSubmitted, in one statement: is the demand queued already (its row then locked, and nothing taken)?
# If not, what came before it, taken: the early resolution's round (on every row) and the early events (a row each;
# one row with NULLs when there are none).
_ARRIVE = """
WITH here AS (SELECT demand_id FROM queue WHERE demand_id = $1 FOR UPDATE),
resolution AS (
    DELETE FROM early_resolutions WHERE demand_id = $1 AND NOT EXISTS (SELECT FROM here) RETURNING round
),
early AS (
    DELETE FROM early_events WHERE demand_id = $1 AND NOT EXISTS (SELECT FROM here) RETURNING routing_key, payload
)
SELECT EXISTS (SELECT FROM here) AS here, (SELECT round FROM resolution) AS resolution, early.routing_key, early.payload
FROM (VALUES (1)) AS one LEFT JOIN early ON true
"""

# A decision (派单, 改派, 转办): the demand as it left it and the new assignment, one statement. The row is locked
# and exists (read FOR UPDATE first), so the assignment's reference to it holds.
_SAVE_ASSIGNED = together(_UPSERT_ITEM, _INSERT_ASSIGNMENT)

COUNTERS = (
    StoreCounter(
        "qs_demands_assigned_total",
        "Dispatch decisions (first and rematch), by station and assignee kind",
        ("station_id", "assignee_kind"),
        "SELECT station_id, assignee_kind, count(*) FROM assignments GROUP BY 1, 2",
    ),
    StoreCounter(
        "qs_assignments_returned_total",
        "Assignments given back (退单), by station and assignee kind",
        ("station_id", "assignee_kind"),
        "SELECT station_id, assignee_kind, count(*) FROM assignments WHERE returned_at IS NOT NULL GROUP BY 1, 2",
    ),
)


def _assignment(row: asyncpg.Record) -> Assignment:
    return Assignment(
        **{
            **row,
            "assignee_kind": AssigneeKind(row["assignee_kind"]),
            "handling_mode": HandlingMode(row["handling_mode"]),
            "co_handlers": list(row["co_handlers"] or []),
        }
    )


class DemandStore:
    """The queue, the assignments, and what the demands' events leave for later."""

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

    async def save_assigned(self, item: QueueItem, a: Assignment) -> None:
        """The demand as the decision left it and its new assignment (kept with the demand's station and tracking
        number), in one statement."""
        await self.conn.execute(
            _SAVE_ASSIGNED,
            *(getattr(item, c) for c in _ITEM_FIELDS),
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
            a.department_id,
            a.department,
            a.co_handlers,
            a.referral,
            a.event_id,
            a.returned_at,
            a.returned_by,
            a.return_reason,
            item.station_id,
            item.tracking_no,
        )

    async def assignments(self, demand_id: UUID) -> list[Assignment]:
        return [_assignment(r) for r in await self.conn.fetch(_ASSIGNMENTS, demand_id)]

    async def assignment(self, demand_id: UUID, assignment_no: int) -> Assignment | None:
        row = await self.conn.fetchrow(_ASSIGNMENT, demand_id, assignment_no)
        return _assignment(row) if row else None

    async def record_return(self, item: QueueItem, returned: Assignment) -> None:
        """The demand waiting again (item) and its assignment given back (returned), in one statement."""
        await self.conn.execute(
            _RETURN,
            item.demand_id,
            returned.assignment_no,
            returned.returned_at,
            returned.returned_by,
            returned.return_reason,
            item.status,
        )

    async def org_had_assignment(self, demand_id: UUID, org: str) -> bool:
        """Was the demand ever assigned to this organization (its own rows, which it may always read)?"""
        return await self.conn.fetchval(_HAD_ASSIGNMENT, demand_id, org)

    async def org_assignments(self, org: str, limit: int, offset: int) -> list[dict]:
        return [dict(r) for r in await self.conn.fetch(_ORG_ASSIGNMENTS, org, limit, offset)]

    async def log_brief_read(
        self, demand_id: UUID, station_id: str, reader: tuple[str, str, str], org: str | None, at: datetime
    ) -> None:
        """`reader`: (account, name, role) of who read the brief."""
        await self.conn.execute(_LOG_BRIEF_READ, demand_id, station_id, *reader, org, at)

    async def remember_resolution(self, demand_id: UUID, round_: int) -> None:
        """A Resolved seen before its DemandSubmitted, kept until the demand arrives."""
        await self.conn.execute(_REMEMBER_RESOLUTION, demand_id, round_)

    async def take_early(self, demand_id: UUID) -> tuple[int | None, list[Event]] | None:
        """For a DemandSubmitted: None (taking nothing) when the demand is queued already, its row then locked; else
        what came before it, taken: the round of its early Resolved (None if none came) and its early events."""
        rows = await self.conn.fetch(_ARRIVE, demand_id)
        if rows[0]["here"]:
            return None
        early = [EVENT_TYPES[r["routing_key"]].model_validate(r["payload"]) for r in rows if r["routing_key"]]
        return rows[0]["resolution"], early

    async def keep_early_event(self, event: Event) -> None:
        """A correction, withdrawal or reopening seen before its DemandSubmitted, kept until the demand arrives."""
        await self.conn.execute(
            _KEEP_EARLY,
            event.event_id,
            event.demand_id,
            event.station_id,
            event.routing_key,
            event.model_dump(mode="json"),
        )


class Store(OrganizationStore, StaffStore, CalendarStore, DemandStore):
    """Everything dispatch keeps, on one transaction's connection."""
