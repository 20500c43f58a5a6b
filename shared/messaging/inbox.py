"""Inbox: the first statement of every handling transaction (design rule 3)."""

from uuid import UUID

import asyncpg

# One round trip with what must come before the claim: the transaction's scope for row-level security and the
# per-key lock that makes handlers of one demand take turns (shared.db.uow). Both are transaction-local. The CTE
# calls volatile functions, so PostgreSQL runs it once, before the INSERT can read its one row.
_CLAIM = """
WITH turn AS (
    SELECT set_config('qs.scope', $3, true), set_config('qs.org', '', true), pg_advisory_xact_lock(hashtext($4::text))
)
INSERT INTO inbox (consumer, event_id) SELECT $1, $2 FROM turn
ON CONFLICT DO NOTHING RETURNING true
"""


async def claim(conn: asyncpg.Connection, consumer: str, event_id: UUID, *, scope: str, turn: str) -> bool:
    """True when this consumer sees the event for the first time; False for a duplicate.

    Waits for `turn` (the event's lock key) first, in `scope`. A concurrent redelivery of the same event blocks on
    the lock (or the primary key) until the first transaction ends, then finds the row: at most one of them does
    the work.
    """
    return bool(await conn.fetchval(_CLAIM, consumer, event_id, scope, turn))
