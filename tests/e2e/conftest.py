import os
import sys
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from devtools.run import PORTS, ServiceProcesses
from shared.contracts.topology import SERVICES
from tests.support import infra
from tests.support.console import CHROMIUM, CHROMIUM_ARGS, free_port, require_chromium
from tests.support.system import register_organizations

ROOT = Path(__file__).resolve().parents[2]


def clocked_command(service: str) -> list[str]:
    """`python -m services.<name>` through the test-clock wrapper: on the tests' clock when QS_TEST_CLOCK is set."""
    return [sys.executable, "-m", "tests.support.clocked", f"services.{service}"]


@pytest.fixture(scope="module")
def system_env():
    vhost = infra.new_vhost()
    databases = {name: infra.new_database_url(name) for name in SERVICES}
    env = {}
    for name in SERVICES:
        prefix = name.upper()
        env |= {
            f"{prefix}_DATABASE_URL": databases[name],
            f"{prefix}_AMQP_URL": infra.amqp_url(vhost),
            f"{prefix}_OUTBOX_POLL_SECONDS": "0.2",
            f"{prefix}_DLQ_CHECK_SECONDS": "1",
        }
    env["EVALUATION_PUBLIC_URL"] = "http://127.0.0.1:18004"
    env["INTAKE_PUBLIC_URL"] = "http://127.0.0.1:18001"  # status links the tests open
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))  # for the wrapper
    yield env, databases, vhost
    infra.drop_vhost(vhost)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def system(system_env):
    """All five services as separate OS processes, on their own databases and vhost."""
    env, databases, _ = system_env
    procs = ServiceProcesses(
        env=env, ports={name: 18000 + port % 100 for name, port in PORTS.items()}, echo=False, command=clocked_command
    )
    await procs.start_all()
    try:
        await procs.wait_ready()
        async with httpx.AsyncClient(base_url=procs.url("dispatch")) as dispatch:
            await register_organizations(dispatch)  # the organizations the tests assign to
        yield procs, databases
    finally:
        await procs.stop()
        for url in databases.values():
            await infra.drop_database(url)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def console(system):
    """`python -m services.console` on a free port, pointed at the e2e services (the `system` fixture); its address."""
    procs, _ = system
    env = {f"CONSOLE_{name.upper()}_URL": procs.url(name) for name in procs.ports}
    console = ServiceProcesses(env=env, ports={"console": free_port()}, echo=False, command=clocked_command)
    await console.start("console")
    try:
        await console.wait_ready(["console"], timeout=60)
        yield console.url("console")
    finally:
        await console.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chromium():
    """Debian's Chromium driven by Playwright, one browser per module (its own download cannot work here)."""
    from playwright.async_api import async_playwright

    require_chromium()
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            await browser.close()
