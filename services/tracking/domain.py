"""Tracking rules: the case as the sum of its events, whatever order they came in. Pure: no I/O.

Besides the lifecycle (submitted → assigned → resolved → rated → archived) a case takes in what
happens around it (issue 8): the form corrected before dispatch, an assignment returned (退单) and
the next one (改派), a referral to another department (转办), and the three ways a demand ends
without being resolved: refused (否定备案), merged (并单), withdrawn (撤回). Every rule compares
numbers or times carried by the events, never the order of arrival, so a late event never moves a
case backwards:

- a return of assignment n puts the case back to waiting for dispatch unless assignment n+1 is known;
- a closing is terminal (only the archive comes after it); of two closings the earlier one counts;
- a correction replaces the form fields kept here only if it is newer than the one applied.
"""

from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from uuid import UUID

from shared.contracts import (
    CLOSINGS,
    Archived,
    Assigned,
    AssigneeKind,
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
    FollowUpKind,
    FollowUpRecorded,
    HandlingMode,
    Outcome,
    Rated,
    Resolved,
    SupervisionAnswered,
)
from shared.contracts.envelope import Cause
from shared.errors import InvalidTransition, NotFound

DEMAND_NOT_FOUND = NotFound("未找到该需求", "demand not found")

# Where a case stands, derived from the facts present (see Case.status).
STATUSES = (
    "submitted",
    "returned",
    "assigned",
    "referred",
    "resolved",
    "rated",
    "refused",
    "merged",
    "withdrawn",
    "archived",
)
# Still being handled: followed, and late once its due date has passed.
OPEN_STATUSES = ("submitted", "returned", "assigned", "referred")
RESOLVABLE = ("assigned", "referred")
CLOSED = tuple(c.kind for c in CLOSINGS)
# What a case keeps of a closing (`Case.closing`): the contract's detail less what the case keeps in its own
# columns (closed_as, closed_at) and the API adds back.
_KEPT_ELSEWHERE = ("kind", "label", "closed_at")


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
    # The current assignment's lead department (牵头科室), co-handlers (协办) and referral (转办).
    department: str | None = None
    co_handlers: list[dict] | None = None
    referral: dict | None = None
    # The latest assignment given back (退单): its number, who, when, why.
    returned_no: int = 0
    returned_by: str | None = None
    returned_at: datetime | None = None
    return_reason: str | None = None
    # The correction whose form fields the case shows (更正登记).
    corrected_at: datetime | None = None
    correction_id: UUID | None = None
    # How the demand ended without being resolved: refused / merged / withdrawn, and the details.
    closed_as: str | None = None
    closed_at: datetime | None = None
    closing_id: UUID | None = None
    closing: dict | None = None
    # To be found by (issue 9): from the submission and its corrections.
    credit_code: str | None = None
    contact_phone: str | None = None
    items: list[dict] | None = None  # [{code, label}] of the catalogue items
    first_responder_id: str | None = None
    first_assigned_at: datetime | None = None
    # The clock's answers (services/tracking/clock), recomputed from the case's events whenever one arrives.
    response_due_on: date | None = None
    handling_due_on: date | None = None
    paused_since: datetime | None = None
    # Working days from acceptance to resolution (clock/domain.py, resolution_working_days), set with the resolution
    # it measures and kept with it: the figure behind the average and 90th percentile the city watches.
    resolution_working_days: int | None = None

    @property
    def status(self) -> str:
        if self.archive_no:
            return "archived"
        if self.closed_as:
            return self.closed_as
        if self.rated_at:
            return "rated"
        if self.resolved_at:
            return "resolved"
        if self.returned_no and self.returned_no >= self.assignment_no:
            return "returned"
        if self.assignment_no:
            return "referred" if self.assignee_kind == AssigneeKind.department else "assigned"
        return "submitted"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def caused_by(self, event_id: UUID | None) -> Cause:
        """The cause of an event tracking publishes about this case: `event_id` is what it answers (the current
        assignment, `assigned_event_id`, for most), None when a person rather than an event prompted it."""
        return Cause(event_id, self.correlation_id, self.station_id, self.demand_id, self.tracking_no)

    @property
    def handling_deadline(self) -> date | None:
        """The handling deadline in force: the clock's (pauses and extensions counted), else the committed due date."""
        return self.handling_due_on or self.due_on

    def overdue(self, today: date) -> bool:
        """Late: open, not paused, and past the handling deadline in force (or, never assigned, past the response
        deadline); a closed case is never late. The same rule as the ledger's `overdue` list."""
        if not self.is_open or self.paused_since is not None:
            return False
        if (due := self.handling_deadline) is not None and due < today:
            return True
        return self.first_assigned_at is None and self.response_due_on is not None and self.response_due_on < today


CASE_FIELDS = tuple(f.name for f in fields(Case))
# What a correction may change of what the case keeps of the form.
FORM_FIELDS = ("categories", "description", "time_limit_days", "contact_phone", "items")


def _findable(event: DemandSubmitted | DemandCorrected) -> dict:
    return {"contact_phone": event.contact.phone, "items": [{"code": i.code, "label": i.label} for i in event.items]}


@dataclass(frozen=True)
class TimelineEntry:
    kind: str
    occurred_at: datetime
    text: str


def _newer_correction(case: Case, event: DemandCorrected) -> bool:
    if case.corrected_at is None:
        return True
    return (event.corrected_at, str(event.event_id)) > (case.corrected_at, str(case.correction_id))


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
            summary = event.summary() | {
                "credit_code": event.enterprise.credit_code,
                "first_responder_id": event.first_responder_id,
                **_findable(event),
            }
            if case.corrected_at is not None:  # a correction came first: its form fields stand
                summary = {k: v for k, v in summary.items() if k not in FORM_FIELDS}
            return replace(case, **summary)
        case DemandCorrected() if _newer_correction(case, event):
            return replace(
                case,
                categories=[c.model_dump() for c in event.categories],
                description=event.description,
                time_limit_days=event.time_limit_days,
                **_findable(event),
                corrected_at=event.corrected_at,
                correction_id=event.event_id,
            )
        case Assigned():
            # The response deadline is met by the first assignment, whichever arrives first.
            first = min(filter(None, (case.first_assigned_at, event.occurred_at)))
            case = replace(case, first_assigned_at=first)
            if event.assignment_no <= case.assignment_no:
                return case
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
                department=event.department,
                co_handlers=[h.model_dump(mode="json") for h in event.co_handlers],
                referral=event.referral.model_dump(mode="json") if event.referral else None,
            )
        case AssignmentReturned() if event.assignment_no > case.returned_no:
            return replace(
                case,
                returned_no=event.assignment_no,
                returned_by=event.returned_by,
                returned_at=event.returned_at,
                return_reason=event.reason,
            )
        case Closing() if event.precedes(case.closed_at, case.closing_id):
            return replace(
                case,
                closed_as=event.kind,
                closed_at=event.closed_at,
                closing_id=event.event_id,
                closing={k: v for k, v in event.detail().items() if k not in _KEPT_ELSEWHERE},
            )
        case Resolved() if event.round >= case.round:
            # A resolution at another instant is measured afresh (by the clock, which knows the calendar).
            same = event.resolved_at == case.resolved_at
            return replace(
                case,
                round=event.round,
                outcome=event.outcome.value,
                summary=event.summary,
                resolved_by=event.resolved_by,
                resolved_at=event.resolved_at,
                resolution_working_days=case.resolution_working_days if same else None,
            )
        case Rated() if event.round >= case.round:
            return replace(case, overall=event.answers.overall.value, rated_at=event.rated_at)
        case Archived():
            return replace(case, archive_no=event.archive_no, archived_at=event.sealed_at)
    return case


def resolve(case: Case, *, outcome: Outcome, summary: str, resolved_by: str, now: datetime) -> Resolved:
    """办结: only a case being handled can be resolved (004 §6.4); a referral once the department has answered."""
    status = case.status
    if status == "returned":
        raise InvalidTransition(
            "该需求已被退单，等待站长改派，暂不能办结",
            "the assignment was returned; the demand waits for the head to rematch it and cannot be resolved",
        )
    if status in CLOSED:
        raise InvalidTransition(
            f"需求已终止（{STATUS_LABELS[status]}），不能办结",
            f"the demand was {status}; it has ended and cannot be resolved",
        )
    if status not in RESOLVABLE:
        raise InvalidTransition(
            f"需求当前状态为「{STATUS_LABELS[status]}」，只有办理中的需求可以办结",
            f"only an assigned demand can be resolved; this one is {status}",
        )
    return case.caused_by(case.assigned_event_id).caused(
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
    "returned": "已退单待改派",
    "assigned": "办理中",
    "referred": "已转办跟进中",
    "resolved": "已办结",
    "rated": "已评价",
    **{c.kind: c.label for c in CLOSINGS},
    "archived": "已归档",
}

_OVERALL_LABELS = {"very_satisfied": "非常满意", "satisfied": "满意", "average": "一般", "dissatisfied": "不满意"}
_MODE_LABELS = {
    HandlingMode.independent: "独立办理",
    HandlingMode.joint: "共同办理",
    HandlingMode.coordinated: "协调办理",
}
# The form's fields as a clerk names them; a field not listed here is shown as it is.
FIELD_LABELS = {
    "contact": "联系人",
    "categories": "服务类别",
    "items": "服务项目",
    "description": "需求描述",
    "time_limit_days": "办结时限",
    "expected_on": "预计办结日期",
    "address": "企业地址",
    "details": "明细表",
    "enterprise": "企业信息",
    "channel": "受理渠道",
    "green_channel": "绿色通道",
}


def _field_label(name: str) -> str:
    return FIELD_LABELS.get(name.split(".", 1)[0], name)


def _assigned_text(event: Assigned) -> str:
    due = f"办结期限 {event.due_on.isoformat()}"
    if event.assignee_kind is AssigneeKind.department or event.referral is not None:
        r = event.referral
        target = r.department if r else event.assignee_name
        contact = " ".join(x for x in (r.contact_name, r.contact_phone) if x) if r else ""
        text = f"{event.assigned_by} 转办至 {target}"
        if contact:
            text += f"（联系人 {contact}）"
        if r:
            text += f"，原因：{r.reason}"
        return f"{text}，本站继续跟进，{due}"
    verb = "派单" if event.assignment_no == 1 else "改派"
    text = f"{event.assigned_by} {verb}给 {event.assignee_name}"
    if event.department:
        text += f"（牵头科室 {event.department}）"
    if event.co_handlers:
        text += f"，协办 {'、'.join(h.name for h in event.co_handlers)}"
    if event.handling_mode is not HandlingMode.independent:
        text += f"，{_MODE_LABELS[event.handling_mode]}"
    return f"{text}，{due}"


def timeline_text(event: Event) -> str:
    """One line of the tracking sheet (跟踪单) for people, in Chinese."""
    match event:
        case DemandSubmitted():
            return f"{event.first_responder} 受理需求（{event.channel.label}）"
        case DemandCorrected():
            changed = "、".join(dict.fromkeys(_field_label(c) for c in event.changed))
            return f"{event.corrected_by} 更正登记（{changed}），原因：{event.reason}"
        case Assigned():
            return _assigned_text(event)
        case AssignmentReturned():
            return (
                f"{event.returned_by} 退单（第 {event.assignment_no} 次派单，{event.assignee_name}），"
                f"原因：{event.reason}；等待站长改派"
            )
        case DemandRefused():
            return f"{event.closed_by} 否定备案，原因：{event.reason}；依据：{event.basis}"
        case DemandMerged():
            return f"{event.closed_by} 并单：并入跟踪单 {event.merged_into_tracking_no}，原因：{event.reason}"
        case DemandWithdrawn():
            who = "企业申请撤回" if event.by_enterprise else "服务站撤回"
            return f"{event.closed_by} {who}，原因：{event.reason}"
        case Resolved():
            result = "需求已满足" if event.outcome is Outcome.met else "无法满足，已向企业说明"
            return f"{event.resolved_by} 办结：{result}"
        case Rated():
            return f"企业评价：{_OVERALL_LABELS[event.answers.overall.value]}"
        case Archived():
            return f"资料归档，档案号 {event.archive_no}"
        case FollowUpRecorded():
            return _follow_up_text(event)
        case CasePaused():
            return f"{event.paused_by} 挂起（{event.reason_kind.label}），原因：{event.reason}；暂停计时"
        case CaseResumed():
            text = f"{event.resumed_by} 恢复计时，挂起 {event.paused_working_days} 个工作日"
            text += f"，办结期限顺延至 {event.handling_due_on.isoformat()}"
            return text + (f"；{event.note}" if event.note else "")
        case ExtensionRequested():
            return (
                f"{event.requested_by} 申请延期：办结期限由 {event.due_on.isoformat()} 延至 "
                f"{event.new_due_on.isoformat()}，原因：{event.reason}"
            )
        case ExtensionDecided():
            verdict = (
                f"同意延期至 {(event.handling_due_on or event.new_due_on).isoformat()}"
                if event.approved
                else "不同意延期"
            )
            return f"{event.decided_by} {verdict}" + (f"，意见：{event.comment}" if event.comment else "")
        case DeadlineWarned():
            return f"预警：{event.deadline.label} {event.due_on.isoformat()}，剩余 {event.working_days_left} 个工作日"
        case CaseChased():
            return f"催办：{event.deadline.label} {event.due_on.isoformat()} 已超期（{event.chased_by}）"
        case CaseSupervised():
            text = (
                f"{event.level.label}：{event.issued_by}，{event.comment}；请于 {event.reply_due_on.isoformat()} 前回复"
            )
            return ("督办升级，" if event.escalated_from else "") + text
        case SupervisionAnswered():
            return f"{event.answered_by} 回复督办：{event.answer}"
    return event.routing_key


def _follow_up_text(event: FollowUpRecorded) -> str:
    text = f"{event.recorded_by} {event.kind.label}：{event.text}"
    if event.kind is FollowUpKind.appointment and (a := event.appointment) is not None:
        when = a.on.isoformat() + (f" {a.at.strftime('%H:%M')}" if a.at else "")
        text += f"（{when}，{a.place}，{a.attendees}）"
    return text
