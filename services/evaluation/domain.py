"""Evaluation rules (domain.md §5.5): when a demand may be rated and what the form holds. Pure.

A survey is a fold of its demand's events in whatever order they come (issue 8):

- every assignment is kept by number; items 6–9 apply when the assignment the resolution answers
  (Resolved.assignment_no) went to a service organization, or, for a resolution that does not say,
  the latest one: an organization that returned the demand or was rematched away does not count;
- a round's survey opens only once evaluation knows who served it: a resolution naming an assignment not seen yet
  (its Assigned is still on its way) leaves the round resolved but waiting (`awaiting_assignment`: nothing rates it,
  no link is made for it), and that Assigned opens it, with the form it will keep; a resolution that does not say
  opens the round at once, as before;
- a refusal, merge or withdrawal closes the survey for good: nothing rates it, no link reaches it,
  and a resolution arriving after it does not reopen it; of two closings the earlier one counts;
- rounds (issue 10): a founded verification of a 不满意 rating reopens the demand (DemandReopened, round r+1): the
  survey moves to that round and waits for its resolution, round r's rating kept; the round's Resolved opens it (once
  its assignment is known, as above) and its rating is Rated(round r+1). Events of an older round arriving late change
  nothing. The rating of FINAL_ROUND is final: nothing moves the survey past it;
- 申诉复核: a supervisor may void a rating (kept, marked void, left out of every satisfaction figure), once, and not
  after a founded verification of it reopened the demand (the survey moved past its round).

Rating links (一次性评价链接): a link rates one round of one demand, once. Issuing another does not retire the earlier
ones (an SMS already sent keeps working); all of a demand's unused links stop when the round is rated (through any
link or on paper), when they expire, when the round changes, or when the survey closes. When a round's survey opens,
evaluation makes one such link itself for the enterprise's status page (`status_page_link`, announced to intake by
RatingLinkIssued): the same rules, beside the links the station sends, and not counted among them.
"""

from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from uuid import UUID

from shared.calendar import CHINA
from shared.contracts import (
    FINAL_ROUND,
    Answers,
    Assigned,
    AssigneeKind,
    Closing,
    DemandCorrected,
    DemandReopened,
    DemandSubmitted,
    Event,
    NationalLevel,
    Overall,
    Rated,
    RatingLinkIssued,
    RatingSource,
    RatingVoided,
    Resolved,
)
from shared.contracts.envelope import Cause
from shared.errors import Invalid, InvalidTransition, NotFound

from .kpis import Definition

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
    resolved_event_id: UUID | None = None  # this round's resolution (a rating names it as its cause); set while the
    # round still waits for the assignment it answers, too
    assignments: dict = field(default_factory=dict)  # {"<assignment_no>": "<assignee_kind>"} of every one seen
    resolved_assignment_no: int | None = None  # the assignment this round's resolution answers, when it says
    closed_as: str | None = None  # refused / merged / withdrawn: the demand ended without being resolved
    closed_at: datetime | None = None
    closing_id: UUID | None = None
    voided_rounds: tuple[int, ...] = ()  # the rounds whose rating was voided (申诉复核)

    @property
    def technician_items_apply(self) -> bool:
        """Items 6–9 of the form apply only when a service organization served the demand."""
        return self.served_by_org

    @property
    def awaiting_assignment(self) -> bool:
        """Resolved, but the assignment the resolution answers not seen yet: the round opens when it is."""
        return self.status == "waiting" and self.resolved_event_id is not None

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

    @property
    def final(self) -> bool:
        """Rated in the final round (FINAL_ROUND): that rating is final, no reopening moves the survey on."""
        return self.status == "rated" and self.round >= FINAL_ROUND


SURVEY_FIELDS = tuple(f.name for f in fields(Survey))


@dataclass(frozen=True)
class Rating:
    """One kept rating (one per demand and round), never deleted nor rewritten; a voided one is marked void."""

    round: int
    answers: dict
    source: str
    recorded_by: str | None
    rated_at: datetime
    event_id: UUID | None = None  # the Rated that announced it (unknown for some ratings kept before issue 10)
    voided_at: datetime | None = None
    voided_by: str | None = None
    void_reason: str | None = None

    @property
    def overall(self) -> Overall:
        return Overall(self.answers["overall"])

    @property
    def national_level(self) -> NationalLevel:
        """The level reported upward on the national 好差评 scale (shared.contracts Overall.national)."""
        return self.overall.national

    @property
    def voided(self) -> bool:
        return self.voided_at is not None

    @property
    def final(self) -> bool:
        """The rating of the final round (FINAL_ROUND): no verification and re-handling follows it."""
        return self.round >= FINAL_ROUND


@dataclass(frozen=True)
class DemandForm:
    """What evaluation keeps of a demand's form for its breakdowns (issue 12, scorecards): the categories it names
    and who received it (首问负责人). A fold of DemandSubmitted and DemandCorrected in any order: the latest
    correction's categories stand (by corrected_at, then event id), whether the submission came before or after it."""

    demand_id: UUID
    station_id: str
    categories: list[dict] = field(default_factory=list)  # [{"code": …, "label": …}]
    first_responder: str | None = None
    first_responder_id: str | None = None
    submitted_at: datetime | None = None
    corrected_at: datetime | None = None
    correction_id: UUID | None = None


FORM_FIELDS = tuple(f.name for f in fields(DemandForm))


def _categories(event: DemandSubmitted | DemandCorrected) -> list[dict]:
    return [{"code": c.code, "label": c.label} for c in event.categories]


def on_submitted(form: DemandForm | None, event: DemandSubmitted) -> DemandForm:
    form = form or DemandForm(demand_id=event.demand_id, station_id=event.station_id)
    form = replace(
        form,
        first_responder=event.first_responder,
        first_responder_id=event.first_responder_id,
        submitted_at=event.submitted_at,
    )
    if form.corrected_at is not None:  # a correction came first: its categories stand
        return form
    return replace(form, categories=_categories(event))


def on_corrected(form: DemandForm | None, event: DemandCorrected) -> DemandForm:
    form = form or DemandForm(demand_id=event.demand_id, station_id=event.station_id)
    if form.corrected_at is not None and (event.corrected_at, str(event.event_id)) <= (
        form.corrected_at,
        str(form.correction_id),
    ):
        return form  # an older correction than the one kept
    return replace(form, categories=_categories(event), corrected_at=event.corrected_at, correction_id=event.event_id)


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


def on_assigned(survey: Survey | None, event: Assigned, *, now: datetime) -> Survey:
    """派单, 改派 or 转办: kept by number; which one counts depends on the resolution, whenever it comes. The one a
    resolution named before it was seen opens that round's survey, `now`."""
    survey = survey or _new(event)
    assignments = survey.assignments | {str(event.assignment_no): event.assignee_kind.value}
    survey = _served(replace(survey, assignments=assignments))
    if survey.awaiting_assignment and str(survey.resolved_assignment_no) in assignments:
        return replace(survey, status="open", opened_at=now)
    return survey


def _unseen(before: Survey | None, event: Resolved) -> bool:
    """Whether the resolution names an assignment evaluation has not seen yet (so its round waits for it)."""
    if event.assignment_no is None:
        return False  # it does not say: the latest assignment counts, as it ever did
    if before is not None and not before.assignments and before.resolved_event_id is None:
        return False  # a survey kept before assignments were recorded (0004): the one it answers was seen, not kept
    return str(event.assignment_no) not in (before.assignments if before else {})


def on_resolved(survey: Survey | None, event: Resolved) -> Survey:
    before = survey
    survey = survey or _new(event)
    if survey.status == "closed":
        return survey  # the demand ended unresolved: a resolution does not reopen it
    if event.round < survey.round or (event.round == survey.round and survey.status == "rated"):
        return survey  # an old round, or already rated: nothing to reopen
    resolved = replace(
        survey, round=event.round, resolved_event_id=event.event_id, resolved_assignment_no=event.assignment_no
    )
    # Once open, a round stays open (another Resolved of it is a repeat); before that, it waits for who served it.
    if _unseen(before, event) and not (survey.status == "open" and survey.round == event.round):
        return _served(replace(resolved, status="waiting", opened_at=None))
    return _served(replace(resolved, status="open", opened_at=event.occurred_at))


def on_reopened(survey: Survey | None, event: DemandReopened) -> Survey:
    """重办: the survey moves to the reopened round and waits for its resolution; the earlier rounds' ratings are kept.

    Only forward: a reopening of the round the survey is in (its Resolved came first) or an older one changes nothing,
    nor does one past a final rating, nor one of a demand that ended unresolved.
    """
    survey = survey or _new(event)
    if survey.status == "closed" or event.round <= survey.round or survey.final:
        return survey
    return _served(
        replace(
            survey,
            round=event.round,
            status="waiting",
            opened_at=None,
            rated_at=None,
            resolved_event_id=None,
            resolved_assignment_no=None,
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


def _refuse_not_open_yet(survey: Survey) -> None:
    if survey.awaiting_assignment:
        raise InvalidTransition(
            "需求已办结，承办信息尚在同步，评价表尚未开放，请稍后再试",
            "the demand is resolved, but the survey opens only once the assignment it answers is known here;"
            " try again shortly",
        )


def rate(
    survey: Survey,
    answers: Answers,
    *,
    source: RatingSource,
    recorded_by: str | None,
    now: datetime,
    definition: Definition = Definition(),
) -> tuple[Survey, Rated]:
    """The round's rating. Rated says whether it counts as 满意 under `definition` (the settings' satisfied levels,
    which the use cases pass; the default definition otherwise) now, so dispatch's running record and the archive's
    books count it as evaluation does."""
    _refuse_closed(survey)
    if survey.status == "rated":
        raise InvalidTransition(
            f"该需求第 {survey.round} 轮已评价，不能重复评价",
            f"round {survey.round} of this demand has already been rated",
        )
    _refuse_not_open_yet(survey)
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
        counts_as_satisfied=definition.satisfied(answers.overall),
    )
    return replace(survey, status="rated", rated_at=now), event


def void(
    survey: Survey, rating: Rating, *, reason: str, voided_by: str, now: datetime
) -> tuple[Survey, Rating, RatingVoided]:
    """申诉复核: the rating is kept and marked void (who, when, why), once; RatingVoided names the Rated it voids."""
    if rating.voided:
        when = f"{rating.voided_at.astimezone(CHINA):%Y-%m-%d %H:%M}"
        raise InvalidTransition(
            f"第 {rating.round} 轮评价已于 {when}（北京时间）由{rating.voided_by}作废，不能重复作废",
            f"the round {rating.round} rating was already voided at {when} China time by {rating.voided_by};"
            " it cannot be voided twice",
            code="already_voided",
        )
    if rating.event_id is None:
        raise InvalidTransition(
            f"第 {rating.round} 轮评价早于申诉复核功能，找不到其评价事件，无法作废，请联系运维",
            f"the round {rating.round} rating predates the appeal and its Rated event is no longer known;"
            " it cannot be voided, ask operations",
            code="rating_event_unknown",
        )
    if survey.round > rating.round:
        # Only a founded verification of this round's 不满意 rating moves the survey past it (DemandReopened): the
        # station itself found the complaint justified, so the appeal can no longer take it back. The same-instant
        # race is settled by tracking, which keeps the reopening when a late RatingVoided reaches it.
        raise InvalidTransition(
            f"第 {rating.round} 轮评价经核实属实，需求已重办，不能再申诉作废",
            f"the round {rating.round} rating was verified founded and the demand reopened;"
            " it can no longer be voided on appeal",
            code="reopened",
        )
    cause = Cause(rating.event_id, survey.correlation_id, survey.station_id, survey.demand_id, survey.tracking_no)
    event = cause.caused(
        RatingVoided,
        round=rating.round,
        rated_event_id=rating.event_id,
        reason=reason,
        voided_by=voided_by,
        voided_at=now,
    )
    voided = replace(rating, voided_at=now, voided_by=voided_by, void_reason=reason)
    rounds = tuple(sorted({*survey.voided_rounds, rating.round}))
    return replace(survey, voided_rounds=rounds), voided, event


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
    status_page: bool = False  # made by evaluation for the enterprise's status page, not sent by the station


# Who made a status page's link (RatingLink.created_by): no person did.
STATUS_PAGE = "企业查询页（系统生成）"


def issue_link(survey: Survey, *, token_sha256: str, created_by: str, now: datetime, days: int) -> RatingLink:
    _refuse_closed(survey)
    _refuse_not_open_yet(survey)
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


def status_page_link(
    before: Survey | None, survey: Survey, *, token_sha256: str, url: str, now: datetime, days: int
) -> tuple[RatingLink, RatingLinkIssued] | None:
    """The link for the enterprise's status page, when a resolution (or the assignment it awaited) opened a round:
    `survey` is open and `before` (the survey as it was before that event) was not open in that round. None
    otherwise (an old or late resolution, a round already open, waiting or rated, a closed survey): a round gets one
    such link. It is a one-time link like those the station sends (issue_link's rules and expiry) and retires none
    of them; RatingLinkIssued carries its `url` (the token in it is a secret) to intake, which shows it behind the
    enterprise's status link only."""
    if survey.status != "open" or (before is not None and before.status == "open" and before.round == survey.round):
        return None
    link = replace(
        issue_link(survey, token_sha256=token_sha256, created_by=STATUS_PAGE, now=now, days=days), status_page=True
    )
    event = survey.resolution.caused(
        RatingLinkIssued, occurred_at=now, round=link.round, url=url, expires_at=link.expires_at
    )
    return link, event


def valid(link: RatingLink, survey: Survey, now: datetime) -> bool:
    """Whether a link may still rate: unused, unexpired, of the survey's current round, that round not yet rated and
    the survey not closed. The store retires links when a round is rated, changes or closes; this holds even for one
    it missed (say, issued in a race)."""
    return (
        link.used_at is None
        and link.expires_at > now
        and link.round == survey.round
        and survey.status not in ("rated", "closed")
    )


def usable(link: RatingLink | None, survey: Survey | None, now: datetime) -> Survey:
    """The survey a link may rate now; unknown, used, expired or outdated links all look the same."""
    if link is None or survey is None or not valid(link, survey, now):
        raise NotFound("评价链接无效、已使用或已过期", "rating link is unknown, used or expired")
    return survey
