"""Archive rules (domain.md §5.6): when a demand's record is complete and how it is sealed. Pure."""

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from shared.contracts import Archived, Overall

RETENTION_YEARS = 3  # a minimum (000 档案管理, 002 §9.3)


@dataclass(frozen=True)
class LoggedEvent:
    event_id: UUID
    routing_key: str
    occurred_at: datetime
    payload: dict


@dataclass(frozen=True)
class Dossier:
    demand_id: UUID
    station_id: str
    tracking_no: str
    archive_no: str
    sealed_at: datetime
    retain_until: date
    content: dict
    content_sha256: str


def ready_to_seal(events: list[LoggedEvent]) -> bool:
    """Complete once the latest round is resolved and rated other than 不满意.

    Events come on separate queues in any order, so this is asked after each one.
    A dissatisfied rating keeps the case open for verification and re-handling.
    """
    kinds = {e.routing_key for e in events}
    if not {"demand.submitted", "demand.resolved", "demand.rated"} <= kinds:
        return False
    last_resolved = max(e.payload["round"] for e in events if e.routing_key == "demand.resolved")
    ratings = [e for e in events if e.routing_key == "demand.rated" and e.payload["round"] == last_resolved]
    return any(r.payload["answers"]["overall"] != Overall.dissatisfied for r in ratings)


def archive_no(year: int, serial: int) -> str:
    return f"A{year:04d}-{serial:06d}"


def seal(events: list[LoggedEvent], *, serial: int, sealed_at: datetime) -> Dossier:
    ordered = sorted(events, key=lambda e: (e.occurred_at, str(e.event_id)))
    submitted = next(e.payload for e in ordered if e.routing_key == "demand.submitted")
    content = {
        "demand": submitted,
        "assignments": [e.payload for e in ordered if e.routing_key == "demand.assigned"],
        "resolutions": [e.payload for e in ordered if e.routing_key == "demand.resolved"],
        "ratings": [e.payload for e in ordered if e.routing_key == "demand.rated"],
        "events": [{"event_id": str(e.event_id), "type": e.routing_key} for e in ordered],
    }
    canonical = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return Dossier(
        demand_id=UUID(submitted["demand_id"]),
        station_id=submitted["station_id"],
        tracking_no=submitted["tracking_no"],
        archive_no=archive_no(sealed_at.year, serial),
        sealed_at=sealed_at,
        retain_until=_add_years(sealed_at.date(), RETENTION_YEARS),
        content=content,
        content_sha256=hashlib.sha256(canonical.encode()).hexdigest(),
    )


def archived_event(d: Dossier) -> Archived:
    demand = d.content["demand"]
    return Archived(
        correlation_id=UUID(demand["correlation_id"]),
        station_id=d.station_id,
        demand_id=d.demand_id,
        tracking_no=d.tracking_no,
        archive_no=d.archive_no,
        sealed_at=d.sealed_at,
        content_sha256=d.content_sha256,
        event_count=len(d.content["events"]),
    )


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)
