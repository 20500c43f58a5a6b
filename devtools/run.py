"""Run the five services as separate processes on one machine (`make run`), supervised, with demo data.

    python -m devtools.run [--no-demo] [--services intake,dispatch]

A small process manager: a service that exits is restarted with exponential back-off (1 s doubling to 30 s,
back to 1 s once a run has lasted 60 s) and a `[supervisor] …` line on the console says so; the other services
keep running. Ctrl-C or SIGTERM stops every service (one SIGTERM each, then SIGKILL after 20 s) and exits.
Ports and every other setting come from the usual environment variables (`DISPATCH_HTTP_PORT`, …).

The e2e tests use `ServiceProcesses` without supervision, with their own ports and databases.
"""

import argparse
import asyncio
import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from shared.contracts.topology import SERVICES

# Each service's default HTTP port (its settings' `http_port`).
PORTS = {"intake": 8001, "dispatch": 8002, "tracking": 8003, "evaluation": 8004, "archive": 8005}
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


async def _introduce(procs: ServiceProcesses, seed: bool) -> None:
    """Once everything answers: seed the demo data and print the addresses and development tokens."""
    from devtools import demo

    try:
        await procs.wait_ready(timeout=180, restarts_expected=True)
    except TimeoutError as exc:
        procs.say(f"{exc}; still supervising")
        return
    if seed:
        try:
            await demo.seed({name: procs.url(name) for name in procs.ports})
        except (httpx.HTTPError, TimeoutError) as exc:
            procs.say(f"demo data not seeded: {exc!r}")
    print("\n一站式质量服务站 is running. Open the API docs:")
    for name in procs.ports:
        print(f"  {name:<10} {procs.url(name)}/docs   metrics: {procs.url(name)}/metrics")
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


async def run(services: list[str], *, seed: bool = True) -> None:
    ports = {name: int(os.environ.get(f"{name.upper()}_HTTP_PORT", PORTS[name])) for name in services}
    env = {f"{name.upper()}_LOG_FORMAT": os.environ.get(f"{name.upper()}_LOG_FORMAT", "console") for name in services}
    procs = ServiceProcesses(env=env, ports=ports)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    supervisor = intro = None
    try:
        await procs.start_all()
        for name, proc in procs.procs.items():
            procs.say(f"started {name} (pid {proc.pid}) on {procs.url(name)}")
        supervisor = asyncio.create_task(procs.supervise(stop))
        # The demo needs every service; with a subset, only the addresses are printed.
        intro = asyncio.create_task(_introduce(procs, seed=seed and set(services) == set(SERVICES)))
        await stop.wait()
    finally:
        stop.set()
        if intro is not None:
            intro.cancel()
            await asyncio.gather(intro, return_exceptions=True)
        if supervisor is not None:
            await supervisor
        procs.say("stopping all services")
        await procs.stop()
        procs.say("all services stopped")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=_services, default=list(SERVICES), help="comma-separated; default all")
    parser.add_argument("--no-demo", action="store_true", help="do not seed the demo data")
    args = parser.parse_args(argv)
    asyncio.run(run(args.services, seed=not args.no_demo))


if __name__ == "__main__":
    main()
