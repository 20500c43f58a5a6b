"""Inbox: the first statement of every handling transaction (design rule 3)."""

from uuid import UUID

import asyncpg


async def claim(conn: asyncpg.Connection, consumer: str, event_id: UUID) -> bool:
    """True when this consumer sees the event for the first time; False for a duplicate.

    A concurrent redelivery of the same event blocks on the primary key until the
    first transaction ends, then finds the row: at most one of them does the work.
    """
    claimed = await conn.fetchval(
        "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true",
        consumer,
        event_id,
    )
    return bool(claimed)
