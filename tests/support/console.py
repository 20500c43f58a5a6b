"""The console in integration tests: its app with the calls routed into a running system's in-process apps, a
browser (a cookie jar of its own, redirects not followed), and signing in on the development page."""

import contextlib
import re
from collections.abc import AsyncIterator

import httpx
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
