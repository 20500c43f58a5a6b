"""SQL: Warnings (预警), chases (催办) and supervision (督办): the scheduler and the supervisors' hand.

A mixin on the tracking store (`self.conn` is the transaction's connection).
"""

from contextlib import AbstractAsyncContextManager
from datetime import date, datetime
from uuid import UUID

import asyncpg

from shared.contracts import DeadlineKind
from shared.contracts import SupervisionLevel as Level
from shared.db.uow import savepoint
from shared.observability.metrics import StoreCounter

from ..casesql import case_columns, case_of, still_handled
from ..clock.domain import ClockSettings
from ..domain import Case
from .domain import Alert, Due, Supervision, Thresholds

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

# An alert already fired for the deadline d (kind, due_on) of case c; `supervision_id IS NULL`: not about a 督办's
# reply. The level is left out: a missed deadline has one automatic 督办, at the station's first level.
_FIRED = """EXISTS (SELECT 1 FROM alerts a WHERE a.demand_id = c.demand_id AND a.kind = '{kind}'
    AND a.deadline = d.kind AND a.due_on = d.due_on AND a.supervision_id IS NULL)"""
# The scheduler's batches: cases still being handled after the last one seen ($2) with something due today ($1)
# and not fired yet — the rules of domain.due_today as dates (domain.Thresholds: $3 warn_before, $4 late_by, the
# station's own warn/escalate days over the service's $5/$6) — so a round with nothing new to fire reads no case
# and writes nothing. Locked without waiting: a case another replica (or an event handler) holds is its business
# this round. Each comes with what was fired for its deadlines (`fired`), which the round does not try again.
_DUE_CASES = f"""
SELECT {case_columns("c")},
    ARRAY(SELECT a.kind || ' ' || a.deadline || ' ' || to_char(a.due_on, 'YYYY-MM-DD') FROM alerts a
          WHERE a.demand_id = c.demand_id AND a.supervision_id IS NULL) AS fired
FROM cases c
WHERE {still_handled("c")} AND c.demand_id > $2
  AND EXISTS (
    SELECT 1 FROM (VALUES
        ('response', CASE WHEN c.first_assigned_at IS NULL THEN c.response_due_on END),
        ('handling', CASE WHEN c.paused_since IS NULL THEN COALESCE(c.handling_due_on, c.due_on) END)
    ) AS d(kind, due_on)
    CROSS JOIN LATERAL (
        SELECT COALESCE(cs.warn_days, $5) AS warn_days, COALESCE(cs.escalate_after_days, $6) AS escalate_after_days
        FROM (SELECT 1) one LEFT JOIN clock_settings cs ON cs.station_id = c.station_id
    ) k
    WHERE d.due_on IS NOT NULL AND (
        (d.due_on >= $1 AND d.due_on < ($3::date[])[k.warn_days + 1] AND NOT {_FIRED.format(kind="warning")})
        OR (d.due_on < $1 AND NOT {_FIRED.format(kind="chase")})
        OR (d.due_on <= ($4::date[])[k.escalate_after_days] AND NOT {_FIRED.format(kind="supervision")})))
ORDER BY c.demand_id
LIMIT $7
FOR UPDATE OF c SKIP LOCKED
"""

_SUPERVISION_COLUMNS = """s.supervision_id, s.demand_id, s.station_id, s.level, s.supervisor_scope, s.issued_by,
    s.issued_at, s.comment, s.reply_due_on, s.event_id, s.escalated_from, s.deadline, s.answered_by, s.answered_at,
    s.answer, s.escalated_at"""
_AWAITING = "s.answered_at IS NULL AND s.escalated_at IS NULL"
# 督办 awaiting a reply past their date ($1 = today) on open cases, not escalated or chased yet (a city one stays
# awaiting once chased), the case locked as above.
_LATE_REPLIES = f"""
SELECT {_SUPERVISION_COLUMNS}, {case_columns("c")} FROM supervisions s JOIN cases c USING (demand_id)
WHERE {_AWAITING} AND s.reply_due_on < $1 AND {still_handled("c")} AND s.supervision_id > $2
  AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.demand_id = s.demand_id AND a.deadline = 'reply'
                  AND a.supervision_id = s.supervision_id)
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

_OF_CASE = f"""
SELECT {_SUPERVISION_COLUMNS} FROM supervisions s WHERE s.demand_id = $1 AND qs_covers($2, s.station_id)
ORDER BY s.issued_at, s.supervision_id
"""
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


def _fired(key: str) -> tuple[Alert, DeadlineKind, date]:
    kind, deadline, due_on = key.split(" ")
    return Alert(kind), DeadlineKind(deadline), date.fromisoformat(due_on)


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

    async def cases_due(
        self, due: Thresholds, defaults: ClockSettings, after: UUID, limit: int
    ) -> list[tuple[Case, set[tuple[Alert, DeadlineKind, date]]]]:
        """Cases with a warning, chase or 督办 due today not fired yet, locked (SKIP LOCKED), by id after `after`;
        each with what was fired before for its deadlines: (alert, deadline kind, due date)."""
        rows = await self.conn.fetch(
            _DUE_CASES,
            due.today,
            after,
            due.warn_before,
            due.late_by,
            defaults.warn_days,
            defaults.escalate_after_days,
            limit,
        )
        return [(case_of(r), {_fired(f) for f in r["fired"]}) for r in rows]

    async def late_replies(self, today: date, after: UUID, limit: int) -> list[tuple[Supervision, Case]]:
        """督办 awaiting a reply past their date on open cases, each with its case locked (SKIP LOCKED)."""
        rows = await self.conn.fetch(_LATE_REPLIES, today, after, limit)
        return [(_supervision(r), case_of(r)) for r in rows]

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

    def savepoint(self) -> AbstractAsyncContextManager[None]:
        """A savepoint in the transaction: what fails inside it is undone alone."""
        return savepoint(self.conn)

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

    async def case_supervisions(self, demand_id: UUID, scope: str) -> list[Supervision]:
        """The 督办 of one case within `scope` (a station scope; "*" for all), oldest first."""
        return [_supervision(r) for r in await self.conn.fetch(_OF_CASE, demand_id, scope)]

    async def supervisions(
        self, scope: str, status: str | None, limit: int, offset: int
    ) -> list[tuple[Supervision, str, str | None]]:
        """(督办, tracking number, enterprise) within `scope`, newest first."""
        rows = await self.conn.fetch(_LIST, scope, status, limit, offset)
        return [(_supervision(r), r["tracking_no"], r["enterprise_name"]) for r in rows]
