"""Real RabbitMQ vhosts and PostgreSQL databases, one set per test, removed afterwards."""

import asyncio
import contextlib
import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable

import aio_pika
import asyncpg
import httpx
from fastapi import FastAPI

PG_SERVER = os.environ.get("TEST_PG_SERVER", "postgresql://postgres@127.0.0.1:5432")
AMQP_SERVER = os.environ.get("TEST_AMQP_SERVER", "amqp://guest:guest@127.0.0.1:5672")
# Vhosts come and go through the management API (scripts/ensure-infra.sh enables it): each rabbitmqctl call boots
# an Erlang VM (~0.7 s), three of them per test were a third of the integration tier's time.
AMQP_ADMIN = os.environ.get("TEST_AMQP_ADMIN", "http://guest:guest@127.0.0.1:15672")


def _admin(method: str, path: str, **kwargs) -> httpx.Response:
    return httpx.request(method, f"{AMQP_ADMIN}/api{path}", timeout=30, **kwargs)


def new_vhost(name: str | None = None) -> str:
    name = name or f"qs-test-{uuid.uuid4().hex[:10]}"
    _admin("PUT", f"/vhosts/{name}").raise_for_status()
    _admin(
        "PUT", f"/permissions/{name}/guest", json={"configure": ".*", "write": ".*", "read": ".*"}
    ).raise_for_status()
    return name


def drop_vhost(name: str) -> None:
    _admin("DELETE", f"/vhosts/{name}")


def close_all_connections(vhost: str) -> None:
    """Cut every client connection to `vhost` at once, as a broker restart would."""
    subprocess.run(["rabbitmqctl", "-q", "close_all_connections", "-p", vhost, "test: connection lost"], check=True)


def amqp_url(vhost: str, server: str = AMQP_SERVER) -> str:
    return f"{server}/{vhost}"


def new_database_url(service: str) -> str:
    return f"{PG_SERVER}/qs_test_{service}_{uuid.uuid4().hex[:8]}"


async def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(f"{PG_SERVER}/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def eventually(check: Callable, *, timeout: float = 20.0, interval: float = 0.1, what: str = "condition"):
    """Poll `check` (sync or async) until it returns a truthy value; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last = None
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        last = result
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan started (database, broker, relay), and an HTTP client to it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def fetch(url: str, sql: str, *args):
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def queue_depth(amqp: str, queue: str) -> int:
    """Ready messages in a queue (0 if it does not exist yet)."""
    connection = await aio_pika.connect(amqp)
    async with connection:
        try:
            channel = await connection.channel()
            q = await channel.declare_queue(queue, passive=True)
            return q.declaration_result.message_count
        except aio_pika.exceptions.ChannelClosed:
            return 0


def client(app: FastAPI) -> httpx.AsyncClient:
    """An HTTP client to an app whose lifespan is already running."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
