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


def rabbitmqctl(*args: str) -> str:
    return subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, text=True).stdout


def new_vhost() -> str:
    name = f"qs-test-{uuid.uuid4().hex[:10]}"
    rabbitmqctl("add_vhost", name)
    rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    return name


def drop_vhost(name: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", "delete_vhost", name], check=False, capture_output=True)


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
