"""Dispatch rules (domain.md §5.2): who handles a demand and by when. Pure: no I/O."""

from dataclasses import dataclass, replace
from datetime import date, datetime
from uuid import UUID

from shared.calendar import add_working_days
from shared.contracts import Assigned, AssigneeKind, DemandSubmitted, HandlingMode
from shared.contracts.envelope import Cause
from shared.errors import Forbidden, Invalid, InvalidTransition


@dataclass(frozen=True)
class QueueItem:
    demand_id: UUID
    station_id: str
    tracking_no: str
    enterprise_name: str
    categories: list[dict]
    description: str
    channel: str
    first_responder: str
    time_limit_days: int
    submitted_at: datetime
    correlation_id: UUID
    status: str = "waiting"
    round: int = 1
    assignment_count: int = 0
    green_channel: str | None = None
    first_responder_id: str | None = None
    expected_on: date | None = None
    submitted_event_id: UUID | None = None  # the DemandSubmitted every assignment answers (and names as its cause)

    @property
    def cause(self) -> Cause:
        """What an Assigned needs of the submission it answers, kept in the queue row."""
        return Cause(self.submitted_event_id, self.correlation_id, self.station_id, self.demand_id, self.tracking_no)


@dataclass(frozen=True)
class Assignment:
    demand_id: UUID
    assignment_no: int
    round: int
    assignee_kind: AssigneeKind
    assignee_id: str
    assignee_name: str
    handling_mode: HandlingMode
    due_on: date
    assigned_by: str
    note: str | None
    assigned_at: datetime


def receive(event: DemandSubmitted, resolved_round: int | None = None) -> QueueItem:
    item = QueueItem(
        demand_id=event.demand_id,
        station_id=event.station_id,
        tracking_no=event.tracking_no,
        **event.summary(),
        correlation_id=event.correlation_id,
        green_channel=event.green_channel.value if event.green_channel else None,
        first_responder_id=event.first_responder_id,
        expected_on=event.expected_on,
        submitted_event_id=event.event_id,
    )
    return replace(item, status="resolved", round=resolved_round) if resolved_round else item


def check_clerk_may_keep(item: QueueItem, kind: AssigneeKind, clerk_id: str) -> None:
    """首问负责: a clerk may keep a waiting demand they received; everything else is the head's to decide."""
    if kind is not AssigneeKind.first_responder:
        raise Forbidden("只有站长可以派单、转办或改派", "only the station head dispatches to others")
    if item.status != "waiting":
        raise Forbidden("已派出的需求只有站长可以改派", "only the station head re-dispatches a demand")
    if item.first_responder_id != clerk_id:
        raise Forbidden("只有首位工作人员本人可以自行承办", "only the first responder may keep the demand")


def assign(
    item: QueueItem,
    *,
    kind: AssigneeKind,
    assignee_id: str | None,
    assignee_name: str | None,
    mode: HandlingMode,
    due_on: date | None,
    assigned_by: str,
    note: str | None,
    now: datetime,
    today: date,
) -> tuple[QueueItem, Assignment]:
    """First dispatch or rematch (改派); refused once the demand is resolved."""
    if item.status == "resolved":
        raise InvalidTransition("需求已办结，不能再派单", "demand is already resolved; it cannot be assigned")
    if kind is AssigneeKind.first_responder:
        # 首问负责: the clerk who received the demand keeps it.
        assignee_id = item.first_responder_id or item.first_responder
        assignee_name = item.first_responder
    if not assignee_id or not assignee_name:
        raise Invalid("请指定承办人或承办单位", "assignee_id and assignee_name are required", field="assignee_id")
    if due_on is None:
        # The date promised in the acceptance notice, unless that has passed (a rematch).
        due_on = (
            item.expected_on
            if item.expected_on and item.expected_on >= today
            else add_working_days(today, item.time_limit_days)
        )
    elif due_on < today:
        raise Invalid("办结期限不能早于今天", "due_on cannot be in the past", field="due_on")
    assignment = Assignment(
        demand_id=item.demand_id,
        assignment_no=item.assignment_count + 1,
        round=item.round,
        assignee_kind=kind,
        assignee_id=assignee_id,
        assignee_name=assignee_name,
        handling_mode=mode,
        due_on=due_on,
        assigned_by=assigned_by,
        note=note,
        assigned_at=now,
    )
    return replace(item, status="assigned", assignment_count=assignment.assignment_no), assignment


def assigned_event(item: QueueItem, a: Assignment) -> Assigned:
    """First dispatch and rematch alike answer the submission: same correlation, caused by DemandSubmitted."""
    return item.cause.caused(
        Assigned,
        occurred_at=a.assigned_at,
        round=a.round,
        assignment_no=a.assignment_no,
        assignee_kind=a.assignee_kind,
        assignee_id=a.assignee_id,
        assignee_name=a.assignee_name,
        handling_mode=a.handling_mode,
        due_on=a.due_on,
        assigned_by=a.assigned_by,
        note=a.note,
    )


def resolve(item: QueueItem, round_: int) -> QueueItem:
    if round_ < item.round:
        return item  # a late Resolved of an earlier round changes nothing
    return replace(item, status="resolved", round=round_)
