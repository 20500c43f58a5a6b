"""`make run`'s supervisor (devtools/run.py): crashed services come back, the others keep running, a stop signal
stops everything cleanly; a real Prometheus beside them scrapes all five, and stops with them.

The supervisor runs as its own OS process (`python -m devtools.run --no-demo --services …`) on real services,
with their own databases, vhost and free ports; the test kills children with SIGKILL and signals the supervisor.
Prometheus is left out (`--no-prometheus`) except where a test is about it, and then it answers on a free port.
"""

import asyncio
import contextlib
import os
import re
import signal
import socket
import sys
from pathlib import Path

import httpx
import pytest

from devtools.run import Backoff, ServiceProcesses
from shared.contracts.topology import SERVICES
from tests.support import infra

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
STARTED = re.compile(r"^\[supervisor\] (?:started|restarted) (\w+) \(pid (\d+)\)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class Supervisor:
    """`python -m devtools.run` as a process of its own session, its console captured line by line."""

    def __init__(
        self, services: list[str], env: dict[str, str], options: tuple[str, ...] = ("--no-prometheus", "--no-console")
    ):
        self.services = services
        self.env = env
        self.options = options
        self.ports = {name: int(env[f"{name.upper()}_HTTP_PORT"]) for name in services}
        if "CONSOLE_HTTP_PORT" in env:
            self.ports["console"] = int(env["CONSOLE_HTTP_PORT"])
        self.lines: list[str] = []
        self.proc: asyncio.subprocess.Process | None = None
        self._pump: asyncio.Task | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "devtools.run",
            "--no-demo",
            "--services",
            ",".join(self.services),
            *self.options,
            cwd=ROOT,
            env={**os.environ, **self.env, "PYTHONUNBUFFERED": "1"},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            limit=2**20,
        )
        self._pump = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for raw in self.proc.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip())

    def pids(self, service: str) -> list[int]:
        """Every pid the supervisor started for `service`, in order."""
        return [int(m[2]) for line in self.lines if (m := STARTED.match(line)) and m[1] == service]

    def said(self, text: str) -> bool:
        return any(line == f"[supervisor] {text}" for line in self.lines)

    async def ready(self, service: str) -> bool:
        try:
            async with httpx.AsyncClient(timeout=2) as client:
                return (await client.get(f"http://127.0.0.1:{self.ports[service]}/readyz")).status_code == 200
        except httpx.HTTPError:
            return False

    async def wait_exit(self, within: float) -> int:
        assert self.proc is not None and self._pump is not None
        code = await asyncio.wait_for(self.proc.wait(), within)
        await asyncio.wait_for(self._pump, within)
        return code

    async def close(self) -> None:
        """Whatever happened in the test: no supervisor and no service left behind."""
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            await self.proc.wait()
        for service in (*self.services, "console", "prometheus"):
            for pid in self.pids(service):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def output(self) -> str:
        return "\n".join(self.lines[-60:])


@pytest.fixture
def supervisor_env(vhost, databases):
    def make(services: list[str]) -> dict[str, str]:
        env = {}
        for name in services:
            prefix = name.upper()
            env |= {
                f"{prefix}_DATABASE_URL": databases(name),
                f"{prefix}_AMQP_URL": infra.amqp_url(vhost),
                f"{prefix}_HTTP_PORT": str(_free_port()),
                f"{prefix}_OUTBOX_POLL_SECONDS": "0.2",
                f"{prefix}_LOG_FORMAT": "console",
            }
        return env

    return make


async def _serving(sup: Supervisor, service: str, *, not_pid: int | None = None) -> int | None:
    """The pid of `service`'s latest process once it is alive and ready (and is not `not_pid`)."""
    pids = sup.pids(service)
    if not pids or pids[-1] == not_pid or not _alive(pids[-1]):
        return None
    return pids[-1] if await sup.ready(service) else None


async def test_a_killed_service_is_restarted_with_backoff_and_the_others_keep_running(supervisor_env):
    sup = Supervisor(["intake", "dispatch"], supervisor_env(["intake", "dispatch"]))
    await sup.start()
    try:
        intake = await infra.eventually(lambda: _serving(sup, "intake"), timeout=90, what="intake to be ready")
        first = await infra.eventually(lambda: _serving(sup, "dispatch"), timeout=90, what="dispatch to be ready")

        os.kill(first, signal.SIGKILL)  # a crash
        second = await infra.eventually(
            lambda: _serving(sup, "dispatch", not_pid=first), timeout=90, what="a new dispatch process to serve"
        )
        assert sup.said("dispatch exited with code -9; restarting in 1 s"), sup.output()
        assert not _alive(first)

        os.kill(second, signal.SIGKILL)  # crashes again soon after: the pause doubles
        third = await infra.eventually(
            lambda: _serving(sup, "dispatch", not_pid=second), timeout=90, what="a third dispatch process to serve"
        )
        assert sup.said("dispatch exited with code -9; restarting in 2 s"), sup.output()
        assert len({first, second, third}) == 3

        # intake was never touched: the same process, still serving
        assert sup.pids("intake") == [intake] and _alive(intake)
        assert await sup.ready("intake")
        assert not any(line.startswith("[supervisor] intake exited") for line in sup.lines)

        sup.proc.send_signal(signal.SIGTERM)
        assert await sup.wait_exit(within=60) == 0, sup.output()
        assert sup.said("all services stopped"), sup.output()
        assert not _alive(intake) and not _alive(third)
        # each service shut down gracefully (its lifespan ran to the end), and nothing was restarted meanwhile
        stopping = sup.lines.index("[supervisor] stopping all services")
        after = sup.lines[stopping:]
        for service in ("intake", "dispatch"):
            assert any(line.strip().startswith(f"{service} |") and "service stopped" in line for line in after), (
                sup.output()
            )
        assert not any("restart" in line for line in after if line.startswith("[supervisor]"))
    finally:
        await sup.close()


async def test_ctrl_c_stops_every_service_cleanly_and_exits(supervisor_env):
    """Also: without a prometheus binary, one line says how to get it and the services run all the same."""
    env = supervisor_env(["intake"]) | {"PROMETHEUS_BIN": str(ROOT / "no-such-prometheus")}
    sup = Supervisor(["intake"], env, ("--prometheus", f"127.0.0.1:{_free_port()}"))
    await sup.start()
    try:
        pid = await infra.eventually(lambda: _serving(sup, "intake"), timeout=90, what="intake to be ready")
        missing = [line for line in sup.lines if "prometheus" in line.lower()]
        assert missing == [
            "[supervisor] prometheus not started: its binary is missing (Debian's `prometheus` package, installed by "
            "`make infra`, i.e. scripts/ensure-infra.sh); the services run without it"
        ], sup.output()
        os.killpg(sup.proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends: the supervisor's whole group
        assert await sup.wait_exit(within=60) == 0, sup.output()
        assert not _alive(pid)
        assert sup.said("all services stopped"), sup.output()
        # one signal reached the service, so uvicorn shut it down gracefully instead of force-quitting
        assert any(line.strip().startswith("intake |") and "service stopped" in line for line in sup.lines), (
            sup.output()
        )
        assert not any("restarting" in line for line in sup.lines), sup.output()
        assert not await sup.ready("intake")
    finally:
        await sup.close()


def _prometheus_directory(pid: int) -> Path:
    """Where a running Prometheus keeps its config, data and log: the directory of its --config.file."""
    arguments = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    [config] = [Path(a.split("=", 1)[1]) for a in arguments if a.startswith("--config.file=")]
    return config.parent


async def _targets(url: str) -> dict[str, str] | None:
    """Prometheus' active targets, {job: health}, or None while it does not answer."""
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            reply = await client.get(f"{url}/api/v1/targets", params={"state": "active"})
    except httpx.HTTPError:
        return None
    return {t["labels"]["job"]: t["health"] for t in reply.json()["data"]["activeTargets"]}


async def test_the_console_and_prometheus_run_beside_the_five_services_and_stop_with_them(supervisor_env):
    services = list(SERVICES)
    listen = f"127.0.0.1:{_free_port()}"
    url = f"http://{listen}"
    env = supervisor_env(services) | {"CONSOLE_HTTP_PORT": str(_free_port())}
    sup = Supervisor(services, env, ("--prometheus", listen))
    await sup.start()
    try:
        [prometheus] = await infra.eventually(
            lambda: sup.pids("prometheus"), timeout=120, what="the supervisor to start prometheus"
        )
        assert sup.said(f"started prometheus (pid {prometheus}) on {url}"), sup.output()
        directory = _prometheus_directory(prometheus)
        assert directory.is_dir()

        async def answers() -> bool:
            try:
                async with httpx.AsyncClient(timeout=2) as client:
                    return (await client.get(f"{url}/-/ready")).status_code == 200
            except httpx.HTTPError:
                return False

        await infra.eventually(answers, timeout=60, what="prometheus to answer /-/ready")

        async def all_up() -> bool:
            targets = await _targets(url)
            return targets is not None and all(targets.get(s) == "up" for s in services)

        # Every service's /metrics is scraped once it serves (start-up runs migrations; scrapes run every second).
        await infra.eventually(all_up, timeout=180, interval=1, what="the five services' targets to be up")
        targets = await _targets(url)
        assert set(targets) - {"rabbitmq"} == {*services, "console"}, targets  # RabbitMQ's plugin, where it answers

        # The repository's rule files are the ones loaded, and the address is printed with the others.
        async with httpx.AsyncClient(timeout=5) as client:
            groups = (await client.get(f"{url}/api/v1/rules")).json()["data"]["groups"]
        assert {"qs_kpi", "qs_alerts", "qs_targets", "qs_intake"} <= {g["name"] for g in groups}
        await infra.eventually(
            lambda: any(line.startswith(f"  prometheus {url}") for line in sup.lines),
            timeout=180,
            what="prometheus' address among the others",
        )

        # The console answers where the supervisor says, pointed at the services' ports as they are set here.
        console = f"http://127.0.0.1:{env['CONSOLE_HTTP_PORT']}"
        await infra.eventually(lambda: sup.ready("console"), timeout=60, what="the console to answer /readyz")
        await infra.eventually(
            lambda: any(line.startswith("工作台 / the console: " + console) for line in sup.lines),
            timeout=60,
            what="the console's address printed first",
        )
        [console_pid] = sup.pids("console")

        sup.proc.send_signal(signal.SIGTERM)
        assert await sup.wait_exit(within=60) == 0, sup.output()
        assert sup.said("prometheus stopped") and sup.said("all services stopped"), sup.output()
        assert not _alive(console_pid)
        assert not _alive(prometheus)
        assert not await answers()
        assert not directory.exists(), "its temporary directory (config, data, log) is removed"
        assert not any("prometheus exited" in line for line in sup.lines), sup.output()
    finally:
        await sup.close()


async def test_a_prometheus_that_cannot_start_is_told_and_the_services_run_on(supervisor_env):
    with socket.socket() as taken:  # its port is held by something else
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        listen = f"127.0.0.1:{taken.getsockname()[1]}"
        sup = Supervisor(["intake"], supervisor_env(["intake"]), ("--prometheus", listen))
        await sup.start()
        try:
            pid = await infra.eventually(lambda: _serving(sup, "intake"), timeout=90, what="intake to be ready")
            told = await infra.eventually(
                lambda: [line for line in sup.lines if line.startswith("[supervisor] prometheus exited with code")],
                timeout=60,
                what="the supervisor to tell prometheus exited",
            )
            assert "the services keep running without it" in told[0], sup.output()
            assert "address already in use" in sup.output(), sup.output()  # its last log lines say why
            assert await sup.ready("intake") and sup.pids("intake") == [pid]

            sup.proc.send_signal(signal.SIGTERM)
            assert await sup.wait_exit(within=60) == 0, sup.output()
            assert sup.said("all services stopped") and not sup.said("prometheus stopped"), sup.output()
        finally:
            await sup.close()


async def test_a_crash_loop_backs_off_exponentially_and_a_stop_ends_it():
    """A child that always fails at once, supervised in-process with short delays: 0.1, 0.2, 0.4 … s."""
    crasher = [sys.executable, "-c", "import sys; sys.exit(3)"]
    procs = ServiceProcesses(ports={"crasher": 0}, echo=False, command=lambda _service: crasher)
    await procs.start_all()
    stop = asyncio.Event()
    supervisor = asyncio.create_task(procs.supervise(stop, backoff=lambda: Backoff(initial=0.1, cap=0.4)))
    said = procs.output.setdefault("supervisor", [])
    try:
        await infra.eventually(lambda: len([s for s in said if "exited" in s]) >= 5, timeout=30, what="5 exits")
        exits = [s for s in said if "exited" in s]
        assert exits[:5] == [
            "crasher exited with code 3; restarting in 0.1 s",
            "crasher exited with code 3; restarting in 0.2 s",
            "crasher exited with code 3; restarting in 0.4 s",
            "crasher exited with code 3; restarting in 0.4 s",  # capped
            "crasher exited with code 3; restarting in 0.4 s",
        ]
    finally:
        stop.set()
        await asyncio.wait_for(supervisor, timeout=5)  # a stop during a pause ends supervision at once
    count = len(said)
    await procs.stop()
    assert len(said) == count  # and nothing is restarted after it
    assert procs.procs["crasher"].returncode == 3


def test_backoff_doubles_to_the_cap_and_resets_after_a_long_enough_run():
    backoff = Backoff(initial=1, cap=30, reset_after=60)
    assert [backoff.delay(uptime=0.5) for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff.delay(uptime=59) == 30  # a short run keeps the pause long
    assert backoff.delay(uptime=60) == 1  # a run of a minute counts as healthy: start over
    assert backoff.delay(uptime=1) == 2


# --------------------------------------------------------------------------- the demo data (`make run`)


async def test_the_demo_data_seeds_through_the_apis_with_one_demand_followed_up_and_paused(amqp, databases, capsys):
    """devtools.demo.seed against the five apps in this process: the same HTTP calls `make run` makes."""
    from devtools import demo
    from tests.support.system import running_system

    async with running_system(amqp, databases) as system:
        urls = {name: f"http://{name}.demo" for name in system.apps}
        mounts = {f"{url}": httpx.ASGITransport(app=system.apps[name]) for name, url in urls.items()}
        # The rating link's own address (the console's, under make run) is not mounted: the demo rates through
        # evaluation's API with the link's token.
        async with httpx.AsyncClient(mounts=mounts, timeout=30) as client:
            await demo.seed(urls, client)
            station, index = demo.FOLLOWED
            head = demo._as(demo.Role.head, station, demo.HEADS[station])
            listed = (
                await client.get(f"{urls['intake']}/demands", params={"station_id": station}, headers=head)
            ).json()
            name = demo.DEMANDS[station][index][0]
            [demand] = [d for d in listed if d["enterprise_name"] == name]
            demand_id = demand["demand_id"]

            follow_ups = (await client.get(f"{urls['tracking']}/demands/{demand_id}/follow-ups", headers=head)).json()
            assert [f["kind"] for f in follow_ups] == ["contact", "appointment"], follow_ups
            assert follow_ups[1]["appointment"]["place"] == "辽宁北方锅炉制造有限公司 锅炉房"
            clock = (await client.get(f"{urls['tracking']}/demands/{demand_id}/clock", headers=head)).json()
            assert clock["paused_since"] is not None and clock["pauses"][0]["reason_kind"] == "materials"
            upcoming = (await client.get(f"{urls['tracking']}/appointments", headers=head)).json()
            assert [a["demand_id"] for a in upcoming] == [demand_id]

            # The enterprise is told behind its status link, which the seed printed for the demo's user.
            [line] = [line for line in capsys.readouterr().out.splitlines() if "its status link" in line]
            assert line.startswith(demand["tracking_no"])
            path = "/public/status/" + line.rsplit("/", 1)[1]

            async def told():
                status = (await system.clients["intake"].get(path)).json()
                return status if status["paused"] else None

            status = await infra.eventually(told, what="the pause on the status link")
            assert status["paused"]["reason_label"] == "等待企业补充材料"
            assert status["clock_label"].startswith("计时暂停：等待企业补充材料（请企业补充锅炉产品合格证")
            assert demo.CLERKS[station] not in str(status)

            # Seeding again (a restart of `make run`) adds nothing.
            await demo.seed(urls, client)
            again = (await client.get(f"{urls['tracking']}/demands/{demand_id}/follow-ups", headers=head)).json()
            assert len(again) == 2
