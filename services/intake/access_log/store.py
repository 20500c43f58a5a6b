"""Access-log SQL: lines written in the reading transaction, and read back in the caller's scope.

The store is bound to one transaction's connection; the unit of work owns the transaction.
"""

from datetime import datetime

import asyncpg

from .domain import AccessLine

_COLUMNS = "accessed_at, station_id, subject, subject_name, role, purpose, kind, ref, refs"
_LOG_ACCESS = f"INSERT INTO access_log ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
_ACCESS_LOG = f"""
SELECT id, {_COLUMNS} FROM access_log
WHERE qs_covers($1, station_id)
  AND ($2::timestamptz IS NULL OR accessed_at >= $2)
  AND ($3::timestamptz IS NULL OR accessed_at < $3)
ORDER BY accessed_at DESC, id DESC LIMIT $4 OFFSET $5
"""


class AccessLogStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def log_access(self, lines: list[AccessLine]) -> None:
        await self.conn.executemany(
            _LOG_ACCESS,
            [
                (
                    a.accessed_at,
                    a.station_id,
                    a.subject,
                    a.subject_name,
                    a.role,
                    a.purpose,
                    a.kind,
                    a.ref,
                    list(a.refs),
                )
                for a in lines
            ],
        )

    async def access_log(
        self, scope: str, since: datetime | None, until: datetime | None, limit: int, offset: int
    ) -> list[dict]:
        rows = await self.conn.fetch(_ACCESS_LOG, scope, since, until, limit, offset)
        return [dict(r) for r in rows]
