"""What every service process is made of: database, broker, outbox relay, health, metrics.

A service declares what it is made of as a `Service` in its app.py; `Service.create_app(settings)`
builds a `ServiceRuntime`, and nothing here connects until the FastAPI lifespan starts (design rule 7).
"""

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import aiormq
import asyncpg
import structlog
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from faststream import FastStream
from faststream.specification import AsyncAPI

from shared import http, stations
from shared.auth import TokenVerifier
from shared.contracts import Envelope
from shared.db import create_pool, ensure_database, migrate
from shared.db.uow import UnitOfWork
from shared.messaging import EVENTS_EXCHANGE, OutboxRelay, create_broker, declare_dead_letters
from shared.messaging.broker import EventRouter, RejectInvalidPayload
from shared.messaging.health import queues_without_consumer, watch_dead_letters
from shared.observability import ServiceMetrics
from shared.observability.metrics import StoreCounter, StoreQuery
from shared.ratelimit import RateLimiter, trust_proxies
from shared.settings import ServiceSettings

log = structlog.get_logger(__name__)

# Every service's outbox age, read from its table like the business counters: the same on every replica, whichever
# relay is stuck. Run in the system scope (qs.scope '*'), though the outbox has no row-level security anyway.
# GREATEST: 0 when nothing is pending (NULL), and never below 0 for a row committed after this scrape's now().
# The oldest is the head of the relay's queue (lowest id), read with one probe of the pending index: min(created_at)
# over the pending rows was planned as a scan of the whole outbox whenever the statistics still counted rows pending
# that the relay had published since (50 ms at 300,000 rows, growing with the table).
OUTBOX_AGE = StoreCounter(
    "qs_outbox_oldest_pending_seconds",
    "Age in seconds of the oldest event written but not yet published, 0 when none",
    (),
    """SELECT GREATEST(EXTRACT(EPOCH FROM now() - (
            SELECT created_at FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT 1))::float8, 0)""",
    kind="gauge",
)


class ServiceRuntime:
    def __init__(
        self,
        settings: ServiceSettings,
        migrations: Path,
        store: Callable[[asyncpg.Connection], Any] = lambda conn: None,
        store_counters: tuple[StoreCounter | StoreQuery, ...] = (),
    ) -> None:
        self.settings = settings
        self.name = settings.service_name
        self.migrations = migrations
        self.uow = UnitOfWork(self.name, store)
        self.metrics = ServiceMetrics(self.name, reuse_seconds=settings.store_metrics_every_seconds)
        self.metrics.from_store((*store_counters, OUTBOX_AGE), self._system_read)
        self.scheduled: list[Scheduled] = []
        self.broker = create_broker(
            amqp_url=settings.amqp_url, prefetch=settings.prefetch, metrics=self.metrics, app_name=self.name
        )
        self.queues: list[str] = []
        self.verifier = TokenVerifier(
            key=settings.auth_signing_key,
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
            jwks_url=settings.auth_jwks_url,
            leeway=settings.auth_leeway_seconds,
        )
        self._pool: asyncpg.Pool | None = None
        self._ops: aio_pika.abc.AbstractRobustConnection | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the service has not started")
        return self._pool

    def subscribe(self, router: EventRouter) -> None:
        """The service's subscribers (its handlers.py); payloads that are not their event go to the DLQ."""
        self.broker.include_router(router, middlewares=(RejectInvalidPayload(self.metrics),))
        self.queues.extend(router.queues)

    async def _system_read(self, queries: list[tuple[str, tuple]]) -> list[list]:
        """The store figures of one scrape, read in one transaction."""
        async with self.uow.begin() as tx:
            return [await tx.conn.fetch(sql, *params) for sql, params in queries]

    def publishes(self, event_type: type[Envelope]) -> None:
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
    async def lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        s = self.settings
        await ensure_database(s.database_url)
        await migrate(s.database_url, self.name, self.migrations, app_role=s.app_role)
        self._pool = await create_pool(s.resolved_app_database_url, min_size=s.db_pool_min, max_size=s.db_pool_max)
        self.uow.bind(self._pool)
        log.info("database ready")  # start-up lines, so a start that hangs shows at which step
        for job in self.scheduled:  # once before messages flow, then in the background
            await job.step(self.uow, s)
        log.info("start-up jobs done", jobs=len(self.scheduled))
        self._ops = await aio_pika.connect_robust(s.amqp_url, client_properties={"connection_name": f"{self.name}-ops"})
        await declare_dead_letters(self._ops, self.queues)
        await self._start_consumers()
        relay = OutboxRelay(
            pool=self._pool,
            dsn=s.resolved_app_database_url,
            broker=self.broker,
            metrics=self.metrics,
            app_id=self.name,
            poll_seconds=s.outbox_poll_seconds,
            batch=s.outbox_batch,
            publish_timeout=s.outbox_publish_timeout_seconds,
            prune_every_minutes=s.prune_every_minutes,
            outbox_retention_days=s.outbox_retention_days,
            inbox_retention_days=s.inbox_retention_days,
        )
        relay.start()
        # Background work stops by being told, not cancelled: a cancelled AMQP call can wedge its channel.
        stopping = asyncio.Event()
        watcher = asyncio.create_task(
            watch_dead_letters(self._ops, self.queues, self.metrics, s.dlq_check_seconds, stopping),
            name=f"{self.name}-dlq-watch",
        )
        jobs = [asyncio.create_task(job.repeat(self.uow, s, stopping)) for job in self.scheduled]
        log.info("service started", port=s.http_port, queues=self.queues)
        try:
            yield
        finally:
            stopping.set()
            await relay.stop()
            await asyncio.wait_for(asyncio.gather(watcher, *jobs), timeout=15)
            await self.broker.stop()
            await self._ops.close()
            await self._pool.close()
            self._pool = None
            self.uow.bind(None)
            log.info("service stopped")

    async def _start_consumers(self, attempts: int = 6) -> None:
        """Replicas starting together race a new quorum queue's first start: until its Raft member runs, RabbitMQ
        answers basic.consume with INTERNAL_ERROR and closes the connection. That one error is tried again."""
        for attempt in range(1, attempts + 1):
            try:
                await self.broker.start()
                return
            except aiormq.exceptions.ConnectionInternalError as exc:
                if attempt == attempts:
                    raise
                log.warning("queue not ready to consume, starting consumers again", attempt=attempt, error=str(exc))
                await self.broker.stop()
                await asyncio.sleep(0.5 * attempt)

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
        # Swagger UI and ReDoc from the package's own files: /docs works without internet.
        app = FastAPIOffline(
            title=title, description=description, version="0.1.0", lifespan=self.lifespan, static_url="/docs-assets"
        )
        app.state.runtime = self
        trust_proxies(app, [str(network) for network in self.settings.trusted_proxies])
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


def serve(create_app: Callable[[ServiceSettings], FastAPI], settings: ServiceSettings) -> None:
    """`python -m services.<name>`: JSON logs, then uvicorn on the configured port."""
    import uvicorn

    from shared.observability import configure_logging

    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    app = create_app(settings)
    # What is built by now (modules, routes, schemas, contracts) lives as long as the process: kept out of the
    # collector's scans, which under load cost 2-6% of a service's CPU walking it again and again. Only here, in
    # the service's own process: tests start many apps in one interpreter and would keep each one's cycles.
    gc.freeze()
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        proxy_headers=False,  # X-Forwarded-For is believed only from settings.trusted_proxies (shared.ratelimit)
        timeout_graceful_shutdown=20,
    )


@dataclass(frozen=True)
class Scheduled:
    """A use case run when the service starts and then every `every(settings)` seconds.

    Every replica runs it: the step itself must be safe for that (a lock, SKIP LOCKED, or "due" rows).
    """

    step: Callable[[UnitOfWork, ServiceSettings], Awaitable[None]]
    every: Callable[[Any], float]

    async def repeat(self, uow: UnitOfWork, settings: ServiceSettings, stopping: asyncio.Event) -> None:
        while True:
            try:
                await asyncio.wait_for(stopping.wait(), timeout=self.every(settings))
                return
            except TimeoutError:
                pass
            try:
                await self.step(uow, settings)
            except Exception as exc:  # the next round tries again; a failed round must not end the loop
                log.warning("scheduled step failed", step=self.step.__qualname__, error=repr(exc))


@dataclass(frozen=True)
class Service:
    """What one service is made of, declared in its app.py; everything is built from settings, nothing at import."""

    settings: Callable[[], ServiceSettings]
    title: str
    description: str
    migrations: Path
    store: Callable[[asyncpg.Connection], Any]
    subscribers: Callable[[UnitOfWork, ServiceSettings], EventRouter]
    publishes: tuple[type[Envelope], ...]
    routers: tuple[APIRouter, ...]
    # The figures read from the store at a scrape; a function of the settings where they shape the figures (e.g.
    # which rating levels count as satisfied).
    store_counters: tuple[StoreCounter | StoreQuery, ...] | Callable[[Any], tuple[StoreCounter | StoreQuery, ...]] = ()
    scheduled: tuple["Scheduled", ...] = ()
    # Further metrics of the service's own, registered on its registry once built (e.g. gauges from its settings).
    metrics: Callable[[ServiceMetrics, Any], None] | None = None

    def runtime(self, settings: ServiceSettings | None = None) -> ServiceRuntime:
        settings = settings or self.settings()
        counters = self.store_counters(settings) if callable(self.store_counters) else self.store_counters
        rt = ServiceRuntime(settings, self.migrations, self.store, counters)
        rt.subscribe(self.subscribers(rt.uow, settings))
        rt.subscribe(stations.subscriber(rt.uow, settings))  # every service keeps the registry's tree
        for event_type in self.publishes:
            rt.publishes(event_type)
        rt.scheduled.extend(self.scheduled)
        if self.metrics is not None:
            self.metrics(rt.metrics, settings)
        return rt

    def create_app(self, settings: ServiceSettings | None = None) -> FastAPI:
        """`uvicorn --factory services.<name>.app:create_app`"""
        return self.runtime(settings).create_app(title=self.title, description=self.description, routers=self.routers)

    def asyncapi(self) -> FastStream:
        """`faststream docs gen --factory services.<name>.app:asyncapi`"""
        return self.runtime().asyncapi(title=self.title, description=self.description)

    def main(self) -> None:
        """`python -m services.<name>`"""
        serve(self.create_app, self.settings())
