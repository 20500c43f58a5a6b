"""Archive rules (domain.md §5.6): when a demand's record is complete, how it is sealed, what a sealed record lacks.

A dossier is sealed once, never altered (004 §6.6). So it is sealed only when the history is
provably complete, judged from what the events themselves say, whatever order they came in on
their separate queues:

- the latest round is resolved and rated other than 不满意 (a 不满意 rating keeps the case open
  for verification and re-handling);
- a rating names the resolution it rates (`causation_id`): that resolution must be here;
- a resolution names the assignment it answers (`assignment_no`); assignment numbers are
  consecutive per demand, so assignments 1..n must all be here (an older resolution without the
  number needs at least assignment 1, and no gap among those seen).

`missing()` says what is still lacking (for logs and the audit); `ready_to_seal()` is its emptiness.
A record sealed short under the old rule is found by `audit()` and completed by an append-only
supplement (`supplement()`), never by changing the sealed dossier. Pure: no I/O.
"""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from shared.calendar import CHINA
from shared.contracts import Archived, Overall, Rated

RETENTION_YEARS = 3  # a minimum (000 档案管理, 002 §9.3)

SUBMITTED = "demand.submitted"
ASSIGNED = "demand.assigned"
RESOLVED = "demand.resolved"
RATED = "demand.rated"
# The dossier's sections, by the kind of event they hold.
SECTIONS = {SUBMITTED: "demand", ASSIGNED: "assignments", RESOLVED: "resolutions", RATED: "ratings"}


@dataclass(frozen=True)
class LoggedEvent:
    event_id: UUID
    routing_key: str
    occurred_at: datetime
    payload: dict

    @property
    def round(self) -> int:
        return self.payload.get("round") or 1

    @property
    def causation_id(self) -> UUID | None:
        cause = self.payload.get("causation_id")
        return UUID(cause) if cause else None


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


@dataclass(frozen=True)
class Supplement:
    """Events a sealed dossier lacked, attached afterwards with their own hash; never altered either."""

    demand_id: UUID
    station_id: str
    supplement_no: int
    added_at: datetime
    content: dict
    content_sha256: str


@dataclass(frozen=True)
class Finding:
    """A sealed dossier that is not the whole story.

    `lacking`: what the dossier and its supplements lack by the sealing rule; `unattached`: events
    of the demand the archive logged that neither holds (e.g. an assignment that came after sealing).
    """

    dossier: Dossier
    lacking: list[str]
    unattached: list[LoggedEvent]


def missing(events: Iterable[LoggedEvent]) -> list[str]:
    """What the demand's record still lacks before it may be sealed; empty when it is provably complete."""
    events = list(events)
    of = {kind: [e for e in events if e.routing_key == kind] for kind in SECTIONS}
    ids = {e.event_id for e in events}
    gaps: list[str] = []
    if not of[SUBMITTED]:
        gaps.append(SUBMITTED)

    latest = max((e.round for kind in (ASSIGNED, RESOLVED, RATED) for e in of[kind]), default=1)
    resolutions = [e for e in of[RESOLVED] if e.round == latest]
    ratings = [e for e in of[RATED] if e.round == latest]
    if not resolutions:
        gaps.append(f"{RESOLVED} round {latest}")
    if not ratings:
        gaps.append(f"{RATED} round {latest}")
    elif all(r.payload["answers"]["overall"] == Overall.dissatisfied for r in ratings):
        gaps.append(f"round {latest} rated 不满意: awaiting verification and re-handling")
    for rating in ratings:
        if rating.causation_id is not None and rating.causation_id not in ids:
            gaps.append(f"event {rating.causation_id} that rating {rating.event_id} answers")

    seen = {e.payload["assignment_no"] for e in of[ASSIGNED]}
    named = {e.payload.get("assignment_no") or 1 for e in of[RESOLVED]}  # an older resolution: at least one
    if of[RESOLVED] or seen:
        gaps.extend(f"{ASSIGNED} #{n}" for n in range(1, max(seen | named) + 1) if n not in seen)
    return gaps


def ready_to_seal(events: list[LoggedEvent]) -> bool:
    """Asked after each event: the record is sealed by the event that completes it, whichever that is."""
    return not missing(events)


def closing_rating(events: Iterable[LoggedEvent]) -> Rated:
    """The rating that lets the case go to the archive: of the latest round, other than 不满意."""
    events = list(events)
    latest = max(e.round for e in events if e.routing_key in (ASSIGNED, RESOLVED, RATED))
    closing = sorted(
        (
            e
            for e in events
            if e.routing_key == RATED and e.round == latest and e.payload["answers"]["overall"] != Overall.dissatisfied
        ),
        key=lambda e: (e.occurred_at, str(e.event_id)),
    )
    if not closing:
        raise ValueError("the record has no closing rating")
    return Rated.model_validate(closing[0].payload)


def archive_no(year: int, serial: int) -> str:
    return f"A{year:04d}-{serial:06d}"


def _ordered(events: Iterable[LoggedEvent]) -> list[LoggedEvent]:
    return sorted(events, key=lambda e: (e.occurred_at, str(e.event_id)))


def _sha256(content: dict) -> str:
    canonical = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def seal(events: list[LoggedEvent], *, serial: int, sealed_at: datetime) -> Dossier:
    ordered = _ordered(events)
    submitted = next(e.payload for e in ordered if e.routing_key == SUBMITTED)
    content = {
        "demand": submitted,
        "assignments": [e.payload for e in ordered if e.routing_key == ASSIGNED],
        "resolutions": [e.payload for e in ordered if e.routing_key == RESOLVED],
        "ratings": [e.payload for e in ordered if e.routing_key == RATED],
        "events": [{"event_id": str(e.event_id), "type": e.routing_key} for e in ordered],
    }
    return Dossier(
        demand_id=UUID(submitted["demand_id"]),
        station_id=submitted["station_id"],
        tracking_no=submitted["tracking_no"],
        archive_no=archive_no(sealed_at.astimezone(CHINA).year, serial),  # China's year and date, as the serial's
        sealed_at=sealed_at,
        retain_until=_add_years(sealed_at.astimezone(CHINA).date(), RETENTION_YEARS),
        content=content,
        content_sha256=_sha256(content),
    )


def archived_event(d: Dossier, closed_by: Rated) -> Archived:
    """Archived, caused by the rating that closed the case."""
    return closed_by.caused(
        Archived,
        archive_no=d.archive_no,
        sealed_at=d.sealed_at,
        content_sha256=d.content_sha256,
        event_count=len(d.content["events"]),
    )


# --------------------------------------------------------------------------- dossiers sealed short


def _logged(entry: dict, routing_key: str) -> LoggedEvent:
    return LoggedEvent(
        event_id=UUID(entry["event_id"]),
        routing_key=routing_key,
        occurred_at=datetime.fromisoformat(entry["occurred_at"]),
        payload=entry,
    )


def recorded(d: Dossier, supplements: Iterable[Supplement] = ()) -> list[LoggedEvent]:
    """The events a sealed dossier and its supplements hold, as they were logged."""
    c = d.content
    events = [_logged(c["demand"], SUBMITTED)]
    for kind, section in SECTIONS.items():
        if kind != SUBMITTED:
            events.extend(_logged(p, kind) for p in c.get(section, []))
    for s in supplements:
        events.extend(_logged(e["payload"], e["type"]) for e in s.content["events"])
    return events


def audit(d: Dossier, supplements: list[Supplement], logged: list[LoggedEvent]) -> Finding | None:
    """None when the dossier (with its supplements) is complete by the sealing rule and holds every logged event."""
    held = recorded(d, supplements)
    ids = {e.event_id for e in held}
    unattached = _ordered(e for e in logged if e.event_id not in ids)
    lacking = missing(held)
    if not lacking and not unattached:
        return None
    return Finding(dossier=d, lacking=lacking, unattached=unattached)


def supplement(finding: Finding, previous: list[Supplement], *, added_at: datetime) -> Supplement:
    """Attach the unattached events, chained to the dossier's hash and the previous supplement's."""
    if not finding.unattached:
        raise ValueError("nothing to attach")
    d = finding.dossier
    content = {
        "dossier_sha256": d.content_sha256,
        "previous_sha256": previous[-1].content_sha256 if previous else None,
        "lacked": finding.lacking,
        "events": [
            {"event_id": str(e.event_id), "type": e.routing_key, "payload": e.payload} for e in finding.unattached
        ],
    }
    return Supplement(
        demand_id=d.demand_id,
        station_id=d.station_id,
        supplement_no=len(previous) + 1,
        added_at=added_at,
        content=content,
        content_sha256=_sha256(content),
    )


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)
