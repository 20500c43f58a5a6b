"""Dispatch's copy of the working-day corrections (city-wide reference data: no station_id, no row-level security).

A mixin on the dispatch store (`self.conn` is the transaction's connection). Each day keeps the newest
correction by the time intake made it; a removal stays as a tombstone (is_workday NULL), so an older
correction arriving late cannot bring it back.
"""

from datetime import date, datetime
from uuid import UUID

import asyncpg

_OVERRIDES = "SELECT day, is_workday FROM calendar_corrections WHERE is_workday IS NOT NULL"
# The newest wins whatever the arrival order; the event id only breaks a tie of equal instants, the same way
# on every replica.
_RECORD = """
INSERT INTO calendar_corrections (day, is_workday, note, event_id, occurred_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (day) DO UPDATE SET is_workday = EXCLUDED.is_workday, note = EXCLUDED.note,
    event_id = EXCLUDED.event_id, occurred_at = EXCLUDED.occurred_at, recorded_at = now()
WHERE (calendar_corrections.occurred_at, calendar_corrections.event_id) < (EXCLUDED.occurred_at, EXCLUDED.event_id)
"""


class CalendarStore:
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
