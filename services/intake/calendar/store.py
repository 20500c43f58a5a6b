"""Calendar SQL: the working-day corrections, and when each was last announced.

The store is bound to one transaction's connection; the unit of work owns the transaction.
A removed correction stays as a tombstone (is_workday NULL), announced like the others.
"""

from datetime import date, datetime

import asyncpg

from .domain import WorkdayCorrection

_WORKDAY_OVERRIDES = "SELECT day, is_workday FROM calendar_overrides WHERE is_workday IS NOT NULL"
_SAVE_WORKDAY = """
INSERT INTO calendar_overrides (day, is_workday, note, updated_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (day) DO UPDATE SET is_workday = EXCLUDED.is_workday, note = EXCLUDED.note, updated_at = EXCLUDED.updated_at
"""
_REMOVE_WORKDAY = """
UPDATE calendar_overrides SET is_workday = NULL, note = '', updated_at = $2
WHERE day = $1 AND is_workday IS NOT NULL
"""
_DAYS = "SELECT day, is_workday, note FROM calendar_overrides WHERE day = ANY($1::date[]) ORDER BY day"
_IN_SPAN = """
SELECT day, is_workday, note FROM calendar_overrides
WHERE is_workday IS NOT NULL AND day >= $1 AND day < $2 ORDER BY day
"""
_DUE = "SELECT day FROM calendar_overrides WHERE announced_at IS NULL OR announced_at < $1 ORDER BY day"
_MARK_ANNOUNCED = "UPDATE calendar_overrides SET announced_at = $2 WHERE day = ANY($1::date[])"


class CalendarStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def workday_overrides(self) -> dict[date, bool]:
        return {r["day"]: r["is_workday"] for r in await self.conn.fetch(_WORKDAY_OVERRIDES)}

    async def save_workday(self, day: date, is_workday: bool, note: str, at: datetime) -> None:
        await self.conn.execute(_SAVE_WORKDAY, day, is_workday, note, at)

    async def remove_workday(self, day: date, at: datetime) -> bool:
        """False when the day has no correction to remove."""
        return (await self.conn.execute(_REMOVE_WORKDAY, day, at)).split()[-1] != "0"

    async def workday_corrections(self, days: list[date]) -> list[WorkdayCorrection]:
        return [WorkdayCorrection(**r) for r in await self.conn.fetch(_DAYS, days)]

    async def workday_corrections_between(self, start: date, end: date) -> list[WorkdayCorrection]:
        """The corrections in force on the days in [start, end), in date order (removed ones left out)."""
        return [WorkdayCorrection(**r) for r in await self.conn.fetch(_IN_SPAN, start, end)]

    async def corrections_due_for_announcement(self, announced_before: datetime) -> list[date]:
        return [r["day"] for r in await self.conn.fetch(_DUE, announced_before)]

    async def mark_corrections_announced(self, days: list[date], at: datetime) -> None:
        await self.conn.execute(_MARK_ANNOUNCED, days, at)
