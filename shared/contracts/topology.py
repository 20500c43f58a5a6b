"""RabbitMQ names: one topic exchange, one quorum queue per consumer and event, one DLQ each."""

from .envelope import Envelope, Event
from .events import Archived, Assigned, DemandSubmitted, Rated, Resolved, StationRegistered

# The five services; each name is also the consumer part of its queues' names.
SERVICES: tuple[str, ...] = ("intake", "dispatch", "tracking", "evaluation", "archive")

EXCHANGE = "demand.events"
DEAD_LETTER_EXCHANGE = "demand.dead-letter"

LIFECYCLE: tuple[type[Event], ...] = (DemandSubmitted, Assigned, Resolved, Rated, Archived)
REFERENCE: tuple[type[Envelope], ...] = (StationRegistered,)
EVENT_TYPES: dict[str, type[Envelope]] = {e.routing_key: e for e in (*LIFECYCLE, *REFERENCE)}


def queue_name(consumer: str, event_type: type[Envelope]) -> str:
    """e.g. tracking.demand.resolved"""
    return f"{consumer}.{event_type.routing_key}"


def dead_letter_queue_name(queue: str) -> str:
    return f"{queue}.dlq"
