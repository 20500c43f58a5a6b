"""Dispatch HTTP routes: the queue, assignments (派单/改派), referral (转办), return (退单), refusal (否定备案), merge
(并单), and what an assigned organization sees (its assignments, the demand's brief)."""

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from shared.api import IdempotencyKey, Paged, StationPaged, UoW, allow
from shared.auth import READERS, STAFF, Principal, Role
from shared.contracts import AssigneeKind, HandlingMode, Referral
from shared.validation import DueDate, Line, Phone, RequestModel, Text

from . import domain, usecases
from .domain import STATUSES, Assignment, QueueItem
from .staff.domain import MAX_CO_HANDLERS

router = APIRouter(tags=["dispatch 派单"])
Staff = Annotated[Principal, allow(*STAFF)]
Head = Annotated[Principal, allow(Role.head)]
Reader = Annotated[Principal, allow(*READERS)]
ReaderOrOrg = Annotated[Principal, allow(*READERS, Role.org)]
Assignee = Annotated[Principal, allow(*STAFF, Role.org)]
Org = Annotated[Principal, allow(Role.org)]

Reason = Annotated[Text, Field(min_length=1, max_length=2000)]


class HandlerIn(RequestModel):
    kind: Literal["staff", "department", "organization"] = Field(description="协办方：本站人员/科室/服务机构")
    id: Annotated[Line, Field(min_length=1, max_length=100)] = Field(description="人员账号、科室编号或机构编号")


class AssignmentIn(RequestModel):
    assignee_kind: AssigneeKind = Field(
        description="首问负责 first_responder / 本站人员或科室 staff / 服务机构 organization"
        "（转办其他部门请用 /referrals）"
    )
    assignee_id: Line | None = Field(
        default=None, min_length=1, max_length=100, description="服务机构编号（assignee_kind 为 organization 时必填）"
    )
    assignee_name: Line | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="不使用：名称取自服务机构库或本站人员名册 / ignored: the registry's or roster's name is used",
    )
    handling_mode: HandlingMode = Field(default=HandlingMode.independent, description="独立/共同/协调办理")
    due_on: DueDate | None = Field(
        default=None,
        description="办结期限；不填则为受理通知书承诺日期，已过则按承诺时限（工作日）计算；"
        "重办时为重办期限，不能另行指定",
    )
    note: str | None = Field(default=None, max_length=2000)
    department_id: Line | None = Field(default=None, min_length=1, max_length=40, description="牵头科室编号（staff）")
    responsible_id: Line | None = Field(default=None, min_length=1, max_length=100, description="责任人账号（staff）")
    co_handlers: list[HandlerIn] = Field(
        default_factory=list, max_length=MAX_CO_HANDLERS, description="协办方（staff）"
    )

    def request(self) -> usecases.AssignmentRequest:
        return usecases.AssignmentRequest(
            kind=self.assignee_kind,
            assignee_id=self.assignee_id,
            assignee_name=self.assignee_name,
            mode=self.handling_mode,
            due_on=self.due_on,
            note=self.note,
            department_id=self.department_id,
            responsible_id=self.responsible_id,
            co_handlers=tuple((h.kind, h.id) for h in self.co_handlers),
        )


class ReferralIn(RequestModel):
    department: Annotated[Line, Field(min_length=1, max_length=200)] = Field(description="转办的政府部门")
    contact_name: Annotated[Line, Field(min_length=1, max_length=200)] | None = Field(
        default=None, description="对方联系人"
    )
    contact_phone: Phone | None = Field(default=None, description="对方联系电话")
    reason: Annotated[Text, Field(min_length=1, max_length=4000)] = Field(description="转办原因")
    due_on: DueDate | None = Field(default=None, description="跟进期限；不填同派单（重办时为重办期限）")


class ReturnIn(RequestModel):
    reason: Reason = Field(description="退单原因（如超出本机构资质范围）")


class RefusalIn(RequestModel):
    reason: Reason = Field(description="不予服务的原因")
    basis: Annotated[Text, Field(min_length=1, max_length=2000)] = Field(description="法律或政策依据")


class MergeIn(RequestModel):
    into: UUID = Field(description="并入的原需求（同一企业、未办结）")
    reason: Reason = Field(description="并单原因")


class AssignmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

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
    department_id: str | None = Field(description="牵头科室编号")
    department: str | None = Field(description="牵头科室")
    co_handlers: list[dict] = Field(description="协办方 [{kind, id, name}]")
    referral: dict | None = Field(description="转办 {department, contact_name, contact_phone, reason}")
    returned_at: datetime | None = Field(description="退单时间")
    returned_by: str | None
    return_reason: str | None


class QueueItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

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
    status: str = Field(description="waiting 待派单 / assigned 办理中 / resolved / refused / merged / withdrawn")
    status_label: str = Field(description="状态（重办轮次为 重办待派 / 重办中 / 重办已办结）")
    round: int = Field(description="轮次：1 为首次办理，2 为核实属实后的重办")
    assignment_count: int = Field(description="已派单次数（各轮连续编号）")
    green_channel: str | None
    returned: bool = Field(description="已退单、等待改派（排在队列前列）")
    returned_at: datetime | None
    closing: dict | None = Field(description="否定备案、并单或撤回：原因、经办人、依据或并入的跟踪单号")
    rehandling: bool = Field(description="重办：不满意评价经核实属实，重新派单办理（绿色通道之后排在队列前列）")
    due_on: date | None = Field(description="重办期限：本轮各次派单（含改派、转办）的办结期限；首轮为空")
    reopened_at: datetime | None = Field(description="重办开始时间")
    reopening: dict | None = Field(
        description="重办 {reason 原因, reopened_by 核实人, verification_id, assignment_count}"
    )
    previous_assignee: dict | None = Field(description="上一轮承办方 {kind, id, name}：可派回原承办方，也可另派")


class DemandOut(QueueItemOut):
    assignments: list[AssignmentOut]

    @classmethod
    def of(cls, item: QueueItem, assignments: list[Assignment]) -> "DemandOut":
        return cls(
            **QueueItemOut.model_validate(item).model_dump(),
            assignments=[AssignmentOut.model_validate(a) for a in assignments],
        )


class OrgAssignmentOut(BaseModel):
    """本机构的派单. No contact of the enterprise: it is in the brief, where every read is logged."""

    demand_id: UUID
    station_id: str
    tracking_no: str
    assignment_no: int
    round: int
    assignee_name: str
    handling_mode: HandlingMode
    due_on: date
    assigned_by: str
    assigned_at: datetime
    state: Literal["open", "resolved", "returned", "ended"] = Field(
        description="open 办理中（当前派单）/ resolved 已办结 / returned 已退单 / ended 已改派或已终止"
    )
    returned_at: datetime | None
    return_reason: str | None
    enterprise_name: str | None = Field(description="企业名称（仅当前派单）")
    categories: list[dict] | None = Field(description="服务类别（仅当前派单）")


class ContactOut(BaseModel):
    name: str
    phone: str


class BriefItemOut(BaseModel):
    model_config = ConfigDict(extra="ignore")

    code: str
    label: str
    category: str
    remarks: str | None = None
    materials: list[str] = Field(default_factory=list, description="应提交的材料")
    materials_received: list[str] = Field(default_factory=list, description="已收到的材料")


class BriefOut(BaseModel):
    demand_id: UUID
    station_id: str
    tracking_no: str
    status: str
    enterprise_name: str
    enterprise_credit_code: str | None
    contact: ContactOut | None = Field(description="企业联系人（更正后为更正的）")
    address: str | None
    description: str
    categories: list[dict]
    items: list[BriefItemOut]
    details: dict = Field(description="与承办机构服务类别相关的明细表（本站人员可见全部）")
    green_channel: str | None
    expected_on: date | None
    assignment: AssignmentOut | None = Field(description="当前派单")
    read_at: datetime = Field(description="本次查看已记入访问日志")


@router.get("/queue", response_model=list[QueueItemOut], summary="待派单队列 / demands waiting for dispatch")
async def list_queue(
    uow: UoW,
    principal: Reader,
    page: StationPaged,
    status: Annotated[str, Query(pattern=f"^({'|'.join(STATUSES)})$")] = "waiting",
) -> list[QueueItemOut]:
    items = await usecases.list_queue(uow, principal, page.station_id, status, page.limit, page.offset)
    return [QueueItemOut.model_validate(i) for i in items]


@router.get("/demands/{demand_id}", response_model=DemandOut, summary="派单记录 / a demand and its assignments")
async def get_demand(demand_id: UUID, uow: UoW, principal: ReaderOrOrg) -> DemandOut:
    return DemandOut.of(*await usecases.get_demand(uow, principal, demand_id))


@router.post(
    "/demands/{demand_id}/assignments",
    status_code=201,
    response_model=AssignmentOut,
    summary="派单或改派 / assign or rematch",
)
async def assign(
    demand_id: UUID, body: AssignmentIn, uow: UoW, principal: Staff, idempotency_key: IdempotencyKey = None
) -> AssignmentOut:
    assignment = await usecases.assign(uow, principal, demand_id, body.request(), idempotency_key=idempotency_key)
    return AssignmentOut.model_validate(assignment)


@router.post(
    "/demands/{demand_id}/referrals",
    status_code=201,
    response_model=AssignmentOut,
    summary="转办其他部门（站长，继续跟进）/ refer to another department",
)
async def refer(
    demand_id: UUID, body: ReferralIn, uow: UoW, principal: Head, idempotency_key: IdempotencyKey = None
) -> AssignmentOut:
    referral = Referral(
        department=body.department, contact_name=body.contact_name, contact_phone=body.contact_phone, reason=body.reason
    )
    assignment = await usecases.refer(uow, principal, demand_id, referral, body.due_on, idempotency_key=idempotency_key)
    return AssignmentOut.model_validate(assignment)


@router.post(
    "/demands/{demand_id}/return",
    response_model=AssignmentOut,
    summary="退单（当前承办方）/ return the current assignment",
)
async def give_back(
    demand_id: UUID, body: ReturnIn, uow: UoW, principal: Assignee, idempotency_key: IdempotencyKey = None
) -> AssignmentOut:
    returned = await usecases.give_back(uow, principal, demand_id, body.reason, idempotency_key=idempotency_key)
    return AssignmentOut.model_validate(returned)


@router.post("/demands/{demand_id}/refusal", response_model=DemandOut, summary="否定备案（站长）/ record a refusal")
async def refuse(
    demand_id: UUID, body: RefusalIn, uow: UoW, principal: Head, idempotency_key: IdempotencyKey = None
) -> DemandOut:
    found = await usecases.refuse(uow, principal, demand_id, body.reason, body.basis, idempotency_key=idempotency_key)
    return DemandOut.of(*found)


@router.post("/demands/{demand_id}/merge", response_model=DemandOut, summary="并单（站长）/ merge into the original")
async def merge(
    demand_id: UUID, body: MergeIn, uow: UoW, principal: Head, idempotency_key: IdempotencyKey = None
) -> DemandOut:
    found = await usecases.merge(uow, principal, demand_id, body.into, body.reason, idempotency_key=idempotency_key)
    return DemandOut.of(*found)


@router.get(
    "/assignments", response_model=list[OrgAssignmentOut], summary="本机构的派单（服务机构）/ my organization's"
)
async def org_assignments(uow: UoW, principal: Org, page: Paged) -> list[OrgAssignmentOut]:
    rows = await usecases.org_assignments(uow, principal, page.limit, page.offset)
    return [
        OrgAssignmentOut(**r, state=domain.org_assignment_state(r["returned_at"], r["demand_status"])) for r in rows
    ]


@router.get(
    "/demands/{demand_id}/brief",
    response_model=BriefOut,
    summary="服务所需信息（承办机构仅在办理中可见，查看留痕）/ what the assignee needs to serve",
)
async def brief(demand_id: UUID, uow: UoW, principal: ReaderOrOrg) -> BriefOut:
    b = await usecases.brief(uow, principal, demand_id)
    item = b.item
    return BriefOut(
        demand_id=item.demand_id,
        station_id=item.station_id,
        tracking_no=item.tracking_no,
        status=item.status,
        enterprise_name=item.enterprise_name,
        enterprise_credit_code=item.enterprise_credit_code,
        contact=ContactOut(**item.contact) if item.contact else None,
        address=item.address,
        description=item.description,
        categories=item.categories,
        items=[BriefItemOut.model_validate(i) for i in item.items],
        details=b.details,
        green_channel=item.green_channel,
        expected_on=item.expected_on,
        assignment=AssignmentOut.model_validate(b.assignment) if b.assignment else None,
        read_at=b.read_at,
    )
