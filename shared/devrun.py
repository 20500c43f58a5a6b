"""Run the five services as separate processes on one machine (`make run`), and seed demo data.

The e2e tests use `ServiceProcesses` the same way, with their own ports and databases.
"""

import asyncio
import os
import signal
import sys
from dataclasses import dataclass, field

import httpx

SERVICES = {"intake": 8001, "dispatch": 8002, "tracking": 8003, "evaluation": 8004, "archive": 8005}
_COLOURS = {"intake": 36, "dispatch": 33, "tracking": 32, "evaluation": 35, "archive": 34}


@dataclass
class ServiceProcesses:
    """Starts `python -m services.<name>` for each service; env holds per-service overrides."""

    env: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=lambda: dict(SERVICES))
    echo: bool = True
    procs: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)
    output: dict[str, list[str]] = field(default_factory=dict)
    _pumps: list[asyncio.Task] = field(default_factory=list)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    async def start(self, service: str) -> None:
        env = {**os.environ, **self.env, f"{service.upper()}_HTTP_PORT": str(self.ports[service])}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", f"services.{service}",
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        self.procs[service] = proc
        self.output.setdefault(service, [])
        self._pumps.append(asyncio.create_task(self._pump(service, proc)))

    async def start_all(self) -> None:
        for service in self.ports:
            await self.start(service)

    async def _pump(self, service: str, proc: asyncio.subprocess.Process) -> None:
        prefix = f"\033[{_COLOURS[service]}m{service:>10} |\033[0m " if sys.stdout.isatty() else f"{service:>10} | "
        assert proc.stdout is not None
        async for raw in proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            self.output[service].append(line)
            if self.echo:
                print(prefix + line, flush=True)

    async def wait_ready(self, services: list[str] | None = None, timeout: float = 90.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with httpx.AsyncClient(timeout=5) as client:
            for service in services or list(self.ports):
                while True:
                    proc = self.procs[service]
                    if proc.returncode is not None:
                        tail = "\n".join(self.output[service][-30:])
                        raise RuntimeError(f"{service} exited with {proc.returncode}:\n{tail}")
                    try:
                        if (await client.get(self.url(service) + "/readyz")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if loop.time() > deadline:
                        raise TimeoutError(f"{service} not ready after {timeout}s")
                    await asyncio.sleep(0.3)

    async def kill(self, service: str) -> None:
        """SIGKILL: no graceful shutdown, as in a crash."""
        proc = self.procs[service]
        proc.kill()
        await proc.wait()

    async def stop(self, service: str | None = None, timeout: float = 20.0) -> None:
        for name in [service] if service else list(self.procs):
            proc = self.procs[name]
            if proc.returncode is None:
                proc.send_signal(signal.SIGINT)
                try:
                    await asyncio.wait_for(proc.wait(), timeout)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
        if service is None:
            await asyncio.gather(*self._pumps, return_exceptions=True)


async def main() -> None:
    from shared import demo

    env = {f"{name.upper()}_LOG_FORMAT": "console" for name in SERVICES}
    procs = ServiceProcesses(env=env)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await procs.start_all()
    try:
        await procs.wait_ready()
        await demo.seed({name: procs.url(name) for name in SERVICES})
        print("\n一站式质量服务站 is running. Open the API docs:")
        for name in SERVICES:
            print(f"  {name:<10} {procs.url(name)}/docs   metrics: {procs.url(name)}/metrics")
        print("\nDevelopment tokens (12 h) — send as 'Authorization: Bearer <token>':")
        for label, (who, token) in demo.tokens().items():
            print(f"  {label:<26} {who}\n    {token}")
        print("Press Ctrl-C to stop.\n", flush=True)
        waiters = [asyncio.create_task(p.wait()) for p in procs.procs.values()]
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([stopper, *waiters], return_when=asyncio.FIRST_COMPLETED)
        if stopper not in done:
            print("a service exited; stopping the others", flush=True)
    finally:
        await procs.stop()


if __name__ == "__main__":
    asyncio.run(main())
