"""The console in tests: its app with the calls routed into a running system's in-process apps, an HTTP "browser"
(a cookie jar of its own, redirects not followed) and signing in on the development page (the integration tier);
and for the e2e tier's real browser (Debian's Chromium driven by Playwright): the app served on a free port, a fresh
page, signing in on it, reloading until the events have arrived, screenshots."""

import asyncio
import contextlib
import os
import re
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from services.console.app import create_app
from services.console.settings import Settings
from tests.support.system import System

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@contextlib.asynccontextmanager
async def running(system: System) -> AsyncIterator[FastAPI]:
    """The console app, its lifespan running, its calls routed to the system's apps."""
    transports = {name: httpx.ASGITransport(app=app) for name, app in system.apps.items()}
    app = create_app(Settings(), transports=transports)
    async with app.router.lifespan_context(app):
        yield app


def browser(console: FastAPI) -> httpx.AsyncClient:
    """A person's browser: its own cookie jar, redirects not followed (the tests look at them)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=console), base_url="http://console.test")


def csrf_of(page: httpx.Response) -> str:
    found = _CSRF.search(page.text)
    assert found, page.text[:2000]
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, person: str) -> None:
    """Signs in on the development page as `person` (e.g. "clerk:<station id>"), which must be offered there."""
    page = await client.get("/signin")
    assert page.status_code == 200, page.text
    assert f'value="{person}"' in page.text, f"{person} is not offered"
    reply = await client.post("/signin", data={"csrf_token": csrf_of(page), "person": person, "next": "/ledger"})
    assert reply.status_code == 303, reply.text
    assert reply.headers["location"] == "/ledger"


# --- The console served to a real browser (the e2e tier's Playwright tests, devtools/screenshots.py) ---

CHROMIUM = "/usr/bin/chromium"  # Debian's package: Playwright's own browser download cannot work here
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
# Where each role lands after signing in (services/console/pages/home.py): the admin on the station registry.
LANDING = {"admin": "/stations"}
# CONSOLE_SCREENSHOTS=<dir>: the browser tests keep a screenshot of each main page there.
SHOTS = os.environ.get("CONSOLE_SCREENSHOTS")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.asynccontextmanager
async def serving(system: System) -> AsyncIterator[str]:
    """The console of `running(system)` served by uvicorn on a free port of 127.0.0.1, for a browser; its address."""
    import uvicorn

    async with running(system) as app:
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
        task = asyncio.create_task(server.serve())
        try:
            while not server.started:
                assert not task.done(), "the console did not start"
                await asyncio.sleep(0.05)
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await task


def require_chromium() -> None:
    """Never a silent skip: without the browser the tier fails, saying how to get it."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests drive Debian's chromium package. Install it with "
            "`apt-get install -y --no-install-recommends chromium` (scripts/ensure-infra.sh does, via `make test`)."
        )


async def new_page(chromium, base: str, *, width: int = 1366, height: int = 768):
    """A fresh browser context (its own cookies) at `base`, in Chinese and China's time zone; (context, page)."""
    from playwright.async_api import expect

    expect.set_options(timeout=20_000)
    context = await chromium.new_context(
        base_url=base, viewport={"width": width, "height": height}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    return context, await context.new_page()


async def sign_in_page(page, person: str) -> None:
    """Signs in on the development page as `person` (e.g. "clerk:<station id>") and lands on the role's start page."""
    from playwright.async_api import expect

    await page.goto("/signin")
    await page.locator(f'button[data-person="{person}"]').click()
    landing = LANDING.get(person.split(":", 1)[0], "/ledger")
    await expect(page).to_have_url(re.compile(re.escape(landing) + "$"))
    await expect(page.get_by_test_id("who")).to_be_visible()


@contextlib.asynccontextmanager
async def signed_in(chromium, base: str, person: str, *, width: int = 1366, height: int = 768):
    """A page of a fresh context, signed in as `person`; the context is closed afterwards."""
    context, page = await new_page(chromium, base, width=width, height=height)
    try:
        await sign_in_page(page, person)
        yield page
    finally:
        await context.close()


async def reload_until(page, locator, what: str, timeout: float = 30) -> None:
    """The services hear of each other through events: reload the page until `locator` shows, within `timeout`."""
    from playwright.async_api import expect

    deadline = time.monotonic() + timeout
    while True:
        try:
            await expect(locator).to_be_visible(timeout=1_500)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not shown within {timeout:.0f} s") from None
            await page.reload()


def _shots_dir() -> Path | None:
    if not SHOTS:
        return None
    Path(SHOTS).mkdir(parents=True, exist_ok=True)
    return Path(SHOTS)


async def shot(page, name: str) -> None:
    """A full-page screenshot `<name>.png` in CONSOLE_SCREENSHOTS, when that is set."""
    if (where := _shots_dir()) is not None:
        await page.screenshot(path=str(where / f"{name}.png"), full_page=True)
