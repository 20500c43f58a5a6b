"""Safe retries: a state-changing request repeated with the same `Idempotency-Key` gets the first one's result.

A use case recalls the key first and remembers its result last, in its own transaction, so the
change and the remembered result commit together (a crash between them is impossible):

    async with uow.begin(principal) as tx:
        if (earlier := await tx.recall(request)) is not None:
            return await tx.store.assignment(earlier["demand_id"], earlier["assignment_no"])
        ...                                   # the change, and its event through the outbox
        await tx.remember(request, {"demand_id": ..., "assignment_no": ...})

Keys belong to the caller (the token's subject; a public link's own token), so two callers'
keys never meet. The result kept is whatever the use case needs to answer again — usually a
reference to what it made. Reusing a key for a different request is a 409.
"""

import hashlib
import json
from dataclasses import dataclass

from pydantic import BaseModel

from shared.errors import DomainError


class IdempotencyConflict(DomainError):
    status = 409
    code = "idempotency_conflict"


def _plain(part: object) -> object:
    return part.model_dump(mode="json") if isinstance(part, BaseModel) else part


@dataclass(frozen=True)
class Idempotent:
    """One caller's key for one request, with a digest of what was asked."""

    caller: str
    key: str
    request_sha256: str

    @classmethod
    def of(cls, key: str | None, caller: str, *request: object) -> "Idempotent | None":
        """None without a key: the request is simply not deduplicated."""
        if not key:
            return None
        body = json.dumps([_plain(p) for p in request], sort_keys=True, ensure_ascii=False, default=str)
        return cls(caller=caller, key=key, request_sha256=hashlib.sha256(body.encode()).hexdigest())

    def conflict(self) -> IdempotencyConflict:
        return IdempotencyConflict(
            "该幂等键（Idempotency-Key）已用于另一项不同的请求",
            "this Idempotency-Key was already used for a different request",
            field="Idempotency-Key",
        )


# Concurrent retries of one key take turns, so the second finds the first's result.
LOCK = "SELECT pg_advisory_xact_lock(hashtext('idempotent ' || $1 || ' ' || $2))"
RECALL = "SELECT request_sha256, result FROM idempotent_requests WHERE caller = $1 AND key = $2"
REMEMBER = "INSERT INTO idempotent_requests (caller, key, request_sha256, result) VALUES ($1, $2, $3, $4)"
