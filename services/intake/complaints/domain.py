"""Complaint rules (投诉, 000 §服务质量监督, 001 §6.6, 002 §8.1; GB/T 19012 stages). Pure.

A complaint is received (受理) from the enterprise online through its status link, or recorded by the station's
staff from a phone call, a letter, the window or a message; it concerns the station, a staff member or a service
organization, and may concern one demand. The station's head then moves it through the stages of GB/T 19012, each
once and in order: acknowledged (告知投诉人已受理) → investigated (调查) → resolved (处理, with whether it was founded)
→ answered (答复投诉人) → closed (结案). Each stage keeps who, when and a note; each has a limit in working days counted
from the stage before it (the day of that stage not counted, 民法典 §201), so the complaint always shows by when its
next stage is due (`due_on`) and whether that is past (`overdue`). A due date is fixed when the stage before is
recorded, with the working-day corrections known then (as a demand's promised date is).

Until it is resolved the head may correct what the complaint is about (an online complaint names an organization by
the name the enterprise was told, the head adds the registry's id); a complaint about an organization is resolved only
once the organization is identified, so dispatch can count it in that organization's record.
"""

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from uuid import UUID

from shared.calendar import add_working_days, china_today
from shared.contracts import ComplaintChannel, ComplaintStage, ComplaintSubject, ComplaintUpdated
from shared.errors import Invalid, InvalidTransition

STAGES: tuple[ComplaintStage, ...] = tuple(ComplaintStage)  # in order: the contract's order is GB/T 19012's
# The stages the station's head records (received is the complaint's own creation).
MOVES: tuple[ComplaintStage, ...] = STAGES[1:]
# Until and including this stage the head may correct what the complaint is about.
LAST_SUBJECT_CHANGE = ComplaintStage.resolved
# What an organization complained about may read, and when: once the complainant has been answered.
SHOWN_TO_ORGANIZATION = (ComplaintStage.answered, ComplaintStage.closed)
# Staff record what reached them by these; `online` is the enterprise's own, through its status link.
STAFF_CHANNELS = tuple(c for c in ComplaintChannel if c is not ComplaintChannel.online)
ONLINE_RECORDER = "网上投诉"  # who recorded an online complaint (as "网上申报" is a demand's first responder)
ONLINE_RECORDER_ID = "status-link"


def position(stage: ComplaintStage) -> int:
    return STAGES.index(stage)


def next_stage(stage: ComplaintStage) -> ComplaintStage | None:
    at = position(stage)
    return STAGES[at + 1] if at + 1 < len(STAGES) else None


@dataclass(frozen=True)
class StageLimits:
    """Working days each stage may take after the stage before it (settings: complaint_*_days)."""

    acknowledged: int
    investigated: int
    resolved: int
    answered: int
    closed: int

    def __post_init__(self) -> None:
        if min(self.days(s) for s in MOVES) < 1:
            raise ValueError("every complaint stage needs a limit of at least one working day")

    def days(self, stage: ComplaintStage) -> int:
        return getattr(self, stage.value)


@dataclass(frozen=True)
class Subject:
    """What the complaint is about: the station, a staff member or an organization (by the registry's id)."""

    kind: ComplaintSubject
    id: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class SubjectCorrection:
    """The head's correction of what a complaint is about: a field not given is kept, unless the kind changes."""

    kind: ComplaintSubject | None = None
    id: str | None = None
    name: str | None = None

    def applied(self, subject: Subject) -> Subject:
        kind = self.kind or subject.kind
        same = kind is subject.kind
        return Subject(kind, self.id or (subject.id if same else None), self.name or (subject.name if same else None))


@dataclass(frozen=True)
class Stage:
    """One stage reached: who, when, what was done, by when it was due; the subject as it stood then."""

    stage: ComplaintStage
    at: datetime
    by: str
    by_id: str
    note: str | None
    due_on: date | None  # the limit this stage had (None for received, which has none)
    subject: Subject
    event_id: UUID
    founded: bool | None = None  # resolved only

    @property
    def late(self) -> bool:
        """Reached after its limit (China date)."""
        return self.due_on is not None and china_today(self.at) > self.due_on


@dataclass(frozen=True)
class Complaint:
    complaint_id: UUID
    station_id: str
    complaint_no: str
    channel: ComplaintChannel
    subject: Subject
    complainant_name: str
    complainant_contact: str
    content: str
    correlation_id: UUID
    stages: tuple[Stage, ...]
    due_on: date | None  # when the next stage is due; None once closed
    enterprise_name: str | None = None
    demand_id: UUID | None = None
    tracking_no: str | None = None

    @property
    def stage(self) -> ComplaintStage:
        return self.stages[-1].stage

    @property
    def received(self) -> Stage:
        return self.stages[0]

    @property
    def founded(self) -> bool | None:
        return next((s.founded for s in self.stages if s.stage is ComplaintStage.resolved), None)

    @property
    def answer(self) -> Stage | None:
        """The answer given to the complainant (答复), once given."""
        return next((s for s in self.stages if s.stage is ComplaintStage.answered), None)

    @property
    def next_stage(self) -> ComplaintStage | None:
        return next_stage(self.stage)

    def overdue(self, today: date) -> bool:
        """The next stage is past its limit (China date today after the due date)."""
        return self.due_on is not None and today > self.due_on

    def shown_to_organization(self, org_id: str) -> bool:
        return (
            self.subject.kind is ComplaintSubject.organization
            and self.subject.id == org_id
            and self.stage in SHOWN_TO_ORGANIZATION
        )


def complaint_no(year: int, serial: int) -> str:
    """投诉编号: "T" + year + a per-station serial without gaps, e.g. T2026-000012 (as 跟踪单号, 004 附录B)."""
    return f"T{year:04d}-{serial:06d}"


def due(after: datetime, days: int, workday_overrides: Mapping[date, bool]) -> date:
    """The `days`-th working day after the China date of `after`."""
    return add_working_days(china_today(after), days, workday_overrides)


def check_subject(subject: Subject, *, resolving: bool = False) -> None:
    """A staff member is named; an organization is named or identified, and identified before it is resolved."""
    if subject.kind is ComplaintSubject.staff and not subject.name:
        raise Invalid(
            "投诉工作人员时须填写其姓名或岗位", "a complaint about staff names the person", field="subject_name"
        )
    if subject.kind is ComplaintSubject.organization:
        if not (subject.id or subject.name):
            raise Invalid(
                "投诉服务机构时须填写机构编号或名称",
                "a complaint about an organization names or identifies it",
                field="subject_id",
            )
        if resolving and not subject.id:
            raise Invalid(
                "投诉对象为服务机构：处理前须填写该机构在服务机构库中的编号",
                "a complaint about an organization is resolved only once the organization's registry id is known",
                field="subject_id",
            )


def station_subject(subject: Subject, station_id: str, station_name: str) -> Subject:
    """A complaint about the station is about the complaint's own station, whatever was typed."""
    if subject.kind is ComplaintSubject.station:
        return Subject(ComplaintSubject.station, station_id, station_name)
    return subject


def receive(
    *,
    complaint_id: UUID,
    station_id: str,
    station_name: str,
    year_serial: tuple[int, int],
    channel: ComplaintChannel,
    subject: Subject,
    complainant_name: str,
    complainant_contact: str,
    content: str,
    by: str,
    by_id: str,
    at: datetime,
    event_id: UUID,
    correlation_id: UUID,
    limits: StageLimits,
    workday_overrides: Mapping[date, bool],
    enterprise_name: str | None = None,
    demand_id: UUID | None = None,
    tracking_no: str | None = None,
) -> Complaint:
    """受理: the complaint as received, numbered, its acknowledgement due."""
    subject = station_subject(subject, station_id, station_name)
    check_subject(subject)
    received = Stage(
        stage=ComplaintStage.received,
        at=at,
        by=by,
        by_id=by_id,
        note=None,
        due_on=None,
        subject=subject,
        event_id=event_id,
    )
    return Complaint(
        complaint_id=complaint_id,
        station_id=station_id,
        complaint_no=complaint_no(*year_serial),
        channel=channel,
        subject=subject,
        complainant_name=complainant_name,
        complainant_contact=complainant_contact,
        content=content,
        correlation_id=correlation_id,
        stages=(received,),
        due_on=due(at, limits.days(ComplaintStage.acknowledged), workday_overrides),
        enterprise_name=enterprise_name,
        demand_id=demand_id,
        tracking_no=tracking_no,
    )


def advance(
    complaint: Complaint,
    stage: ComplaintStage,
    *,
    note: str,
    by: str,
    by_id: str,
    at: datetime,
    event_id: UUID,
    limits: StageLimits,
    workday_overrides: Mapping[date, bool],
    founded: bool | None = None,
    correction: SubjectCorrection | None = None,
    station_name: str = "",
) -> Complaint:
    """The next stage, and only the next: each stage once, in order. `founded` with `resolved` and only with it;
    a corrected subject until and including `resolved` (`station_name`: the complaint's station's, should the
    complaint turn out to be about the station)."""
    expected = complaint.next_stage
    if stage is not expected:
        current = complaint.stage.label
        if expected is None:
            raise InvalidTransition(
                f"投诉已结案（{current}），不能再变更", "the complaint is closed", code="complaint_closed"
            )
        raise InvalidTransition(
            f"投诉当前为「{current}」，下一步只能是「{_step(expected)}」",
            f"the complaint is {complaint.stage.value}; its next stage is {expected.value}",
            code="complaint_stage_order",
        )
    if (stage is ComplaintStage.resolved) != (founded is not None):
        if founded is None:
            raise Invalid(
                "处理时须认定投诉是否属实", "resolving a complaint says whether it was founded", field="founded"
            )
        raise Invalid(
            "只有处理环节认定投诉是否属实", "only the resolved stage says whether it was founded", field="founded"
        )
    current_subject = complaint.subject
    if correction is not None:
        if position(stage) > position(LAST_SUBJECT_CHANGE):
            raise Invalid(
                "投诉处理后不能再更改投诉对象",
                "the subject cannot change once the complaint is resolved",
                field="subject",
            )
        current_subject = station_subject(correction.applied(complaint.subject), complaint.station_id, station_name)
    check_subject(current_subject, resolving=stage is ComplaintStage.resolved)
    reached = Stage(
        stage=stage,
        at=at,
        by=by,
        by_id=by_id,
        note=note,
        due_on=complaint.due_on,
        subject=current_subject,
        event_id=event_id,
        founded=founded,
    )
    following = next_stage(stage)
    return replace(
        complaint,
        subject=current_subject,
        stages=(*complaint.stages, reached),
        due_on=due(at, limits.days(following), workday_overrides) if following else None,
    )


def _step(stage: ComplaintStage) -> str:
    """The stage as a step to take: 确认, 调查, 处理, 答复投诉人, 结案."""
    return {
        ComplaintStage.acknowledged: "确认",
        ComplaintStage.investigated: "调查",
        ComplaintStage.resolved: "处理",
        ComplaintStage.answered: "答复投诉人",
        ComplaintStage.closed: "结案",
    }.get(stage, stage.label)


def updated_event(complaint: Complaint) -> ComplaintUpdated:
    """ComplaintUpdated for the stage just reached, whole (a consumer that missed one still knows the complaint).

    Correlated with the demand it concerns (or the complaint's own correlation), caused by the stage before. The
    note of `received` is what the complaint says; the complainant's name and contact never leave intake.
    """
    latest = complaint.stages[-1]
    before = complaint.stages[-2] if len(complaint.stages) > 1 else None
    return ComplaintUpdated(
        event_id=latest.event_id,
        occurred_at=latest.at,
        correlation_id=complaint.correlation_id,
        causation_id=before.event_id if before else None,
        complaint_id=complaint.complaint_id,
        complaint_no=complaint.complaint_no,
        station_id=complaint.station_id,
        demand_id=complaint.demand_id,
        tracking_no=complaint.tracking_no,
        subject=complaint.subject.kind,
        subject_id=complaint.subject.id,
        subject_name=complaint.subject.name,
        channel=complaint.channel,
        stage=latest.stage,
        stage_at=latest.at,
        stage_by=latest.by,
        note=complaint.content if latest.stage is ComplaintStage.received else latest.note,
        founded=complaint.founded,
        due_on=complaint.due_on,
    )


# --------------------------------------------------------------------------- what the complainant is told online


def stage_label_for_complainant(complaint: Complaint) -> str:
    """Where the complaint stands, in the complainant's terms (no names, no internal notes before the answer)."""
    if complaint.stage in (ComplaintStage.answered, ComplaintStage.closed):
        outcome = {True: "经调查，投诉属实", False: "经调查，投诉不属实", None: ""}[complaint.founded]
        return (
            "已答复"
            + (f"：{outcome}" if outcome else "")
            + ("，已结案" if complaint.stage is ComplaintStage.closed else "")
        )
    return {
        ComplaintStage.received: "已收到您的投诉，等待服务站确认受理",
        ComplaintStage.acknowledged: "服务站已受理您的投诉，正在安排调查",
        ComplaintStage.investigated: "调查已完成，正在处理",
        ComplaintStage.resolved: "已处理，即将答复您",
    }[complaint.stage]
