"""Unit of work (design example 2; cosmicpython's `service_layer/unit_of_work.py`).

A use case gets a `UnitOfWork` and opens one transaction with it:

    async with uow.begin(principal) as tx:     # an HTTP request, in the caller's station scope
        case = await tx.store.get(...)
        await tx.publish(event)                 # outbox row, same transaction

Event handlers never open their own: `uow.handle(event, usecase)` takes the demand's
lock, claims the inbox (a duplicate does nothing) and calls `usecase(tx, event)`.
`tx.store` is the service's store bound to the transaction's connection. Tests use
`tests/support/fake_uow.py`, which keeps the same shape in memory.
"""

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import asyncpg
import structlog
from pydantic import ValidationError

from shared.auth import SYSTEM, Principal
from shared.contracts import Envelope
from shared.db.together import literal
from shared.errors import NotFound
from shared.idempotency import LOCK, RECALL, REMEMBER, Idempotent
from shared.messaging import inbox, outbox

log = structlog.get_logger(__name__)

S = TypeVar("S")
E = TypeVar("E", bound=Envelope)

# Transaction-local (`true`): gone at COMMIT or ROLLBACK, so a pooled connection carries no scope to its next user
# (the pool sends no reset: shared.db.pool).
_SET_SCOPE = "SELECT set_config('qs.scope', {scope}, true), set_config('qs.org', {org}, true)"
# Two handlers of one demand's events must not race while its rows may not exist yet
# (SELECT … FOR UPDATE locks no absent row), so handling takes a per-demand lock first:
# in the same statement (one round trip) as the scope, before anything else the transaction does.
_SET_SCOPE_AND_LOCK = _SET_SCOPE + ", pg_advisory_xact_lock(hashtext({lock}))"


@contextlib.asynccontextmanager
async def transaction(pool: asyncpg.Pool, first: str) -> AsyncIterator[tuple[asyncpg.Connection, str]]:
    """A transaction whose BEGIN travels with its first statement: one round trip fewer than asyncpg's
    `conn.transaction()`, on every request and every handled event. Yields the connection and the first
    statement's status (e.g. `INSERT 0 1`). Nested blocks use `savepoint`, not `conn.transaction()` (asyncpg refuses
    that inside a transaction it did not start)."""
    async with pool.acquire() as conn:
        try:
            status = await conn.execute("BEGIN; " + first)
            yield conn, status
        except BaseException:
            # A connection whose query was cancelled may refuse the ROLLBACK; the pool then rolls back or drops it.
            with contextlib.suppress(Exception):
                await conn.execute("ROLLBACK")
            raise
        # PostgreSQL answers ROLLBACK to the COMMIT of a transaction a failed statement aborted (an error caught
        # without a savepoint): its writes are gone, which must not pass for success.
        if await conn.execute("COMMIT") != "COMMIT":
            raise RuntimeError("the transaction was rolled back: a statement in it failed")


@contextlib.asynccontextmanager
async def savepoint(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """A nested block inside a `transaction`: what fails in it is undone alone, and the transaction goes on."""
    await conn.execute("SAVEPOINT nested")
    try:
        yield
    except Exception:
        await conn.execute("ROLLBACK TO SAVEPOINT nested; RELEASE SAVEPOINT nested")
        raise
    await conn.execute("RELEASE SAVEPOINT nested")


class HandlingError(RuntimeError):
    """Handling failed in our code; the message is redelivered up to its limit."""


@dataclass
class Tx(Generic[S]):
    """One transaction: the service's store on its connection, and its outbox."""

    conn: asyncpg.Connection
    store: S
    principal: Principal

    async def scope(self, station_id: str | None = None) -> str:
        """The station scope a list runs in: the caller's, or one station inside it.

        A station outside the caller's scope answers 404, like any object they may not see.
        """
        own = self.principal.db_scope
        if station_id is None:
            return own
        if not await self.conn.fetchval("SELECT qs_covers($1, $2)", own, station_id):
            raise NotFound("未找到该服务站", "station not found")
        return station_id

    async def publish(self, event: Envelope) -> None:
        """Written with the state it describes; the relay publishes it after commit (design rule 2)."""
        await outbox.add(self.conn, event)

    async def recall(self, request: Idempotent | None) -> dict | None:
        """The result remembered for this caller's key (shared.idempotency), or None to go ahead."""
        if request is None:
            return None
        await self.conn.execute(LOCK, request.caller, request.key)
        row = await self.conn.fetchrow(RECALL, request.caller, request.key)
        if row is None:
            return None
        if row["request_sha256"] != request.request_sha256:
            raise request.conflict()
        return row["result"]

    async def remember(self, request: Idempotent | None, result: dict) -> None:
        """Kept in this transaction, so the change and its remembered result commit together."""
        if request is not None:
            await self.conn.execute(REMEMBER, request.caller, request.key, request.request_sha256, result)


class UnitOfWork(Generic[S]):
    def __init__(self, consumer: str, store: Callable[[asyncpg.Connection], S]) -> None:
        self.consumer = consumer
        self._store = store
        self._pool: asyncpg.Pool | None = None

    def bind(self, pool: asyncpg.Pool | None) -> None:
        self._pool = pool

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the service has not started")
        return self._pool

    @contextlib.asynccontextmanager
    async def begin(self, principal: Principal = SYSTEM, *, lock: object = None) -> AsyncIterator[Tx[S]]:
        """One transaction in the caller's scope: row-level security sees what the caller may see."""
        scope = "*" if principal is SYSTEM else principal.db_scope
        scoped = {"scope": literal(scope), "org": literal(principal.org or "")}
        first = (
            _SET_SCOPE.format(**scoped)
            if lock is None
            else _SET_SCOPE_AND_LOCK.format(**scoped, lock=literal(str(lock)))
        )
        async with transaction(self.pool, first) as (conn, _):
            yield Tx(conn=conn, store=self._store(conn), principal=principal)

    async def handle(self, event: E, usecase: Callable[[Tx[S], E], Awaitable[None]]) -> bool:
        """Apply an event once: the inbox claim is the first write; False for a duplicate.

        Its first statement sets the system scope, takes the demand's turn (the lock of `begin`) and claims the
        event, in one round trip (shared.messaging.inbox)."""
        claim = inbox.claim(self.consumer, event.event_id, scope="*", turn=str(event.lock_key))
        async with transaction(self.pool, claim) as (conn, status):
            if not inbox.claimed(status):
                log.info("duplicate event ignored", consumer=self.consumer)
                return False
            tx = Tx(conn=conn, store=self._store(conn), principal=SYSTEM)
            try:
                await usecase(tx, event)
            except ValidationError as exc:
                # A model the use case built is invalid: our bug, worth retrying after a fix. Only a payload
                # that is not its event may go straight to the dead-letter queue.
                raise HandlingError(f"{self.consumer} built an invalid object from {event.event_id}") from exc
            return True
