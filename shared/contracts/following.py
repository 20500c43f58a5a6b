"""Following a case (服务跟进, domain.md §5.3, §8): what happens between assignment and resolution.

Tracking publishes all of these; the archive keeps them in the record, intake tells the enterprise what
concerns it (a pause, an extension) behind its status link. The clock is computed from these events
(pauses move the handling deadline, an approved extension replaces it), never kept as a counter.
"""

from datetime import date, datetime, time
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from .envelope import Event
from .events import Name, Text


class FollowUpKind(StrEnum):
    """A line of the tracking sheet (跟踪单, 004 附录C)."""

    contact = "contact"  # 联系企业
    appointment = "appointment"  # 预约（日期、时间、地点、人员）
    problem = "problem"  # 发现问题
    coordination = "coordination"  # 协调
    explanation = "explanation"  # 解释说明

    @property
    def label(self) -> str:
        return {
            FollowUpKind.contact: "联系企业",
            FollowUpKind.appointment: "预约",
            FollowUpKind.problem: "发现问题",
            FollowUpKind.coordination: "协调",
            FollowUpKind.explanation: "解释说明",
        }[self]


class Appointment(BaseModel):
    """服务对接的预约 (000 服务对接, 001 §6.3): when, where, who."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    on: date
    at: time | None = None
    place: Name
    attendees: Name  # who goes / who meets, as the clerk writes it


class PauseReason(StrEnum):
    """Why the clock stops (挂起): waiting on the enterprise or a third party (domain.md §9, 行政许可法 §45 pattern)."""

    materials = "materials"  # 等待企业补充材料
    sample = "sample"  # 等待样品
    site_date = "site_date"  # 等待企业确定现场时间
    third_party = "third_party"  # 等待第三方（检验、检测、鉴定等）
    other = "other"  # 其他

    @property
    def label(self) -> str:
        return {
            PauseReason.materials: "等待企业补充材料",
            PauseReason.sample: "等待样品",
            PauseReason.site_date: "等待企业确定现场时间",
            PauseReason.third_party: "等待第三方",
            PauseReason.other: "其他",
        }[self]


class DeadlineKind(StrEnum):
    """Every deadline a case has (all visible, not only the nearest)."""

    response = "response"  # 响应时限: submitted → assigned
    handling = "handling"  # 办结时限: the committed limit, moved by pauses, replaced by an approved extension
    reply = "reply"  # 督办回复时限: the station's answer to a 督办
    verification = "verification"  # 核实时限: a 不满意 rating verified by the head or the first responder (issue 10)

    @property
    def label(self) -> str:
        return {
            DeadlineKind.response: "响应时限",
            DeadlineKind.handling: "办结时限",
            DeadlineKind.reply: "督办回复时限",
            DeadlineKind.verification: "核实时限",
        }[self]


class SupervisionLevel(StrEnum):
    """Who a 督办 goes to: the supervisor of the station's district, then of the city."""

    district = "district"  # 区县督办
    city = "city"  # 市级督办

    @property
    def label(self) -> str:
        return {SupervisionLevel.district: "区县督办", SupervisionLevel.city: "市级督办"}[self]


class FollowUpRecorded(Event):
    """A follow-up on the tracking sheet, by station staff or the assigned organization."""

    routing_key = "demand.followed_up"

    follow_up_id: UUID
    kind: FollowUpKind
    text: Text
    appointment: Appointment | None = None  # required when kind is appointment
    recorded_by: Name
    recorded_by_org: str | None = None  # the organization's id when its staff recorded it
    recorded_at: datetime


class CasePaused(Event):
    """挂起: the handling clock stops while waiting on the enterprise or a third party; the enterprise is told."""

    routing_key = "demand.paused"

    pause_id: UUID
    assignment_no: int = Field(ge=1)
    reason_kind: PauseReason
    reason: Text
    paused_by: Name
    paused_at: datetime


class CaseResumed(Event):
    """恢复计时: the pause ends; the handling deadline moves by the working days paused."""

    routing_key = "demand.resumed"

    pause_id: UUID
    resumed_by: Name
    resumed_at: datetime
    note: str | None = Field(default=None, max_length=4000)
    paused_working_days: int = Field(ge=0)
    handling_due_on: date  # the handling deadline after the move


class ExtensionRequested(Event):
    """延期申请: the handler asks, before the deadline, for a later one, with a reason."""

    routing_key = "demand.extension_requested"

    extension_id: UUID
    assignment_no: int = Field(ge=1)
    requested_by: Name
    requested_at: datetime
    reason: Text
    due_on: date  # the handling deadline when asked
    new_due_on: date


class ExtensionDecided(Event):
    """延期审批: the head approves (the new date becomes the handling deadline) or refuses; the enterprise is told."""

    routing_key = "demand.extension_decided"

    extension_id: UUID
    assignment_no: int | None = Field(default=None, ge=1)  # the assignment it was asked under (additive)
    approved: bool
    decided_by: Name
    decided_at: datetime
    comment: str | None = Field(default=None, max_length=4000)
    reason: Text  # the request's reason, which the enterprise is told
    due_on: date  # the handling deadline before the decision
    new_due_on: date  # the requested date
    # The handling deadline in force after the decision (additive): the requested date moved by any pause since the
    # request if approved, the deadline as it was if refused.
    handling_due_on: date | None = None


class DeadlineWarned(Event):
    """预警: a deadline is N working days away; the handler and the head are warned."""

    routing_key = "demand.warned"

    deadline: DeadlineKind
    due_on: date
    working_days_left: int = Field(ge=0)
    notify: list[str] = Field(default_factory=list)  # who is warned: the handler's id, "head"
    warned_on: date


class CaseChased(Event):
    """催办: a deadline was missed; a written chase goes to the handler."""

    routing_key = "demand.chased"

    deadline: DeadlineKind
    due_on: date
    chased_on: date
    chased_by: Name  # "system" when the scheduler chased


class CaseSupervised(Event):
    """督办: the supervisor of the station's district or city requires an answer by a date.

    Issued by the scheduler after M working days overdue (issued_by "system") or by a supervisor by hand;
    unanswered past `reply_due_on`, it escalates to the next level (`escalated_from`).
    """

    routing_key = "demand.supervised"

    supervision_id: UUID
    level: SupervisionLevel
    supervisor_scope: str  # the district or city prefix whose supervisor it goes to
    issued_by: Name
    issued_at: datetime
    comment: Text
    reply_due_on: date
    escalated_from: UUID | None = None
    deadline: DeadlineKind | None = None  # the missed deadline that caused it, for an automatic one


class SupervisionAnswered(Event):
    """The station's answer to a 督办."""

    routing_key = "demand.supervision_answered"

    supervision_id: UUID
    answered_by: Name
    answered_at: datetime
    answer: Text


FOLLOWING: tuple[type[Event], ...] = (
    FollowUpRecorded,
    CasePaused,
    CaseResumed,
    ExtensionRequested,
    ExtensionDecided,
    DeadlineWarned,
    CaseChased,
    CaseSupervised,
    SupervisionAnswered,
)


def printed_tracking_no(station_id: str, tracking_no: str) -> str:
    """The tracking number as printed: the station's own code first, so it is unique across the city
    (two stations both have 2026-000001), e.g. "hunnan-01-2026-000001"."""
    return f"{station_id.rsplit('/', 1)[-1]}-{tracking_no}"
