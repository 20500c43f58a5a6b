"""A service's copy of the working-day corrections intake owns (法定节假日、调休上班日), fed by CalendarCorrected.

Intake owns the calendar (PUT /calendar/{day}) and announces every correction, removals too, when made and again
on start and periodically; every service that counts working days (dispatch for default due dates, tracking for
the clock) keeps its own copy (design.md: reference data) in a table `calendar_corrections` of its own database:

    CREATE TABLE calendar_corrections (
        day date PRIMARY KEY, is_workday boolean, note text,
        event_id uuid NOT NULL, occurred_at timestamptz NOT NULL, recorded_at timestamptz NOT NULL DEFAULT now());

City-wide reference data: no station_id, no row-level security. Each day keeps the newest correction by the time
intake made it; a removal stays as a tombstone (is_workday NULL), so an older correction arriving late cannot bring
it back. `CalendarCorrectionsStore` is the store mixin (`self.conn` is the transaction's connection),
`record_correction` the use case a CalendarCorrected subscriber calls.
"""

from datetime import date, datetime
from typing import Protocol
from uuid import UUID

import asyncpg

from shared.contracts import CalendarCorrected
from shared.db.uow import Tx

_OVERRIDES = "SELECT day, is_workday FROM calendar_corrections WHERE is_workday IS NOT NULL"
# The newest wins whatever the arrival order; the event id only breaks a tie of equal instants, the same way
# on every replica.
_RECORD = """
INSERT INTO calendar_corrections (day, is_workday, note, event_id, occurred_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (day) DO UPDATE SET is_workday = EXCLUDED.is_workday, note = EXCLUDED.note,
    event_id = EXCLUDED.event_id, occurred_at = EXCLUDED.occurred_at, recorded_at = now()
WHERE (calendar_corrections.occurred_at, calendar_corrections.event_id) < (EXCLUDED.occurred_at, EXCLUDED.event_id)
"""


class CalendarCorrectionsStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def calendar_overrides(self) -> dict[date, bool]:
        """Day -> is it a working day, for shared.calendar.add_working_days(..., overrides)."""
        return {r["day"]: r["is_workday"] for r in await self.conn.fetch(_OVERRIDES)}

    async def record_calendar_correction(
        self, day: date, is_workday: bool | None, note: str | None, event_id: UUID, occurred_at: datetime
    ) -> bool:
        """False when a newer correction of the day was already kept."""
        status = await self.conn.execute(_RECORD, day, is_workday, note, event_id, occurred_at)
        return status.split()[-1] != "0"


class KeepsCalendar(Protocol):
    async def record_calendar_correction(
        self, day: date, is_workday: bool | None, note: str | None, event_id: UUID, occurred_at: datetime
    ) -> bool: ...


async def record_correction(tx: Tx[KeepsCalendar], event: CalendarCorrected) -> bool:
    """Order-tolerant: the day keeps the correction intake made last (by occurred_at); a removal (is_workday None)
    is kept as removed, so a late older correction does not bring the day back. False when it changed nothing."""
    return await tx.store.record_calendar_correction(
        event.day, event.is_workday, event.note, event.event_id, event.occurred_at
    )
