"""What every service process is made of: database, broker, outbox relay, health, metrics.

`ServiceRuntime` is built by each service's `create_app(settings)`; nothing here
connects until the FastAPI lifespan starts (design rule 7).
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from faststream import FastStream
from faststream.specification import AsyncAPI

from shared import http
from shared.auth import SYSTEM, Principal, TokenVerifier
from shared.contracts import Event
from shared.db import create_pool, ensure_database, migrate
from shared.messaging import EVENTS_EXCHANGE, OutboxRelay, create_broker, declare_dead_letters, subscribe
from shared.messaging.health import queues_without_consumer, watch_dead_letters
from shared.observability import ServiceMetrics
from shared.ratelimit import RateLimiter
from shared.settings import ServiceSettings

log = structlog.get_logger(__name__)

_SET_SCOPE = "SELECT set_config('qs.scope', $1, true), set_config('qs.org', $2, true)"


class ServiceRuntime:
    def __init__(self, settings: ServiceSettings, migrations: Path) -> None:
        self.settings = settings
        self.name = settings.service_name
        self.migrations = migrations
        self.metrics = ServiceMetrics(self.name)
        self.broker = create_broker(
            amqp_url=settings.amqp_url, prefetch=settings.prefetch, metrics=self.metrics, app_name=self.name
        )
        self.queues: list[str] = []
        self.counters: Any = None  # the service's business metrics, set by its create_app
        self.verifier = TokenVerifier(
            key=settings.auth_signing_key,
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
            jwks_url=settings.auth_jwks_url,
        )
        self._pool: asyncpg.Pool | None = None
        self._ops: aio_pika.abc.AbstractRobustConnection | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the service has not started")
        return self._pool

    def consume(self, event_type: type[Event], handle: Callable[[Event], Awaitable[None]]) -> None:
        self.queues.append(
            subscribe(
                self.broker,
                consumer=self.name,
                event_type=event_type,
                handle=handle,
                delivery_limit=self.settings.delivery_limit,
                metrics=self.metrics,
            )
        )

    def publishes(self, event_type: type[Event]) -> None:
        """Documents an event this service publishes (through the outbox relay) in its AsyncAPI."""
        self.broker.publisher(
            exchange=EVENTS_EXCHANGE,
            routing_key=event_type.routing_key,
            persist=True,
            title=f"{self.name}:{event_type.routing_key}",
            description=f"{self.name} publishes {event_type.__name__} via its transactional outbox",
            schema=event_type,
        )

    def asyncapi(self, *, title: str, description: str) -> FastStream:
        """A FastStream app object for `faststream docs gen`; it is never run."""
        spec = AsyncAPI(self.broker, title=title, description=description, version="0.1.0")
        return FastStream(self.broker, specification=spec)

    @contextlib.asynccontextmanager
    async def demand_transaction(self, demand_id) -> AsyncIterator[asyncpg.Connection]:
        """A system transaction that first takes the demand's lock: a handler that may create the demand's
        row must not race another handler of the same demand (SELECT … FOR UPDATE locks no row yet absent)."""
        async with self.transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1::text))", str(demand_id))
            yield conn

    @contextlib.asynccontextmanager
    async def transaction(self, principal: Principal = SYSTEM) -> AsyncIterator[asyncpg.Connection]:
        """One transaction in the caller's scope; row-level security sees the same scope."""
        scope = "*" if principal is SYSTEM else principal.db_scope
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(_SET_SCOPE, scope, principal.org or "")
            yield conn

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        s = self.settings
        await ensure_database(s.database_url)
        await migrate(s.database_url, self.name, self.migrations, app_role=s.app_role)
        self._pool = await create_pool(
            s.resolved_app_database_url, min_size=s.db_pool_min, max_size=s.db_pool_max
        )
        self._ops = await aio_pika.connect_robust(s.amqp_url, client_properties={"connection_name": f"{self.name}-ops"})
        await declare_dead_letters(self._ops, self.queues)
        await self.broker.start()
        relay = OutboxRelay(
            pool=self._pool,
            dsn=s.resolved_app_database_url,
            broker=self.broker,
            metrics=self.metrics,
            app_id=self.name,
            poll_seconds=s.outbox_poll_seconds,
            batch=s.outbox_batch,
        )
        relay.start()
        # Background work stops by being told, not cancelled: a cancelled AMQP call can wedge its channel.
        stopping = asyncio.Event()
        watcher = asyncio.create_task(
            watch_dead_letters(self._ops, self.queues, self.metrics, s.dlq_check_seconds, stopping),
            name=f"{self.name}-dlq-watch",
        )
        log.info("service started", port=s.http_port, queues=self.queues)
        try:
            yield
        finally:
            stopping.set()
            await relay.stop()
            await asyncio.wait_for(watcher, timeout=15)
            await self.broker.stop()
            await self._ops.close()
            await self._pool.close()
            self._pool = None
            log.info("service stopped")

    async def readiness(self) -> dict[str, object]:
        problems: dict[str, object] = {}
        try:
            async with self.pool.acquire(timeout=2) as conn:
                await conn.fetchval("SELECT 1", timeout=2)
        except Exception as exc:  # any failure means not ready
            problems["database"] = repr(exc)
        if not await self.broker.ping(timeout=2):
            problems["broker"] = "not connected"
        elif self.queues:
            try:
                idle = await asyncio.wait_for(queues_without_consumer(self._ops, self.queues), timeout=5)
            except Exception as exc:
                problems["queues"] = repr(exc)
            else:
                if idle:
                    problems["queues_without_consumer"] = idle
        return problems

    def create_app(self, *, title: str, description: str, routers: list[APIRouter]) -> FastAPI:
        app = FastAPI(title=title, description=description, version="0.1.0", lifespan=self.lifespan)
        app.state.runtime = self
        storage = getattr(self.settings, "rate_limit_storage", None)
        if storage:  # services with public endpoints
            app.state.rate_limiter = RateLimiter(storage)
        http.install(app, self.metrics)

        @app.get("/healthz", tags=["ops"], summary="存活检查 / liveness")
        async def healthz() -> dict[str, str]:
            return {"status": "ok", "service": self.name}

        @app.get("/readyz", tags=["ops"], summary="就绪检查 / readiness: database, broker, consumers")
        async def readyz() -> JSONResponse:
            problems = await self.readiness()
            if problems:
                return JSONResponse({"status": "unavailable", "service": self.name, "problems": problems}, 503)
            return JSONResponse({"status": "ready", "service": self.name})

        for router in routers:
            app.include_router(router)
        return app


def runtime_of(request: Request) -> ServiceRuntime:
    """FastAPI dependency: the runtime of the app serving this request."""
    return request.app.state.runtime


def serve(create_app: Callable[[ServiceSettings], FastAPI], settings: ServiceSettings) -> None:
    """`python -m services.<name>`: JSON logs, then uvicorn on the configured port."""
    import uvicorn

    from shared.observability import configure_logging

    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        timeout_graceful_shutdown=20,
    )
