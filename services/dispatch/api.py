"""Dispatch HTTP routes: the queue and assignments."""

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from shared.api import StationPaged, UoW, allow
from shared.auth import READERS, STAFF, Principal, Role
from shared.contracts import AssigneeKind, HandlingMode
from shared.validation import DueDate, Line, RequestModel

from . import usecases

router = APIRouter(tags=["dispatch 派单"])
Staff = Annotated[Principal, allow(*STAFF)]
Reader = Annotated[Principal, allow(*READERS)]
ReaderOrOrg = Annotated[Principal, allow(*READERS, Role.org)]


class AssignmentIn(RequestModel):
    assignee_kind: AssigneeKind = Field(description="承办方式：首问负责/本站人员或科室/服务机构/转办其他部门")
    assignee_id: Line | None = Field(default=None, min_length=1, max_length=100, description="承办人或单位编号")
    assignee_name: Line | None = Field(default=None, min_length=1, max_length=200, description="承办人或单位名称")
    handling_mode: HandlingMode = Field(default=HandlingMode.independent, description="独立/共同/协调办理")
    due_on: DueDate | None = Field(default=None, description="办结期限；不填则按服务类别的承诺时限（工作日）计算")
    note: str | None = Field(default=None, max_length=2000)


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
    status: str
    round: int
    assignment_count: int
    green_channel: str | None


class DemandOut(QueueItemOut):
    assignments: list[AssignmentOut]


@router.get("/queue", response_model=list[QueueItemOut], summary="待派单队列 / demands waiting for dispatch")
async def list_queue(
    uow: UoW,
    principal: Reader,
    page: StationPaged,
    status: Annotated[str, Query(pattern="^(waiting|assigned|resolved)$")] = "waiting",
) -> list[QueueItemOut]:
    items = await usecases.list_queue(uow, principal, page.station_id, status, page.limit, page.offset)
    return [QueueItemOut.model_validate(i) for i in items]


@router.get("/demands/{demand_id}", response_model=DemandOut, summary="派单记录 / a demand and its assignments")
async def get_demand(demand_id: UUID, uow: UoW, principal: ReaderOrOrg) -> DemandOut:
    item, assignments = await usecases.get_demand(uow, principal, demand_id)
    return DemandOut(
        **QueueItemOut.model_validate(item).model_dump(),
        assignments=[AssignmentOut.model_validate(a) for a in assignments],
    )


@router.post(
    "/demands/{demand_id}/assignments",
    status_code=201,
    response_model=AssignmentOut,
    summary="派单或改派 / assign or rematch",
)
async def assign(demand_id: UUID, body: AssignmentIn, uow: UoW, principal: Staff) -> AssignmentOut:
    assignment = await usecases.assign(
        uow,
        principal,
        demand_id,
        kind=body.assignee_kind,
        assignee_id=body.assignee_id,
        assignee_name=body.assignee_name,
        mode=body.handling_mode,
        due_on=body.due_on,
        note=body.note,
    )
    return AssignmentOut.model_validate(assignment)
