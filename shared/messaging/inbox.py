"""Inbox: the first statement of every handling transaction (design rule 3)."""

from uuid import UUID

from shared.db.together import literal

# One statement with what must come before the claim: the transaction's scope for row-level security and the
# per-key lock that makes handlers of one demand take turns (shared.db.uow). Both are transaction-local. The CTE
# calls volatile functions, so PostgreSQL runs it once, before the INSERT can read its one row.
_CLAIM = """
WITH turn AS (
    SELECT set_config('qs.scope', {scope}, true), set_config('qs.org', '', true),
           pg_advisory_xact_lock(hashtext({turn}))
)
INSERT INTO inbox (consumer, event_id) SELECT {consumer}, {event_id}::uuid FROM turn
ON CONFLICT DO NOTHING
"""


def claim(consumer: str, event_id: UUID, *, scope: str, turn: str) -> str:
    """The statement that claims `event_id` for `consumer`, the first of its handling transaction (sent with the
    BEGIN, shared.db.uow.transaction). It waits for `turn` (the event's lock key) first, in `scope`. A concurrent
    redelivery of the same event blocks on the lock (or the primary key) until the first transaction ends, then
    finds the row: at most one of them does the work."""
    return _CLAIM.format(
        scope=literal(scope), turn=literal(turn), consumer=literal(consumer), event_id=literal(str(event_id))
    )


def claimed(status: str) -> bool:
    """True when the claim's status says it inserted the row (the first sight); False for a duplicate."""
    return status == "INSERT 0 1"
