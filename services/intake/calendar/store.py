"""Calendar SQL: the working-day corrections.

The store is bound to one transaction's connection; the unit of work owns the transaction.
"""

from datetime import date

import asyncpg

_WORKDAY_OVERRIDES = "SELECT day, is_workday FROM calendar_overrides"
_SAVE_WORKDAY = """
INSERT INTO calendar_overrides (day, is_workday, note) VALUES ($1, $2, $3)
ON CONFLICT (day) DO UPDATE SET is_workday = EXCLUDED.is_workday, note = EXCLUDED.note
"""


class CalendarStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def workday_overrides(self) -> dict[date, bool]:
        return {r["day"]: r["is_workday"] for r in await self.conn.fetch(_WORKDAY_OVERRIDES)}

    async def save_workday(self, day: date, is_workday: bool, note: str) -> None:
        await self.conn.execute(_SAVE_WORKDAY, day, is_workday, note)
