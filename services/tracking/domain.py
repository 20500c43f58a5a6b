"""Tracking rules: the case as the sum of its events, whatever order they came in. Pure: no I/O."""

from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from uuid import UUID

from shared.contracts import Archived, Assigned, DemandSubmitted, Event, Outcome, Rated, Resolved
from shared.contracts.envelope import Cause
from shared.errors import InvalidTransition

# Where a case stands; later stages win, so a late event never moves a case back.
STAGES = ("submitted", "assigned", "resolved", "rated", "archived")
OPEN_STAGES = ("submitted", "assigned")


@dataclass(frozen=True)
class Case:
    demand_id: UUID
    station_id: str
    tracking_no: str
    correlation_id: UUID
    round: int = 1
    enterprise_name: str | None = None
    categories: list[dict] | None = None
    description: str | None = None
    channel: str | None = None
    first_responder: str | None = None
    time_limit_days: int | None = None
    submitted_at: datetime | None = None
    assignment_no: int = 0
    assignee_kind: str | None = None
    assignee_id: str | None = None
    assignee_name: str | None = None
    handling_mode: str | None = None
    due_on: date | None = None
    assigned_at: datetime | None = None
    assigned_event_id: UUID | None = None  # the assignment a resolution answers (and names as its cause)
    outcome: str | None = None
    summary: str | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    overall: str | None = None
    rated_at: datetime | None = None
    archive_no: str | None = None
    archived_at: datetime | None = None

    @property
    def status(self) -> str:
        if self.archive_no:
            return "archived"
        if self.rated_at:
            return "rated"
        if self.resolved_at:
            return "resolved"
        if self.assignment_no:
            return "assigned"
        return "submitted"

    def overdue(self, today: date) -> bool:
        return self.status in OPEN_STAGES and self.due_on is not None and self.due_on < today


CASE_FIELDS = tuple(f.name for f in fields(Case))


@dataclass(frozen=True)
class TimelineEntry:
    kind: str
    occurred_at: datetime
    text: str


def apply(case: Case | None, event: Event) -> Case:
    """The case after `event`; applying the same event twice gives the same case."""
    if case is None:
        case = Case(
            demand_id=event.demand_id,
            station_id=event.station_id,
            tracking_no=event.tracking_no,
            correlation_id=event.correlation_id,
        )
    match event:
        case DemandSubmitted():
            return replace(case, **event.summary())
        case Assigned() if event.assignment_no > case.assignment_no:
            return replace(
                case,
                assignment_no=event.assignment_no,
                assignee_kind=event.assignee_kind.value,
                assignee_id=event.assignee_id,
                assignee_name=event.assignee_name,
                handling_mode=event.handling_mode.value,
                due_on=event.due_on,
                assigned_at=event.occurred_at,
                assigned_event_id=event.event_id,
            )
        case Resolved() if event.round >= case.round:
            return replace(
                case,
                round=event.round,
                outcome=event.outcome.value,
                summary=event.summary,
                resolved_by=event.resolved_by,
                resolved_at=event.resolved_at,
            )
        case Rated() if event.round >= case.round:
            return replace(case, overall=event.answers.overall.value, rated_at=event.rated_at)
        case Archived():
            return replace(case, archive_no=event.archive_no, archived_at=event.sealed_at)
    return case


def resolve(case: Case, *, outcome: Outcome, summary: str, resolved_by: str, now: datetime) -> Resolved:
    """办结: only a case that is being handled can be resolved (004 §6.4)."""
    if case.status != "assigned":
        raise InvalidTransition(
            f"需求当前状态为「{STATUS_LABELS[case.status]}」，只有办理中的需求可以办结",
            f"only an assigned demand can be resolved; this one is {case.status}",
        )
    assignment = Cause(case.assigned_event_id, case.correlation_id, case.station_id, case.demand_id, case.tracking_no)
    return assignment.caused(
        Resolved,
        round=case.round,
        assignment_no=case.assignment_no,
        outcome=outcome,
        summary=summary,
        resolved_by=resolved_by,
        resolved_at=now,
    )


STATUS_LABELS = {
    "submitted": "已受理",
    "assigned": "办理中",
    "resolved": "已办结",
    "rated": "已评价",
    "archived": "已归档",
}

_OVERALL_LABELS = {"very_satisfied": "非常满意", "satisfied": "满意", "average": "一般", "dissatisfied": "不满意"}


def timeline_text(event: Event) -> str:
    """One line of the tracking sheet (跟踪单) for people, in Chinese."""
    match event:
        case DemandSubmitted():
            return f"{event.first_responder} 受理需求（{event.channel.label}）"
        case Assigned():
            verb = "派单" if event.assignment_no == 1 else "改派"
            return f"{event.assigned_by} {verb}给 {event.assignee_name}，办结期限 {event.due_on.isoformat()}"
        case Resolved():
            result = "需求已满足" if event.outcome is Outcome.met else "无法满足，已向企业说明"
            return f"{event.resolved_by} 办结：{result}"
        case Rated():
            return f"企业评价：{_OVERALL_LABELS[event.answers.overall.value]}"
        case Archived():
            return f"资料归档，档案号 {event.archive_no}"
    return event.routing_key
