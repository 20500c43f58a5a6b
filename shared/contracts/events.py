"""The lifecycle events: submitted → assigned → resolved → rated → archived (domain.md §5)."""

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from .envelope import Envelope, Event, StationId

Text = Annotated[str, Field(min_length=1, max_length=4000)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class Channel(StrEnum):
    """How the demand reached the station (002 §6.1, 004 §6.2)."""

    window = "window"  # 窗口
    phone = "phone"  # 电话
    email = "email"  # 电子邮件
    im = "im"  # 微信/即时通讯
    website = "website"  # 网站/小程序
    terminal = "terminal"  # 自助终端
    visit = "visit"  # 主动进企业
    daily = "daily"  # 日常服务
    hotline = "hotline"  # 12345 热线转办

    @property
    def label(self) -> str:
        """The channel as people at the window say it."""
        return _CHANNEL_LABELS[self]


_CHANNEL_LABELS = {
    Channel.window: "窗口",
    Channel.phone: "电话",
    Channel.email: "电子邮件",
    Channel.im: "微信/即时通讯",
    Channel.website: "网站/小程序",
    Channel.terminal: "自助终端",
    Channel.visit: "主动进企业",
    Channel.daily: "日常服务",
    Channel.hotline: "12345 热线转办",
}


class AssigneeKind(StrEnum):
    """Who handles the demand (domain.md §5.2 a–d)."""

    first_responder = "first_responder"  # 首问负责, the clerk who received it
    staff = "staff"  # a team member or department (牵头科室) of the station
    organization = "organization"  # an accredited service organization
    department = "department"  # another government department (referral)


class HandlingMode(StrEnum):
    independent = "independent"  # 独立办理
    joint = "joint"  # 共同办理
    coordinated = "coordinated"  # 协调办理


class Outcome(StrEnum):
    met = "met"  # need met
    not_met = "not_met"  # analysed why it cannot be met and told the enterprise (004 §6.4.2)


class Overall(StrEnum):
    """Item 10 of the satisfaction form (000 附录E, 002 附录C, 004 附录D)."""

    very_satisfied = "very_satisfied"  # 非常满意
    satisfied = "satisfied"  # 满意
    average = "average"  # 一般
    dissatisfied = "dissatisfied"  # 不满意

    @property
    def label(self) -> str:
        return _OVERALL_LABELS[self]

    @property
    def national(self) -> "NationalLevel":
        """The level reported upward on the national 政务服务"好差评" scale (domain.md §8): the seeds' four levels map
        onto its five; 一般 is 基本满意, 不满意 is 不满意 (a 差评). 非常不满意 has no counterpart on the seeds' form, so
        nothing maps to it."""
        return _NATIONAL[self]


# 满意 by default (domain.md §9): 非常满意 + 满意. Evaluation's setting (EVALUATION_SATISFIED_LEVELS) may name other
# levels, and each Rated says how its rating counted (Rated.counts_as_satisfied); a Rated from before that flag counts
# by this default, wherever it is counted (dispatch's records, the archive's books and reports, evaluation's KPIs).
DEFAULT_SATISFIED_LEVELS: tuple[Overall, ...] = (Overall.very_satisfied, Overall.satisfied)


class NationalLevel(StrEnum):
    """The national 好差评 scale (GB/T 39735 practice): the last two are 差评."""

    very_satisfied = "very_satisfied"  # 非常满意
    satisfied = "satisfied"  # 满意
    basically_satisfied = "basically_satisfied"  # 基本满意
    dissatisfied = "dissatisfied"  # 不满意
    very_dissatisfied = "very_dissatisfied"  # 非常不满意

    @property
    def label(self) -> str:
        return {
            NationalLevel.very_satisfied: "非常满意",
            NationalLevel.satisfied: "满意",
            NationalLevel.basically_satisfied: "基本满意",
            NationalLevel.dissatisfied: "不满意",
            NationalLevel.very_dissatisfied: "非常不满意",
        }[self]

    @property
    def is_bad(self) -> bool:  # 差评
        return self in (NationalLevel.dissatisfied, NationalLevel.very_dissatisfied)


_OVERALL_LABELS = {
    Overall.very_satisfied: "非常满意",
    Overall.satisfied: "满意",
    Overall.average: "一般",
    Overall.dissatisfied: "不满意",
}
_NATIONAL = {
    Overall.very_satisfied: NationalLevel.very_satisfied,
    Overall.satisfied: NationalLevel.satisfied,
    Overall.average: NationalLevel.basically_satisfied,
    Overall.dissatisfied: NationalLevel.dissatisfied,
}


class RatingSource(StrEnum):
    online = "online"  # the enterprise's own link
    paper = "paper"  # transcribed by staff from the paper form


class Enterprise(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")
    name: Name
    credit_code: str  # 统一社会信用代码, validated by intake


class EnterpriseProfile(BaseModel):
    """Where the enterprise stood in the station's dossier when the demand was submitted: what the archive's books
    (一链一册, 一镇一册, parks) group by, so a later change of the dossier does not move sealed demands."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    chain: str | None = None  # 产业链
    chain_leader: bool = False  # 链主企业
    town: str | None = None  # 专业镇
    in_park: bool | None = None
    park_name: str | None = None  # 园区


class Contact(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")
    name: Name
    phone: str


class CategoryRef(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")
    code: str
    label: str


Stars = Annotated[int, Field(ge=1, le=5)]


class Answers(BaseModel):
    """The satisfaction form; items 6–9 only when an organization or technician served."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    station_service: Stars | None = None  # 1 服务站服务
    station_timeliness: Stars | None = None  # 2 及时性
    station_professionalism: Stars | None = None  # 3 专业性
    station_civility: Stars | None = None  # 4 文明礼貌
    problem_solved: bool | None = None  # 5 问题是否解决
    technician_professionalism: Stars | None = None  # 6
    technician_timeliness: Stars | None = None  # 7
    technician_civility: Stars | None = None  # 8
    facilities: Stars | None = None  # 9 技术设施
    overall: Overall  # 10
    comments: str | None = Field(default=None, max_length=2000)  # 11


class GreenChannel(StrEnum):
    """绿色通道 (002 §6.3.3): who jumps the queue."""

    major_project = "major_project"  # 重大投资项目
    new_tech_enterprise = "new_tech_enterprise"  # 新创办科技型企业
    superior_task = "superior_task"  # 上级交办任务

    @property
    def label(self) -> str:
        return _GREEN_CHANNEL_LABELS[self]


_GREEN_CHANNEL_LABELS = {
    GreenChannel.major_project: "重大投资项目",
    GreenChannel.new_tech_enterprise: "新创办科技型企业",
    GreenChannel.superior_task: "上级交办任务",
}


class ItemRef(BaseModel):
    """A catalogue item as it was in force when the demand was submitted."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    code: str
    version: int
    category: str
    label: str
    time_limit_days: int
    handled_by: str
    # Added so the assignee sees what it needs to serve (additive).
    remarks: str | None = None
    materials: list[str] = Field(default_factory=list)  # what the catalogue asks the enterprise to bring
    materials_received: list[str] = Field(default_factory=list)


class DemandSubmitted(Event):
    routing_key = "demand.submitted"

    enterprise: Enterprise
    contact: Contact
    categories: list[CategoryRef] = Field(min_length=1)
    description: Text
    channel: Channel
    first_responder: Name
    submitted_at: datetime
    time_limit_days: int = Field(ge=1)
    # Added with the complete demand form (additive: older consumers ignore them).
    items: list[ItemRef] = Field(default_factory=list)
    green_channel: GreenChannel | None = None
    possible_duplicate_of: UUID | None = None
    visit_id: UUID | None = None
    first_responder_id: str | None = None  # the first responder's account (token subject), when known
    expected_on: date | None = None  # the completion date promised in the acceptance notice
    # The rest of the form, for the assignee and the archive (additive): the enterprise's address from its
    # dossier at submission, and the detail tables (products, instruments, special_equipment, operator_exams).
    address: str | None = None
    details: dict = Field(default_factory=dict)
    enterprise_profile: EnterpriseProfile | None = None  # additive: absent on demands submitted before it

    def summary(self) -> dict:
        """What a read model of demands (dispatch's queue, tracking's ledger) keeps of the submission."""
        return {
            "enterprise_name": self.enterprise.name,
            "categories": [c.model_dump() for c in self.categories],
            "description": self.description,
            "channel": self.channel.value,
            "first_responder": self.first_responder,
            "time_limit_days": self.time_limit_days,
            "submitted_at": self.submitted_at,
        }


class Handler(BaseModel):
    """A co-handler (协办) of an assignment: a staff member, a department (科室) or an organization."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    kind: AssigneeKind
    id: Name
    name: Name


class Referral(BaseModel):
    """转办: the government department a demand is referred to, and whom the station follows it up with."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    department: Name
    contact_name: Name | None = None
    contact_phone: str | None = None
    reason: Text


class Assigned(Event):
    """派单, 改派 (a rematch is the next assignment_no) and 转办 (assignee_kind department, with the referral)."""

    routing_key = "demand.assigned"

    round: int = Field(default=1, ge=1)
    assignment_no: int = Field(ge=1)  # 1 on first dispatch, +1 on each rematch
    assignee_kind: AssigneeKind
    assignee_id: Name
    assignee_name: Name
    handling_mode: HandlingMode
    due_on: date
    assigned_by: Name
    note: str | None = None
    # Added with the registry and staff (additive): the lead department (牵头科室) when the lead is
    # station staff, the co-handlers, and the referral when the assignee is another department.
    department: str | None = None
    co_handlers: list[Handler] = Field(default_factory=list)
    referral: Referral | None = None


class AssignmentReturned(Event):
    """退单: the assignee gives an assignment back with its reason; the demand returns to the head's queue."""

    routing_key = "demand.returned"

    round: int = Field(default=1, ge=1)
    assignment_no: int = Field(ge=1)  # the assignment given back
    assignee_kind: AssigneeKind
    assignee_id: Name
    assignee_name: Name
    reason: Text
    returned_by: Name
    returned_at: datetime


class DemandCorrected(Event):
    """The clerk corrected the form before dispatch (audited); readers replace what they keep of it."""

    routing_key = "demand.corrected"

    corrected_by: Name
    corrected_at: datetime
    reason: Text
    changed: list[str] = Field(min_length=1)  # the form's fields that changed
    contact: Contact
    categories: list[CategoryRef] = Field(min_length=1)
    items: list[ItemRef] = Field(default_factory=list)
    description: Text
    time_limit_days: int = Field(ge=1)
    expected_on: date | None = None
    address: str | None = None
    details: dict = Field(default_factory=dict)


class Closing(Event):
    """A demand that ends without being resolved: refused, merged or withdrawn. Archived like any other.

    `assignment_count` is how many assignments were made before it ended, so the archive knows the
    history it seals is complete (assignments 1..n).

    The rule every service applies, written once here: a closing is terminal, and of two closings of a
    demand the earlier one counts (`precedes`), judged by what they carry, never by the order they arrive.
    """

    kind: ClassVar[str]  # refused / merged / withdrawn: how services name the ending
    label: ClassVar[str]  # the same, for people

    round: int = Field(default=1, ge=1)
    assignment_count: int = Field(default=0, ge=0)
    reason: Text
    closed_by: Name
    closed_at: datetime

    @classmethod
    def of_kind(cls, kind: str) -> type["Closing"]:
        """The closing named `kind`, for a service that keeps only the kind (to label it, say)."""
        for closing in cls.__subclasses__():
            if closing.kind == kind:
                return closing
        raise KeyError(kind)

    def precedes(self, closed_at: datetime | None, event_id: UUID | None) -> bool:
        """Whether this closing ends the demand rather than the one known, given by its closed_at and event id.

        The earlier closed_at wins, the event id breaks a tie, so every service picks the same closing in any
        order of arrival. Nothing known (closed_at None): this one ends it. A known closing kept without its
        event id (intake's rows from before it kept it) wins a tie. Re-applying the known closing changes nothing.
        """
        if closed_at is None:
            return True
        return (self.closed_at, str(self.event_id)) < (closed_at, str(event_id) if event_id else "")

    def detail(self, mode: Literal["json", "python"] = "json") -> dict:
        """How the demand ended, as services keep and show it: kind, label, reason, who and when, how many
        assignments were made, and what this kind adds (basis; merged_into and its tracking number; by_enterprise).

        JSON-ready by default (ids and times as strings, as a jsonb column or a dossier holds them).
        """
        data = self.model_dump(mode=mode)
        own = (name for name in type(self).model_fields if name not in Closing.model_fields)
        keys = ("reason", "closed_by", "closed_at", "assignment_count", *own)
        return {"kind": self.kind, "label": self.label, **{k: data[k] for k in keys}}


class DemandRefused(Closing):
    """否定备案 (002 §7.2): the station cannot or may not serve the demand, with the legal or policy basis."""

    routing_key = "demand.refused"
    kind = "refused"
    label = "否定备案"

    basis: Text


class DemandMerged(Closing):
    """并单: a repeated demand merged into the open original; its tracking number is never reused."""

    routing_key = "demand.merged"
    kind = "merged"
    label = "已并单"

    merged_into: UUID
    merged_into_tracking_no: str


class DemandWithdrawn(Closing):
    """撤回: the enterprise (through its status link) or the station withdrew the demand before it was resolved."""

    routing_key = "demand.withdrawn"
    kind = "withdrawn"
    label = "已撤回"

    by_enterprise: bool = False


class Fee(BaseModel):
    """What the service cost the enterprise, recorded with the result (000 档案管理: 收费情况)."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    free_service: bool  # 公益/免费服务
    amount_yuan: float = Field(default=0, ge=0, le=100_000_000)  # 0 when free
    payer: Name | None = None  # who paid: the enterprise, a subsidy, the station
    note: str | None = Field(default=None, max_length=500)


class Deliverable(BaseModel):
    """A report, certificate or data set delivered to the enterprise, by reference (the archive keeps the reference,
    not the file): e.g. a test report's number, a certificate's number, where the file lies."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    title: Name
    reference: Name  # report/certificate number or document locator


class Resolved(Event):
    routing_key = "demand.resolved"

    round: int = Field(default=1, ge=1)
    # The assignment this resolution answers (its event is the causation_id); additive.
    assignment_no: int | None = Field(default=None, ge=1)
    outcome: Outcome
    summary: Text
    resolved_by: Name
    resolved_at: datetime
    # Added for the sealed record (issue 11, additive): fees, deliverables and the people who served.
    fee: Fee | None = None
    deliverables: list[Deliverable] = Field(default_factory=list, max_length=50)
    staff_involved: list[Name] = Field(default_factory=list, max_length=50)


class Rated(Event):
    routing_key = "demand.rated"

    round: int = Field(default=1, ge=1)
    answers: Answers
    source: RatingSource
    recorded_by: str | None = None
    rated_at: datetime
    # Whether this rating counts as 满意 under evaluation's definition (EVALUATION_SATISFIED_LEVELS) at the time it
    # was recorded: evaluation owns the definition, and dispatch's running record and the archive's books follow it.
    # None on events from before the field: consumers then count DEFAULT_SATISFIED_LEVELS (非常满意 + 满意).
    counts_as_satisfied: bool | None = None


class RatingLinkIssued(Event):
    """Evaluation opened `round`'s survey and made a one-time rating link for the enterprise's own status page, so
    the enterprise can rate from there as well as from the link the station sends (evaluation's link rules apply:
    once, until `expires_at`, dead once the round is rated or changes). Intake shows it behind the status link only."""

    routing_key = "demand.rating_link_issued"

    round: int = Field(default=1, ge=1)
    url: str = Field(min_length=1, max_length=500)  # the rating page with its token: a secret, like the token itself
    expires_at: datetime


class Archived(Event):
    routing_key = "demand.archived"

    archive_no: str
    sealed_at: datetime
    content_sha256: str
    event_count: int = Field(ge=1)


class CalendarCorrected(Envelope):
    """A working-day correction (a holiday or 调休 day the package does not know), which intake owns.

    Whoever computes working-day deadlines keeps these in its own store; intake announces them all
    on start, so a new consumer catches up. `is_workday` None removes the correction.
    """

    routing_key = "calendar.corrected"

    day: date
    is_workday: bool | None
    note: str | None = None


class StationRegistered(Envelope):
    """A station entered or changed in the registry, which intake owns (domain.md §2).

    Every service keeps the tree from these, so a station's scope covers the service
    points registered below it whatever their ids look like.
    """

    routing_key = "station.registered"

    station_id: StationId
    name: Name
    level: int = Field(ge=1, le=4)
    parent_id: StationId | None = None
    ancestors: list[StationId] = Field(default_factory=list)  # the root first, the parent last
