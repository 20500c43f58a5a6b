"""One registry per service app; FastStream's Rabbit middleware and our metrics share it."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class ServiceMetrics:
    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.events_consumed = Counter(
            "qs_events_consumed_total", "Events handled successfully, by event type", ["event"], registry=r
        )
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

    def counter(self, name: str, doc: str, labels: list[str]) -> Counter:
        """A business counter on this service's registry."""
        return Counter(name, doc, labels, registry=self.registry)

    def histogram(self, name: str, doc: str, labels: list[str], buckets: tuple[float, ...]) -> Histogram:
        return Histogram(name, doc, labels, registry=self.registry, buckets=buckets)
