"""`make bench` and `make bench-quick`: how many complete demand lifecycles this machine carries, at what latency,
and what each service spends on one — measured, next to the raw ceilings of PostgreSQL and RabbitMQ on the same
machine in the same run (issue 14).

    python -m devtools.bench [--quick] [--clients 16] [--closed-seconds 120] [--open-rate 50] [--open-seconds 600] …

What it does, in order:

1. a RabbitMQ vhost of its own (qs-bench-…, through the management API) and fresh databases bench_<service>;
2. the raw ceilings: asyncpg INSERT+COMMIT transactions/s, and aio-pika publish-with-confirms + consume/s of
   persistent messages on a quorum queue (devtools/bench_system.py); and the lifecycle's floor, its events and
   guarantees with nothing else, which bounds what any implementation could carry here (devtools/bench_floor.py);
3. the five services as `make run` starts them (devtools/run.py's ServiceProcesses), on ports 8101–8105, in
   production mode (JSON logs at INFO, a signing key of the run's own), without demo data; two organizations
   registered through dispatch's API;
   with `--prefill N`, after a warm-up lifecycle per station, the stores filled with N historical, sealed demand
   lifecycles cloned from a few driven ones, outbox/inbox rows included, then VACUUMed and ANALYZEd
   (devtools/bench_prefill.py);
4. the closed loop: `--clients` at once, each driving one lifecycle after another (devtools/bench_load.py, over the
   lean keep-alive client of devtools/bench_http.py, on uvloop: the load generator shares the machine it
   measures), measured over `--closed-seconds` after a warm-up;
5. the poll calibration: what one waiting GET costs each service, so that the CPU the bench's own polls cause can
   be told apart from the lifecycle's;
6. the open loop: a new demand every 1/`--open-rate` s for `--open-seconds`, each carried through by its own task;
   every demand sealed or not, queue depths sampled every 5 s;
7. the correctness check (devtools/bench_verify.py): once the events under way have settled, every demand the
   bench submitted read back from each service's database — nothing lost, nothing handled twice, every outbox row
   published, every event in each consumer's inbox, the dead-letter queues empty; a failed check fails the run;
8. a table on stdout and the results as JSON in bench-results/<UTC time>.json.

`--replicas tracking=2` (repeatable) runs a service as that many processes on the same database and vhost (competing
consumers, devtools/bench_replicas.py), further ones on ports from 8111; the bench's requests to it go to its
replicas in turns, and its CPU is summed over them (RSS: the largest).

At the end — also after an error or Ctrl-C — the services are stopped, the vhost deleted and the bench databases
dropped (`--keep-databases` keeps them for a look; they are dropped at the next run's start anyway).
Not part of `make test`: it loads the whole machine for minutes.
"""

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import platform
import secrets
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from devtools import bench_floor as floor
from devtools import bench_load as load
from devtools import bench_prefill as prefill
from devtools import bench_replicas as replicas
from devtools import bench_stats as stats
from devtools import bench_system as system
from devtools import bench_verify as verify
from devtools.bench_http import Client
from shared.contracts.topology import SERVICES

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench-results"
DATABASES = {service: f"{system.DB_PREFIX}{service}" for service in SERVICES}
SCRATCH_DATABASES = [*DATABASES.values(), system.RAW_DB, floor.FLOOR_DB]  # all dropped at the start and the end

FULL = {
    "clients": 16,
    "warmup_seconds": 10.0,
    "closed_seconds": 120.0,
    "open_rate": 50.0,
    "open_seconds": 600.0,
    "drain_seconds": 120.0,
    "ceiling_seconds": 10.0,
    "calibration_polls": 300,
}
QUICK = FULL | {
    "warmup_seconds": 3.0,
    "closed_seconds": 30.0,
    "open_rate": 20.0,
    "open_seconds": 30.0,
    "drain_seconds": 60.0,
    "ceiling_seconds": 3.0,
    "calibration_polls": 100,
}
QUEUE_SAMPLE_SECONDS = 5.0


def say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


@dataclass
class State:
    """What the run created, so that whatever happens it is removed (last_resort covers an interrupted clean-up)."""

    vhost: str
    keep_databases: bool = False
    pids: list[int] = field(default_factory=list)
    services_stopped: bool = True
    vhost_deleted: bool = True
    databases_dropped: bool = True

    def last_resort(self) -> None:
        """Synchronous, with no event loop: for a clean-up that was itself interrupted (a second Ctrl-C)."""
        if not self.services_stopped:
            for pid in self.pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.services_stopped = True
        if not self.vhost_deleted:
            system.delete_vhost_now(self.vhost)
            self.vhost_deleted = True
        if not self.databases_dropped and not self.keep_databases:
            with contextlib.suppress(Exception):
                asyncio.run(system.drop_databases(SCRATCH_DATABASES))
            self.databases_dropped = True


@dataclass
class Mark:
    """Everything sampled at one edge of a measured window."""

    snap: system.Snapshot
    requests: Counter
    commits: dict[str, int]
    statements: dict[str, int] | None
    events: dict[str, dict[str, int]]
    queues: dict[str, dict[str, int]]


@dataclass
class Context:
    cfg: argparse.Namespace
    state: State
    admin: system.RabbitAdmin
    procs: system.BenchProcesses
    watch: system.Watch
    driver: load.Driver

    async def mark(self) -> Mark:
        snap = self.watch.snapshot()
        requests = self.driver.counts()
        commits = await system.commits(list(DATABASES.values()))
        statements = await system.statements(list(DATABASES.values()))
        events = await system.event_counts(DATABASES)
        queues = stats.depths_by_service(await self.admin.queues(self.state.vhost))
        return Mark(
            snap,
            requests,
            {s: commits[db] for s, db in DATABASES.items()},
            None if statements is None else {s: statements[db] for s, db in DATABASES.items()},
            events,
            queues,
        )


def machine() -> dict:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = 0.0
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) / 1024 / 1024
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(memory, 1),
        "loadavg": " ".join(f"{v:.2f}" for v in os.getloadavg()),
        "python": platform.python_version(),
    }


def commit() -> str | None:
    """The checked-out commit, read from .git (the bench runs no git command)."""
    git = ROOT / ".git"
    with contextlib.suppress(OSError):
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head[:12]
        ref = head[5:]
        if (git / ref).exists():
            return (git / ref).read_text().strip()[:12]
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0][:12]
    return None


def service_env(vhost: str, key: str) -> dict[str, str]:
    """Production settings: JSON logs at INFO, a signing key and status-link secret of this run's own."""
    env = {}
    for service in SERVICES:
        p = service.upper()
        env |= {
            f"{p}_DATABASE_URL": system.database_url(DATABASES[service]),
            f"{p}_AMQP_URL": system.amqp_url(vhost),
            f"{p}_ENVIRONMENT": "production",
            f"{p}_AUTH_SIGNING_KEY": key,
            f"{p}_LOG_FORMAT": "json",
            f"{p}_LOG_LEVEL": "INFO",
        }
    env["INTAKE_STATUS_LINK_SECRET"] = secrets.token_urlsafe(32)
    env["INTAKE_PUBLIC_URL"] = f"http://127.0.0.1:{system.PORTS['intake']}"
    env["EVALUATION_PUBLIC_URL"] = f"http://127.0.0.1:{system.PORTS['evaluation']}"
    return env


@dataclass
class QueueSamples:
    """Messages queued in the bench vhost every QUEUE_SAMPLE_SECONDS: the total between `since` and `until`
    (time.monotonic()) for the growth check, and each service's peak."""

    since: float
    until: float
    samples: list[tuple[float, int]] = field(default_factory=list)
    peak: dict[str, int] = field(default_factory=dict)

    async def run(self, ctx: Context, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(httpx.HTTPError):
                depths = stats.depths_by_service(await ctx.admin.queues(ctx.state.vhost))
                now = time.monotonic()
                if self.since <= now <= self.until:
                    self.samples.append((round(now - self.since, 1), sum(d["queued"] for d in depths.values())))
                for service, d in depths.items():
                    self.peak[service] = max(self.peak.get(service, 0), d["queued"])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), QUEUE_SAMPLE_SECONDS)


async def sleep_until(t: float) -> None:
    delay = t - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


def figures(
    ctx: Context, before: Mark, after: Mark, lifecycles: list[load.Lifecycle], sealed: int, cost: dict | None
) -> dict:
    """A scenario's figures from its two marks and the lifecycles it counts."""
    window = after.snap.at - before.snap.at
    requests = stats.delta(before.requests, after.requests)
    polls = stats.poll_ms(requests, cost) if cost else None
    cpu = stats.cpu_figures(
        before.snap.ticks,
        after.snap.ticks,
        clock_ticks=system.CLOCK_TICKS,
        window_s=window,
        lifecycles=sealed,
        polls=polls,
    )
    logs = stats.delta(before.snap.log_bytes, after.snap.log_bytes)
    for name, row in cpu.items():
        if name in ctx.watch.rss_max:
            row["rss_max_mb"] = round(ctx.watch.rss_max[name] / 2**20, 1)
        if name in SERVICES:
            row["replicas"] = ctx.cfg.replicas[name]
            row["log_bytes_per_lifecycle"] = stats.per_unit(logs.get(name, 0), sealed)
            row["queued_before"] = before.queues[name]["queued"]
            row["queued_after"] = after.queues[name]["queued"]
    cpu["five services"]["rss_max_mb"] = max((cpu[s].get("rss_max_mb") or 0) for s in SERVICES)
    work = {}
    for service in SERVICES:
        sent = sum(n for (s, _), n in requests.items() if s == service)
        work[service] = {
            "transactions": stats.per_unit(after.commits[service] - before.commits[service], sealed),
            "statements": None
            if before.statements is None or after.statements is None
            else stats.per_unit(after.statements[service] - before.statements[service], sealed),
            "published": stats.per_unit(
                after.events[service]["published"] - before.events[service]["published"], sealed
            ),
            "handled": stats.per_unit(after.events[service]["handled"] - before.events[service]["handled"], sealed),
            "requests": stats.per_unit(sent, sealed),
        }
    work["five services"] = {
        key: None if any(w[key] is None for w in work.values()) else round(sum(w[key] for w in work.values()), 1)
        for key in ("transactions", "statements", "published", "handled", "requests")
    }
    polls_sent = sum(n for (_, kind), n in requests.items() if kind.startswith("poll-"))
    commits = sum(after.commits[s] - before.commits[s] for s in SERVICES)
    published = sum(after.events[s]["published"] - before.events[s]["published"] for s in SERVICES)
    failed = [lc for lc in lifecycles if lc.error]
    busy = stats.machine_busy(before.snap.machine, after.snap.machine)
    return {
        "sealed": sealed,
        "failed": len(failed),
        "errors": [lc.error for lc in failed[:20]],
        "window_s": round(window, 2),
        "lifecycles_per_s": stats.per_unit(sealed, window) if window > 0 else None,
        "polls_per_lifecycle": stats.per_unit(polls_sent, sealed),
        "machine_busy": busy,
        "other_cores": stats.other_cores(busy, os.cpu_count() or 1, cpu),
        "pg_commits_per_s": commits / window if window > 0 else None,
        "published_per_s": published / window if window > 0 else None,
        "latency": stats.latency_summary(lifecycles),
        "cpu": cpu,
        "work": work,
        "requests": {f"{s}:{k}": n for (s, k), n in sorted(requests.items())},
        "dead_lettered_after": {s: after.queues[s]["dead"] for s in SERVICES},
    }


async def run_closed(ctx: Context, cost_holder: dict) -> tuple[dict, list[load.Lifecycle]]:
    cfg = ctx.cfg
    start = time.monotonic()
    t0 = start + cfg.warmup_seconds
    t1 = t0 + cfg.closed_seconds
    marks: dict[str, Mark] = {}
    stop = asyncio.Event()

    async def marker() -> None:
        await sleep_until(t0)
        ctx.watch.reset_rss()
        marks["before"] = await ctx.mark()
        await sleep_until(t1)
        marks["after"] = await ctx.mark()

    say(f"closed loop: {cfg.clients} clients, {cfg.warmup_seconds:g} s warm-up then {cfg.closed_seconds:g} s measured")
    depths = QueueSamples(since=t0, until=t1)
    samplers = [asyncio.create_task(ctx.watch.sample_rss(stop)), asyncio.create_task(depths.run(ctx, stop))]
    marking = asyncio.create_task(marker())
    try:
        lifecycles = await load.closed_loop(ctx.driver, cfg.clients, stop_at=t1)
        await marking
    finally:
        stop.set()
        marking.cancel()
        await asyncio.gather(*samplers, marking, return_exceptions=True)
    lo, hi = marks["before"].snap.at, marks["after"].snap.at
    counted = [lc for lc in lifecycles if lc.ended is not None and lo <= lc.ended <= hi]
    sealed = sum(lc.sealed for lc in counted)
    cost_holder["marks"] = marks
    out = figures(ctx, marks["before"], marks["after"], counted, sealed, None)
    for service in SERVICES:
        out["cpu"][service]["queued_peak"] = depths.peak.get(service, 0)
    out |= {"queue_samples": depths.samples, "queues_growing": stats.growing(depths.samples)}
    return out, lifecycles


async def calibrate(ctx: Context, lifecycles: list[load.Lifecycle]) -> dict[str, dict[str, float]]:
    """CPU ms one waiting GET costs each service, found (on a sealed demand) and not yet there (an unknown id),
    `calibration_polls` each, 4 at a time, with nothing else running."""
    done = next((lc for lc in lifecycles if lc.sealed), None)
    if done is None:
        return {}
    who = next(p for p in ctx.driver.who if p.station == done.station)
    n = ctx.cfg.calibration_polls
    missing = "00000000-0000-4000-8000-000000000000"
    paths = {
        "dispatch": "/demands/{}",
        "tracking": "/demands/{}",
        "evaluation": "/surveys/{}",
        "archive": "/dossiers/{}",
    }
    cost: dict[str, dict[str, float]] = {}
    say(f"poll calibration: {n} GETs per service and answer")
    await asyncio.sleep(1)  # let the closed loop's last events settle
    for service, path in paths.items():
        cost[service] = {}
        for kind, demand_id in (("poll-found", done.demand_id), ("poll-absent", missing)):
            url = ctx.driver.url(service) + path.format(demand_id)
            before = ctx.watch.snapshot()
            await load.hammer(ctx.driver.client, url, who.head, n)
            after = ctx.watch.snapshot()
            ms = stats.cpu_ms(before.ticks[service], after.ticks[service], system.CLOCK_TICKS)
            cost[service][kind] = round(ms / n, 3)
    return cost


def reprice(ctx: Context, closed: dict, marks: dict[str, Mark], cost: dict) -> dict:
    """The closed loop's CPU figures again, now that the polls' price is known."""
    window = marks["after"].snap.at - marks["before"].snap.at
    requests = stats.delta(marks["before"].requests, marks["after"].requests)
    cpu = stats.cpu_figures(
        marks["before"].snap.ticks,
        marks["after"].snap.ticks,
        clock_ticks=system.CLOCK_TICKS,
        window_s=window,
        lifecycles=closed["sealed"],
        polls=stats.poll_ms(requests, cost),
    )
    for name, row in cpu.items():
        closed["cpu"][name].update({k: row[k] for k in ("poll_ms_per_lifecycle", "net_ms_per_lifecycle") if k in row})
    return closed


async def run_open(ctx: Context, cost: dict) -> dict:
    cfg = ctx.cfg
    say(
        f"open loop: {cfg.open_rate:g} new demands/s for {cfg.open_seconds:g} s"
        f" (then up to {cfg.drain_seconds:g} s for those under way)"
    )
    ctx.watch.reset_rss()
    stop = asyncio.Event()
    before = await ctx.mark()
    depths = QueueSamples(since=before.snap.at, until=before.snap.at + cfg.open_seconds)

    tasks = [asyncio.create_task(ctx.watch.sample_rss(stop)), asyncio.create_task(depths.run(ctx, stop))]
    try:
        run = await load.open_loop(ctx.driver, cfg.open_rate, cfg.open_seconds, cfg.drain_seconds)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    after = await ctx.mark()
    sealed = sum(lc.sealed for lc in run.lifecycles)
    out = figures(ctx, before, after, run.lifecycles, sealed, cost)
    for service in SERVICES:
        out["cpu"][service]["queued_peak"] = depths.peak.get(service, 0)
    out |= {
        "offered_rate": cfg.open_rate,
        "offered": run.offered,
        "unfinished": run.unfinished,
        "all_sealed": sealed == run.offered,
        "max_start_lag_ms": round(run.max_start_lag * 1000, 1),
        "queue_samples": depths.samples,
        "queues_growing": stats.growing(depths.samples),
        "completion_rate": stats.per_unit(sealed, cfg.open_seconds),
    }
    return out


async def warm_up(driver: load.Driver) -> None:
    """One lifecycle per station, patiently: the services learn the station registry from intake's announcement
    after they start; a system that cannot carry one demand through is not worth measuring."""
    patient = dataclasses.replace(driver, wait_timeout=90.0, requests=Counter())
    for _ in driver.who:
        lc = await patient.lifecycle()
        if lc.error:
            raise RuntimeError(f"warm-up lifecycle failed: {lc.error}")


async def bench(cfg: argparse.Namespace, state: State) -> dict:
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None
    loop.add_signal_handler(signal.SIGTERM, main.cancel)
    started_at = datetime.now(UTC)
    results: dict = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "commit": commit(),
        "machine": machine() | {"postgres": await system.server_settings()},
        "config": {k: v for k, v in vars(cfg).items() if k not in ("output",)},
    }
    ports = replicas.instance_ports(system.PORTS, cfg.replicas)
    taken = system.ports_taken(ports)
    if taken:
        raise SystemExit(f"ports {taken} are in use (another `make bench`?); nothing started")
    admin = system.RabbitAdmin()
    procs: system.BenchProcesses | None = None
    client: Client | None = None
    logdir = tempfile.TemporaryDirectory(prefix="qs-bench-logs-")
    try:
        for old in (v for v in await admin.vhosts() if v.startswith(system.VHOST_PREFIX)):
            say(f"deleting a vhost an earlier run left behind: {old}")
            await admin.delete_vhost(old)
        state.vhost_deleted = False
        await admin.create_vhost(state.vhost)
        state.databases_dropped = False
        await system.drop_databases(SCRATCH_DATABASES)
        say(f"vhost {state.vhost}; databases {', '.join(DATABASES.values())} (fresh)")

        say(f"raw ceilings, {cfg.ceiling_seconds:g} s each")
        results["ceilings"] = {
            "postgres": await system.postgres_ceiling(cfg.ceiling_seconds),
            "rabbitmq": await system.rabbitmq_ceiling(state.vhost, cfg.ceiling_seconds),
        }
        say(
            f"the lifecycle's floor (its events and guarantees alone), per event and batched, {cfg.ceiling_seconds:g} s"
        )
        results["floor"] = await floor.floors(state.vhost, cfg.ceiling_seconds, clients=cfg.clients)

        key = secrets.token_urlsafe(32)
        procs = system.BenchProcesses(
            env=service_env(state.vhost, key), ports=ports, echo=False, logs=Path(logdir.name)
        )
        state.services_stopped = False
        try:
            await procs.start_all()
            state.pids = [p.pid for p in procs.procs.values()]
            await procs.wait_ready(timeout=180)
        except (RuntimeError, TimeoutError) as exc:
            tails = "\n".join(f"--- {s}\n{procs.tail(s)}" for s in procs.procs)
            raise RuntimeError(f"the services did not start: {exc}\n{tails}") from None
        say("services ready: " + ", ".join(f"{s} (pid {p.pid}) {procs.url(s)}" for s, p in procs.procs.items()))

        client = Client(timeout=30)
        urls = {s: procs.urls(s) for s in SERVICES}
        since = time.time()
        await load.register_organizations(client, urls["dispatch"][0], key)
        driver = load.Driver(
            client,
            urls,
            load.people(key),
            poll_interval=cfg.poll_interval,
            poll_backoff=cfg.poll_backoff,
            poll_max=cfg.poll_max,
            wait_timeout=cfg.wait_timeout,
        )
        ctx = Context(cfg, state, admin, procs, system.Watch.of(procs), driver)
        await warm_up(driver)
        if cfg.prefill:
            results["prefill"] = await prefill.fill(driver, DATABASES, cfg.prefill, say)

        if cfg.closed_seconds > 0:
            holder: dict = {}
            closed, lifecycles = await run_closed(ctx, holder)
            cost = await calibrate(ctx, lifecycles)
            results["poll_cost_ms"] = cost
            results["closed_loop"] = reprice(ctx, closed, holder["marks"], cost) if cost else closed
        else:
            cost = {}
        if cfg.open_seconds > 0 and cfg.open_rate > 0:
            results["open_loop"] = await run_open(ctx, cost)
        if cfg.prefill:
            results["prefill"] |= await prefill.recount(DATABASES, results["prefill"])
        say(f"correctness: waiting up to {cfg.drain_seconds:g} s for the events under way, then checking")
        results["correctness"] = await verify.verify(
            vhost=state.vhost,
            queues=[q["name"] for q in await admin.queues(state.vhost)],
            databases=DATABASES,
            begun=driver.begun,
            since=since,
            logs={s: [procs.log_path(p) for p in procs.procs if replicas.service_of(p) == s] for s in SERVICES},
            settle_seconds=cfg.drain_seconds,
        )
        results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        return results
    finally:
        if client is not None:
            await client.aclose()
        if procs is not None:
            say("stopping the services")
            await procs.stop()
            state.services_stopped = True
            if cfg.keep_logs:
                kept = RESULTS / f"{started_at:%Y%m%dT%H%M%SZ}-logs"
                kept.mkdir(parents=True, exist_ok=True)
                for service in procs.procs:
                    with contextlib.suppress(OSError):
                        procs.log_path(service).rename(kept / f"{service}.log")
                say(f"service logs kept in {kept}")
        logdir.cleanup()
        with contextlib.suppress(httpx.HTTPError):
            await admin.delete_vhost(state.vhost)
            state.vhost_deleted = True
            say(f"vhost {state.vhost} deleted")
        await admin.close()
        if not cfg.keep_databases:
            with contextlib.suppress(Exception):
                await system.drop_databases(SCRATCH_DATABASES)
                state.databases_dropped = True
                say("bench databases dropped")
        else:
            state.databases_dropped = True
            say(f"databases kept: {', '.join(DATABASES.values())}")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devtools.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="about a minute: 30 s closed loop, 30 s at 20/s")
    parser.add_argument("--clients", type=int, help="closed loop: concurrent clients (16)")
    parser.add_argument("--warmup-seconds", type=float, help="closed loop: not measured at first (10; quick 3)")
    parser.add_argument("--closed-seconds", type=float, help="closed loop: measured seconds (120; quick 30; 0 skips)")
    parser.add_argument("--open-rate", type=float, help="open loop: new demands per second (50; quick 20)")
    parser.add_argument("--open-seconds", type=float, help="open loop: seconds offered (600; quick 30; 0 skips)")
    parser.add_argument("--drain-seconds", type=float, help="open loop: then at most this long for those under way")
    parser.add_argument("--ceiling-seconds", type=float, help="each raw ceiling's run (10; quick 3)")
    parser.add_argument("--calibration-polls", type=int, help="poll calibration: GETs per service and answer")
    parser.add_argument("--poll-interval", type=float, default=0.02, help="a wait's first poll after (0.02 s)")
    parser.add_argument("--poll-backoff", type=float, default=1.5, help="each next poll's interval × this (1.5)")
    parser.add_argument("--poll-max", type=float, default=0.5, help="longest interval between polls (0.5 s)")
    parser.add_argument("--wait-timeout", type=float, default=60.0, help="a wait fails after this long (60 s)")
    parser.add_argument(
        "--replicas",
        type=replicas.parse,
        action="append",
        metavar="SERVICE=N",
        help="run SERVICE as N processes (repeatable; default 1 each)",
    )
    parser.add_argument(
        "--prefill", type=int, default=0, metavar="N", help="first fill the stores with N historical demands (0)"
    )
    parser.add_argument("--keep-databases", action="store_true", help="leave bench_* databases for a look")
    parser.add_argument("--keep-logs", action="store_true", help="keep the services' logs in bench-results/")
    parser.add_argument("--output", type=Path, help="results JSON (default bench-results/<UTC time>.json)")
    args = parser.parse_args(argv)
    try:
        args.replicas = replicas.counts(args.replicas)
    except ValueError as exc:
        parser.error(str(exc))
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def _loop_factory():
    try:
        import uvloop
    except ImportError:  # the standard loop measures the same, with a busier load generator
        return None
    return uvloop.new_event_loop


def main(argv: list[str] | None = None) -> None:
    cfg = parse(argv)
    state = State(system.new_vhost_name(), keep_databases=cfg.keep_databases)
    results = None
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            results = runner.run(bench(cfg, state))
    except (KeyboardInterrupt, asyncio.CancelledError):
        say("interrupted; everything it started is removed")
    except RuntimeError as exc:  # the services did not start, or could not carry one demand through
        say(f"failed: {exc}")
        state.last_resort()
        sys.exit(1)
    finally:
        state.last_resort()
    if results is None:
        sys.exit(130)
    print()
    print(stats.render_report(results))
    if results.get("prefill"):
        print(prefill.render(results["prefill"]))
    print(verify.render(results["correctness"]) + "\n")
    path = cfg.output or RESULTS / f"{results['started_at'].replace(':', '').replace('-', '')[:15]}Z.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n")
    say(f"results written to {path}")
    if not results["correctness"]["ok"]:
        say("correctness check FAILED (see above)")
        sys.exit(1)


if __name__ == "__main__":
    main()
