"""The lifecycle's floor: what one demand's lifecycle costs this machine when nothing but its guarantees runs.

The same events on the same queues as the services (each service's own router says what it subscribes to, and the
queues are declared with the services' own arguments), with the same guarantees: each event written to an outbox row
in the transaction that causes it, published persistent with a publisher confirm and marked published after it; each
of its deliveries claimed in an inbox and written down in a durable transaction on a quorum queue, then acked. And
nothing else: no HTTP, no business reads, no logging or metrics, no framework, one statement per transaction
(data-modifying WITH parts), the outbox relayed at once instead of polled, all of it in this one process.

Two ways, each measured on its own:
- **per event**, as the services work (one transaction per delivery, one UPDATE per published event);
- **batched**, as a consumer could work that takes whatever deliveries have arrived while its last transaction ran,
  claims and writes them all in one transaction, and marks published events together. The guarantees are the same.

CPU per lifecycle (this process, PostgreSQL and RabbitMQ, from /proc) and `cores × 1000 / ms`: the lifecycles/s that
design would carry here at that cost per lifecycle (an estimate, measured at the load the clients made, not a
proof for every load), and the same for the two servers alone, were the services' code free. The bench prints both
beside the raw ceilings (devtools/bench.py).
"""

import asyncio
import contextlib
import importlib
import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aio_pika
import asyncpg

from devtools import bench_stats as stats
from devtools import bench_system as system
from shared.contracts.events import Archived, Assigned, DemandSubmitted, Rated, RatingLinkIssued, Resolved
from shared.contracts.topology import EVENT_TYPES, SERVICES
from shared.messaging.broker import consumer_queue

FLOOR_DB = system.DB_PREFIX + "floor"
FLOOR = "floor (this process)"
EXCHANGE = "floor.demand.events"
DEAD_LETTERS = "floor.demand.dead-letter"
MODES = ("per event", "batched")

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
# Deliveries to one consumer (one, or a batch): the inbox claims, then for those newly claimed their facts and the
# outbox rows of the events they cause.
HANDLE = """
WITH d AS (SELECT * FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::uuid[], $6::text[], $7::text[])
                         AS d(event_id, demand_id, routing_key, next_id, next_key, payload)),
     claim AS (INSERT INTO inbox (consumer, event_id) SELECT $1, event_id FROM d
               ON CONFLICT DO NOTHING RETURNING event_id),
     fact AS (INSERT INTO facts (consumer, demand_id, routing_key)
              SELECT $1, d.demand_id, d.routing_key FROM d JOIN claim USING (event_id))
INSERT INTO outbox (event_id, routing_key, payload)
SELECT d.next_id, d.next_key, d.payload::jsonb FROM d JOIN claim USING (event_id) WHERE d.next_id IS NOT NULL
"""
MARK_PUBLISHED = "UPDATE outbox SET published_at = now() WHERE event_id = ANY($1::uuid[])"
DONE = """
SELECT (SELECT count(*) FROM facts) AS facts, (SELECT count(*) FROM inbox) AS claims,
       (SELECT count(*) FROM outbox WHERE published_at IS NULL) AS unpublished
"""


@dataclass
class Awaited:
    """One event of one lifecycle: its deliveries still to come, set when they are all in; its id once written."""

    deliveries: int
    all_in: asyncio.Event = field(default_factory=asyncio.Event)
    event_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Delivery:
    event_id: uuid.UUID
    demand_id: uuid.UUID
    routing_key: str
    next_id: uuid.UUID | None = None
    next_key: str | None = None
    payload: str | None = None


class Batches:
    """What is handed in while a statement runs goes together in the next one: batches without a wait."""

    def __init__(self, run: Callable[[list], Awaitable[None]]) -> None:
        self._run = run
        self._items: list[tuple[object, asyncio.Future]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def submit(self, item: object) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop())
        done = asyncio.get_running_loop().create_future()
        self._items.append((item, done))
        self._wake.set()
        await done

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            items, self._items = self._items, []
            if not items:
                continue
            try:
                await self._run([item for item, _ in items])
            except Exception as exc:
                for _, done in items:
                    done.set_exception(exc)
            else:
                for _, done in items:
                    done.set_result(None)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def consumers_by_key() -> dict[str, list[str]]:
    """routing key → the services subscribed to it, read off each service's own router (handlers.subscribers)."""
    by_key: dict[str, list[str]] = {}
    for service in SERVICES:
        handlers = importlib.import_module(f"services.{service}.handlers")
        settings = importlib.import_module(f"services.{service}.settings").Settings()
        for queue in handlers.subscribers(None, settings).queues:
            by_key.setdefault(queue.removeprefix(f"{service}."), []).append(service)
    return by_key


def lifecycle_steps() -> list[tuple[str, tuple[str, str] | None, list[str]]]:
    """STEPS with each event's consumers; refuses a topology the floor cannot drive (it would wait forever)."""
    by_key = consumers_by_key()
    steps = [(key, after, by_key.get(key, [])) for key, after in STEPS]
    for key, after, services in steps:
        if not services:
            raise ValueError(f"no service consumes {key}: the floor's lifecycle no longer matches the services'")
        if after is not None and after[0] not in by_key.get(after[1], []):
            raise ValueError(f"{after[0]} no longer consumes {after[1]}, which the floor has it answer with {key}")
    return steps


def _payload(demand_id: uuid.UUID, event_id: uuid.UUID, key: str) -> str:
    return (
        f'{{"event_id": "{event_id}", "demand_id": "{demand_id}", "routing_key": "{key}",'
        ' "station_id": "210100/210112/hunnan-01", "schema_version": 1}'
    )


async def floors(vhost: str, seconds: float, clients: int = 16) -> dict[str, dict]:
    """Both ways, one after the other, in the bench's vhost and a scratch database."""
    return {
        mode: await lifecycle_floor(
            system.amqp_url(vhost), FLOOR_DB, seconds, clients=clients, batched=mode == "batched"
        )
        for mode in MODES
    }


async def lifecycle_floor(
    amqp_url: str, database: str, seconds: float, *, clients: int = 16, batched: bool = False, prefetch: int = 16
) -> dict:
    """`clients` lifecycles at a time, one after another, for `seconds`; CPU per lifecycle from /proc. Raises when
    what it reads back is not exactly what the lifecycles it counted should have left."""
    steps = lifecycle_steps()
    deliveries = sum(len(services) for _, _, services in steps)
    await system.drop_databases([database])
    await system.create_database(database)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(system.drop_databases, [database])
        pool = await asyncpg.create_pool(system.database_url(database), min_size=4, max_size=8)
        stack.push_async_callback(pool.close)
        await pool.execute(SCHEMA)
        connection = await aio_pika.connect(amqp_url, client_properties={"connection_name": "bench-floor"})
        stack.push_async_callback(connection.close)
        publisher = await connection.channel(publisher_confirms=True)
        consumer = await connection.channel()
        await consumer.set_qos(prefetch_count=prefetch)
        exchange = await consumer.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        stack.push_async_callback(exchange.delete)
        dead_letters = await consumer.declare_exchange(DEAD_LETTERS, aio_pika.ExchangeType.DIRECT, durable=True)
        stack.push_async_callback(dead_letters.delete)
        out = await publisher.get_exchange(EXCHANGE)

        async def handle_now(service: str, batch: list[Delivery]) -> None:
            await pool.execute(
                HANDLE,
                service,
                [d.event_id for d in batch],
                [d.demand_id for d in batch],
                [d.routing_key for d in batch],
                [d.next_id for d in batch],
                [d.next_key for d in batch],
                [d.payload for d in batch],
            )

        async def mark_now(event_ids: list[uuid.UUID]) -> None:
            await pool.execute(MARK_PUBLISHED, event_ids)

        if batched:
            handlers = {s: Batches(lambda batch, s=s: handle_now(s, batch)) for s in SERVICES}
            marks = Batches(mark_now)
            for b in (*handlers.values(), marks):
                stack.push_async_callback(b.close)

            async def handle(service: str, delivery: Delivery) -> None:
                await handlers[service].submit(delivery)

            async def mark(event_id: uuid.UUID) -> None:
                await marks.submit(event_id)
        else:

            async def handle(service: str, delivery: Delivery) -> None:
                await handle_now(service, [delivery])

            async def mark(event_id: uuid.UUID) -> None:
                await mark_now([event_id])

        pending: dict[tuple[uuid.UUID, str], Awaited] = {}
        emits = {after: key for key, after, _ in steps if after}

        def on_message_for(service: str, key: str):
            next_key = emits.get((service, key))

            async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                demand_id = uuid.UUID(message.headers["x-demand-id"])
                event_id = uuid.UUID(message.message_id)
                if next_key is None:
                    await handle(service, Delivery(event_id, demand_id, key))
                else:
                    next_id = uuid.uuid4()
                    payload = _payload(demand_id, next_id, next_key)
                    await handle(service, Delivery(event_id, demand_id, key, next_id, next_key, payload))
                    pending[(demand_id, next_key)].event_id = next_id
                await message.ack()
                awaited = pending[(demand_id, key)]
                awaited.deliveries -= 1
                if awaited.deliveries == 0:
                    awaited.all_in.set()

            return on_message

        for key, _, services in steps:
            for service in services:
                limit = importlib.import_module(f"services.{service}.settings").Settings().delivery_limit
                arguments = consumer_queue(service, EVENT_TYPES[key], limit).arguments | {
                    "x-dead-letter-exchange": DEAD_LETTERS
                }
                queue = await consumer.declare_queue(f"floor.{service}.{key}", durable=True, arguments=arguments)
                stack.push_async_callback(queue.delete, if_unused=False, if_empty=False)
                await queue.bind(exchange, routing_key=key)
                tag = await queue.consume(on_message_for(service, key))
                stack.push_async_callback(queue.cancel, tag)

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
                    payload = _payload(demand_id, event_id, key)
                    await pool.execute(REQUEST, demand_id, key, event_id, payload)
                else:
                    event_id = awaited.event_id  # written by the handler that caused it
                    payload = _payload(demand_id, event_id, key)
                message = aio_pika.Message(
                    payload.encode(),
                    message_id=str(event_id),
                    headers={"x-demand-id": str(demand_id)},
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                )
                await out.publish(message, routing_key=key)  # the relay, at once: no poll
                await mark(event_id)
                await awaited.all_in.wait()
            for key, _, _ in steps:
                del pending[(demand_id, key)]

        async def client() -> None:
            nonlocal sealed
            while loop.time() < deadline:
                await one_lifecycle()
                sealed += 1

        watch = system.Watch.of_this_process(FLOOR)
        before = watch.snapshot()
        async with asyncio.timeout(seconds + 60), asyncio.TaskGroup() as running:
            for _ in range(clients):
                running.create_task(client())
        after = watch.snapshot()
        done = dict(await pool.fetchrow(DONE))
    expected = {"facts": sealed * deliveries, "claims": sealed * deliveries, "unpublished": 0}
    if done != expected:
        raise RuntimeError(f"the floor's lifecycles did not leave what they should: {done}, expected {expected}")
    window = after.at - before.at
    cpu = {
        name: stats.per_unit(stats.cpu_ms(before.ticks[name], after.ticks[name], system.CLOCK_TICKS), sealed)
        for name in before.ticks
    }
    cores = os.cpu_count() or 1
    total = servers = None
    if sealed:
        total = sum(cpu.values())
        servers = total - cpu[FLOOR]
    return {
        "batched": batched,
        "clients": clients,
        "seconds": round(window, 2),
        "sealed": sealed,
        "events": len(steps),
        "deliveries": deliveries,
        "lifecycles_per_s": stats.per_unit(sealed, window),
        "cpu_ms_per_lifecycle": cpu,
        "total_ms_per_lifecycle": total,
        "done": done,
        "cores": cores,
        "bound_lifecycles_per_s": cores * 1000 / total if total else None,
        # Were the services free, PostgreSQL and RabbitMQ alone would still spend this much per lifecycle.
        "servers_bound_lifecycles_per_s": cores * 1000 / servers if servers else None,
    }
