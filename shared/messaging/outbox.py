"""Transactional outbox (design rule 2).

`add` writes an event inside the caller's transaction; the relay is the only code
that publishes domain events. It publishes with publisher confirms, persistent,
mandatory (an unroutable message is a failure), message_id = event_id, and marks
rows published only after the broker confirmed them. Several replicas share the
work through FOR UPDATE SKIP LOCKED; a crash between confirm and commit publishes
the event again, which the consumers' inbox absorbs.
"""

import asyncio
import json
from typing import TYPE_CHECKING

import asyncpg
import structlog
from pamqp.commands import Basic

from shared.contracts import EXCHANGE, Event

if TYPE_CHECKING:
    from faststream.rabbit import RabbitBroker

    from shared.observability.metrics import ServiceMetrics

log = structlog.get_logger(__name__)

CHANNEL = "outbox"  # LISTEN/NOTIFY channel; NOTIFY is delivered on commit only


async def add(conn: asyncpg.Connection, event: Event) -> None:
    await conn.execute(
        """
        INSERT INTO outbox (event_id, routing_key, station_id, demand_id, correlation_id, payload)
        VALUES ($1, $2, $3, $4, $5, $6)
        """,
        event.event_id,
        event.routing_key,
        event.station_id,
        event.demand_id,
        event.correlation_id,
        event.model_dump(mode="json"),
    )
    await conn.execute("SELECT pg_notify($1, '')", CHANNEL)


_CLAIM = """
SELECT id, event_id, routing_key, station_id, demand_id, correlation_id, payload
FROM outbox WHERE published_at IS NULL
ORDER BY id LIMIT $1
FOR UPDATE SKIP LOCKED
"""


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
    ) -> None:
        self._pool = pool
        self._dsn = dsn
        self._broker = broker
        self._metrics = metrics
        self._app_id = app_id
        self._poll_seconds = poll_seconds
        self._batch = batch
        self._publish_timeout = publish_timeout
        self._wake = asyncio.Event()
        self._listener: asyncpg.Connection | None = None
        self._stopping = False
        self._task: asyncio.Task | None = None

    async def run(self) -> None:
        """Publish until stopped; never dies on a broker or database outage."""
        backoff = self._poll_seconds
        while not self._stopping:
            await self._ensure_listener()
            self._wake.clear()
            try:
                published, failed = await self.publish_pending()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("outbox relay database error", error=repr(exc))
                published, failed = 0, True
            if failed:
                await self._pause(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            backoff = self._poll_seconds
            if published < self._batch:  # a full batch means more may be waiting
                await self._pause(self._poll_seconds)

    async def _pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
        except TimeoutError:
            pass

    async def stop(self, timeout: float = 15.0) -> None:
        """Let the batch in flight finish: cancelling a confirmed publish midway can wedge the channel."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
            except TimeoutError:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
        if self._listener is not None and not self._listener.is_closed():
            await self._listener.close()

    def start(self) -> asyncio.Task:
        self._task = asyncio.create_task(self.run(), name="outbox-relay")
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

    async def publish_pending(self) -> tuple[int, bool]:
        """One batch in one transaction; returns (published, whether a publish failed)."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(_CLAIM, self._batch)
            published: list[int] = []
            failed = False
            for row in rows:
                try:
                    await self._publish(row)
                except Exception as exc:  # any broker failure leaves the row pending
                    failed = True
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
                    break  # keep order: later events wait for this one
                published.append(row["id"])
                self._metrics.outbox_published.labels(event=row["routing_key"]).inc()
            if published:
                await conn.execute(
                    "UPDATE outbox SET published_at = now(), attempts = attempts + 1 WHERE id = ANY($1::bigint[])",
                    published,
                )
            pending = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            self._metrics.outbox_pending.set(pending - len(published))
        return len(published), failed

    async def _publish(self, row: asyncpg.Record) -> None:
        event_id = str(row["event_id"])
        confirmation = await asyncio.wait_for(
            self._broker.publish(
                json.dumps(row["payload"], ensure_ascii=False).encode(),
                exchange=EXCHANGE,
                routing_key=row["routing_key"],
                mandatory=True,
                persist=True,
                message_id=event_id,
                correlation_id=str(row["correlation_id"]),
                content_type="application/json",
                message_type=row["routing_key"],
                headers={
                    "x-station-id": row["station_id"],
                    "x-demand-id": str(row["demand_id"]),
                    "x-app-id": self._app_id,
                },
                timeout=self._publish_timeout,
            ),
            timeout=self._publish_timeout + 1,
        )
        # With confirms on, anything but Basic.Ack (e.g. a returned message) is not delivered.
        if not isinstance(confirmation, Basic.Ack):
            raise RuntimeError(f"broker did not confirm {event_id}: {confirmation!r}")
        log.debug("outbox published", event_id=event_id, routing_key=row["routing_key"])
