"""SQL: The clock: pauses (挂起), extensions (延期), the station's clock settings, the calendar corrections.

A mixin on the tracking store (`self.conn` is the transaction's connection). Pauses and extensions carry the
station (row-level security by station scope) and the demand (an organization sees those of the cases assigned to
it now); the calendar corrections are city-wide reference data shared with dispatch (shared/calendar_corrections.py).
"""

from datetime import date, datetime
from uuid import UUID

import asyncpg

from shared.calendar_corrections import CalendarCorrectionsStore
from shared.observability.metrics import StoreCounter

from ..casesql import awaiting_verification, case_columns, case_of, still_handled
from ..domain import Case
from .domain import CLOCK_FIELDS, ClockSettings, Extension, Pause

COUNTERS: tuple[StoreCounter, ...] = (
    StoreCounter(
        "qs_case_pauses_total",
        "Pauses (挂起) of the handling clock, by station and reason",
        ("station_id", "reason_kind"),
        "SELECT station_id, reason_kind, count(*) FROM pauses GROUP BY 1, 2",
    ),
    StoreCounter(
        "qs_case_extensions_total",
        "Extension requests (延期), by station and decision (pending / approved / refused)",
        ("station_id", "decision"),
        """SELECT station_id, CASE WHEN approved IS NULL THEN 'pending' WHEN approved THEN 'approved'
            ELSE 'refused' END, count(*) FROM extensions GROUP BY 1, 2""",
    ),
)

_PAUSE_COLUMNS = """pause_id, assignment_no, reason_kind, reason, paused_by, paused_at, resumed_by, resumed_at, note,
    event_id"""
_PAUSES = f"SELECT {_PAUSE_COLUMNS} FROM pauses WHERE demand_id = $1 ORDER BY paused_at, pause_id"
_PAUSES_OF = f"""SELECT demand_id, {_PAUSE_COLUMNS} FROM pauses WHERE demand_id = ANY($1::uuid[])
ORDER BY paused_at, pause_id"""
_ADD_PAUSE = """
INSERT INTO pauses (pause_id, demand_id, station_id, assignment_no, reason_kind, reason, paused_by, paused_by_id,
    paused_at, event_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
"""
_END_PAUSE = """
UPDATE pauses SET resumed_by = $2, resumed_by_id = $3, resumed_at = $4, note = $5, resumed_event_id = $6
WHERE pause_id = $1 AND resumed_at IS NULL
"""

_EXTENSION_COLUMNS = """extension_id, assignment_no, requested_by, requested_at, reason, due_on, new_due_on, approved,
    decided_by, decided_at, comment, event_id"""
_EXTENSIONS = f"SELECT {_EXTENSION_COLUMNS} FROM extensions WHERE demand_id = $1 ORDER BY requested_at, extension_id"
_EXTENSIONS_OF = f"""SELECT demand_id, {_EXTENSION_COLUMNS} FROM extensions WHERE demand_id = ANY($1::uuid[])
ORDER BY requested_at, extension_id"""
_EXTENSION = f"SELECT {_EXTENSION_COLUMNS} FROM extensions WHERE demand_id = $1 AND extension_id = $2"
_ADD_EXTENSION = """
INSERT INTO extensions (extension_id, demand_id, station_id, assignment_no, requested_by, requested_by_id,
    requested_at, reason, due_on, new_due_on, event_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
"""
_DECIDE = """
UPDATE extensions SET approved = $3, decided_by = $4, decided_by_id = $5, decided_at = $6, comment = $7,
    decided_event_id = $8
WHERE demand_id = $1 AND extension_id = $2 AND approved IS NULL
"""
# The head's list: requests still waiting, of cases still handled under the assignment they were asked for
# (a rematched or resolved case's request has lapsed). The scope is the caller's, in SQL.
_PENDING = f"""
SELECT {", ".join(f"e.{c.strip()} AS x_{c.strip()}" for c in _EXTENSION_COLUMNS.split(","))}, {case_columns("c")}
FROM extensions e JOIN cases c USING (demand_id)
WHERE qs_covers($1, e.station_id) AND ($2::text IS NULL OR (CASE WHEN e.approved IS NULL THEN 'pending'
        WHEN e.approved THEN 'approved' ELSE 'refused' END) = $2)
    AND (e.approved IS NOT NULL OR (c.assignment_no = e.assignment_no AND {still_handled("c")}
        AND c.returned_no < c.assignment_no))
ORDER BY e.requested_at DESC, e.extension_id
LIMIT $3 OFFSET $4
"""

_SETTINGS = f"SELECT {', '.join(CLOCK_FIELDS)}, updated_by, updated_at FROM clock_settings WHERE station_id = $1"
_SETTINGS_OF = f"SELECT station_id, {', '.join(CLOCK_FIELDS)} FROM clock_settings WHERE station_id = ANY($1::text[])"
# $1 the station, then each of CLOCK_FIELDS, then who and when.
_SETTINGS_VALUES = ", ".join(f"${n}" for n in range(1, len(CLOCK_FIELDS) + 5))
_PUT_SETTINGS = f"""
INSERT INTO clock_settings (station_id, {", ".join(CLOCK_FIELDS)}, updated_by, updated_by_id, updated_at)
VALUES ({_SETTINGS_VALUES})
ON CONFLICT (station_id) DO UPDATE SET {", ".join(f"{c} = EXCLUDED.{c}" for c in CLOCK_FIELDS)},
    updated_by = EXCLUDED.updated_by, updated_by_id = EXCLUDED.updated_by_id, updated_at = EXCLUDED.updated_at
"""
_AUDIT_SETTINGS = f"""
INSERT INTO clock_settings_audit (station_id, {", ".join(CLOCK_FIELDS)}, updated_by, updated_by_id, updated_at)
VALUES ({_SETTINGS_VALUES})
"""
_STATION_KNOWN = "SELECT EXISTS (SELECT 1 FROM station_tree WHERE station_id = $1)"

# Everything the clock of one case counts with, in one round trip (every event a case takes recomputes its clock):
# the station's settings ($1; NULLs without its row: the defaults), the calendar corrections in force (as
# shared/calendar_corrections.py reads them), the case's pauses and extensions ($2) in the orders of _PAUSES and
# _EXTENSIONS. Arrays of anonymous rows: PostgreSQL sends each field's type and asyncpg decodes them as tuples of
# exact types (uuid, date, timestamptz); the tables' own row types would not survive a migration that adds a
# column while a replica runs (asyncpg keeps a composite type's codec for the connection's life).
_CLOCK_FACTS = f"""
SELECT cs.station_id IS NOT NULL AS has_settings, {", ".join(f"cs.{c}" for c in CLOCK_FIELDS)},
    (SELECT array_agg(ROW(day, is_workday)) FROM calendar_corrections WHERE is_workday IS NOT NULL) AS overrides,
    (SELECT array_agg(ROW({_PAUSE_COLUMNS}) ORDER BY paused_at, pause_id) FROM pauses WHERE demand_id = $2)
        AS pauses,
    (SELECT array_agg(ROW({_EXTENSION_COLUMNS}) ORDER BY requested_at, extension_id)
        FROM extensions WHERE demand_id = $2) AS extensions
FROM (VALUES (true)) AS one LEFT JOIN clock_settings cs ON cs.station_id = $1
"""
_PAUSE_FIELDS = tuple(c.strip() for c in _PAUSE_COLUMNS.split(","))
_EXTENSION_FIELDS = tuple(c.strip() for c in _EXTENSION_COLUMNS.split(","))

# Open cases whose clock a calendar correction or a station's settings may move, and the 不满意 ratings awaiting
# verification (their verification deadline moves likewise); locked in one order, so two such recomputations never
# deadlock (an event handler locks one case row, never two).
_OPEN_CASES = f"""
SELECT {case_columns("c")} FROM cases c
WHERE ({still_handled("c")} OR ({awaiting_verification("c")})) AND ($1::text IS NULL OR c.station_id = $1)
ORDER BY c.demand_id FOR UPDATE
"""
# Open cases still without the clock's columns (from before migration 0006, with no event since), and 不满意
# ratings awaiting verification without their deadline (rated before migration 0013), a batch after $1 in
# demand_id order; rows another transaction holds are skipped (it fills them in, or a later round does).
_WITHOUT_CLOCK = f"""
SELECT {case_columns("c")} FROM cases c
WHERE ($1::uuid IS NULL OR c.demand_id > $1)
    AND (({still_handled("c")} AND ((c.response_due_on IS NULL AND c.submitted_at IS NOT NULL)
            OR (c.handling_due_on IS NULL AND c.due_on IS NOT NULL AND c.assignment_no > 0)))
        OR ({awaiting_verification("c")} AND c.verify_due_on IS NULL))
ORDER BY c.demand_id LIMIT $2 FOR UPDATE SKIP LOCKED
"""
# Resolved cases still without their time to resolve (resolved before migration 0012), a batch after $1 in
# demand_id order, skipping rows another transaction holds; a case whose submission is unknown cannot be measured
# and is not picked (its submission, when it comes, measures it).
_RESOLVED_WITHOUT_DAYS = f"""
SELECT {case_columns("c")} FROM cases c
WHERE c.resolved_at IS NOT NULL AND c.submitted_at IS NOT NULL AND c.resolution_working_days IS NULL
    AND ($1::uuid IS NULL OR c.demand_id > $1)
ORDER BY c.demand_id LIMIT $2 FOR UPDATE SKIP LOCKED
"""
_SAVE_RESOLUTION_DAYS = """
UPDATE cases SET resolution_working_days = $2, updated_at = now()
WHERE demand_id = $1 AND resolution_working_days IS NULL
"""
# Only the clock's columns, for cases the caller holds locked.
_SAVE_CLOCK = """
UPDATE cases SET response_due_on = $2, handling_due_on = $3, paused_since = $4, verify_due_on = $5, updated_at = now()
WHERE demand_id = $1
"""


class ClockStore(CalendarCorrectionsStore):
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    # --- settings ---

    async def clock_settings(self, station_id: str, defaults: ClockSettings) -> ClockSettings:
        """The station's row over the service's defaults."""
        row = await self.conn.fetchrow(_SETTINGS, station_id)
        return defaults.over(dict(row) if row else None)

    async def clock_facts(
        self, station_id: str, demand_id: UUID | None, defaults: ClockSettings
    ) -> tuple[ClockSettings, dict[date, bool], list[Pause], list[Extension]]:
        """In one statement, what clock_settings, calendar_overrides, pauses and extensions answer (no case: no
        pauses nor extensions)."""
        row = await self.conn.fetchrow(_CLOCK_FACTS, station_id, demand_id)
        return (
            defaults.over({c: row[c] for c in CLOCK_FIELDS} if row["has_settings"] else None),
            dict(row["overrides"] or ()),  # (day, is_workday) pairs
            [Pause(**dict(zip(_PAUSE_FIELDS, p, strict=True))) for p in row["pauses"] or ()],
            [Extension(**dict(zip(_EXTENSION_FIELDS, e, strict=True))) for e in row["extensions"] or ()],
        )

    async def clock_settings_row(self, station_id: str) -> dict | None:
        row = await self.conn.fetchrow(_SETTINGS, station_id)
        return dict(row) if row else None

    async def put_clock_settings(
        self, station_id: str, values: dict[str, int | None], by: str, by_id: str, at: datetime
    ) -> None:
        args = (station_id, *(values.get(c) for c in CLOCK_FIELDS), by, by_id, at)
        await self.conn.execute(_PUT_SETTINGS, *args)
        await self.conn.execute(_AUDIT_SETTINGS, *args)

    async def station_known(self, station_id: str) -> bool:
        return await self.conn.fetchval(_STATION_KNOWN, station_id)

    async def station_clocks(self, station_ids: list[str], defaults: ClockSettings) -> dict[str, ClockSettings]:
        """Each of these stations' clock over the defaults (a station without a row is left out: the defaults)."""
        rows = await self.conn.fetch(_SETTINGS_OF, station_ids)
        return {r["station_id"]: defaults.over(dict(r)) for r in rows}

    async def open_cases(self, station_id: str | None = None) -> list[Case]:
        return [case_of(r) for r in await self.conn.fetch(_OPEN_CASES, station_id)]

    async def cases_without_clock(self, after: UUID | None, limit: int) -> list[Case]:
        return [case_of(r) for r in await self.conn.fetch(_WITHOUT_CLOCK, after, limit)]

    async def save_clocks(self, cases: list[Case]) -> None:
        if cases:
            await self.conn.executemany(
                _SAVE_CLOCK,
                [(c.demand_id, c.response_due_on, c.handling_due_on, c.paused_since, c.verify_due_on) for c in cases],
            )

    async def resolved_without_days(self, after: UUID | None, limit: int) -> list[Case]:
        return [case_of(r) for r in await self.conn.fetch(_RESOLVED_WITHOUT_DAYS, after, limit)]

    async def save_resolution_days(self, measured: list[tuple[UUID, int]]) -> None:
        """(demand_id, working days) of cases the caller holds locked, written only where still empty."""
        if measured:
            await self.conn.executemany(_SAVE_RESOLUTION_DAYS, measured)

    # --- pauses ---

    async def pauses(self, demand_id: UUID) -> list[Pause]:
        return [Pause(**r) for r in await self.conn.fetch(_PAUSES, demand_id)]

    async def pauses_of(self, demand_ids: list[UUID]) -> dict[UUID, list[Pause]]:
        out: dict[UUID, list[Pause]] = {}
        for r in await self.conn.fetch(_PAUSES_OF, demand_ids):
            out.setdefault(r["demand_id"], []).append(Pause(**{k: v for k, v in r.items() if k != "demand_id"}))
        return out

    async def add_pause(self, case: Case, pause: Pause, paused_by_id: str, event_id: UUID) -> None:
        await self.conn.execute(
            _ADD_PAUSE,
            pause.pause_id,
            case.demand_id,
            case.station_id,
            pause.assignment_no,
            pause.reason_kind,
            pause.reason,
            pause.paused_by,
            paused_by_id,
            pause.paused_at,
            event_id,
        )

    async def end_pause(
        self, pause_id: UUID, by: str, by_id: str, at: datetime, note: str | None, event_id: UUID
    ) -> bool:
        status = await self.conn.execute(_END_PAUSE, pause_id, by, by_id, at, note, event_id)
        return status.split()[-1] != "0"

    # --- extensions ---

    async def extensions(self, demand_id: UUID) -> list[Extension]:
        return [Extension(**r) for r in await self.conn.fetch(_EXTENSIONS, demand_id)]

    async def extensions_of(self, demand_ids: list[UUID]) -> dict[UUID, list[Extension]]:
        out: dict[UUID, list[Extension]] = {}
        for r in await self.conn.fetch(_EXTENSIONS_OF, demand_ids):
            out.setdefault(r["demand_id"], []).append(Extension(**{k: v for k, v in r.items() if k != "demand_id"}))
        return out

    async def extension(self, demand_id: UUID, extension_id: UUID) -> Extension | None:
        row = await self.conn.fetchrow(_EXTENSION, demand_id, extension_id)
        return Extension(**row) if row else None

    async def add_extension(self, case: Case, extension: Extension, requested_by_id: str, event_id: UUID) -> None:
        await self.conn.execute(
            _ADD_EXTENSION,
            extension.extension_id,
            case.demand_id,
            case.station_id,
            extension.assignment_no,
            extension.requested_by,
            requested_by_id,
            extension.requested_at,
            extension.reason,
            extension.due_on,
            extension.new_due_on,
            event_id,
        )

    async def decide_extension(
        self,
        demand_id: UUID,
        extension_id: UUID,
        approved: bool,
        by: str,
        by_id: str,
        at: datetime,
        comment: str | None,
        event_id: UUID,
    ) -> bool:
        status = await self.conn.execute(_DECIDE, demand_id, extension_id, approved, by, by_id, at, comment, event_id)
        return status.split()[-1] != "0"

    async def extension_list(
        self, scope: str, status: str | None, limit: int, offset: int
    ) -> list[tuple[Extension, Case]]:
        out = []
        for r in await self.conn.fetch(_PENDING, scope, status, limit, offset):
            extension = Extension(**{k: r["x_" + k] for k in Extension.__dataclass_fields__})
            out.append((extension, case_of(r)))
        return out
