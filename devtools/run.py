"""Run the five services as separate processes on one machine (`make run`), supervised, with demo data.

    python -m devtools.run [--no-demo] [--services intake,dispatch] [--prometheus 127.0.0.1:9099 | --no-prometheus]

A small process manager: a service that exits is restarted with exponential back-off (1 s doubling to 30 s,
back to 1 s once a run has lasted 60 s) and a `[supervisor] …` line on the console says so; the other services
keep running. Ctrl-C or SIGTERM stops every service (one SIGTERM each, then SIGKILL after 20 s) and exits.
Ports and every other setting come from the usual environment variables (`DISPATCH_HTTP_PORT`, …).

Beside them, a real Prometheus (devtools/prometheus.py: generated config scraping the services run here and
RabbitMQ's plugin, the repository's rule files) where the binary exists; its log and data live in a temporary
directory removed when it stops. It is a side process, not supervised: Prometheus does not crash in the normal course,
and a monitor that restarts itself would hide why; if it exits, a supervisor line says so with its last log lines and
the services run on. Without the binary one line says how to get it.

The e2e tests use `ServiceProcesses` without supervision, with their own ports and databases.
"""

import argparse
import asyncio
import contextlib
import ctypes
import os
import signal
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from devtools import prometheus as prom
from shared.contracts.topology import SERVICES

# Each service's default HTTP port (its settings' `http_port`).
PORTS = {"intake": 8001, "dispatch": 8002, "tracking": 8003, "evaluation": 8004, "archive": 8005}
# The console (services/console): the web front people open; it calls the five services over HTTP.
CONSOLE = "console"
CONSOLE_PORT = 8000
_COLOURS = {"intake": 36, "dispatch": 33, "tracking": 32, "evaluation": 35, "archive": 34}
_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def service_command(service: str) -> list[str]:
    return [sys.executable, "-m", f"services.{service}"]


def _child_setup(parent: int) -> Callable[[], None]:
    """Runs in the child before exec.

    Own process group: a terminal's Ctrl-C reaches only the supervisor, which then stops each child with one
    signal (uvicorn takes a second SIGINT as "force quit" and skips the service's shutdown). Parent-death
    signal: a supervisor that is itself killed takes its children with it instead of leaving them on the ports.
    """

    def setup() -> None:
        os.setpgid(0, 0)
        if _LIBC is not None:
            _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
            if os.getppid() != parent:  # the parent died before prctl
                os.kill(os.getpid(), signal.SIGTERM)

    return setup


@dataclass
class Backoff:
    """Restart delays: `initial` seconds, doubling up to `cap`; back to `initial` after a run of `reset_after` s."""

    initial: float = 1.0
    cap: float = 30.0
    reset_after: float = 60.0
    _next: float | None = None

    def delay(self, uptime: float) -> float:
        if self._next is None or uptime >= self.reset_after:
            self._next = self.initial
        delay = self._next
        self._next = min(delay * 2, self.cap)
        return delay


@dataclass
class ServiceProcesses:
    """Starts `python -m services.<name>` for each service; env holds per-service overrides."""

    env: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=lambda: dict(PORTS))
    echo: bool = True
    command: Callable[[str], list[str]] = service_command
    procs: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)
    output: dict[str, list[str]] = field(default_factory=dict)
    _pumps: list[asyncio.Task] = field(default_factory=list)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def say(self, message: str) -> None:
        """A supervisor line on the console (and in `output["supervisor"]`)."""
        self.output.setdefault("supervisor", []).append(message)
        print(f"[supervisor] {message}", flush=True)

    async def start(self, service: str) -> None:
        env = {**os.environ, **self.env, f"{service.upper()}_HTTP_PORT": str(self.ports[service])}
        proc = await asyncio.create_subprocess_exec(
            *self.command(service),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            limit=2**20,
            preexec_fn=_child_setup(os.getpid()),
        )
        self.procs[service] = proc
        self.output.setdefault(service, [])
        self._pumps.append(asyncio.create_task(self._pump(service, proc)))

    async def start_all(self) -> None:
        """Consumers first: intake announces the station registry when it starts, to the queues that exist then
        (it announces it again every hour for any service that comes later)."""
        consumers = [s for s in self.ports if s != "intake"]
        for service in consumers:
            await self.start(service)
        if "intake" in self.ports:
            if consumers:
                with contextlib.suppress(TimeoutError, RuntimeError):  # supervision takes over either way
                    await self.wait_ready(consumers, timeout=60, restarts_expected=True)
            await self.start("intake")

    async def _pump(self, service: str, proc: asyncio.subprocess.Process) -> None:
        colour = _COLOURS.get(service, 37)
        prefix = f"\033[{colour}m{service:>10} |\033[0m " if sys.stdout.isatty() else f"{service:>10} | "
        assert proc.stdout is not None
        while True:
            try:
                raw = await proc.stdout.readline()
            except ValueError:  # a line over the limit: drop it rather than stop reading (the child would block)
                raw = b"[line too long, not shown]\n"
            if not raw:
                return
            line = raw.decode(errors="replace").rstrip()
            self.output[service].append(line)
            if self.echo:
                print(prefix + line, flush=True)

    async def supervise(self, stop: asyncio.Event, backoff: Callable[[], Backoff] = Backoff) -> None:
        """Restart every service that exits, each with its own back-off, until `stop` is set."""
        await asyncio.gather(*(self._keep_up(service, stop, backoff()) for service in self.ports))

    async def _keep_up(self, service: str, stop: asyncio.Event, backoff: Backoff) -> None:
        loop = asyncio.get_running_loop()
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while True:
                proc = self.procs[service]
                started = loop.time()
                exited = asyncio.ensure_future(proc.wait())
                await asyncio.wait({exited, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if stopping.done():
                    exited.cancel()
                    return
                delay = backoff.delay(uptime=loop.time() - started)
                self.say(f"{service} exited with code {proc.returncode}; restarting in {delay:g} s")
                # A stop during the pause wins: no restart (this also covers a child that got the same Ctrl-C).
                done, _ = await asyncio.wait({stopping}, timeout=delay)
                if done:
                    return
                try:
                    await self.start(service)
                except OSError as exc:
                    self.say(f"{service} could not be started: {exc!r}")
                    continue  # the old, exited process is still in procs: the next round backs off further
                self.say(f"restarted {service} (pid {self.procs[service].pid})")
        finally:
            stopping.cancel()

    async def wait_ready(
        self, services: list[str] | None = None, timeout: float = 90.0, *, restarts_expected: bool = False
    ) -> None:
        """Poll /readyz; an exited service is an error unless a supervisor restarts it (`restarts_expected`)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with httpx.AsyncClient(timeout=5) as client:
            for service in services or list(self.ports):
                while True:
                    proc = self.procs[service]
                    if proc.returncode is not None and not restarts_expected:
                        tail = "\n".join(self.output[service][-30:])
                        raise RuntimeError(f"{service} exited with {proc.returncode}:\n{tail}")
                    try:
                        if (await client.get(self.url(service) + "/readyz")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if loop.time() > deadline:
                        tail = "\n".join(self.output[service][-30:])
                        raise TimeoutError(f"{service} not ready after {timeout}s:\n{tail}")
                    await asyncio.sleep(0.3)

    async def kill(self, service: str) -> None:
        """SIGKILL: no graceful shutdown, as in a crash."""
        proc = self.procs[service]
        proc.kill()
        await proc.wait()

    async def stop(self, service: str | None = None, timeout: float = 20.0) -> None:
        """SIGTERM to each (all at once), SIGKILL to any still running after `timeout` seconds."""
        names = [service] if service else list(self.procs)
        await asyncio.gather(*(self._stop_one(name, timeout) for name in names))
        if service is None:
            await asyncio.gather(*self._pumps, return_exceptions=True)

    async def _stop_one(self, service: str, grace: float) -> None:
        proc = self.procs[service]
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):  # exited meanwhile
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), grace)
            except TimeoutError:
                self.say(f"{service} did not stop within {grace:g} s; killing it")
                proc.kill()
                await proc.wait()


@dataclass
class PrometheusProcess:
    """Prometheus beside the services, in its own process group (a terminal's Ctrl-C reaches only the supervisor,
    which stops it) and taken down with a supervisor that is itself killed (parent-death signal)."""

    listen: str
    directory: Path
    proc: asyncio.subprocess.Process
    _cleanup: tempfile.TemporaryDirectory

    @property
    def url(self) -> str:
        return f"http://{self.listen}"

    def log_tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            text = (self.directory / "prometheus.log").read_text(errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        return ""

    async def ready(self, timeout: float = 60.0) -> bool:
        """Poll /-/ready until it answers, the process exits or the deadline passes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with httpx.AsyncClient(timeout=2) as client:
            while self.proc.returncode is None and loop.time() < deadline:
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{self.url}/-/ready")).status_code == 200:
                        return True
                await asyncio.sleep(0.3)
        return False

    async def watch(self, procs: ServiceProcesses, stop: asyncio.Event) -> None:
        """Say so if it exits before the stop (e.g. its port is taken); it is not restarted."""
        exited = asyncio.ensure_future(self.proc.wait())
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({exited, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            exited.cancel()
            stopping.cancel()
        if self.proc.returncode is not None and not stop.is_set():
            procs.say(
                f"prometheus exited with code {self.proc.returncode}; the services keep running without it "
                f"(`make prometheus` starts one by hand). Its last lines:\n{self.log_tail()}"
            )

    async def stop(self, procs: ServiceProcesses, grace: float = 10.0) -> None:
        """SIGTERM, SIGKILL after `grace` seconds; then its directory (config, data, log) is removed."""
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), grace)
            except TimeoutError:
                procs.say(f"prometheus did not stop within {grace:g} s; killing it")
                self.proc.kill()
                await self.proc.wait()
            procs.say("prometheus stopped")
        self._cleanup.cleanup()


async def start_prometheus(procs: ServiceProcesses, listen: str) -> PrometheusProcess | None:
    """Prometheus scraping the services of `procs` at `listen`, or None (and one line saying why) without it."""
    if prom.find() is None:
        procs.say(
            "prometheus not started: its binary is missing (Debian's `prometheus` package, installed by "
            "`make infra`, i.e. scripts/ensure-infra.sh); the services run without it"
        )
        return None
    cleanup = tempfile.TemporaryDirectory(prefix="qs-run-prometheus-")
    directory = Path(cleanup.name)
    argv = prom.command(directory, prom.config(procs.ports), listen)
    try:
        with (directory / "prometheus.log").open("wb") as log:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdout=log, stderr=asyncio.subprocess.STDOUT, preexec_fn=_child_setup(os.getpid())
            )
    except OSError as exc:
        cleanup.cleanup()
        procs.say(f"prometheus could not be started: {exc!r}; the services run without it")
        return None
    procs.say(f"started prometheus (pid {proc.pid}) on http://{listen}")
    return PrometheusProcess(listen, directory, proc, cleanup)


async def _introduce(procs: ServiceProcesses, seed: bool, prometheus: PrometheusProcess | None = None) -> None:
    """Once everything answers: seed the demo data and print the addresses and development tokens."""
    from devtools import demo

    try:
        await procs.wait_ready(timeout=180, restarts_expected=True)
    except TimeoutError as exc:
        procs.say(f"{exc}; still supervising")
        return
    if seed:
        try:
            await demo.seed({name: procs.url(name) for name in procs.ports if name != CONSOLE})
        except (httpx.HTTPError, TimeoutError) as exc:
            procs.say(f"demo data not seeded: {exc!r}")
    if CONSOLE in procs.ports:
        print(f"\n工作台 / the console: {procs.url(CONSOLE)}  (开发环境：在登录页选择演示人员 / pick a demo person)")
    print("\n一站式质量服务站 is running. Open the API docs:")
    for name in (n for n in procs.ports if n != CONSOLE):
        print(f"  {name:<10} {procs.url(name)}/docs   metrics: {procs.url(name)}/metrics")
    if prometheus is not None:
        if await prometheus.ready():
            print(
                f"  {'prometheus':<10} {prometheus.url}   targets: {prometheus.url}/targets   "
                f"rules: {prometheus.url}/rules   alerts: {prometheus.url}/alerts"
            )
        elif prometheus.proc.returncode is None:  # an exit is told by its watcher
            procs.say(f"prometheus at {prometheus.url} is not ready yet; its last lines:\n{prometheus.log_tail()}")
    print("\nDevelopment tokens (12 h) — send as 'Authorization: Bearer <token>':")
    for label, (who, token) in demo.tokens().items():
        print(f"  {label:<26} {who}\n    {token}")
    print("Press Ctrl-C to stop.\n", flush=True)


def _services(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = sorted(set(names) - set(SERVICES))
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown service(s) {unknown}; choose from {', '.join(SERVICES)}")
    return names


async def run(
    services: list[str], *, seed: bool = True, prometheus: str | None = prom.LISTEN, console: bool = True
) -> None:
    """Supervise `services` (and the console, with `console`); with `prometheus` (its listen address), a Prometheus
    beside them."""
    ports = {name: int(os.environ.get(f"{name.upper()}_HTTP_PORT", PORTS[name])) for name in services}
    env = {f"{name.upper()}_LOG_FORMAT": os.environ.get(f"{name.upper()}_LOG_FORMAT", "console") for name in services}
    if console:
        ports[CONSOLE] = int(os.environ.get("CONSOLE_HTTP_PORT", CONSOLE_PORT))
        env["CONSOLE_LOG_FORMAT"] = os.environ.get("CONSOLE_LOG_FORMAT", "console")
        # The console follows the services' ports as they are set here.
        env |= {
            f"CONSOLE_{name.upper()}_URL": f"http://127.0.0.1:{port}" for name, port in ports.items() if name != CONSOLE
        }
        # The links the services hand out (status on the notice, rating by SMS) open the console's enterprise pages,
        # which pass the enterprise's address on: the services count their rate limits per enterprise, not console.
        console_url = f"http://127.0.0.1:{ports[CONSOLE]}"
        env |= {"INTAKE_PUBLIC_URL": console_url, "EVALUATION_PUBLIC_URL": console_url}
        env |= {"INTAKE_TRUSTED_PROXIES": '["127.0.0.1"]', "EVALUATION_TRUSTED_PROXIES": '["127.0.0.1"]'}
    procs = ServiceProcesses(env=env, ports=ports)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    supervisor = intro = monitor = watcher = None
    try:
        await procs.start_all()
        for name, proc in procs.procs.items():
            procs.say(f"started {name} (pid {proc.pid}) on {procs.url(name)}")
        if prometheus:
            monitor = await start_prometheus(procs, prometheus)
        if monitor is not None:
            watcher = asyncio.create_task(monitor.watch(procs, stop))
        supervisor = asyncio.create_task(procs.supervise(stop))
        # The demo needs every service; with a subset, only the addresses are printed.
        intro = asyncio.create_task(_introduce(procs, seed=seed and set(services) == set(SERVICES), prometheus=monitor))
        await stop.wait()
    finally:
        stop.set()
        if intro is not None:
            intro.cancel()
            await asyncio.gather(intro, return_exceptions=True)
        if supervisor is not None:
            await supervisor
        procs.say("stopping all services")
        stopping = [procs.stop()]
        if monitor is not None:
            stopping.append(monitor.stop(procs))
        await asyncio.gather(*stopping)
        if watcher is not None:
            await asyncio.gather(watcher, return_exceptions=True)
        procs.say("all services stopped")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=_services, default=list(SERVICES), help="comma-separated; default all")
    parser.add_argument("--no-demo", action="store_true", help="do not seed the demo data")
    parser.add_argument(
        "--prometheus",
        default=prom.LISTEN,
        metavar="ADDRESS",
        help=f"where Prometheus answers (default {prom.LISTEN}; '' for none)",
    )
    parser.add_argument("--no-prometheus", action="store_const", const="", dest="prometheus", help="no Prometheus")
    parser.add_argument("--no-console", action="store_true", help="do not start the console (port 8000)")
    args = parser.parse_args(argv)
    asyncio.run(
        run(args.services, seed=not args.no_demo, prometheus=args.prometheus or None, console=not args.no_console)
    )


if __name__ == "__main__":
    main()
