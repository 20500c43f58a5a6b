"""One registry per service app; FastStream's Rabbit middleware and our metrics share it."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

log = structlog.get_logger(__name__)

# Runs the store queries, each with its parameters, in one transaction and returns each one's rows; the runtime
# supplies it once the database is up.
Read = Callable[[list[tuple[str, tuple]]], Awaitable[list[list]]]
_REFRESH_SECONDS = 5.0  # a scrape answers without the store figures rather than wait longer


class ServiceMetrics:
    def __init__(self, service: str, reuse_seconds: float = 5.0) -> None:
        self.service = service
        self.reuse_seconds = reuse_seconds  # scrapes this close to the last reading reuse it
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
        self._read: Read | None = None
        self._read_at: float | None = None  # the event loop's time of the last reading
        self._reading = asyncio.Lock()  # one reading in flight; scrapes meanwhile wait and share it

    def from_store(self, queries: tuple["StoreQuery | StoreCounter", ...], read: Read) -> None:
        """Serve these figures from the store, read at a scrape (at most every `reuse_seconds`)."""
        self._store.queries = tuple(q if isinstance(q, StoreQuery) else q.query() for q in queries)
        self._read = read
        if queries:
            self.registry.register(self._store)

    async def refresh(self) -> None:
        """Reads every store query in one transaction. On failure the store's series are dropped (they vanish, so no
        stale figure outlives the database) and the scrape still answers."""
        if self._read is None:
            return
        async with self._reading:
            loop = asyncio.get_running_loop()
            if self._read_at is not None and loop.time() - self._read_at < self.reuse_seconds:
                return
            try:
                async with asyncio.timeout(_REFRESH_SECONDS):
                    rows = await self._read([(q.sql, q.params()) for q in self._store.queries])
            except Exception as exc:  # a scrape must not fail because the database is away
                self._store.rows = []
                log.warning("store metrics not read; their series are left out", error=repr(exc))
            else:
                self._store.rows = rows
            self._read_at = loop.time()


# A station's place in the city tree, for KPI series PromQL rolls up: station, district and city from ids shaped
# "city/district/station" (6-digit codes); a level an id does not have (the centre "210100/shenyang", a body outside
# the city tree) is ''. Select it first and group by 1, 2, 3.
TREE_LABELS = ("station_id", "district", "city")
STATION_TREE_SQL = """station_id,
    CASE WHEN station_id ~ '^[0-9]{6}/[0-9]{6}(/|$)' THEN split_part(station_id, '/', 2) ELSE '' END AS district,
    CASE WHEN station_id ~ '^[0-9]{6}(/|$)' THEN split_part(station_id, '/', 1) ELSE '' END AS city"""


def kpi_targets(metrics: ServiceMetrics, service: str, targets: dict[str, float]) -> None:
    """The supervisors' KPI targets (0..1) from a service's settings, as the gauge qs_kpi_target{kpi}: the same on
    every replica (take max), for the dashboards and the alert rules (deploy/prometheus/rules/targets.yml)."""
    gauge = Gauge(
        "qs_kpi_target",
        f"The supervisors' KPI target (0..1) from {service}'s settings, by kpi",
        ["kpi"],
        registry=metrics.registry,
    )
    for kpi, value in targets.items():
        gauge.labels(kpi=kpi).set(value)


def _no_params() -> tuple:
    return ()


@dataclass(frozen=True)
class StoreCounter:
    """A business counter kept in the service's own tables, so restarts and replicas neither reset nor double it.

    `sql` returns one row per series: the label values in `labels` order, then the count. A count that can go
    down (e.g. qualifications expiring soon) is a `gauge`. Without `sql`, a StoreQuery's column feeds it.

    A `histogram` (with its `buckets`, upper bounds in increasing order; +Inf is added) takes `width` values of a
    row instead of one: the cumulative count of observations ≤ each bucket, the count of all of them, and their
    sum; `histogram_sql` writes those columns for a query, so one SQL feeds it beside other families.
    """

    name: str
    doc: str
    labels: tuple[str, ...]
    sql: str = ""
    kind: Literal["counter", "gauge", "histogram"] = "counter"
    buckets: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.kind == "histogram":
            finite = all(b == b and b not in (float("inf"), float("-inf")) for b in self.buckets)
            rising = all(a < b for a, b in zip(self.buckets, self.buckets[1:], strict=False))
            if not self.buckets or not finite or not rising:
                raise ValueError(f"{self.name}: a histogram needs finite buckets in increasing order")
        elif self.buckets:
            raise ValueError(f"{self.name}: only a histogram has buckets")

    @property
    def width(self) -> int:
        """How many values of a row this family takes."""
        return len(self.buckets) + 2 if self.kind == "histogram" else 1

    def family(self) -> CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily:
        family_type = {"gauge": GaugeMetricFamily, "histogram": HistogramMetricFamily}.get(
            self.kind, CounterMetricFamily
        )
        return family_type(self.name, self.doc, labels=self.labels)

    def add(self, family, labels: list[str], values) -> None:
        """One series of `family` from this family's `width` values of a row."""
        if self.kind != "histogram":
            [value] = values
            family.add_metric(labels, value)
            return
        *cumulative, count, total = values
        buckets = [(floatToGoString(b), n) for b, n in zip(self.buckets, cumulative, strict=True)]
        family.add_metric(labels, [*buckets, ("+Inf", count)], float(total))

    def histogram_sql(self, value: str, where: str = "TRUE") -> str:
        """The select-list columns feeding this histogram from the rows grouped into a series: over those where
        `where` holds and the SQL expression `value` is not NULL, how many have `value` ≤ each bucket, how many in
        all, and the sum of `value` (0 when none)."""
        if self.kind != "histogram":
            raise ValueError(f"{self.name} is not a histogram")
        observed = f"({where}) AND ({value}) IS NOT NULL"
        return ",\n    ".join(
            [
                *(f"count(*) FILTER (WHERE {observed} AND ({value}) <= {b!r})" for b in self.buckets),
                f"count(*) FILTER (WHERE {observed})",
                f"COALESCE(sum({value}) FILTER (WHERE {observed}), 0)",
            ]
        )

    def query(self) -> "StoreQuery":
        return StoreQuery(self.sql, len(self.labels), ((self, ()),))


@dataclass(frozen=True)
class StoreQuery:
    """One query feeding several families, so a scrape reads a table once.

    Each row holds `labels` label values, then the values of each entry of `columns` in turn (one, or a histogram's
    `width`): (the family it feeds, the values of the family's further labels). E.g. a row (station, district, city,
    late to respond, late to handle) feeds qs_demands_overdue{..., deadline} twice, with ("response",) and
    ("handling",). `params()` gives the query's bound parameters at each reading (e.g. today by the service's
    clock).
    """

    sql: str
    labels: int
    columns: tuple[tuple[StoreCounter, tuple[str, ...]], ...]
    params: Callable[[], tuple] = _no_params


class _StoreCollector(Collector):
    def __init__(self, queries: tuple[StoreQuery, ...]) -> None:
        self.queries = queries
        self.rows: list[list] = []  # each query's rows, in `queries` order; empty when not read

    def _counters(self) -> dict[str, StoreCounter]:
        return {c.name: c for q in self.queries for c, _ in q.columns}

    def describe(self):
        return [c.family() for c in self._counters().values()]

    def collect(self):
        families = {name: c.family() for name, c in self._counters().items()}
        for q, rows in zip(self.queries, self.rows, strict=False):
            for row in rows:
                labels, at = [str(v) for v in row[: q.labels]], q.labels
                for counter, further in q.columns:
                    counter.add(families[counter.name], [*labels, *further], row[at : at + counter.width])
                    at += counter.width
                if at != len(row):
                    raise ValueError(f"a row of {len(row)} values for {at} labels and columns")
        yield from families.values()
