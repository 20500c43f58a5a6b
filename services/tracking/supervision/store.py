"""SQL: Warnings (预警), chases (催办) and supervision (督办): the scheduler and the supervisors' hand.

A mixin on the tracking store (`self.conn` is the transaction's connection).
"""

from datetime import date, datetime
from uuid import UUID

import asyncpg
from asyncpg.transaction import Transaction

from shared.contracts import DeadlineKind
from shared.contracts import SupervisionLevel as Level
from shared.observability.metrics import StoreCounter

from ..domain import CASE_FIELDS, Case
from .domain import Due, Supervision

COUNTERS: tuple[StoreCounter, ...] = (
    StoreCounter(
        "qs_deadline_warnings_total",
        "Deadline warnings (预警) fired, by station and deadline",
        ("station_id", "deadline"),
        "SELECT station_id, deadline, count(*) FROM alerts WHERE kind = 'warning' GROUP BY 1, 2",
    ),
    StoreCounter(
        "qs_chases_total",
        "Chases (催办) of a missed deadline by the scheduler, by station and deadline",
        ("station_id", "deadline"),
        "SELECT station_id, deadline, count(*) FROM alerts WHERE kind = 'chase' GROUP BY 1, 2",
    ),
    StoreCounter(
        "qs_supervisions_total",
        "督办 issued (by the scheduler or a supervisor), by station and level",
        ("station_id", "level"),
        "SELECT station_id, level, count(*) FROM supervisions GROUP BY 1, 2",
    ),
    StoreCounter(
        "qs_supervisions_answered_total",
        "督办 answered by the station, by station and level",
        ("station_id", "level"),
        "SELECT station_id, level, count(*) FROM supervisions WHERE answered_at IS NOT NULL GROUP BY 1, 2",
    ),
)

_CASE_COLUMNS = ", ".join(f"c.{f}" for f in CASE_FIELDS)
_OPEN = "c.resolved_at IS NULL AND c.rated_at IS NULL AND c.closed_as IS NULL AND c.archive_no IS NULL"

# The scheduler's batches: open cases with a deadline in force up to the horizon ($1), after the last one seen
# ($2), locked without waiting: a case another replica (or an event handler) holds is its business this round.
_DUE_CASES = f"""
SELECT {_CASE_COLUMNS} FROM cases c
WHERE {_OPEN} AND c.demand_id > $2
  AND ((c.response_due_on <= $1 AND c.first_assigned_at IS NULL)
       OR (COALESCE(c.handling_due_on, c.due_on) <= $1 AND c.paused_since IS NULL))
ORDER BY c.demand_id
LIMIT $3
FOR UPDATE OF c SKIP LOCKED
"""

_SUPERVISION_COLUMNS = """s.supervision_id, s.demand_id, s.station_id, s.level, s.supervisor_scope, s.issued_by,
    s.issued_at, s.comment, s.reply_due_on, s.event_id, s.escalated_from, s.deadline, s.answered_by, s.answered_at,
    s.answer, s.escalated_at"""
_AWAITING = "s.answered_at IS NULL AND s.escalated_at IS NULL"
# 督办 awaiting a reply past their date ($1 = today) on open cases, the case locked as above.
_LATE_REPLIES = f"""
SELECT {_SUPERVISION_COLUMNS}, {_CASE_COLUMNS} FROM supervisions s JOIN cases c USING (demand_id)
WHERE {_AWAITING} AND s.reply_due_on < $1 AND {_OPEN} AND s.supervision_id > $2
ORDER BY s.supervision_id
LIMIT $3
FOR UPDATE OF c SKIP LOCKED
"""

_FIRE = """
INSERT INTO alerts (demand_id, station_id, kind, deadline, due_on, level, supervision_id, working_days, fired_on,
    fired_at, event_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT ON CONSTRAINT alerts_fire_once DO NOTHING
RETURNING true
"""

_ADD = """
INSERT INTO supervisions (supervision_id, demand_id, station_id, level, supervisor_scope, issued_by, issued_at,
    comment, reply_due_on, event_id, escalated_from, deadline)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
"""
_ESCALATED = f"UPDATE supervisions s SET escalated_at = $2 WHERE s.supervision_id = $1 AND {_AWAITING}"
_ANSWERED = f"""
UPDATE supervisions s SET answered_by = $2, answered_by_id = $3, answered_at = $4, answer = $5
WHERE s.supervision_id = $1 AND {_AWAITING}
"""
_GET = f"SELECT {_SUPERVISION_COLUMNS} FROM supervisions s WHERE s.supervision_id = $1 AND qs_covers($2, s.station_id)"

_STATUS = """CASE WHEN s.answered_at IS NOT NULL THEN 'answered'
    WHEN s.escalated_at IS NOT NULL THEN 'escalated' ELSE 'open' END"""
# A station's staff see their station's, a supervisor the subtree's ($1, the scope); $2 a status.
_LIST = f"""
SELECT {_SUPERVISION_COLUMNS}, c.tracking_no, c.enterprise_name FROM supervisions s JOIN cases c USING (demand_id)
WHERE qs_covers($1, s.station_id) AND ($2::text IS NULL OR ({_STATUS}) = $2)
ORDER BY s.issued_at DESC, s.supervision_id
LIMIT $3 OFFSET $4
"""

# Follow-up events name their cause: the submission for the response deadline, else the current assignment.
_SUBMITTED_EVENT = """
SELECT event_id FROM timeline WHERE demand_id = $1 AND kind = 'demand.submitted' AND event_id IS NOT NULL
ORDER BY occurred_at, entry_id LIMIT 1
"""


def _case(row: asyncpg.Record) -> Case:
    return Case(**{f: row[f] for f in CASE_FIELDS})


def _supervision(row: asyncpg.Record) -> Supervision:
    return Supervision(
        supervision_id=row["supervision_id"],
        demand_id=row["demand_id"],
        station_id=row["station_id"],
        level=Level(row["level"]),
        supervisor_scope=row["supervisor_scope"],
        issued_by=row["issued_by"],
        issued_at=row["issued_at"],
        comment=row["comment"],
        reply_due_on=row["reply_due_on"],
        event_id=row["event_id"],
        escalated_from=row["escalated_from"],
        deadline=DeadlineKind(row["deadline"]) if row["deadline"] else None,
        answered_by=row["answered_by"],
        answered_at=row["answered_at"],
        answer=row["answer"],
        escalated_at=row["escalated_at"],
    )


class SupervisionStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    # ---------------------------------------------------------------- the scheduler

    async def cases_due(self, until: date, after: UUID, limit: int) -> list[Case]:
        """Open cases with a deadline in force on or before `until`, locked (SKIP LOCKED), by id after `after`."""
        return [_case(r) for r in await self.conn.fetch(_DUE_CASES, until, after, limit)]

    async def late_replies(self, today: date, after: UUID, limit: int) -> list[tuple[Supervision, Case]]:
        """督办 awaiting a reply past their date on open cases, each with its case locked (SKIP LOCKED)."""
        rows = await self.conn.fetch(_LATE_REPLIES, today, after, limit)
        return [(_supervision(r), _case(r)) for r in rows]

    async def fire(self, case: Case, due: Due, *, event_id: UUID, today: date, now: datetime) -> bool:
        """Claim `due` for the case: False when it was fired before (by this or another replica)."""
        claimed = await self.conn.fetchval(
            _FIRE,
            case.demand_id,
            case.station_id,
            due.alert.value,
            due.deadline.value,
            due.due_on,
            due.level.value if due.level else None,
            due.supervision_id,
            due.working_days,
            today,
            now,
            event_id,
        )
        return bool(claimed)

    def savepoint(self) -> Transaction:
        """A nested transaction: what fails inside it is undone alone."""
        return self.conn.transaction()

    async def submitted_event_id(self, demand_id: UUID) -> UUID | None:
        return await self.conn.fetchval(_SUBMITTED_EVENT, demand_id)

    # ---------------------------------------------------------------- 督办

    async def add_supervision(self, s: Supervision) -> None:
        await self.conn.execute(
            _ADD,
            s.supervision_id,
            s.demand_id,
            s.station_id,
            s.level.value,
            s.supervisor_scope,
            s.issued_by,
            s.issued_at,
            s.comment,
            s.reply_due_on,
            s.event_id,
            s.escalated_from,
            s.deadline.value if s.deadline else None,
        )

    async def mark_escalated(self, supervision_id: UUID, at: datetime) -> bool:
        return (await self.conn.execute(_ESCALATED, supervision_id, at)).split()[-1] == "1"

    async def mark_answered(self, supervision_id: UUID, by: str, by_id: str, at: datetime, answer: str) -> bool:
        return (await self.conn.execute(_ANSWERED, supervision_id, by, by_id, at, answer)).split()[-1] == "1"

    async def get_supervision(
        self, supervision_id: UUID, scope: str, *, for_update: bool = False
    ) -> Supervision | None:
        row = await self.conn.fetchrow(_GET + (" FOR UPDATE" if for_update else ""), supervision_id, scope)
        return _supervision(row) if row else None

    async def supervisions(
        self, scope: str, status: str | None, limit: int, offset: int
    ) -> list[tuple[Supervision, str, str | None]]:
        """(督办, tracking number, enterprise) within `scope`, newest first."""
        rows = await self.conn.fetch(_LIST, scope, status, limit, offset)
        return [(_supervision(r), r["tracking_no"], r["enterprise_name"]) for r in rows]
