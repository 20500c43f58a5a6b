"""What `make bench` (devtools/bench.py) starts, samples and cleans up: service processes, /proc, the broker's
management API, the bench databases, and the raw ceilings of PostgreSQL and RabbitMQ on this machine.

Everything the bench creates carries its own names, so it never meets `make run` (ports 8001–8005, databases qs_*,
vhost /) or the tests (ports 18001–18005, databases qs_test_*, vhosts qs-test-*):

- ports 8101–8105 (further replicas of a service from 8111 up, devtools/bench_replicas.py);
- databases bench_<service> (and bench_raw for the PostgreSQL ceiling), dropped and created fresh each run and
  dropped at the end (`--keep-databases` leaves them for a look);
- a vhost qs-bench-<random>, created through the management API and deleted at the end, on an error and on Ctrl-C.
"""

import asyncio
import contextlib
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aio_pika
import asyncpg
import httpx

from devtools import bench_stats as stats
from devtools.bench_replicas import service_of
from devtools.run import ServiceProcesses, _child_setup

PG_SERVER = os.environ.get("BENCH_PG_SERVER", "postgresql://postgres@127.0.0.1:5432")
AMQP_SERVER = os.environ.get("BENCH_AMQP_SERVER", "amqp://guest:guest@127.0.0.1:5672")
AMQP_ADMIN = os.environ.get("BENCH_AMQP_ADMIN", "http://127.0.0.1:15672")
AMQP_ADMIN_USER = ("guest", "guest")
VHOST_PREFIX = "qs-bench-"
DB_PREFIX = "bench_"
RAW_DB = DB_PREFIX + "raw"
PORTS = {"intake": 8101, "dispatch": 8102, "tracking": 8103, "evaluation": 8104, "archive": 8105}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
BENCH = "bench (load generator)"
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


# --------------------------------------------------------------------------- service processes


@dataclass
class BenchProcesses(ServiceProcesses):
    """devtools.run's processes, each writing its log to a file instead of a pipe: JSON lines at INFO for minutes
    would otherwise be read, kept and counted by the load generator on the same two cores.

    Keyed by process name (devtools/bench_replicas.py): `tracking#2` is a second process of tracking, with
    tracking's environment and a port of its own."""

    logs: Path = Path(".")

    def log_path(self, process: str) -> Path:
        return self.logs / f"{process}.log"

    def urls(self, service: str) -> list[str]:
        """Every replica's address, the first one first."""
        return [self.url(process) for process in self.ports if service_of(process) == service]

    async def start(self, process: str) -> None:
        service = service_of(process)
        env = {**os.environ, **self.env, f"{service.upper()}_HTTP_PORT": str(self.ports[process])}
        with self.log_path(process).open("ab") as log:
            proc = await asyncio.create_subprocess_exec(
                *self.command(service),
                env=env,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                preexec_fn=_child_setup(os.getpid()),
            )
        self.procs[process] = proc
        self.output.setdefault(process, [])

    async def start_all(self) -> None:
        """As devtools.run's, every replica of intake where intake is: after the consumers are ready."""
        consumers = [p for p in self.ports if service_of(p) != "intake"]
        for process in consumers:
            await self.start(process)
        with contextlib.suppress(TimeoutError, RuntimeError):  # wait_ready, called next, says what is wrong
            await self.wait_ready(consumers, timeout=60, restarts_expected=True)
        for process in self.ports:
            if service_of(process) == "intake":
                await self.start(process)

    def tail(self, service: str, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path(service).read_text(errors="replace").splitlines()[-lines:])
        return ""

    def log_bytes(self) -> dict[str, int]:
        """Per service, summed over its replicas."""
        out: dict[str, int] = {}
        for process in self.ports:
            size = 0
            with contextlib.suppress(OSError):
                size = self.log_path(process).stat().st_size
            out[service_of(process)] = out.get(service_of(process), 0) + size
        return out


def ports_taken(ports: dict[str, int]) -> list[int]:
    """The ports of `ports` something already listens on (a `make bench` still running, or a leftover)."""
    import socket

    taken = []
    for port in ports.values():
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                taken.append(port)
    return taken


# --------------------------------------------------------------------------- /proc


def proc_table() -> dict[int, stats.Proc]:
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            with open(f"/proc/{entry.name}/stat") as f:
                proc = stats.parse_stat(f.read())
            table[proc.pid] = proc
    return table


def machine_cpu() -> list[int]:
    with open("/proc/stat") as f:
        return [int(v) for v in f.readline().split()[1:]]


# The two servers, each watched whole (all its processes): the bench's name for it → its processes' command name.
SERVERS = {"postgres (whole server)": "postgres", "rabbitmq (whole node)": "beam.smp"}


def server_roots(table: dict[int, stats.Proc]) -> dict[str, list[int]]:
    return {name: stats.roots_named(table, comm) for name, comm in SERVERS.items()}


@dataclass
class Snapshot:
    """CPU ticks per watched name, the machine's /proc/stat line and the service log sizes at one instant."""

    at: float
    ticks: dict[str, int]
    machine: list[int]
    log_bytes: dict[str, int]


@dataclass
class Watch:
    """The processes watched: the five services by pid (a service's replicas together: CPU summed, RSS the largest
    one's), the bench itself, and PostgreSQL and RabbitMQ as a whole (shared with anything else on the machine,
    e.g. tests running beside the bench)."""

    roots: dict[str, list[int]]
    logs: BenchProcesses | None = None
    # Counted without their children: the bench (its children are the services, watched on their own).
    alone: frozenset[str] = frozenset()
    # RSS makes no sense summed over a server's processes (each backend counts the shared buffers it touched).
    no_rss: frozenset[str] = frozenset()
    rss_max: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, procs: BenchProcesses) -> "Watch":
        table = proc_table()
        roots: dict[str, list[int]] = {}
        for process, p in procs.procs.items():
            roots.setdefault(service_of(process), []).append(p.pid)
        roots[BENCH] = [os.getpid()]
        return cls(roots=roots | server_roots(table), logs=procs, alone=frozenset({BENCH}), no_rss=frozenset(SERVERS))

    @classmethod
    def of_this_process(cls, name: str) -> "Watch":
        """This process alone (not its children), and the two servers."""
        roots = {name: [os.getpid()]} | server_roots(proc_table())
        return cls(roots=roots, alone=frozenset({name}), no_rss=frozenset(SERVERS))

    def snapshot(self) -> Snapshot:
        table = proc_table()
        ticks = {}
        for name, pids in self.roots.items():
            if name in self.alone:
                ticks[name] = sum(table[pid].ticks for pid in pids if pid in table)
                rss = max((table[pid].rss_pages for pid in pids if pid in table), default=0)
            else:
                ticks[name] = sum(stats.tree_ticks(table, pid) for pid in pids)
                rss = max((stats.tree_rss_pages(table, pid) for pid in pids), default=0)
            if name not in self.no_rss:
                self.rss_max[name] = max(self.rss_max.get(name, 0), rss * PAGE_SIZE)
        logs = self.logs.log_bytes() if self.logs else {}
        return Snapshot(time.monotonic(), ticks, machine_cpu(), logs)

    def reset_rss(self) -> None:
        self.rss_max.clear()

    async def sample_rss(self, stop: asyncio.Event, every: float = 1.0) -> None:
        """RSS (max) once a second until `stop`; the reads take a few ms of the bench's own CPU."""
        while not stop.is_set():
            self.snapshot()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)


# --------------------------------------------------------------------------- RabbitMQ's management API


class RabbitAdmin:
    def __init__(self, base: str = AMQP_ADMIN) -> None:
        self.client = httpx.AsyncClient(base_url=base + "/api", auth=AMQP_ADMIN_USER, timeout=30)

    async def close(self) -> None:
        await self.client.aclose()

    async def vhosts(self) -> list[str]:
        reply = await self.client.get("/vhosts", params={"columns": "name"})
        reply.raise_for_status()
        return [v["name"] for v in reply.json()]

    async def create_vhost(self, name: str) -> None:
        (await self.client.put(f"/vhosts/{name}")).raise_for_status()
        perms = {"configure": ".*", "write": ".*", "read": ".*"}
        (await self.client.put(f"/permissions/{name}/guest", json=perms)).raise_for_status()

    async def delete_vhost(self, name: str) -> None:
        reply = await self.client.delete(f"/vhosts/{name}")
        if reply.status_code not in (204, 404):
            reply.raise_for_status()

    async def queues(self, vhost: str) -> list[dict]:
        """Every queue of the vhost with its messages (ready + unacknowledged). The management plugin refreshes
        these figures every few seconds (collect_statistics_interval, 5 s by default): a sample can be that old."""
        reply = await self.client.get(
            f"/queues/{vhost}", params={"columns": "name,messages,messages_ready,messages_unacknowledged"}
        )
        reply.raise_for_status()
        return reply.json()


def delete_vhost_now(name: str) -> None:
    """The last resort of a bench that is going down (synchronous, no event loop needed)."""
    with contextlib.suppress(httpx.HTTPError):
        httpx.delete(f"{AMQP_ADMIN}/api/vhosts/{name}", auth=AMQP_ADMIN_USER, timeout=30)


def new_vhost_name() -> str:
    return VHOST_PREFIX + uuid.uuid4().hex[:10]


def amqp_url(vhost: str) -> str:
    return f"{AMQP_SERVER}/{vhost}"


# --------------------------------------------------------------------------- databases


def database_url(name: str) -> str:
    return f"{PG_SERVER}/{name}"


async def _admin_connection() -> asyncpg.Connection:
    return await asyncpg.connect(database_url("postgres"))


async def drop_databases(names: list[str]) -> None:
    for name in names:
        if not name.startswith(DB_PREFIX):  # never anything but the bench's own
            raise ValueError(f"not a bench database: {name}")
    conn = await _admin_connection()
    try:
        for name in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def create_database(name: str) -> None:
    conn = await _admin_connection()
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def commits(names: list[str]) -> dict[str, int]:
    """Transactions committed so far per database (pg_stat_database; a backend reports its counts when it goes
    idle, at most once a second, so a sample lags by about that much)."""
    conn = await _admin_connection()
    try:
        rows = await conn.fetch(
            "SELECT datname, xact_commit FROM pg_stat_database WHERE datname = ANY($1::text[])", names
        )
        found = {r["datname"]: int(r["xact_commit"]) for r in rows}
        return {name: found.get(name, 0) for name in names}
    finally:
        await conn.close()


# What changes the figures between machines: a test machine may run PostgreSQL without autovacuum (dead rows
# pile up in the upserted tables) or with a small shared_buffers; the bench says so rather than hiding it.
SERVER_SETTINGS = ("autovacuum", "shared_buffers", "synchronous_commit", "fsync", "max_connections")


async def server_settings() -> dict[str, str]:
    conn = await _admin_connection()
    try:
        rows = await conn.fetch(
            "SELECT name, current_setting(name) AS value FROM pg_settings WHERE name = ANY($1::text[])",
            list(SERVER_SETTINGS),
        )
        return {r["name"]: r["value"] for r in rows}
    finally:
        await conn.close()


async def statements(names: list[str]) -> dict[str, int] | None:
    """SQL statements executed so far per database (BEGIN and COMMIT included), from pg_stat_statements; None when
    the server does not load it (`shared_preload_libraries`, README: 性能测试) — the count is optional."""
    conn = await _admin_connection()
    try:
        try:
            await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            rows = await conn.fetch(
                """SELECT d.datname, sum(s.calls)::bigint AS calls FROM pg_stat_statements s
                JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = ANY($1::text[]) GROUP BY 1""",
                names,
            )
        except asyncpg.PostgresError:  # not in shared_preload_libraries, or not installed
            return None
        found = {r["datname"]: int(r["calls"]) for r in rows}
        return {name: found.get(name, 0) for name in names}
    finally:
        await conn.close()


async def event_counts(databases: dict[str, str]) -> dict[str, dict[str, int]]:
    """Per service: outbox rows written and published, and inbox rows (events handled), read as the owner."""
    out = {}
    for service, name in databases.items():
        conn = await asyncpg.connect(database_url(name))
        try:
            row = await conn.fetchrow(
                """SELECT (SELECT count(*) FROM outbox) AS written,
                          (SELECT count(*) FROM outbox WHERE published_at IS NOT NULL) AS published,
                          (SELECT count(*) FROM inbox) AS handled"""
            )
            out[service] = {k: int(v) for k, v in row.items()}
        except asyncpg.UndefinedTableError:
            out[service] = {"written": 0, "published": 0, "handled": 0}
        finally:
            await conn.close()
    return out


# --------------------------------------------------------------------------- the raw ceilings


async def postgres_ceiling(seconds: float, connections: int = 4) -> dict:
    """Small transactions/s on this machine's PostgreSQL: INSERT of a small jsonb row + COMMIT, `connections` at once
    (durable commits, as the services' are). In a scratch database, bench_raw, dropped afterwards."""
    await drop_databases([RAW_DB])
    await create_database(RAW_DB)
    try:
        setup = await asyncpg.connect(database_url(RAW_DB))
        try:
            await setup.execute(
                "CREATE TABLE scratch (id bigserial PRIMARY KEY, payload jsonb NOT NULL,"
                " created_at timestamptz NOT NULL DEFAULT now())"
            )
        finally:
            await setup.close()
        conns = [await asyncpg.connect(database_url(RAW_DB)) for _ in range(connections)]
        payload = '{"routing_key": "demand.submitted", "station_id": "210100/210112/hunnan-01"}'
        done = [0] * connections
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds

        async def work(i: int, conn: asyncpg.Connection) -> None:
            while loop.time() < deadline:
                async with conn.transaction():
                    await conn.execute("INSERT INTO scratch (payload) VALUES ($1::jsonb)", payload)
                done[i] += 1

        started = loop.time()
        try:
            await asyncio.gather(*(work(i, c) for i, c in enumerate(conns)))
        finally:
            for conn in conns:
                await conn.close()
        elapsed = loop.time() - started
        return {"connections": connections, "seconds": round(elapsed, 2), "tx_per_s": sum(done) / elapsed}
    finally:
        await drop_databases([RAW_DB])


async def rabbitmq_ceiling(vhost: str, seconds: float, publishers: int = 8, prefetch: int = 16) -> dict:
    """Persistent messages published with publisher confirms (`publishers` awaiting their confirm at once, as
    relays of several services would) into a quorum queue of the bench vhost, consumed and acked by one consumer
    with `prefetch`. Counts what was consumed: a message is done when it made the whole trip."""
    url = amqp_url(vhost)
    producer = await aio_pika.connect(url, client_properties={"connection_name": "bench-raw-publisher"})
    consumer = await aio_pika.connect(url, client_properties={"connection_name": "bench-raw-consumer"})
    loop = asyncio.get_running_loop()
    published = consumed = 0
    body = b'{"event_id": "00000000-0000-0000-0000-000000000000", "routing_key": "demand.submitted"}' * 4
    try:
        pch = await producer.channel(publisher_confirms=True)
        cch = await consumer.channel()
        await cch.set_qos(prefetch_count=prefetch)
        queue = await cch.declare_queue(
            "bench.raw", durable=True, arguments={"x-queue-type": "quorum", "x-delivery-limit": 5}
        )

        caught_up = asyncio.Event()
        publishing = True

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal consumed
            await message.ack()
            consumed += 1
            if not publishing and consumed >= published:
                caught_up.set()

        tag = await queue.consume(on_message)
        deadline = loop.time() + seconds

        async def publish() -> None:
            nonlocal published
            while loop.time() < deadline:
                await pch.default_exchange.publish(
                    aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT), routing_key="bench.raw"
                )
                published += 1

        started = loop.time()
        await asyncio.gather(*(publish() for _ in range(publishers)))
        publishing = False
        # The consumer's backlog (at most a prefetch or so) finishes before the clock stops.
        if consumed < published:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(caught_up.wait(), 5)
        elapsed = loop.time() - started
        await queue.cancel(tag)
        await queue.delete(if_unused=False, if_empty=False)
    finally:
        await producer.close()
        await consumer.close()
    return {
        "publishers": publishers,
        "prefetch": prefetch,
        "seconds": round(elapsed, 2),
        "published": published,
        "consumed": consumed,
        "msgs_per_s": consumed / elapsed,
    }
