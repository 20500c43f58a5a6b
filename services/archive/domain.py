"""Archive rules (domain.md §5.6): when a demand's record is complete, how it is sealed, what a sealed record lacks.

A dossier is sealed once, never altered (004 §6.6). So it is sealed only when the history is
provably complete, judged from what the events themselves say, whatever order they came in on
their separate queues. A demand ends in one of two ways.

Resolved and rated:
- the latest round is resolved and rated other than 不满意 (a 不满意 rating keeps the case open
  for verification and re-handling);
- a rating names the resolution it rates (`causation_id`): that resolution must be here;
- a resolution names the assignment it answers (`assignment_no`); assignment numbers are
  consecutive per demand, so assignments 1..n must all be here (an older resolution without the
  number needs at least assignment 1, and no gap among those seen).

Closed without resolution, refused (否定备案), merged (并单) or withdrawn (撤回):
- the closing event says how many assignments were made before it (`assignment_count`), so the
  submission, the closing and assignments 1..assignment_count must all be here (and no gap among
  those seen). When a demand has a closing it ends by its closing (of two, the earlier), whatever
  else arrived: a closing is terminal.

Returns (退单) and corrections (更正登记) are part of the record, in their own sections, but no
other event proves that one exists: a head may rematch without a return (改派 on their own
initiative) and a form need never be corrected. So they do not hold the seal back; one that arrives
after sealing (only when its queue lagged behind the whole rest of the demand's life) is logged,
listed by the audit and attached by its supplement like any late event.

The following of a case (服务跟进: follow-ups, pauses and resumptions, extensions, warnings, chases,
督办 and their answers) is kept the same way, one section per kind: nothing proves how many there
were, so sealing never waits for them.

`missing()` says what is still lacking (for logs and the audit); `ready_to_seal()` is its emptiness.
A record sealed short under an older rule, or an event that came after sealing, is found by
`audit()` and attached by an append-only supplement (`supplement()`), never by changing the
sealed dossier. Pure: no I/O.
"""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import cast
from uuid import UUID

from shared.calendar import CHINA
from shared.contracts import (
    EVENT_TYPES,
    Archived,
    Assigned,
    AssignmentReturned,
    CaseChased,
    CasePaused,
    CaseResumed,
    CaseSupervised,
    Closing,
    DeadlineWarned,
    DemandCorrected,
    DemandMerged,
    DemandRefused,
    DemandSubmitted,
    DemandWithdrawn,
    Event,
    ExtensionDecided,
    ExtensionRequested,
    FollowUpRecorded,
    Overall,
    Rated,
    Resolved,
    SupervisionAnswered,
)

RETENTION_YEARS = 3  # a minimum (000 档案管理, 002 §9.3)

SUBMITTED = DemandSubmitted.routing_key
CORRECTED = DemandCorrected.routing_key
ASSIGNED = Assigned.routing_key
RETURNED = AssignmentReturned.routing_key
RESOLVED = Resolved.routing_key
RATED = Rated.routing_key
REFUSED = DemandRefused.routing_key
MERGED = DemandMerged.routing_key
WITHDRAWN = DemandWithdrawn.routing_key
# How a demand ends without being resolved (the dossier names it by the closing's own kind and label).
CLOSINGS = (REFUSED, MERGED, WITHDRAWN)
RESOLVED_LABEL = "办结"
# The dossier's sections, by the kind of event they hold ("demand" holds the one submission).
SECTIONS = {
    SUBMITTED: "demand",
    CORRECTED: "corrections",
    ASSIGNED: "assignments",
    RETURNED: "returns",
    RESOLVED: "resolutions",
    RATED: "ratings",
    REFUSED: "refusals",
    MERGED: "merges",
    WITHDRAWN: "withdrawals",
    # 服务跟进 (domain.md §5.3): in the record, never awaited by the sealing rule.
    FollowUpRecorded.routing_key: "follow_ups",
    CasePaused.routing_key: "pauses",
    CaseResumed.routing_key: "resumptions",
    ExtensionRequested.routing_key: "extension_requests",
    ExtensionDecided.routing_key: "extension_decisions",
    DeadlineWarned.routing_key: "warnings",
    CaseChased.routing_key: "chases",
    CaseSupervised.routing_key: "supervisions",
    SupervisionAnswered.routing_key: "supervision_answers",
}


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
    outcome: str | None = None  # resolved / refused / merged / withdrawn


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


def closing(events: Iterable[LoggedEvent]) -> LoggedEvent | None:
    """The event that closed the demand without resolution (of two, the earlier: Closing.precedes), or None."""
    earliest: tuple[LoggedEvent, Closing] | None = None
    for e in events:
        if e.routing_key in CLOSINGS:
            event = cast(Closing, _parsed(e))
            if earliest is None or event.precedes(earliest[1].closed_at, earliest[1].event_id):
                earliest = (e, event)
    return earliest[0] if earliest else None


def _assignment_gaps(assignments: list[LoggedEvent], named: set[int]) -> list[str]:
    """Assignments are numbered 1, 2, … per demand: every number up to the highest seen or named must be here."""
    seen = {e.payload["assignment_no"] for e in assignments}
    return [f"{ASSIGNED} #{n}" for n in range(1, max(seen | named, default=0) + 1) if n not in seen]


def missing(events: Iterable[LoggedEvent]) -> list[str]:
    """What the demand's record still lacks before it may be sealed; empty when it is provably complete."""
    events = list(events)
    of = {kind: [e for e in events if e.routing_key == kind] for kind in SECTIONS}
    ids = {e.event_id for e in events}
    gaps: list[str] = []
    if not of[SUBMITTED]:
        gaps.append(SUBMITTED)

    if (closed := closing(events)) is not None:
        gaps.extend(_assignment_gaps(of[ASSIGNED], {closed.payload.get("assignment_count") or 0}))
        return gaps

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

    named = {e.payload.get("assignment_no") or 1 for e in of[RESOLVED]}  # an older resolution: at least one
    gaps.extend(_assignment_gaps(of[ASSIGNED], named))
    return gaps


def ready_to_seal(events: list[LoggedEvent]) -> bool:
    """Asked after each event: the record is sealed by the event that completes it, whichever that is.

    Complete means resolved and rated (other than 不满意) with the resolution and assignments that rating
    implies, or closed (refused, merged, withdrawn) with the submission and the assignments its closing counts.
    """
    return not missing(events)


def closing_rating(events: Iterable[LoggedEvent]) -> Rated:
    """The rating that lets the case go to the archive: of the latest round, other than 不满意."""
    events = list(events)
    latest = max(e.round for e in events if e.routing_key in (ASSIGNED, RESOLVED, RATED))
    candidates = sorted(
        (
            e
            for e in events
            if e.routing_key == RATED and e.round == latest and e.payload["answers"]["overall"] != Overall.dissatisfied
        ),
        key=lambda e: (e.occurred_at, str(e.event_id)),
    )
    if not candidates:
        raise ValueError("the record has no closing rating")
    return Rated.model_validate(candidates[0].payload)


def _parsed(e: LoggedEvent) -> Event:
    return EVENT_TYPES[e.routing_key].model_validate(e.payload)


def ending(events: Iterable[LoggedEvent]) -> Event:
    """The event that ended the demand, which Archived answers: its closing, or else its closing rating."""
    events = list(events)
    closed = closing(events)
    return _parsed(closed) if closed is not None else closing_rating(events)


def outcome(events: Iterable[LoggedEvent]) -> dict | None:
    """How the demand ended, for people reading the dossier: resolved, refused, merged or withdrawn.

    None only for a record that has not ended (never sealed so; an older rule's short seal, say).
    """
    events = list(events)
    closed = closing(events)
    if closed is not None:
        return {**cast(Closing, _parsed(closed)).detail(), "event_id": str(closed.event_id)}
    try:
        rating = closing_rating(events)
    except ValueError:
        return None
    resolutions = [e for e in _ordered(events) if e.routing_key == RESOLVED]
    # The resolution the rating names, or (an older rating naming none) the round's first.
    answered = [e for e in resolutions if e.event_id == rating.causation_id] or [
        e for e in resolutions if e.round == rating.round
    ]
    result = {"kind": "resolved", "label": RESOLVED_LABEL, "event_id": str(rating.event_id)}
    result["overall"] = rating.answers.overall.value
    if answered:
        resolution = answered[0].payload
        result |= {k: resolution[k] for k in ("outcome", "summary", "resolved_by", "resolved_at")}
    return result


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
    content = {"demand": submitted}
    for kind, section in SECTIONS.items():
        if kind != SUBMITTED:
            content[section] = [e.payload for e in ordered if e.routing_key == kind]
    content["outcome"] = outcome(ordered)
    content["events"] = [{"event_id": str(e.event_id), "type": e.routing_key} for e in ordered]
    return Dossier(
        demand_id=UUID(submitted["demand_id"]),
        station_id=submitted["station_id"],
        tracking_no=submitted["tracking_no"],
        archive_no=archive_no(sealed_at.astimezone(CHINA).year, serial),  # China's year and date, as the serial's
        sealed_at=sealed_at,
        retain_until=_add_years(sealed_at.astimezone(CHINA).date(), RETENTION_YEARS),
        content=content,
        content_sha256=_sha256(content),
        outcome=content["outcome"]["kind"] if content["outcome"] else None,
    )


def archived_event(d: Dossier, closed_by: Event) -> Archived:
    """Archived, caused by what ended the case: the closing rating, or the refusal, merge or withdrawal."""
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
