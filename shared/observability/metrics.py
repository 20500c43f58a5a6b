"""One registry per service app; FastStream's Rabbit middleware and our metrics share it."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

log = structlog.get_logger(__name__)

# Runs one query and returns its rows; the runtime supplies it once the database is up.
Query = Callable[[str], Awaitable[list]]
_REFRESH_SECONDS = 5.0  # a scrape answers with the last figures rather than wait longer


class ServiceMetrics:
    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        ProcessCollector(registry=r)  # process_resident_memory_bytes and CPU seconds, per replica (ops dashboard)
        self.dead_lettered = Counter(
            "qs_messages_rejected_total", "Messages this service rejected to its DLQ", ["queue", "reason"], registry=r
        )
        self.dlq_messages = Gauge(
            "qs_dead_letter_messages", "Messages waiting in each consumer queue's DLQ", ["queue"], registry=r
        )
        self.outbox_published = Counter(
            "qs_outbox_published_total", "Events the outbox relay published, by event type", ["event"], registry=r
        )
        self.outbox_publish_failures = Counter(
            "qs_outbox_publish_failures_total", "Publishes the broker did not confirm", registry=r
        )
        self.outbox_pending = Gauge("qs_outbox_pending", "Events written but not yet published", registry=r)
        self.http_requests = Histogram(
            "qs_http_request_seconds",
            "HTTP request latency",
            ["method", "route", "status"],
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )

        self._store = _StoreCollector(())
        self._query: Query | None = None

    def from_store(self, counters: tuple["StoreCounter", ...], query: Query) -> None:
        """Serve these counters from the store, read at each scrape."""
        self._store.counters = counters
        self._query = query
        if counters:
            self.registry.register(self._store)

    async def refresh(self) -> None:
        """Reads the store's counters; on failure the last figures stay and the scrape still answers."""
        if self._query is None:
            return
        try:
            async with asyncio.timeout(_REFRESH_SECONDS):
                for c in self._store.counters:
                    self._store.rows[c.name] = await self._query(c.sql)
        except Exception as exc:  # a scrape must not fail because the database is away
            log.warning("store metrics not refreshed", error=repr(exc))


@dataclass(frozen=True)
class StoreCounter:
    """A business counter kept in the service's own tables, so restarts and replicas neither reset nor double it.

    `sql` returns one row per series: the label values in `labels` order, then the count. A count that can go
    down (e.g. qualifications expiring soon) is a `gauge`.
    """

    name: str
    doc: str
    labels: tuple[str, ...]
    sql: str
    kind: Literal["counter", "gauge"] = "counter"

    def family(self) -> CounterMetricFamily | GaugeMetricFamily:
        family_type = GaugeMetricFamily if self.kind == "gauge" else CounterMetricFamily
        return family_type(self.name, self.doc, labels=self.labels)


class _StoreCollector(Collector):
    def __init__(self, counters: tuple[StoreCounter, ...]) -> None:
        self.counters = counters
        self.rows: dict[str, list] = {}

    def describe(self):
        return [c.family() for c in self.counters]

    def collect(self):
        for c in self.counters:
            family = c.family()
            for row in self.rows.get(c.name, []):
                family.add_metric([str(v) for v in row[:-1]], row[-1])
            yield family
