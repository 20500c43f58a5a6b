"""Transactional outbox (design rule 2).

`add` writes an event inside the caller's transaction; the relay is the only code
that publishes domain events. It publishes with publisher confirms, persistent,
mandatory (an unroutable message is a failure, except reference data, which its
owner announces again), message_id = event_id, and marks
rows published only after the broker confirmed them. A batch is published at once
and its confirms awaited together; one demand's events still go out one after the
other (`in_turns`). Several replicas share the
work through FOR UPDATE SKIP LOCKED; a crash between confirm and commit publishes
the event again, which the consumers' inbox absorbs.

After a failed publish the relay backs off exponentially (with jitter, capped); new
events' NOTIFYs do not cut the pause short, so an outage costs a handful of attempts
rather than one per event written meanwhile. A success resets the back-off.

Housekeeping runs beside the relay: published outbox rows and inbox rows past their
retention are deleted in small batches, by one replica at a time (`prune`).
"""

import asyncio
import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import asyncpg
import structlog
from aiormq.exceptions import PublishError
from pamqp.commands import Basic

from shared.contracts import EXCHANGE, REFERENCE, Envelope

if TYPE_CHECKING:
    from faststream.rabbit import RabbitBroker

    from shared.observability.metrics import ServiceMetrics

log = structlog.get_logger(__name__)

CHANNEL = "outbox"  # LISTEN/NOTIFY channel; NOTIFY is delivered on commit only
_REFERENCE_KEYS = frozenset(e.routing_key for e in REFERENCE)


# The row and the relay's wake-up call in one round trip. NOTIFY is sent at COMMIT only (never for a rollback), and
# PostgreSQL folds a transaction's identical notifications into one.
_ADD = f"""
INSERT INTO outbox (event_id, routing_key, station_id, demand_id, correlation_id, payload)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING pg_notify('{CHANNEL}', '')
"""


async def add(conn: asyncpg.Connection, event: Envelope) -> None:
    """Within the caller's transaction; reference events (e.g. StationRegistered) have no demand."""
    await conn.execute(
        _ADD,
        event.event_id,
        event.routing_key,
        getattr(event, "station_id", None),
        getattr(event, "demand_id", None),
        event.correlation_id,
        event.model_dump(mode="json"),
    )


_CLAIM = """
SELECT id, event_id, routing_key, station_id, demand_id, correlation_id, payload::text AS payload
FROM outbox WHERE published_at IS NULL
ORDER BY id LIMIT $1
FOR UPDATE SKIP LOCKED
"""

# Housekeeping: one batch per statement (its own short transaction), oldest first. Each batch is a range scan on an
# age index (0004_prune_indexes.sql: outbox_published, inbox_by_age, idempotent_requests_by_age), not a sort of every
# old row, so a batch costs the same however large the tables have grown.
_PRUNE_OUTBOX = """
DELETE FROM outbox WHERE id IN (
    SELECT id FROM outbox
    WHERE published_at < now() - $1::interval
    ORDER BY published_at LIMIT $2
    FOR UPDATE SKIP LOCKED
)
"""
_PRUNE_INBOX = """
DELETE FROM inbox WHERE (consumer, event_id) IN (
    SELECT consumer, event_id FROM inbox
    WHERE received_at < now() - $1::interval
    ORDER BY received_at LIMIT $2
    FOR UPDATE SKIP LOCKED
)
"""
PRUNE_LOCK = 0x5153_5052_554E  # session advisory lock: one pruner per database at a time
_COUNT_EVERY = 5.0  # seconds between counts of the pending rows while the relay works through a backlog
_PASS_SECONDS = 0.01  # the shortest time from one relay pass to the next (OutboxRelay._space_out)


_PRUNE_REQUESTS = """
DELETE FROM idempotent_requests WHERE (caller, key) IN (
    SELECT caller, key FROM idempotent_requests
    WHERE created_at < now() - $1::interval
    ORDER BY created_at LIMIT $2
    FOR UPDATE SKIP LOCKED
)
"""


def in_turns(rows: list[asyncpg.Record]) -> list[list[asyncpg.Record]]:
    """A batch split into the sequences that must go out in order, each in id order, in order of their first row:
    one per demand, and for events without a demand (reference data) one per routing key."""
    turns: dict[object, list[asyncpg.Record]] = {}
    for row in rows:
        key = row["demand_id"] if row["demand_id"] is not None else row["routing_key"]
        turns.setdefault(key, []).append(row)
    return list(turns.values())


@dataclass(frozen=True)
class Pruned:
    outbox: int
    inbox: int
    requests: int = 0  # remembered Idempotency-Key results, kept as long as published events


async def prune(
    pool: asyncpg.Pool,
    *,
    outbox_age: timedelta,
    inbox_age: timedelta,
    batch: int = 1000,
    stopping: Callable[[], bool] = lambda: False,
) -> Pruned | None:
    """Delete published outbox rows (and remembered Idempotency-Key results) older than `outbox_age`, and inbox
    rows older than `inbox_age`.

    `batch` rows per statement, each its own transaction, so no lock is held for long and the
    relay and handlers carry on meanwhile. Only one caller per database works at a time: the
    others find the advisory lock taken and return None at once (replicas need no coordination).
    Unpublished outbox rows are never touched, however old.
    """
    async with pool.acquire() as conn:
        try:
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", PRUNE_LOCK):
                return None
            counts = []
            for sql, age in ((_PRUNE_OUTBOX, outbox_age), (_PRUNE_INBOX, inbox_age), (_PRUNE_REQUESTS, outbox_age)):
                total = 0
                while not stopping():
                    deleted = int((await conn.execute(sql, age, batch)).split()[-1])
                    total += deleted
                    if deleted < batch:
                        break
                counts.append(total)
            await conn.execute("SELECT pg_advisory_unlock($1)", PRUNE_LOCK)
        except BaseException:
            # The pool does not reset released connections (shared.db.pool): one that may still hold the session
            # lock (an error or a cancellation anywhere here, even while the lock was being taken) is dropped, and
            # with its session the lock goes.
            conn.terminate()
            raise
    return Pruned(outbox=counts[0], inbox=counts[1], requests=counts[2])


class OutboxRelay:
    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        dsn: str,
        broker: "RabbitBroker",
        metrics: "ServiceMetrics",
        app_id: str,
        poll_seconds: float = 2.0,
        batch: int = 100,
        publish_timeout: float = 10.0,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
        prune_every_minutes: float = 60.0,
        outbox_retention_days: float = 7.0,
        inbox_retention_days: float = 30.0,
        prune_batch: int = 1000,
    ) -> None:
        self._pool = pool
        self._dsn = dsn
        self._broker = broker
        self._metrics = metrics
        self._app_id = app_id
        self._poll_seconds = poll_seconds
        self._batch = batch
        self._publish_timeout = publish_timeout
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._prune_every = prune_every_minutes * 60
        self._outbox_age = timedelta(days=outbox_retention_days)
        self._inbox_age = timedelta(days=inbox_retention_days)
        self._prune_batch = prune_batch
        self._wake = asyncio.Event()  # new events (NOTIFY) and stop
        self._stopped = asyncio.Event()  # stop only: the one thing that ends a back-off early
        self._listener: asyncpg.Connection | None = None
        self._stopping = False
        self._task: asyncio.Task | None = None
        self._pruner: asyncio.Task | None = None
        self._counted_at = float("-inf")
        self._last_pass = float("-inf")

    async def run(self) -> None:
        """Publish until stopped; never dies on a broker or database outage."""
        failures = 0
        while not self._stopping:
            await self._ensure_listener()
            await self._space_out()
            self._wake.clear()
            # After a failure one event probes the broker: an outage costs one attempt per back-off, not a batch's.
            limit = 1 if failures else self._batch
            try:
                published, failed = await self.publish_pending(limit)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("outbox relay database error", error=repr(exc))
                published, failed = 0, True
            if failed:
                failures += 1
                delay = self.backoff_delay(failures)
                log.info("outbox relay backing off", seconds=round(delay, 2), failures=failures)
                await self._back_off(delay)
                continue
            failures = 0
            if published < limit:  # a full batch means more may be waiting
                await self._pause(self._poll_seconds)

    async def _space_out(self) -> None:
        """Passes start at most every `_PASS_SECONDS`. An idle relay starts at once; a busy one sends what the
        handlers committed meanwhile in one batch (one transaction, one round of confirms) instead of one pass per
        event, for at most that much more latency."""
        loop = asyncio.get_running_loop()
        wait = self._last_pass + _PASS_SECONDS - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        self._last_pass = loop.time()

    def backoff_delay(self, failures: int) -> float:
        """Seconds to wait after the n-th failure in a row: doubling from `backoff_initial` up to
        `backoff_max`, each drawn from its upper half so that replicas do not retry in step."""
        ceiling = min(self._backoff_initial * 2 ** min(failures - 1, 32), self._backoff_max)
        return random.uniform(ceiling / 2, ceiling)

    async def _pause(self, seconds: float) -> None:
        """The idle wait: a new event (NOTIFY) or stop ends it early."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    async def _back_off(self, seconds: float) -> None:
        """The wait after a failure: only stop ends it early; new events wait with the rest."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), timeout=seconds)

    async def _prune_periodically(self) -> None:
        """Housekeeping every `prune_every_minutes` (the first round after at most a minute)."""
        delay = min(self._prune_every, 60.0)
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), timeout=delay)
                return
            delay = self._prune_every
            try:
                pruned = await prune(
                    self._pool,
                    outbox_age=self._outbox_age,
                    inbox_age=self._inbox_age,
                    batch=self._prune_batch,
                    stopping=self._stopped.is_set,
                )
            except Exception as exc:  # housekeeping must not die: the next round tries again
                log.warning("outbox/inbox pruning failed", error=repr(exc))
                continue
            if pruned is None:
                log.debug("outbox/inbox pruning skipped: another replica is at it")
            elif pruned.outbox or pruned.inbox or pruned.requests:
                log.info("outbox/inbox pruned", outbox=pruned.outbox, inbox=pruned.inbox, requests=pruned.requests)

    async def stop(self, timeout: float = 15.0) -> None:
        """Let the batch in flight finish: cancelling a confirmed publish midway can wedge the channel."""
        self._stopping = True
        self._stopped.set()
        self._wake.set()
        for task in (self._task, self._pruner):
            if task is None:
                continue
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout)
            except TimeoutError:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if self._listener is not None and not self._listener.is_closed():
            await self._listener.close()

    def start(self) -> asyncio.Task:
        self._task = asyncio.create_task(self.run(), name="outbox-relay")
        self._pruner = asyncio.create_task(self._prune_periodically(), name="outbox-inbox-pruner")
        return self._task

    async def _ensure_listener(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        try:
            self._listener = await asyncpg.connect(self._dsn)
            await self._listener.add_listener(CHANNEL, lambda *_: self._wake.set())
        except (OSError, asyncpg.PostgresError) as exc:
            # Polling still works without LISTEN; try again on the next round.
            self._listener = None
            log.warning("outbox listener unavailable, polling", error=repr(exc))

    async def publish_pending(self, limit: int | None = None) -> tuple[int, bool]:
        """One batch (`limit` rows, the configured batch by default) in one transaction; returns (published, whether
        a publish failed).

        The batch goes out at once and its confirms are awaited together, so a batch costs about one broker round
        trip, not one per event. Order is kept where a consumer could see it: the events of one demand (without a
        demand: of one routing key) are published one after the other, each once the one before it is confirmed, so
        a failed one still holds back those behind it. After any failure no further publish starts (the relay backs
        off as before); each row is marked published only after its own confirm.
        """
        limit = limit or self._batch
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(_CLAIM, limit)
            confirmed: list[int] = []
            failures: list[tuple[asyncpg.Record, Exception]] = []

            async def publish_in_turn(queue: list[asyncpg.Record]) -> None:
                for row in queue:
                    if failures:
                        return
                    try:
                        await self._publish(row)
                    except Exception as exc:  # any broker failure leaves the row pending
                        failures.append((row, exc))
                        return
                    confirmed.append(row["id"])
                    self._metrics.outbox_published.labels(event=row["routing_key"]).inc()

            await asyncio.gather(*(publish_in_turn(queue) for queue in in_turns(rows)))
            if confirmed:
                await conn.execute(
                    "UPDATE outbox SET published_at = now(), attempts = attempts + 1 WHERE id = ANY($1::bigint[])",
                    confirmed,
                )
            for row, exc in failures:
                self._metrics.outbox_publish_failures.inc()
                log.warning(
                    "outbox publish failed",
                    event_id=str(row["event_id"]),
                    routing_key=row["routing_key"],
                    error=repr(exc),
                )
                await conn.execute(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1",
                    row["id"],
                    repr(exc)[:1000],
                )
            await self._count_pending(conn, claimed=len(rows), published=len(confirmed), limit=limit)
        return len(confirmed), bool(failures)

    async def _count_pending(self, conn: asyncpg.Connection, *, claimed: int, published: int, limit: int) -> None:
        """The pending gauge without a count per pass: a batch that was not full took everything this replica could
        see, so what it left is what is pending. After a full batch (a backlog) the rows are counted, at most every
        `_COUNT_EVERY` seconds."""
        if claimed < limit:
            self._metrics.outbox_pending.set(claimed - published)
            return
        now = asyncio.get_running_loop().time()
        if now - self._counted_at < _COUNT_EVERY:
            return
        self._counted_at = now
        pending = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        self._metrics.outbox_pending.set(pending - published)

    async def _publish(self, row: asyncpg.Record) -> None:
        try:
            await self._publish_confirmed(row)
        except PublishError as exc:
            # Returned unroutable. Reference data (stations, calendar corrections) may be: its owner announces
            # all of it again on start and periodically, so one that no queue is bound for yet is not held back,
            # and does not hold back the events behind it. A demand's event is never dropped.
            if row["routing_key"] not in _REFERENCE_KEYS:
                raise
            log.info("reference event had no subscriber yet", event_id=str(row["event_id"]), error=repr(exc))

    async def _publish_confirmed(self, row: asyncpg.Record) -> None:
        event_id = str(row["event_id"])
        confirmation = await asyncio.wait_for(
            self._broker.publish(
                row["payload"].encode(),  # the stored JSON as text: not decoded and encoded again per event
                exchange=EXCHANGE,
                routing_key=row["routing_key"],
                mandatory=True,
                persist=True,
                message_id=event_id,
                correlation_id=str(row["correlation_id"]),
                content_type="application/json",
                message_type=row["routing_key"],
                headers={
                    **({"x-station-id": row["station_id"]} if row["station_id"] is not None else {}),
                    "x-app-id": self._app_id,
                    **({"x-demand-id": str(row["demand_id"])} if row["demand_id"] is not None else {}),
                },
                timeout=self._publish_timeout,
            ),
            # aio-pika's own timeout normally fires first; this one also bounds what it does not time,
            # such as waiting for a lost connection to come back.
            timeout=self._publish_timeout + min(1.0, self._publish_timeout / 2),
        )
        # With confirms on, anything but Basic.Ack (e.g. a returned message) is not delivered.
        if not isinstance(confirmation, Basic.Ack):
            raise RuntimeError(f"broker did not confirm {event_id}: {confirmation!r}")
        log.debug("outbox published", event_id=event_id, routing_key=row["routing_key"])
