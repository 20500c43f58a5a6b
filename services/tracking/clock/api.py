"""HTTP routes: the clock of a case — pauses (挂起), extensions (延期), every deadline — and each station's clock.

The handler of a case (staff of its station, or the organization it is assigned to now) pauses, resumes and asks
for extensions; the station's head decides them; readers of the station, its supervisors and the assigned
organization see every deadline. Station ids hold slashes, so the station is a `:path` parameter followed by a
fixed segment (`/stations/{station_id}/clock`).
"""

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from shared.api import IdempotencyKey, StationPaged, UoW, allow
from shared.auth import READERS, STAFF, Principal, Role
from shared.contracts import DeadlineKind, PauseReason, StationId
from shared.validation import DueDate, RequestModel, Text

from ..deps import Defaults
from ..domain import Case
from . import usecases
from .domain import STATUS_LABELS, Extension

router = APIRouter(tags=["挂起、延期与时限 / pause, extension and deadlines"])
Handler = Annotated[Principal, allow(*STAFF, Role.org)]
ReaderOrOrg = Annotated[Principal, allow(*READERS, Role.org)]
Head = Annotated[Principal, allow(Role.head)]
Reader = Annotated[Principal, allow(*READERS)]
Keeper = Annotated[Principal, allow(Role.head, Role.admin)]
SettingsReader = Annotated[Principal, allow(*READERS, Role.admin)]
StationPath = Annotated[StationId, Path(description="服务站编号，如 210100/210112/hunnan-01")]
Reason = Annotated[Text, Field(min_length=1, max_length=2000)]


# --- bodies ---


class PauseIn(RequestModel):
    reason_kind: PauseReason = Field(
        description="materials 等待企业补充材料 / sample 等待样品 / site_date 等待企业确定现场时间 / "
        "third_party 等待第三方（检验、检测、鉴定） / other 其他"
    )
    reason: Reason = Field(description="挂起原因（将告知企业）")


class ResumptionIn(RequestModel):
    note: Annotated[Text, Field(min_length=1, max_length=2000)] | None = Field(
        default=None, description="恢复计时说明（如：企业已补齐材料）"
    )


class ExtensionIn(RequestModel):
    new_due_on: DueDate = Field(description="申请延至的办结日期（须为工作日，且晚于当前办结期限）")
    reason: Reason = Field(description="延期原因（将告知企业）")


class DecisionIn(RequestModel):
    approved: bool = Field(description="true 同意延期 / false 不同意")
    comment: Annotated[Text, Field(min_length=1, max_length=2000)] | None = Field(default=None, description="审批意见")


Days = Annotated[int, Field(description="工作日")]


class StationClockIn(RequestModel):
    """A station's own clock; a field left out (or null) keeps the service's default."""

    response_days: Annotated[int, Field(ge=1, le=30)] | None = Field(
        default=None, description="响应时限：受理至首次派单（工作日，1–30）"
    )
    warn_days: Annotated[int, Field(ge=0, le=10)] | None = Field(
        default=None, description="预警：期限前几个工作日（0–10）"
    )
    escalate_after_days: Annotated[int, Field(ge=1, le=30)] | None = Field(
        default=None, description="督办：超期几个工作日后报区县（1–30）"
    )
    reply_days: Annotated[int, Field(ge=1, le=30)] | None = Field(
        default=None, description="督办回复时限（工作日，1–30）"
    )
    verify_days: Annotated[int, Field(ge=1, le=30)] | None = Field(
        default=None, description="核实时限：评价为不满意至核实（工作日，1–30）"
    )
    rehandling_days: Annotated[int, Field(ge=1, le=30)] | None = Field(
        default=None, description="重办时限：核实属实、重新办理至办结（工作日，自次日起算，1–30）"
    )
    revisit_days: Annotated[int, Field(ge=1, le=30)] | None = Field(
        default=None, description="回访时限：办结（或评价为不满意）后几个工作日内完成回访（自次日起算，1–30）"
    )
    revisit_sample_rate: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] | None = Field(
        default=None,
        description="抽样回访比例：需求已满足的办结需求中抽取回访的比例（0–1；评价不满意与需求未满足的一律回访）"
        " / share of the demands resolved with their need met that get a re-visit task (0..1); 不满意 ratings and"
        " needs not met always do",
    )


# --- replies ---


class DeadlineOut(BaseModel):
    kind: str = Field(
        description="response 响应时限 / handling 办结时限（重办轮次为重办期限）/ reply 督办回复时限"
        " / verification 核实时限"
    )
    label: str
    due_on: date | None
    status: str = Field(description="met 已按期 / open 计时中 / overdue 已超期 / paused 已挂起 / ended 已终止")
    status_label: str
    met_on: date | None = Field(description="响应：首次派单日；办结：办结日；督办回复：答复日；核实：核实日")
    on_time: bool | None = Field(description="met 时是否在期限内")
    committed_on: date | None = Field(default=None, description="办结：派单时承诺的日期")
    base_on: date | None = Field(default=None, description="办结：计算基准（承诺日期或已批准的延期日期）")
    extension_id: UUID | None = Field(default=None, description="办结：基准所依据的延期申请")
    paused_working_days: int | None = Field(default=None, description="办结：已挂起并顺延的工作日")
    paused_since: datetime | None = Field(default=None, description="办结：挂起中，自何时起")
    supervision_id: UUID | None = Field(default=None, description="督办回复：所答复的督办")
    level: str | None = Field(default=None, description="督办回复：district 区县督办 / city 市级督办")
    round: int | None = Field(default=None, description="办结、核实：所属办理轮次（2 为重办）")
    finding: str | None = Field(default=None, description="核实：核实结论 founded / unfounded / unreachable")
    voided: bool | None = Field(default=None, description="核实：评价已经申诉复核作废（核实时限终止）")


class PauseOut(BaseModel):
    pause_id: UUID
    assignment_no: int
    reason_kind: str
    reason_label: str
    reason: str
    paused_by: str
    paused_at: datetime
    resumed_by: str | None
    resumed_at: datetime | None = Field(description="恢复计时时间；随办结、退单、改派或终止结束时为空")
    ended_at: datetime | None = Field(description="挂起结束时间（恢复计时，或需求不再办理）；挂起中为空")
    note: str | None
    working_days: int | None = Field(description="挂起的工作日数（开始日至结束前一日）；挂起中为空")


class ExtensionOut(BaseModel):
    extension_id: UUID
    assignment_no: int
    requested_by: str
    requested_at: datetime
    reason: str
    due_on: date = Field(description="申请时的办结期限")
    new_due_on: date = Field(description="申请延至")
    status: str = Field(description="pending 待审批 / approved 同意 / refused 不同意")
    decided_by: str | None
    decided_at: datetime | None
    comment: str | None

    @classmethod
    def of(cls, e: Extension) -> "ExtensionOut":
        return cls(
            **{k: getattr(e, k) for k in cls.model_fields if k != "status"},
            status=e.status,
        )


class ClockOut(BaseModel):
    demand_id: UUID
    station_id: str
    tracking_no: str
    status: str
    status_label: str
    today: date = Field(description="今日（北京时间）")
    response_due_on: date | None
    handling_due_on: date | None
    paused_since: datetime | None
    deadlines: list[DeadlineOut]
    pauses: list[PauseOut]
    extensions: list[ExtensionOut]

    @classmethod
    def of(cls, view: usecases.CaseClock) -> "ClockOut":
        case = view.case
        deadlines = []
        for d in view.deadlines:
            deadlines.append(
                DeadlineOut(
                    kind=d.kind,
                    label=DeadlineKind(d.kind).label,
                    due_on=d.due_on,
                    status=d.status,
                    status_label=STATUS_LABELS[d.status],
                    met_on=d.met_on,
                    on_time=d.on_time,
                    **{k: v for k, v in (d.detail or {}).items() if k in DeadlineOut.model_fields},
                )
            )
        pauses = [
            PauseOut(
                pause_id=p.pause_id,
                assignment_no=p.assignment_no,
                reason_kind=p.reason_kind,
                reason_label=PauseReason(p.reason_kind).label,
                reason=p.reason,
                paused_by=p.paused_by,
                paused_at=p.paused_at,
                resumed_by=p.resumed_by,
                resumed_at=p.resumed_at,
                ended_at=ended,
                note=p.note,
                working_days=days,
            )
            for p, ended, days in view.pauses
        ]
        return cls(
            demand_id=case.demand_id,
            station_id=case.station_id,
            tracking_no=case.tracking_no,
            status=case.status,
            status_label=case.status_label,
            today=view.today,
            response_due_on=case.response_due_on,
            handling_due_on=case.handling_due_on,
            paused_since=case.paused_since,
            deadlines=deadlines,
            pauses=pauses,
            extensions=[ExtensionOut.of(e) for e in view.extensions],
        )


class RequestedOut(ClockOut):
    extension_id: UUID = Field(description="本次延期申请")


class PendingOut(ExtensionOut):
    """A request in the head's list, with the case it concerns."""

    demand_id: UUID
    station_id: str
    tracking_no: str
    enterprise_name: str | None
    assignee_name: str | None
    handling_due_on: date | None

    @classmethod
    def pair(cls, e: Extension, case: Case) -> "PendingOut":
        return cls(
            **ExtensionOut.of(e).model_dump(),
            demand_id=case.demand_id,
            station_id=case.station_id,
            tracking_no=case.tracking_no,
            enterprise_name=case.enterprise_name,
            assignee_name=case.assignee_name,
            handling_due_on=case.handling_due_on,
        )


class StationClockOut(BaseModel):
    station_id: str
    response_days: Days
    warn_days: Days
    escalate_after_days: Days
    reply_days: Days
    verify_days: Days
    rehandling_days: Days
    revisit_days: Days
    revisit_sample_rate: float = Field(
        description="抽样回访比例（0–1）/ share of the demands resolved with their need met that get a re-visit task"
    )
    own: dict | None = Field(description="本站自行设置的值（未设置的项为 null，沿用默认值）；未设置过为 null")
    defaults: dict = Field(description="服务默认值")
    updated_by: str | None = None
    updated_at: datetime | None = None

    @classmethod
    def of(cls, sc: usecases.StationClock) -> "StationClockOut":
        own = sc.own or {}
        return cls(
            station_id=sc.station_id,
            **sc.settings.__dict__,
            own={k: own.get(k) for k in sc.defaults.__dict__} if sc.own else None,
            defaults=sc.defaults.__dict__,
            updated_by=own.get("updated_by"),
            updated_at=own.get("updated_at"),
        )


# --- routes ---


@router.get("/demands/{demand_id}/clock", response_model=ClockOut, summary="时限 / every deadline of the case")
async def clock(demand_id: UUID, uow: UoW, principal: ReaderOrOrg, defaults: Defaults) -> ClockOut:
    return ClockOut.of(await usecases.clock_of(uow, principal, demand_id, defaults))


@router.post(
    "/demands/{demand_id}/pauses",
    response_model=ClockOut,
    status_code=201,
    summary="挂起 / pause the handling clock (waiting on the enterprise or a third party)",
)
async def pause(
    demand_id: UUID,
    body: PauseIn,
    uow: UoW,
    principal: Handler,
    defaults: Defaults,
    idempotency_key: IdempotencyKey = None,
) -> ClockOut:
    view = await usecases.pause(
        uow,
        principal,
        demand_id,
        reason_kind=body.reason_kind,
        reason=body.reason,
        defaults=defaults,
        idempotency_key=idempotency_key,
    )
    return ClockOut.of(view)


@router.post(
    "/demands/{demand_id}/resumption",
    response_model=ClockOut,
    summary="恢复计时 / resume: the handling deadline moves by the working days paused",
)
async def resume(
    demand_id: UUID,
    uow: UoW,
    principal: Handler,
    defaults: Defaults,
    body: ResumptionIn | None = None,
    idempotency_key: IdempotencyKey = None,
) -> ClockOut:
    view = await usecases.resume(
        uow,
        principal,
        demand_id,
        note=body.note if body else None,
        defaults=defaults,
        idempotency_key=idempotency_key,
    )
    return ClockOut.of(view)


@router.post(
    "/demands/{demand_id}/extensions",
    response_model=RequestedOut,
    status_code=201,
    summary="申请延期 / ask the head for a later handling deadline (before it passes)",
)
async def request_extension(
    demand_id: UUID,
    body: ExtensionIn,
    uow: UoW,
    principal: Handler,
    defaults: Defaults,
    idempotency_key: IdempotencyKey = None,
) -> RequestedOut:
    view, extension_id = await usecases.request_extension(
        uow,
        principal,
        demand_id,
        new_due_on=body.new_due_on,
        reason=body.reason,
        defaults=defaults,
        idempotency_key=idempotency_key,
    )
    return RequestedOut(**ClockOut.of(view).model_dump(), extension_id=extension_id)


@router.post(
    "/demands/{demand_id}/extensions/{extension_id}/decision",
    response_model=ClockOut,
    summary="延期审批（站长）/ the head approves or refuses an extension",
)
async def decide_extension(
    demand_id: UUID,
    extension_id: UUID,
    body: DecisionIn,
    uow: UoW,
    principal: Head,
    defaults: Defaults,
    idempotency_key: IdempotencyKey = None,
) -> ClockOut:
    view = await usecases.decide_extension(
        uow,
        principal,
        demand_id,
        extension_id,
        approved=body.approved,
        comment=body.comment,
        defaults=defaults,
        idempotency_key=idempotency_key,
    )
    return ClockOut.of(view)


@router.get(
    "/extensions",
    response_model=list[PendingOut],
    summary="延期申请清单 / extension requests of the caller's stations (status=pending: waiting for the head)",
)
async def extensions(
    uow: UoW,
    principal: Reader,
    page: StationPaged,
    status: Annotated[
        Literal["pending", "approved", "refused"] | None,
        Query(description="pending 待审批 / approved 同意 / refused 不同意；不填为全部"),
    ] = None,
) -> list[PendingOut]:
    rows = await usecases.extension_list(uow, principal, page.station_id, status, page.limit, page.offset)
    return [PendingOut.pair(e, c) for e, c in rows]


@router.get(
    "/stations/{station_id:path}/clock",
    response_model=StationClockOut,
    summary="本站时限设置 / the station's clock (its own over the defaults)",
)
async def station_clock(
    station_id: StationPath, uow: UoW, principal: SettingsReader, defaults: Defaults
) -> StationClockOut:
    return StationClockOut.of(await usecases.station_clock(uow, principal, station_id, defaults))


@router.put(
    "/stations/{station_id:path}/clock",
    response_model=StationClockOut,
    summary="设置本站时限（站长或运维）/ set the station's clock (its head or operations)",
)
async def set_station_clock(
    station_id: StationPath, body: StationClockIn, uow: UoW, principal: Keeper, defaults: Defaults
) -> StationClockOut:
    sc = await usecases.set_station_clock(uow, principal, station_id, body.model_dump(), defaults)
    return StationClockOut.of(sc)
