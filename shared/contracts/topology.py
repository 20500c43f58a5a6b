"""RabbitMQ names: one topic exchange, one quorum queue per consumer and event, one DLQ each."""

from .aftercare import AFTERCARE
from .envelope import Envelope, Event
from .events import (
    Archived,
    Assigned,
    AssignmentReturned,
    CalendarCorrected,
    DemandCorrected,
    DemandMerged,
    DemandRefused,
    DemandSubmitted,
    DemandWithdrawn,
    Rated,
    RatingLinkIssued,
    Resolved,
    StationRegistered,
)
from .following import FOLLOWING
from .rehandling import REHANDLING
from .stationwork import STATION_WORK

# The five services; each name is also the consumer part of its queues' names.
SERVICES: tuple[str, ...] = ("intake", "dispatch", "tracking", "evaluation", "archive")

EXCHANGE = "demand.events"
DEAD_LETTER_EXCHANGE = "demand.dead-letter"

LIFECYCLE: tuple[type[Event], ...] = (DemandSubmitted, Assigned, Resolved, Rated, Archived)
# Around the lifecycle: the form corrected before dispatch, an assignment given back, and the three
# ways a demand ends without being resolved (refused, merged, withdrawn).
DISPOSITIONS: tuple[type[Event], ...] = (
    DemandCorrected,
    AssignmentReturned,
    DemandRefused,
    DemandMerged,
    DemandWithdrawn,
)
# Beside the lifecycle: the rating link evaluation makes for the enterprise's status page.
RATING_LINKS: tuple[type[Event], ...] = (RatingLinkIssued,)
CLOSINGS: tuple[type[Event], ...] = (DemandRefused, DemandMerged, DemandWithdrawn)
REFERENCE: tuple[type[Envelope], ...] = (StationRegistered, CalendarCorrected)
# FOLLOWING (shared.contracts.following): what tracking publishes while a case is followed; REHANDLING
# (shared.contracts.rehandling): verification, re-handling and appeal after a 不满意 rating; AFTERCARE
# (shared.contracts.aftercare): the re-visit and complaints; STATION_WORK (shared.contracts.stationwork): visits and
# special tasks, a station's work that is not one demand's.
EVENT_TYPES: dict[str, type[Envelope]] = {
    e.routing_key: e
    for e in (*LIFECYCLE, *DISPOSITIONS, *RATING_LINKS, *FOLLOWING, *REHANDLING, *AFTERCARE, *STATION_WORK, *REFERENCE)
}


def queue_name(consumer: str, event_type: type[Envelope]) -> str:
    """e.g. tracking.demand.resolved"""
    return f"{consumer}.{event_type.routing_key}"


def dead_letter_queue_name(queue: str) -> str:
    return f"{queue}.dlq"
