"""Archive rules (domain.md §5.6): when a demand's record is complete, how it is sealed, what a sealed record lacks.

A dossier is sealed once, never altered (004 §6.6). So it is sealed only when the history is
provably complete, judged from what the events themselves say, whatever order they came in on
their separate queues. A demand ends in one of two ways.

Resolved and rated, round by round (004 §6.5.2; domain.md §5.5): a 不满意 rating is verified
(核实); founded, the demand is re-handled as the next round, assigned, resolved and rated again,
and the rating of the final round (FINAL_ROUND) is final whatever it says. So the record is
complete only when its latest round is:
- resolved and rated other than 不满意; or rated 不满意 and either the round is final, or its
  verification found the complaint unfounded or the enterprise unreachable, or the rating was
  voided on appeal (申诉复核: nothing to re-handle);
- a founded verification of round r opens round r + 1 (even before its reopening arrives), so the
  latest round is then r + 1, which waits for its own reopening, assignment, resolution and rating.
  Every earlier round must show how it led on: resolved, rated, verified founded, reopened;
- the events name what they answer, and what they name must be here: a rating the resolution it
  rates (`causation_id`), a verification or void the rating (`rated_event_id`), a reopening the
  verification (`verification_id`);
- assignment numbers run on across rounds, 1, 2, … per demand: a resolution names the assignment
  it answers (`assignment_no`) and a reopening how many came before it (`assignment_count`), so
  assignments 1..n must all be here (an older resolution without the number needs at least the
  first assignment of its round, and no gap among those seen).
A founded verification and a void of the same rating: the founded one wins (the case was
re-handled; voiding only takes the rating out of the figures). Seen the other way round (a void
sealed the dossier, a founded verification came later), the late events are supplemented; tracking
should refuse to verify a voided rating, so this should not happen.

Closed without resolution, refused (否定备案), merged (并单) or withdrawn (撤回):
- the closing event says how many assignments were made before it (`assignment_count`), so the
  submission, the closing and assignments 1..assignment_count must all be here (and no gap among
  those seen). When a demand has a closing it ends by its closing (of two, the earlier), whatever
  else arrived: a closing is terminal;
- a closing during a re-handling says its round (`round` 2): the earlier round must show how it led
  on, as above, and what any event names must be here.

Returns (退单) and corrections (更正登记) are part of the record, in their own sections, but no
other event proves that one exists: a head may rematch without a return (改派 on their own
initiative) and a form need never be corrected. So they do not hold the seal back; one that arrives
after sealing (only when its queue lagged behind the whole rest of the demand's life) is logged,
listed by the audit and attached by its supplement like any late event.

The following of a case (服务跟进: follow-ups, pauses and resumptions, extensions, warnings, chases,
督办 and their answers) is kept the same way, one section per kind: nothing proves how many there
were, so sealing never waits for them. So is what happens around a resolved demand: its re-visits
(回访, RevisitRecorded, tracking's) and the stages of complaints tied to it (投诉, ComplaintUpdated,
intake's; a complaint about no demand has no dossier and is not kept here). Both mostly come after
the rating, hence after sealing: logged, and attached by a supplement like any late event.

`missing()` says what is still lacking (for logs and the audit); `ready_to_seal()` is its emptiness.
A record sealed short under an older rule, or an event that came after sealing, is found by
`audit()` and attached by an append-only supplement (`supplement()`), never by changing the
sealed dossier. Pure: no I/O.
"""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import cast
from uuid import UUID

from shared.calendar import CHINA
from shared.contracts import (
    EVENT_TYPES,
    FINAL_ROUND,
    Archived,
    Assigned,
    AssignmentReturned,
    CaseChased,
    CasePaused,
    CaseResumed,
    CaseSupervised,
    Closing,
    ComplaintUpdated,
    DeadlineWarned,
    DemandCorrected,
    DemandMerged,
    DemandRefused,
    DemandReopened,
    DemandSubmitted,
    DemandWithdrawn,
    Event,
    ExtensionDecided,
    ExtensionRequested,
    FollowUpRecorded,
    Overall,
    Rated,
    RatingVerified,
    RatingVoided,
    Resolved,
    RevisitRecorded,
    SupervisionAnswered,
)
from shared.contracts import Finding as Verdict
from shared.errors import Invalid, InvalidTransition

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
VERIFIED = RatingVerified.routing_key
REOPENED = DemandReopened.routing_key
VOIDED = RatingVoided.routing_key
# The kinds of event that say which round of handling they belong to (the sealing rule goes by them).
ROUNDED = (ASSIGNED, RETURNED, RESOLVED, RATED, VERIFIED, REOPENED, VOIDED)
# A verification that lets the demand go to the archive without re-handling.
CONCLUSIVE = (Verdict.unfounded.value, Verdict.unreachable.value)
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
    # After a 不满意 rating (domain.md §5.5): 核实, 重办, 申诉复核; awaited as the sealing rule says.
    VERIFIED: "verifications",
    REOPENED: "reopenings",
    VOIDED: "voids",
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
    # Around a resolved demand (issue 10): 回访 and 投诉, never awaited by the sealing rule either.
    RevisitRecorded.routing_key: "revisits",
    ComplaintUpdated.routing_key: "complaints",
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
    content: dict | None  # None once disposed of (销毁) after retention; the hashes stay
    content_sha256: str
    outcome: str | None = None  # resolved / refused / merged / withdrawn
    # Set by the database when the dossier is inserted (the chain per station, migration 0005).
    chain_no: int | None = None
    previous_sha256: str | None = None
    chain_sha256: str | None = None
    disposed_at: datetime | None = None
    disposal_id: UUID | None = None

    def sealed_enterprise(self) -> dict[str, str | None]:
        """The enterprise as the demand's submission sealed it (content.demand.enterprise: name and credit code); none
        once the content was disposed of. The catalogue's search matches the same two paths, kept by the database in
        the columns enterprise_name and credit_code (migration 0008)."""
        demand = (self.content or {}).get("demand")
        enterprise = demand.get("enterprise") if isinstance(demand, dict) else None
        found = enterprise if isinstance(enterprise, dict) else {}
        name, code = found.get("name"), found.get("credit_code")
        return {
            "enterprise_name": name if isinstance(name, str) else None,
            "credit_code": code if isinstance(code, str) else None,
        }


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


def _founded(e: LoggedEvent) -> bool:
    """A verification that sends the demand back into handling: founded, of a round before the final one."""
    return e.routing_key == VERIFIED and e.payload["finding"] == Verdict.founded and e.round < FINAL_ROUND


def _dissatisfied(e: LoggedEvent) -> bool:
    return e.payload["answers"]["overall"] == Overall.dissatisfied


# Events that name the one they answer: by which field, and what the audit calls them.
_ANSWERS = {RATED: "causation_id", VERIFIED: "rated_event_id", VOIDED: "rated_event_id", REOPENED: "verification_id"}
_NAMES = {RATED: "rating", VERIFIED: "verification", VOIDED: "void", REOPENED: "reopening"}


def _named(e: LoggedEvent) -> UUID | None:
    """The event this one says it answers, which must then be in the record too."""
    value = e.payload.get(_ANSWERS[e.routing_key]) if e.routing_key in _ANSWERS else None
    return UUID(value) if value else None


def current_round(events: Iterable[LoggedEvent]) -> int:
    """The round the demand is in: the highest any event names; a founded verification of round r opens r + 1
    (its reopening, published with it, may still be on its way)."""
    events = list(events)
    rounds = [e.round for e in events if e.routing_key in ROUNDED]
    rounds += [e.round + 1 for e in events if _founded(e)]
    return max(rounds, default=1)


def _of_round(events: Iterable[LoggedEvent], kind: str, round_: int) -> list[LoggedEvent]:
    return _ordered(e for e in events if e.routing_key == kind and e.round == round_)


def _conclusion(events: list[LoggedEvent], round_: int) -> tuple[LoggedEvent, LoggedEvent] | None:
    """(the rating, the event that concluded the round with it), or None while the round is not concluded.

    A rating other than 不满意 concludes its round; a 不满意 one, when the round is final (the rating
    itself), or when it was voided or verified unfounded or unreachable (the void or verification). Of
    several, the earliest.
    """
    ratings = _of_round(events, RATED, round_)
    if not ratings:
        return None
    if settled := [r for r in ratings if not _dissatisfied(r)]:
        return settled[0], settled[0]
    if round_ >= FINAL_ROUND:
        return ratings[0], ratings[0]
    by_id = {r.event_id: r for r in ratings}
    closers = [
        e
        for e in _ordered(events)
        if e.round == round_
        and _named(e) in by_id
        and (e.routing_key == VOIDED or (e.routing_key == VERIFIED and e.payload["finding"] in CONCLUSIVE))
    ]
    return (by_id[cast(UUID, _named(closers[0]))], closers[0]) if closers else None


def _earlier_round_gaps(events: list[LoggedEvent], round_: int, before: dict[int, int]) -> list[str]:
    """A round before the current one must show how it led to the next: resolved, rated, verified founded, reopened.

    Notes in `before` how many assignments the next round's reopening says were made before it.
    """
    gaps = []
    if not _of_round(events, RESOLVED, round_):
        gaps.append(f"{RESOLVED} round {round_}")
    if not _of_round(events, RATED, round_):
        gaps.append(f"{RATED} round {round_}")
    reopenings = _of_round(events, REOPENED, round_ + 1)
    if not reopenings:
        gaps.append(f"{REOPENED} round {round_ + 1}")
        if not any(_founded(e) for e in _of_round(events, VERIFIED, round_)):
            gaps.append(f"{VERIFIED} round {round_} (founded)")
    else:
        before[round_ + 1] = reopenings[0].payload["assignment_count"]
    return gaps


def missing(events: Iterable[LoggedEvent]) -> list[str]:
    """What the demand's record still lacks before it may be sealed; empty when it is provably complete."""
    events = list(events)
    ids = {e.event_id for e in events}
    gaps: list[str] = []
    if not any(e.routing_key == SUBMITTED for e in events):
        gaps.append(SUBMITTED)

    # Assignments made before each round began (a reopening says), so before round 1: none.
    before: dict[int, int] = {1: 0}
    closed = closing(events)
    latest = closed.round if closed is not None else current_round(events)
    for earlier in range(1, latest):
        gaps.extend(_earlier_round_gaps(events, earlier, before))
    named = set(before.values())

    if closed is not None:  # a closing is terminal: it counts the assignments made before it
        named.add(closed.payload.get("assignment_count") or 0)
    else:
        resolutions = _of_round(events, RESOLVED, latest)
        if not resolutions:
            gaps.append(f"{RESOLVED} round {latest}")
        if not _of_round(events, RATED, latest):
            gaps.append(f"{RATED} round {latest}")
        elif _conclusion(events, latest) is None:
            gaps.append(f"round {latest} rated 不满意: awaiting its verification (核实) or appeal (申诉复核)")
        # A resolution names the assignment it answers; an older one without the number, its round's first.
        named |= {
            e.payload.get("assignment_no") or before.get(e.round, 0) + 1 for e in events if e.routing_key == RESOLVED
        }

    for e in _ordered(events):
        if (answered := _named(e)) is not None and answered not in ids:
            gaps.append(f"event {answered} that {_NAMES[e.routing_key]} {e.event_id} answers")

    gaps.extend(_assignment_gaps([e for e in events if e.routing_key == ASSIGNED], named))
    return gaps


# The kinds of event `missing()` reads. What any of them names (a rating its resolution, a verification or void its
# rating, a reopening its verification) is of these kinds too.
DECISIVE = frozenset((SUBMITTED, *ROUNDED, *CLOSINGS))


def may_complete(routing_key: str) -> bool:
    """Whether an event of this kind can be the one that completes a record, so that the record must be judged again.

    Only the kinds the sealing rule reads can: any other (a correction, the following of a case, a re-visit, a
    complaint) leaves `missing()` as it was before it came, and that was not empty, or the event before would have
    sealed the dossier.
    """
    return routing_key in DECISIVE


def ready_to_seal(events: list[LoggedEvent]) -> bool:
    """Asked after each event: the record is sealed by the event that completes it, whichever that is.

    Complete means its latest round concluded (see the module's docstring) with the resolution, assignments and
    earlier rounds that implies, or closed (refused, merged, withdrawn) with the submission and the assignments its
    closing counts.
    """
    return not missing(events)


def _parsed(e: LoggedEvent) -> Event:
    return EVENT_TYPES[e.routing_key].model_validate(e.payload)


def closing_rating(events: Iterable[LoggedEvent]) -> Rated:
    """The rating the latest round concluded with (Archived answers `ending`: it, or the verification or void of a
    不满意 one)."""
    events = list(events)
    concluded = _conclusion(events, current_round(events))
    if concluded is None:
        raise ValueError("the record has no closing rating")
    return cast(Rated, _parsed(concluded[0]))


def ending(events: Iterable[LoggedEvent]) -> Event:
    """The event that ended the demand, which Archived answers: its closing, or else what concluded its latest round
    (the rating, or the verification or void of a 不满意 one)."""
    events = list(events)
    closed = closing(events)
    if closed is not None:
        return _parsed(closed)
    concluded = _conclusion(events, current_round(events))
    if concluded is None:
        raise ValueError("the record has not ended")
    return _parsed(concluded[1])


# What the outcome repeats of the resolution a rating names: the result, the completion summary (服务小结), and
# (issue 11) the fee charged, the reports or data delivered by reference and the people who served.
_RESOLUTION_FIELDS = (
    "outcome",
    "summary",
    "resolved_by",
    "resolved_at",
    "assignment_no",
    "fee",
    "deliverables",
    "staff_involved",
)
_VERIFICATION_FIELDS = ("finding", "reason", "evidence", "verified_by", "verified_at")
_VOID_FIELDS = ("reason", "voided_by", "voided_at")


def outcome(events: Iterable[LoggedEvent]) -> dict | None:
    """How the demand ended, for people reading the dossier: resolved, refused, merged or withdrawn.

    Resolved: in which round (2 after a re-handling), the rating and the resolution it rates, and for a 不满意 rating
    that did not lead to re-handling, the verification or the void that let it go to the archive.
    None only for a record that has not ended (never sealed so; an older rule's short seal, say).
    """
    events = _ordered(events)
    closed = closing(events)
    if closed is not None:
        return {**cast(Closing, _parsed(closed)).detail(), "event_id": str(closed.event_id)}
    latest = current_round(events)
    concluded = _conclusion(events, latest)
    if concluded is None:
        return None
    rating, by = concluded
    resolutions = [e for e in events if e.routing_key == RESOLVED]
    # The resolution the rating names, or (an older rating naming none) the round's first.
    answered = [e for e in resolutions if e.event_id == rating.causation_id] or [
        e for e in resolutions if e.round == rating.round
    ]
    result = {
        "kind": "resolved",
        "label": RESOLVED_LABEL,
        "event_id": str(by.event_id),
        "round": latest,
        "rating_event_id": str(rating.event_id),
        "overall": rating.payload["answers"]["overall"],
    }
    if answered:
        resolution = answered[0].payload
        result |= {k: resolution.get(k) for k in _RESOLUTION_FIELDS}
    if by.routing_key == VERIFIED:
        finding = Verdict(by.payload["finding"])
        result["verification"] = {k: by.payload.get(k) for k in _VERIFICATION_FIELDS} | {"label": finding.label}
    elif by.routing_key == VOIDED:
        result["void"] = {k: by.payload.get(k) for k in _VOID_FIELDS}
    return result


def rounds(events: Iterable[LoggedEvent]) -> list[dict]:
    """The record read round by round: for each, the ids of its events in each section that keeps rounds."""
    events = _ordered(events)
    return [
        {"round": k} | {SECTIONS[kind]: [str(e.event_id) for e in _of_round(events, kind, k)] for kind in ROUNDED}
        for k in range(1, current_round(events) + 1)
    ]


def archive_no(year: int, serial: int) -> str:
    return f"A{year:04d}-{serial:06d}"


def _ordered(events: Iterable[LoggedEvent]) -> list[LoggedEvent]:
    return sorted(events, key=lambda e: (e.occurred_at, str(e.event_id)))


def _sha256(content: dict) -> str:
    canonical = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def seal(
    events: list[LoggedEvent], *, serial: int, sealed_at: datetime, retention_years: int = RETENTION_YEARS
) -> Dossier:
    """The sealed record: every event in its section, then what people read off them (the notice as issued, the
    outcome, the fees, deliverables and people, round by round), kept at least `retention_years` (never under 3)."""
    ordered = _ordered(events)
    submitted = next(e.payload for e in ordered if e.routing_key == SUBMITTED)
    content = {"demand": submitted}
    for kind, section in SECTIONS.items():
        if kind != SUBMITTED:
            content[section] = [e.payload for e in ordered if e.routing_key == kind]
    content["notice"] = notice(ordered)
    content["outcome"] = outcome(ordered)
    content["fees"] = fees(ordered)
    content["deliverables"] = deliverables(ordered)
    content["staff"] = staff(ordered)
    content["rounds"] = rounds(ordered)
    content["events"] = [{"event_id": str(e.event_id), "type": e.routing_key} for e in ordered]
    return Dossier(
        demand_id=UUID(submitted["demand_id"]),
        station_id=submitted["station_id"],
        tracking_no=submitted["tracking_no"],
        archive_no=archive_no(sealed_at.astimezone(CHINA).year, serial),  # China's year and date, as the serial's
        sealed_at=sealed_at,
        retain_until=retained_until(sealed_at, retention_years),
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


# --------------------------------------------------------------------------- what people read off the events
# The sealed record keeps every event as it came (its sections); these are read off them for people (and the
# exports), computed once at sealing so the record says the same thing forever.

NOTICE_NOT_IN_EVENTS = (
    "受理通知书中的固定文字（查询进度方式、投诉渠道）由受理服务的通知书模板给出，不随事件传递；"
    "档案保存通知书中的各项数据（跟踪单号、服务项目、尚需材料、承诺时限、预计办结日期、首问负责人）。"
    " / The notice's fixed wording (how to follow progress, how to complain) is intake's template and travels in no "
    "event; the record keeps every datum the notice printed."
)


def _materials(item: dict) -> dict:
    received = item.get("materials_received") or []
    return {
        "code": item.get("code"),
        "label": item.get("label"),
        "time_limit_days": item.get("time_limit_days"),
        "remarks": item.get("remarks"),
        "materials_received": received,
        "materials_needed": [m for m in item.get("materials") or [] if m not in received],
    }


def notice(events: Iterable[LoggedEvent]) -> dict | None:
    """The acceptance notice (受理通知书, 002 §7.3.2) as issued at submission, from what DemandSubmitted carries, and
    as re-issued after each correction before dispatch (更正登记 changes the items, limit or expected date)."""
    events = _ordered(events)
    submitted = next((e.payload for e in events if e.routing_key == SUBMITTED), None)
    if submitted is None:
        return None

    def issued(form: dict, **when) -> dict:
        return {
            **when,
            "items": [_materials(i) for i in form.get("items") or []],
            "categories": form.get("categories") or [],
            "time_limit_days": form.get("time_limit_days"),
            "expected_on": form.get("expected_on"),
        }

    return {
        "station_id": submitted["station_id"],
        "tracking_no": submitted["tracking_no"],
        "printed_tracking_no": f"{submitted['station_id'].rsplit('/', 1)[-1]}-{submitted['tracking_no']}",
        "enterprise": submitted.get("enterprise"),
        "contact": submitted.get("contact"),
        "first_responder": submitted.get("first_responder"),
        "channel": submitted.get("channel"),
        "green_channel": submitted.get("green_channel"),
        **issued(submitted, issued_at=submitted.get("submitted_at")),
        "reissued": [
            issued(e.payload, issued_at=e.payload.get("corrected_at"), reason=e.payload.get("reason"))
            for e in events
            if e.routing_key == CORRECTED
        ],
        "not_in_events": NOTICE_NOT_IN_EVENTS,
    }


def fees(events: Iterable[LoggedEvent]) -> list[dict]:
    """收费情况: the fee recorded with each resolution (one per round, as its result was submitted)."""
    return [
        {"round": e.round, "assignment_no": e.payload.get("assignment_no"), "resolution_event_id": str(e.event_id)}
        | e.payload["fee"]
        for e in _ordered(events)
        if e.routing_key == RESOLVED and e.payload.get("fee")
    ]


def deliverables(events: Iterable[LoggedEvent]) -> list[dict]:
    """Reports, certificates or data delivered, by reference (the archive keeps the reference, not the file)."""
    return [
        {"round": e.round, "resolution_event_id": str(e.event_id)} | item
        for e in _ordered(events)
        if e.routing_key == RESOLVED
        for item in e.payload.get("deliverables") or []
    ]


# Who served, and as what, read off the events: (event kind, field, role as people say it).
_STAFF_FIELDS = (
    (SUBMITTED, "first_responder", "首问负责人"),
    (CORRECTED, "corrected_by", "更正登记"),
    (ASSIGNED, "assigned_by", "派单"),
    (ASSIGNED, "assignee_name", "承办"),
    (RETURNED, "returned_by", "退单"),
    (RESOLVED, "resolved_by", "办结"),
    (FollowUpRecorded.routing_key, "recorded_by", "跟进记录"),
    (CasePaused.routing_key, "paused_by", "挂起"),
    (CaseResumed.routing_key, "resumed_by", "恢复计时"),
    (ExtensionRequested.routing_key, "requested_by", "延期申请"),
    (ExtensionDecided.routing_key, "decided_by", "延期审批"),
    (SupervisionAnswered.routing_key, "answered_by", "督办回复"),
    (VERIFIED, "verified_by", "核实"),
    (RevisitRecorded.routing_key, "recorded_by", "回访"),
    (REFUSED, "closed_by", "否定备案"),
    (MERGED, "closed_by", "并单"),
    (WITHDRAWN, "closed_by", "撤回"),
)


def staff(events: Iterable[LoggedEvent]) -> list[dict]:
    """The people and organizations involved (参与人员), each with what they did, in order of first appearance:
    from the events' own fields, the co-handlers (协办) of each assignment and the staff each resolution names."""
    found: dict[str, list[str]] = {}

    def add(name: object, role: str) -> None:
        if isinstance(name, str) and name and name != "system":
            roles = found.setdefault(name, [])
            if role not in roles:
                roles.append(role)

    for e in _ordered(events):
        for kind, field, role in _STAFF_FIELDS:
            if e.routing_key == kind:
                add(e.payload.get(field), role)
        if e.routing_key == ASSIGNED:
            for handler in e.payload.get("co_handlers") or []:
                add(handler.get("name"), "协办")
        if e.routing_key == RESOLVED:
            for name in e.payload.get("staff_involved") or []:
                add(name, "参与服务")
    return [{"name": name, "roles": roles} for name, roles in found.items()]


# --------------------------------------------------------------------------- retention (保管期限)

MAX_RETENTION_YEARS = 100


def retained_until(sealed_at: datetime, years: int = RETENTION_YEARS) -> date:
    """Kept through this China date: `years` (never under the three-year minimum) after the China day of sealing."""
    return _add_years(sealed_at.astimezone(CHINA).date(), max(years, RETENTION_YEARS))


def effective_retain_until(d: Dossier, station_years: int | None) -> date:
    """What a dossier is kept until now: the date it was sealed with, lengthened (never shortened) by the station's
    setting (the database's archive_retained_until says the same)."""
    if station_years is None:
        return d.retain_until
    return max(d.retain_until, retained_until(d.sealed_at, station_years))


def check_retention_years(years: int) -> int:
    if not RETENTION_YEARS <= years <= MAX_RETENTION_YEARS:
        raise Invalid(
            f"保管期限应为 {RETENTION_YEARS}–{MAX_RETENTION_YEARS} 年（不少于 {RETENTION_YEARS} 年）",
            f"the retention must be {RETENTION_YEARS} to {MAX_RETENTION_YEARS} years (never under {RETENTION_YEARS})",
            field="years",
        )
    return years


# --------------------------------------------------------------------------- searching the catalogue


@dataclass(frozen=True)
class DossierSearch:
    """GET /dossiers' search: `q` finds a tracking number by its start (as stored, 2026-000137, or as printed with
    the station's code, hunnan-01-2026-000137; digits only also by its serial's end, 000137 or 137), and the archive
    number, the enterprise's name or its credit code by any part (case ignored); the sealing time lies in
    [since, until). Empty: every dossier of the scope."""

    q: str | None = None
    sealed_from: date | None = None
    sealed_to: date | None = None

    @property
    def since(self) -> datetime | None:
        return datetime.combine(self.sealed_from, time(), CHINA) if self.sealed_from else None

    @property
    def until(self) -> datetime | None:
        return datetime.combine(self.sealed_to + timedelta(days=1), time(), CHINA) if self.sealed_to else None

    def detail(self) -> dict:
        """What the access log keeps of the search (only what was asked)."""
        asked = {"q": self.q, "sealed_from": self.sealed_from, "sealed_to": self.sealed_to}
        return {k: v if isinstance(v, str) else v.isoformat() for k, v in asked.items() if v is not None}


def dossier_search(q: str | None, sealed_from: date | None, sealed_to: date | None) -> DossierSearch:
    """Sealing dates are China dates, both included; refused (422 naming `sealed_to`) when the period runs backwards."""
    if sealed_from and sealed_to and sealed_to < sealed_from:
        raise Invalid(
            f"封存日期止 {sealed_to} 早于起 {sealed_from}，请检查期间",
            f"sealed_to ({sealed_to}) is before sealed_from ({sealed_from})",
            field="sealed_to",
        )
    return DossierSearch(q or None, sealed_from, sealed_to)


# --------------------------------------------------------------------------- the hash chain per station


def content_sha256(content: dict) -> str:
    """The content hash of a sealed record (canonical JSON: sorted keys, no spaces, UTF-8)."""
    return _sha256(content)


def chain_link(
    previous_sha256: str | None, station_id: str, chain_no: int, archive_no: str, demand_id: UUID, content_hash: str
) -> str:
    """The chain hash of one dossier: the previous dossier's of its station, its place, number, demand and content
    hash. The database computes the same text when it links a new dossier (archive_chain_link, migration 0005)."""
    text = f"{previous_sha256 or ''}|{station_id}|{chain_no}|{archive_no}|{demand_id}|{content_hash}"
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class BrokenLink:
    """The first place where a station's archive is not what was sealed."""

    station_id: str
    chain_no: int | None
    archive_no: str | None
    demand_id: UUID | None
    problem: str  # Chinese
    problem_en: str


@dataclass(frozen=True)
class ChainReport:
    station_id: str
    dossiers: int  # links checked
    disposed: int  # of which disposed of (content gone, hashes kept)
    supplements: int
    head_sha256: str | None  # the last link's chain hash: note it down, and a later check proves nothing before changed
    broken: BrokenLink | None

    @property
    def intact(self) -> bool:
        return self.broken is None


def verify_chain(
    station_id: str, dossiers: Iterable[Dossier], supplements: dict[UUID, list[Supplement]] | None = None
) -> ChainReport:
    """Recompute every content hash and every link of one station's chain, in chain order; stop at the first break.

    A dossier altered in place (content or hash), removed, inserted or moved breaks its own link or the next one's; a
    disposed dossier has no content to hash, and its kept hashes still hold the chain together. Supplements (补充归档)
    are checked too: each one's own hash and its link to the dossier's hash and the previous supplement's.
    """
    supplements = supplements or {}
    previous: str | None = None
    count = disposed = attached = 0

    def broken(d: Dossier | None, zh: str, en: str, n: int | None = None) -> ChainReport:
        b = BrokenLink(
            station_id=station_id,
            chain_no=d.chain_no if d is not None else n,
            archive_no=d.archive_no if d is not None else None,
            demand_id=d.demand_id if d is not None else None,
            problem=zh,
            problem_en=en,
        )
        return ChainReport(station_id, count, disposed, attached, previous, b)

    for expected, d in enumerate(sorted(dossiers, key=lambda x: x.chain_no or 0), start=1):
        if d.chain_no != expected:
            return broken(
                d,
                f"链序号不连续：应为第 {expected} 号，实为第 {d.chain_no} 号（档案被删除或插入）",
                f"chain number {d.chain_no} where {expected} was due (a dossier removed or inserted)",
                expected,
            )
        if d.previous_sha256 != previous:
            return broken(
                d,
                "前一档案的链哈希与本档案记录的不一致（前序档案被改动、删除或替换）",
                "the previous link's hash differs from the one this dossier records",
            )
        if d.content is None:
            if d.disposed_at is None:
                return broken(d, "档案内容缺失且无销毁记录", "content missing, yet the dossier was never disposed of")
            disposed += 1
        elif content_sha256(d.content) != d.content_sha256:
            return broken(
                d,
                "档案内容与封存时的内容哈希不一致（内容被改动）",
                "the content does not hash to its sealed content hash (altered)",
            )
        if chain_link(previous, d.station_id, expected, d.archive_no, d.demand_id, d.content_sha256) != d.chain_sha256:
            return broken(
                d,
                "链哈希与重新计算的结果不一致（档案号、内容哈希或链哈希被改动）",
                "the chain hash does not recompute (archive number, content hash or chain hash altered)",
            )
        previous_supplement: str | None = None
        for s in sorted(supplements.get(d.demand_id, []), key=lambda x: x.supplement_no):
            if s.content is not None and (
                content_sha256(s.content) != s.content_sha256
                or s.content.get("dossier_sha256") != d.content_sha256
                or s.content.get("previous_sha256") != previous_supplement
            ):
                return broken(
                    d,
                    f"第 {s.supplement_no} 号补充归档与其哈希或所属档案不一致（被改动）",
                    f"supplement #{s.supplement_no} does not match its hash or its dossier (altered)",
                )
            previous_supplement = s.content_sha256
            attached += 1
        previous = d.chain_sha256
        count += 1
    return ChainReport(station_id, count, disposed, attached, previous, None)


# --------------------------------------------------------------------------- holds and disposal (销毁)


@dataclass(frozen=True)
class Kept:
    """A sealed dossier as the archive keeps it: until when, and whether a legal hold is on."""

    dossier: Dossier
    retained_until: date
    on_hold: bool


@dataclass(frozen=True)
class Hold:
    """A legal hold (法律保全): while on, the dossier is not disposed of, whatever its retention says."""

    hold_id: UUID
    demand_id: UUID
    station_id: str
    reason: str
    set_by: str
    set_at: datetime
    lift_reason: str | None = None
    lifted_by: str | None = None
    lifted_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.lifted_at is None


def check_hold_can_be_set(holds: list[Hold], d: Dossier) -> None:
    if d.disposed_at is not None:
        raise InvalidTransition("该档案已销毁，不能再设置保全", "the dossier was disposed of; nothing left to hold")
    if any(h.active for h in holds):
        raise InvalidTransition("该档案已处于保全状态", "the dossier is already under a legal hold")


def active_hold(holds: list[Hold]) -> Hold:
    for h in holds:
        if h.active:
            return h
    raise InvalidTransition("该档案没有生效中的保全", "the dossier is under no legal hold")


def disposal_items(due: list[tuple[Dossier, date]]) -> list[dict]:
    """What a disposal request lists: the dossiers due, with what identifies them forever (number, hashes)."""
    if not due:
        raise InvalidTransition(
            "没有已过保管期限且未被保全的档案，无需销毁", "no dossier is past its retention and free of holds"
        )
    return [
        {
            "demand_id": str(d.demand_id),
            "station_id": d.station_id,
            "archive_no": d.archive_no,
            "tracking_no": d.tracking_no,
            "sealed_at": d.sealed_at.isoformat(),
            "retained_until": until.isoformat(),
            "content_sha256": d.content_sha256,
            "chain_no": d.chain_no,
            "chain_sha256": d.chain_sha256,
        }
        for d, until in due
    ]


def check_confirmable(disposal: dict) -> None:
    if disposal["confirmed_at"] is not None:
        raise InvalidTransition("该销毁申请已确认执行", "the disposal request was already confirmed")
