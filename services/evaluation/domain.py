"""Evaluation rules (domain.md §5.5): when a demand may be rated and what the form holds. Pure.

A survey is a fold of its demand's events in whatever order they come (issue 8):

- every assignment is kept by number; items 6–9 apply when the assignment the resolution answers
  (Resolved.assignment_no) went to a service organization, or, for a resolution that does not say,
  the latest one: an organization that returned the demand or was rematched away does not count;
- a refusal, merge or withdrawal closes the survey for good: nothing rates it, no link reaches it,
  and a resolution arriving after it does not reopen it; of two closings the earlier one counts.
"""

from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from uuid import UUID

from shared.contracts import (
    Answers,
    Assigned,
    AssigneeKind,
    Closing,
    Event,
    Rated,
    RatingSource,
    Resolved,
)
from shared.contracts.envelope import Cause
from shared.errors import Invalid, InvalidTransition, NotFound

# Items 6–9 of the form concern the organization's technicians and facilities.
TECHNICIAN_ITEMS = ("technician_professionalism", "technician_timeliness", "technician_civility", "facilities")


@dataclass(frozen=True)
class Survey:
    demand_id: UUID
    station_id: str
    tracking_no: str
    correlation_id: UUID
    round: int = 1
    served_by_org: bool = False
    status: str = "waiting"
    opened_at: datetime | None = None
    rated_at: datetime | None = None
    resolved_event_id: UUID | None = None  # the resolution that opened this round (and a rating names as its cause)
    assignments: dict = field(default_factory=dict)  # {"<assignment_no>": "<assignee_kind>"} of every one seen
    resolved_assignment_no: int | None = None  # the assignment this round's resolution answers, when it says
    closed_as: str | None = None  # refused / merged / withdrawn: the demand ended without being resolved
    closed_at: datetime | None = None
    closing_id: UUID | None = None

    @property
    def technician_items_apply(self) -> bool:
        """Items 6–9 of the form apply only when a service organization served the demand."""
        return self.served_by_org

    @property
    def assignment_no(self) -> int | None:
        """The assignment whose assignee this round is rated on: the one the resolution names, else the latest."""
        if self.resolved_assignment_no is not None:
            return self.resolved_assignment_no
        return max(map(int, self.assignments), default=None)

    @property
    def resolution(self) -> Cause:
        """The Resolved this round's rating answers, from the ids kept on the survey."""
        return Cause(self.resolved_event_id, self.correlation_id, self.station_id, self.demand_id, self.tracking_no)


SURVEY_FIELDS = tuple(f.name for f in fields(Survey))


@dataclass(frozen=True)
class Rating:
    """One kept rating (one per demand and round)."""

    round: int
    answers: dict
    source: str
    recorded_by: str | None
    rated_at: datetime


def _new(event: Event) -> Survey:
    return Survey(
        demand_id=event.demand_id,
        station_id=event.station_id,
        tracking_no=event.tracking_no,
        correlation_id=event.correlation_id,
    )


def _served(survey: Survey) -> Survey:
    """served_by_org recomputed from the assignments: the one the round is rated on, if it is known."""
    if not survey.assignments:
        return survey  # none seen yet (or a survey kept before assignments were): keep what it says
    kind = survey.assignments.get(str(survey.assignment_no))
    return replace(survey, served_by_org=kind == AssigneeKind.organization.value)


def on_assigned(survey: Survey | None, event: Assigned) -> Survey:
    """派单, 改派 or 转办: kept by number; which one counts depends on the resolution, whenever it comes."""
    survey = survey or _new(event)
    assignments = survey.assignments | {str(event.assignment_no): event.assignee_kind.value}
    return _served(replace(survey, assignments=assignments))


def on_resolved(survey: Survey | None, event: Resolved) -> Survey:
    survey = survey or _new(event)
    if survey.status == "closed":
        return survey  # the demand ended unresolved: a resolution does not reopen it
    if event.round < survey.round or (event.round == survey.round and survey.status == "rated"):
        return survey  # an old round, or already rated: nothing to reopen
    return _served(
        replace(
            survey,
            round=event.round,
            status="open",
            opened_at=event.occurred_at,
            resolved_event_id=event.event_id,
            resolved_assignment_no=event.assignment_no,
        )
    )


def on_closed(survey: Survey | None, event: Closing) -> Survey:
    """否定备案, 并单 or 撤回: the survey closes whatever state it was in; of two closings the earlier counts."""
    survey = survey or _new(event)
    if not event.precedes(survey.closed_at, survey.closing_id):
        return survey
    return replace(
        survey,
        status="closed",
        closed_as=event.kind,
        closed_at=event.closed_at,
        closing_id=event.event_id,
    )


def _refuse_closed(survey: Survey) -> None:
    if survey.status == "closed":
        raise InvalidTransition(
            f"需求未经办结即终止（{Closing.of_kind(survey.closed_as).label}），无需评价",
            f"the demand was {survey.closed_as}; it ended without being resolved and is not rated",
        )


def rate(
    survey: Survey, answers: Answers, *, source: RatingSource, recorded_by: str | None, now: datetime
) -> tuple[Survey, Rated]:
    _refuse_closed(survey)
    if survey.status == "rated":
        raise InvalidTransition("该需求已评价，不能重复评价", "this demand has already been rated")
    if survey.status != "open":
        raise InvalidTransition("需求尚未办结，暂不能评价", "the demand is not resolved yet; it cannot be rated")
    if not survey.technician_items_apply:
        given = [item for item in TECHNICIAN_ITEMS if getattr(answers, item) is not None]
        if given:
            raise Invalid(
                "本需求未由服务机构承办，第 6–9 项（技术人员与技术设施）不适用",
                "items 6-9 apply only when a service organization served the demand",
                field=f"answers.{given[0]}",
            )
    if source is RatingSource.paper and not recorded_by:
        raise Invalid("纸质评价须填写录入人", "recorded_by is required for a paper rating", field="recorded_by")
    event = survey.resolution.caused(
        Rated,
        round=survey.round,
        answers=answers,
        source=source,
        recorded_by=recorded_by,
        rated_at=now,
    )
    return replace(survey, status="rated", rated_at=now), event


@dataclass(frozen=True)
class RatingLink:
    """A one-time link for the enterprise to rate one round of one demand (no account)."""

    token_sha256: str
    demand_id: UUID
    station_id: str
    round: int
    created_by: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


def issue_link(survey: Survey, *, token_sha256: str, created_by: str, now: datetime, days: int) -> RatingLink:
    _refuse_closed(survey)
    if survey.status != "open":
        raise InvalidTransition("需求尚未办结或已评价，不能发送评价链接", "the survey is not open for rating")
    return RatingLink(
        token_sha256=token_sha256,
        demand_id=survey.demand_id,
        station_id=survey.station_id,
        round=survey.round,
        created_by=created_by,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )


def usable(link: RatingLink | None, survey: Survey | None, now: datetime) -> Survey:
    """The survey a link may rate now; unknown, used, expired or outdated links all look the same.

    A link to a closed survey is outdated too (closing also retires it in the store).
    """
    unused = link is not None and survey is not None and link.used_at is None
    if not unused or link.expires_at <= now or link.round != survey.round or survey.status == "closed":
        raise NotFound("评价链接无效、已使用或已过期", "rating link is unknown, used or expired")
    return survey
