"""RabbitMQ names: one topic exchange, one quorum queue per consumer and event, one DLQ each."""

from .envelope import Event
from .events import Archived, Assigned, DemandSubmitted, Rated, Resolved

EXCHANGE = "demand.events"
DEAD_LETTER_EXCHANGE = "demand.dead-letter"

LIFECYCLE: tuple[type[Event], ...] = (DemandSubmitted, Assigned, Resolved, Rated, Archived)
EVENT_TYPES: dict[str, type[Event]] = {e.routing_key: e for e in LIFECYCLE}


def queue_name(consumer: str, event_type: type[Event]) -> str:
    """e.g. tracking.demand.resolved"""
    return f"{consumer}.{event_type.routing_key}"


def dead_letter_queue_name(queue: str) -> str:
    return f"{queue}.dlq"
