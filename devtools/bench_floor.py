"""The lifecycle's floor: what one demand's lifecycle costs this machine when nothing but its guarantees runs.

The same events on the same topology as the services (the queues are the services' own routers' declarations,
so a new subscriber shows up here too), with the same guarantees: each event written to an outbox row in the
transaction that causes it, published persistent with a publisher confirm and marked published after it; each of
its deliveries claimed in an inbox and written down in one durable transaction, then acked, on a quorum queue.
And nothing else: no HTTP, no business reads, no logging or metrics, no framework, one statement per transaction
(data-modifying WITH parts), the outbox relayed at once instead of polled, and all of it in this one process.

Its CPU per lifecycle — this process, PostgreSQL and RabbitMQ, from /proc — is a lower bound on what any
implementation keeping those guarantees spends here, so `cores × 1000 / ms` is an upper bound on the lifecycles/s
this machine can carry. The bench prints it beside the raw ceilings (devtools/bench.py).
"""

import asyncio
import contextlib
import importlib
import os
import uuid
from dataclasses import dataclass, field

import aio_pika
import asyncpg

from devtools import bench_stats as stats
from devtools import bench_system as system
from shared.contracts.events import Archived, Assigned, DemandSubmitted, Rated, RatingLinkIssued, Resolved
from shared.contracts.topology import EXCHANGE, SERVICES

FLOOR_DB = system.DB_PREFIX + "floor"
FLOOR = "floor (this process)"

# A lifecycle's events in order, as the bench drives it. `after` names the delivery whose transaction writes the
# event's outbox row (a handler's, as in the services); the others are written by a request's transaction.
STEPS: tuple[tuple[str, tuple[str, str] | None], ...] = (
    (DemandSubmitted.routing_key, None),
    (Assigned.routing_key, None),
    (Resolved.routing_key, None),
    (RatingLinkIssued.routing_key, ("evaluation", Resolved.routing_key)),
    (Rated.routing_key, None),
    (Archived.routing_key, ("archive", Rated.routing_key)),
)

SCHEMA = """
CREATE TABLE outbox (event_id uuid PRIMARY KEY, routing_key text NOT NULL, payload jsonb NOT NULL,
                     created_at timestamptz NOT NULL DEFAULT now(), published_at timestamptz);
CREATE TABLE inbox (consumer text NOT NULL, event_id uuid NOT NULL, handled_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (consumer, event_id));
CREATE TABLE facts (consumer text NOT NULL, demand_id uuid NOT NULL, routing_key text NOT NULL,
                    PRIMARY KEY (consumer, demand_id, routing_key));
CREATE TABLE requests (demand_id uuid NOT NULL, routing_key text NOT NULL, PRIMARY KEY (demand_id, routing_key));
"""

# A request: its state and its event's outbox row, one statement.
REQUEST = """
WITH done AS (INSERT INTO requests (demand_id, routing_key) VALUES ($1, $2))
INSERT INTO outbox (event_id, routing_key, payload) VALUES ($3, $2, $4::jsonb)
"""
# A delivery: the inbox claim, then its fact only when the claim was new.
HANDLE = """
WITH claim AS (INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1)
INSERT INTO facts (consumer, demand_id, routing_key) SELECT $1, $3, $4 FROM claim
"""
# A delivery whose handler causes the next event: the same, and that event's outbox row.
HANDLE_AND_EMIT = """
WITH claim AS (INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1),
     fact AS (INSERT INTO facts (consumer, demand_id, routing_key) SELECT $1, $3, $4 FROM claim)
INSERT INTO outbox (event_id, routing_key, payload) SELECT $5, $6, $7::jsonb FROM claim
"""
MARK_PUBLISHED = "UPDATE outbox SET published_at = now() WHERE event_id = $1"


@dataclass
class Awaited:
    """One event of one lifecycle: its deliveries still to come, set when they are all in; its id once written."""

    deliveries: int
    all_in: asyncio.Event = field(default_factory=asyncio.Event)
    event_id: uuid.UUID | None = None


def consumers_by_key() -> dict[str, list[str]]:
    """routing key → the services subscribed to it, read off each service's own router (handlers.subscribers)."""
    by_key: dict[str, list[str]] = {}
    for service in SERVICES:
        handlers = importlib.import_module(f"services.{service}.handlers")
        settings = importlib.import_module(f"services.{service}.settings").Settings()
        for queue in handlers.subscribers(None, settings).queues:
            by_key.setdefault(queue.removeprefix(f"{service}."), []).append(service)
    return by_key


def _payload(demand_id: uuid.UUID, event_id: uuid.UUID, key: str) -> str:
    return (
        f'{{"event_id": "{event_id}", "demand_id": "{demand_id}", "routing_key": "{key}",'
        ' "station_id": "210100/210112/hunnan-01", "schema_version": 1}'
    )


async def lifecycle_floor(vhost: str, seconds: float, clients: int = 16, prefetch: int = 16) -> dict:
    """`clients` lifecycles at a time, one after another, for `seconds`; CPU per lifecycle from /proc."""
    by_key = consumers_by_key()
    steps = [(key, after, by_key.get(key, [])) for key, after in STEPS]
    deliveries = sum(len(services) for _, _, services in steps)
    await system.drop_databases([FLOOR_DB])
    await system.create_database(FLOOR_DB)
    url = system.amqp_url(vhost)
    pool = await asyncpg.create_pool(system.database_url(FLOOR_DB), min_size=4, max_size=8)
    connection = await aio_pika.connect(url, client_properties={"connection_name": "bench-floor"})
    try:
        async with pool.acquire() as conn:
            await conn.execute(SCHEMA)
        publisher = await connection.channel(publisher_confirms=True)
        consumer = await connection.channel()
        await consumer.set_qos(prefetch_count=prefetch)
        exchange = await consumer.declare_exchange(f"floor.{EXCHANGE}", aio_pika.ExchangeType.TOPIC, durable=True)
        out = await publisher.get_exchange(exchange.name)

        pending: dict[tuple[uuid.UUID, str], Awaited] = {}
        emits = {after: key for key, after, _ in steps if after}

        def on_message_for(service: str, key: str):
            next_key = emits.get((service, key))

            async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                demand_id = uuid.UUID(message.headers["x-demand-id"])
                event_id = uuid.UUID(message.message_id)
                if next_key is None:
                    await pool.execute(HANDLE, service, event_id, demand_id, key)
                else:
                    next_id = uuid.uuid4()
                    await pool.execute(
                        HANDLE_AND_EMIT,
                        service,
                        event_id,
                        demand_id,
                        key,
                        next_id,
                        next_key,
                        _payload(demand_id, next_id, next_key),
                    )
                    pending[(demand_id, next_key)].event_id = next_id
                await message.ack()
                awaited = pending[(demand_id, key)]
                awaited.deliveries -= 1
                if awaited.deliveries == 0:
                    awaited.all_in.set()

            return on_message

        queues = []
        for key, _, services in steps:
            for service in services:
                queue = await consumer.declare_queue(
                    f"floor.{service}.{key}",
                    durable=True,
                    arguments={"x-queue-type": "quorum", "x-delivery-limit": 5, "x-overflow": "reject-publish"},
                )
                await queue.bind(exchange, routing_key=key)
                queues.append((queue, await queue.consume(on_message_for(service, key))))

        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        sealed = 0

        async def one_lifecycle() -> None:
            demand_id = uuid.uuid4()
            for key, _, services in steps:
                pending[(demand_id, key)] = Awaited(len(services))
            for key, after, _ in steps:
                awaited = pending[(demand_id, key)]
                if after is None:
                    event_id = uuid.uuid4()
                    await pool.execute(REQUEST, demand_id, key, event_id, _payload(demand_id, event_id, key))
                else:
                    event_id = awaited.event_id  # written by the handler that caused it
                message = aio_pika.Message(
                    _payload(demand_id, event_id, key).encode(),
                    message_id=str(event_id),
                    headers={"x-demand-id": str(demand_id)},
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                )
                await out.publish(message, routing_key=key)  # the relay, at once: no poll
                await pool.execute(MARK_PUBLISHED, event_id)
                await awaited.all_in.wait()
            for key, _, _ in steps:
                del pending[(demand_id, key)]

        async def client() -> None:
            nonlocal sealed
            while loop.time() < deadline:
                await one_lifecycle()
                sealed += 1

        watch = system.Watch(
            roots={
                FLOOR: [os.getpid()],
                "postgres (whole server)": stats.roots_named(system.proc_table(), "postgres"),
                "rabbitmq (whole node)": stats.roots_named(system.proc_table(), "beam.smp"),
            },
            alone=frozenset({FLOOR}),
        )
        before = watch.snapshot()
        await asyncio.gather(*(client() for _ in range(clients)))
        after = watch.snapshot()
        window = after.at - before.at
        for queue, tag in queues:
            await queue.cancel(tag)
            await queue.delete(if_unused=False, if_empty=False)
        await exchange.delete()
        # What it did, read back: every delivery written down once, every event published.
        done = await pool.fetchrow(
            "SELECT (SELECT count(*) FROM facts) AS facts, (SELECT count(*) FROM inbox) AS claims,"
            " (SELECT count(*) FROM outbox WHERE published_at IS NULL) AS unpublished"
        )
    finally:
        with contextlib.suppress(Exception):
            await connection.close()
        await pool.close()
        await system.drop_databases([FLOOR_DB])
    cpu = {
        name: stats.per_unit(stats.cpu_ms(before.ticks[name], after.ticks[name], system.CLOCK_TICKS), sealed)
        for name in before.ticks
    }
    total = sum(v for v in cpu.values() if v is not None) if sealed else None
    servers = sum(v for name, v in cpu.items() if name != FLOOR and v is not None) if sealed else None
    cores = os.cpu_count() or 1
    return {
        "clients": clients,
        "seconds": round(window, 2),
        "sealed": sealed,
        "events": len(steps),
        "deliveries": deliveries,
        "lifecycles_per_s": stats.per_unit(sealed, window) if window > 0 else None,
        "cpu_ms_per_lifecycle": cpu,
        "total_ms_per_lifecycle": None if total is None else round(total, 2),
        "done": dict(done),
        "cores": cores,
        "bound_lifecycles_per_s": None if not total else round(cores * 1000 / total, 1),
        # Were the services free, PostgreSQL and RabbitMQ alone would still spend this much per lifecycle.
        "servers_bound_lifecycles_per_s": None if not servers else round(cores * 1000 / servers, 1),
    }
