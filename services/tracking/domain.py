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

After a 不满意 rating (issue 10, 004 §6.5.2) the case follows rounds. A 不满意 rating of a round before FINAL_ROUND
awaits verification (核实, `awaiting_verification`) by the head or the first responder. Verified as founded, tracking
reopens the demand (DemandReopened, round r+1, both published in one transaction): the case moves to the new round,
waits for its first assignment (重办待派, status "reopened") with the re-handling deadline as its handling deadline,
and is assigned, resolved and rated again; the earlier round's resolution and rating stay in the timeline, and the
first resolution is kept (`first_*`) so a demand counts as resolved once in the KPIs. An event of an older round
arriving late changes nothing (rounds only move forward), and a voided rating (申诉复核) needs no verification.
"""

from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from uuid import UUID

from shared.contracts import (
    CLOSINGS,
    FINAL_ROUND,
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
    Deliverable,
    DemandCorrected,
    DemandMerged,
    DemandRefused,
    DemandReopened,
    DemandSubmitted,
    DemandWithdrawn,
    Event,
    ExtensionDecided,
    ExtensionRequested,
    Fee,
    FollowUpKind,
    FollowUpRecorded,
    HandlingMode,
    Outcome,
    Overall,
    Rated,
    RatingVerified,
    RatingVoided,
    Resolved,
    SupervisionAnswered,
)
from shared.contracts.envelope import Cause
from shared.errors import Invalid, InvalidTransition, NotFound

DEMAND_NOT_FOUND = NotFound("未找到该需求", "demand not found")

# Where a case stands, derived from the facts present (see Case.status).
STATUSES = (
    "submitted",
    "reopened",
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
OPEN_STATUSES = ("submitted", "reopened", "returned", "assigned", "referred")
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
    # Rounds (issue 10). The round of the current assignment: below `round`, the reopened case waits for its
    # round's first assignment (重办待派).
    assigned_round: int = 1
    # The current round's rating (the Rated's event id, which its verification and a void name), its verification
    # (核实: the RatingVerified, its finding and when) and, if an appeal voided it (申诉复核), when.
    rated_event_id: UUID | None = None
    verification_id: UUID | None = None
    finding: str | None = None
    verified_at: datetime | None = None
    rating_voided_at: datetime | None = None
    # The clock's answer for a 不满意 rating that needs verification: the verification deadline (核实时限).
    verify_due_on: date | None = None
    # The reopening (重办, DemandReopened) that opened the current round, when round > 1.
    reopening_id: UUID | None = None
    reopened_at: datetime | None = None
    # The first resolution, kept when the case was reopened (the resolution columns above then belong to the round
    # being handled): the KPIs count a demand resolved once, by its first resolution and the deadline it met.
    first_resolved_at: datetime | None = None
    first_outcome: str | None = None
    first_handling_due_on: date | None = None
    first_resolution_working_days: int | None = None
    # Who resolved it first (the assignee then): the organization its resolution figures count for, for good.
    first_assignee_kind: str | None = None
    first_assignee_id: str | None = None
    first_assignee_name: str | None = None

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
        if self.round > 1 and self.assigned_round < self.round:
            return "reopened"
        if self.returned_no and self.returned_no >= self.assignment_no:
            return "returned"
        if self.assignment_no:
            return "referred" if self.assignee_kind == AssigneeKind.department else "assigned"
        return "submitted"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def status_label(self) -> str:
        """The status for people; in a re-handling round (重办) the handling statuses say so."""
        status = self.status
        if self.round > 1:
            return REHANDLING_LABELS.get(status) or STATUS_LABELS[status]
        return STATUS_LABELS[status]

    @property
    def needs_verification(self) -> bool:
        """Rated 不满意 in a round before FINAL_ROUND: the rating is verified (核实) before anything else happens;
        a 不满意 of the final round is final."""
        return self.rated_at is not None and self.overall == Overall.dissatisfied and self.round < FINAL_ROUND

    @property
    def awaiting_verification(self) -> bool:
        """待核实: needs verification and has none yet, its rating not voided, the demand neither ended nor archived.
        The same rule as casesql.awaiting_verification (the ledger's work list and the metrics)."""
        return (
            self.needs_verification
            and self.verified_at is None
            and self.rating_voided_at is None
            and self.closed_as is None
            and self.archive_no is None
        )

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
            if event.round < case.round or event.assignment_no <= case.assignment_no:
                return case  # an older round's, or not newer than the assignment known
            return replace(
                case,
                assigned_round=event.round,
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
        case AssignmentReturned() if event.assignment_no > case.returned_no and event.round >= case.round:
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
            return replace(
                case, overall=event.answers.overall.value, rated_at=event.rated_at, rated_event_id=event.event_id
            )
        case RatingVerified() if event.round == case.round and case.verification_id is None:
            return replace(
                case, verification_id=event.event_id, finding=event.finding.value, verified_at=event.verified_at
            )
        case DemandReopened() if event.round > case.round and case.closed_as is None and case.archive_no is None:
            return reopen(case, event)
        case RatingVoided() if event.round == case.round and case.rated_event_id in (None, event.rated_event_id):
            return replace(case, rating_voided_at=event.voided_at)
        case Archived():
            return replace(case, archive_no=event.archive_no, archived_at=event.sealed_at)
    return case


def reopen(case: Case, event: DemandReopened) -> Case:
    """重办: the case moves to `event.round` and waits for the round's first assignment, with the re-handling deadline
    as its handling deadline (the clock computes it from `due_on`). The round before's resolution, rating and
    verification are no longer the case's current facts (the timeline keeps them); the first resolution is kept in
    `first_*` (once: the first reopening's). Assignment numbers run on, so the current assignment stays the previous
    assignee until the round's first assignment."""
    first = {}
    if case.first_resolved_at is None and case.resolved_at is not None:
        first = dict(
            first_resolved_at=case.resolved_at,
            first_outcome=case.outcome,
            first_handling_due_on=case.handling_deadline,
            first_resolution_working_days=case.resolution_working_days,
            first_assignee_kind=case.assignee_kind,
            first_assignee_id=case.assignee_id,
            first_assignee_name=case.assignee_name,
        )
    return replace(
        case,
        **first,
        round=event.round,
        reopening_id=event.event_id,
        reopened_at=event.reopened_at,
        due_on=event.due_on,
        handling_due_on=None,
        paused_since=None,
        outcome=None,
        summary=None,
        resolved_by=None,
        resolved_at=None,
        resolution_working_days=None,
        overall=None,
        rated_at=None,
        rated_event_id=None,
        verification_id=None,
        finding=None,
        verified_at=None,
        rating_voided_at=None,
        verify_due_on=None,
    )


def check_round(case: Case, round_: int) -> None:
    """A request about a round (办结 of round n) is about the case's current round, or refused: the page it came
    from is out of date."""
    if round_ != case.round:
        raise InvalidTransition(
            f"该需求当前为第 {case.round} 轮办理，不是第 {round_} 轮，请刷新后重试",
            f"the demand is in round {case.round}, not round {round_}; reload and try again",
            field="round",
        )


def check_fee(fee: Fee | None) -> Fee | None:
    """收费情况 with the result (000 档案管理): a free service (公益/免费) charges nothing; amounts in yuan and fen."""
    if fee is None:
        return None
    if fee.free_service and fee.amount_yuan != 0:
        raise Invalid(
            "免费服务的收费金额应为 0", "a free service charges nothing: amount_yuan must be 0", field="fee.amount_yuan"
        )
    if round(fee.amount_yuan, 2) != fee.amount_yuan:
        raise Invalid(
            "收费金额最多保留两位小数（元、角、分）",
            "amount_yuan has at most two decimals (yuan and fen)",
            field="fee.amount_yuan",
        )
    return fee


def resolve(
    case: Case,
    *,
    outcome: Outcome,
    summary: str,
    resolved_by: str,
    now: datetime,
    fee: Fee | None = None,
    deliverables: tuple[Deliverable, ...] = (),
    staff_involved: tuple[str, ...] = (),
) -> Resolved:
    """办结: only a case being handled can be resolved (004 §6.4); a referral once the department has answered.

    With the result go what the sealed record keeps of it (issue 11): the fee charged, the reports or data delivered
    (by reference) and the people who served (each named once)."""
    fee = check_fee(fee)
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
        fee=fee,
        deliverables=list(deliverables),
        staff_involved=list(dict.fromkeys(staff_involved)),
    )


def _resolution_extras(event: Resolved) -> str:
    """The fee, deliverables and staff of a resolution, as the tracking sheet lists them."""
    parts = []
    if event.fee is not None:
        if event.fee.free_service:
            parts.append("免费服务")
        else:
            payer = f"，付费方：{event.fee.payer}" if event.fee.payer else ""
            parts.append(f"收费 {event.fee.amount_yuan:.2f} 元{payer}")
    if event.deliverables:
        parts.append("交付：" + "、".join(f"{d.title}（{d.reference}）" for d in event.deliverables))
    if event.staff_involved:
        parts.append("参与人员：" + "、".join(event.staff_involved))
    return "；" + "；".join(parts) if parts else ""


STATUS_LABELS = {
    "submitted": "已受理",
    "reopened": "重办待派",
    "returned": "已退单待改派",
    "assigned": "办理中",
    "referred": "已转办跟进中",
    "resolved": "已办结",
    "rated": "已评价",
    **{c.kind: c.label for c in CLOSINGS},
    "archived": "已归档",
}
# The same statuses in a re-handling round (重办), as dispatch's queue names them.
REHANDLING_LABELS = {
    "assigned": "重办中",
    "referred": "重办中（已转办）",
    "resolved": "重办已办结",
    "rated": "重办已评价",
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
    if event.round > 1:  # the event does not say whether it is the round's first assignment
        verb = f"重办派单（第 {event.round} 轮）"
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
            done = "办结" if event.round == 1 else f"重办办结（第 {event.round} 轮）"
            return f"{event.resolved_by} {done}：{result}{_resolution_extras(event)}"
        case Rated():
            which = "" if event.round == 1 else f"（第 {event.round} 轮）"
            return f"企业评价{which}：{_OVERALL_LABELS[event.answers.overall.value]}"
        case RatingVerified():
            text = f"{event.verified_by} 核实第 {event.round} 轮「不满意」评价：{event.finding.label}"
            text += f"，理由：{event.reason}"
            return text + (f"；依据：{event.evidence}" if event.evidence else "")
        case DemandReopened():
            text = f"{event.reopened_by} 启动重办（第 {event.round} 轮），重办期限 {event.due_on.isoformat()}"
            if event.previous_assignee_name:
                text += f"，上一轮承办：{event.previous_assignee_name}"
            return text + "；等待站长派单"
        case RatingVoided():
            return f"{event.voided_by} 申诉复核：第 {event.round} 轮企业评价作废（不计入满意度），原因：{event.reason}"
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
