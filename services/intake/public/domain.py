"""What the enterprise's status page adds to its demand's progress: when each step happened, and the rating link. Pure.

Steps (受理 → 派单 → 办结 → 评价 → 归档), each with its moment where intake knows it, from the events it follows
anyway: 受理 is the registration (the demand's submitted_at), 派单 the first assignment seen (Assigned.occurred_at,
of any round, whichever arrives first), 办结 and 评价 the resolution and the rating of the round the demand is in (the
latest round's Resolved.resolved_at and Rated.rated_at; in a re-handling, round 1's are not this round's and are not
shown as such), 归档 the sealing (Archived.sealed_at, the demand's archived_at). A moment intake never saw (a demand
from before it kept them) is None. Events come in any order: each moment only moves to what is earliest (派单) or
latest (a later round, or a later moment of the same round): the store keeps that rule in the upsert that writes the
moment an event tells (`moment`), so handling an event does not read the row first.

The rating link (RatingLinkIssued, evaluation's): evaluation makes one for each round whose survey opens; intake
keeps the latest per demand and round (the store's upsert, `rating_link`) and offers it (`offered`) only while the
demand stands resolved in that very round, not yet rated, not ended, and the link has not expired. The URL holds the
token: it is the enterprise's, shown behind its status link and nowhere else (never in a staff API, never in the
archive).
"""

from dataclasses import dataclass, fields, replace
from datetime import datetime
from uuid import UUID

from shared.contracts import Assigned, Rated, RatingLinkIssued, Resolved

from ..demands.domain import Demand, stage

STEPS = (
    ("submitted", "受理"),
    ("assigned", "派单"),
    ("resolved", "办结"),
    ("rated", "评价"),
    ("archived", "归档"),
)


@dataclass(frozen=True)
class StepTimes:
    """The steps' moments intake learned from the events (the others are on the demand)."""

    demand_id: UUID
    station_id: str
    first_assigned_at: datetime | None = None
    resolved_round: int | None = None
    resolved_at: datetime | None = None
    rated_round: int | None = None
    rated_at: datetime | None = None


STEP_TIME_FIELDS = tuple(f.name for f in fields(StepTimes))


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    at: datetime | None


def moment(event: Assigned | Resolved | Rated) -> StepTimes:
    """The moment the event tells, alone in a row of the demand's: 派单 an assignment's (any round's), 办结 and 评价 the
    round's resolution and rating. The store merges it into the row kept (DemandStore.save_progress), in its upsert:
    派单 the earliest seen; 办结 and 评价 the latest round's, of one round the later moment (a late one of an earlier
    round changes nothing); whatever order the events arrive in, the same row."""
    times = StepTimes(demand_id=event.demand_id, station_id=event.station_id)
    if isinstance(event, Assigned):
        return replace(times, first_assigned_at=event.occurred_at)
    if isinstance(event, Resolved):
        return replace(times, resolved_round=event.round, resolved_at=event.resolved_at)
    return replace(times, rated_round=event.round, rated_at=event.rated_at)


def steps(demand: Demand, times: StepTimes | None) -> list[Step]:
    """The five steps with the moment of each that has one: 办结 and 评价 only of the round the demand is in."""
    times = times or StepTimes(demand_id=demand.demand_id, station_id=demand.station_id)
    now_round = demand.progress_round
    at = {
        "submitted": demand.submitted_at,
        "assigned": times.first_assigned_at,
        "resolved": times.resolved_at if times.resolved_round == now_round else None,
        "rated": times.rated_at if times.rated_round == now_round else None,
        "archived": demand.archived_at,
    }
    return [Step(key, label, at[key]) for key, label in STEPS]


@dataclass(frozen=True)
class RatingLink:
    """The link evaluation made for the status page, for one round of one demand (RatingLinkIssued)."""

    demand_id: UUID
    station_id: str
    round: int
    url: str
    expires_at: datetime
    issued_at: datetime
    event_id: UUID


RATING_LINK_FIELDS = tuple(f.name for f in fields(RatingLink))


def rating_link(event: RatingLinkIssued) -> RatingLink:
    """The event's link for its round. The store keeps it unless the link kept for the round was issued later, by
    (issued_at, event_id) (DemandStore.keep_status_rating_link): links in any order leave the latest, and the same
    event again (a redelivery is the inbox's anyway) changes nothing."""
    return RatingLink(
        demand_id=event.demand_id,
        station_id=event.station_id,
        round=event.round,
        url=event.url,
        expires_at=event.expires_at,
        issued_at=event.occurred_at,
        event_id=event.event_id,
    )


def offered(demand: Demand, link: RatingLink | None, now: datetime) -> RatingLink | None:
    """The link the status page offers now: the demand resolved and waiting for its rating (not rated, not ended,
    not archived), the link of that very round, not expired."""
    if link is None or stage(demand) != "resolved":
        return None
    if link.round != demand.progress_round or link.expires_at <= now:
        return None
    return link
