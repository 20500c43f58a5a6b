"""Tracking HTTP routes: ledger, tracking sheet, resolution."""

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from shared.api import StationPaged, UoW, allow
from shared.auth import READERS, STAFF, Principal, Role
from shared.contracts import Outcome
from shared.validation import RequestModel

from . import usecases
from .domain import STATUS_LABELS, Case

router = APIRouter(tags=["tracking 跟踪"])
ReaderOrOrg = Annotated[Principal, allow(*READERS, Role.org)]
Handler = Annotated[Principal, allow(*STAFF, Role.org)]


class CaseOut(BaseModel):
    demand_id: UUID
    station_id: str
    tracking_no: str
    status: str
    status_label: str
    overdue: bool
    round: int
    enterprise_name: str | None
    categories: list[dict] | None
    channel: str | None
    first_responder: str | None
    submitted_at: datetime | None
    assignee_kind: str | None
    assignee_name: str | None
    handling_mode: str | None
    due_on: date | None
    outcome: str | None
    summary: str | None
    resolved_at: datetime | None
    overall: str | None
    rated_at: datetime | None
    archive_no: str | None
    archived_at: datetime | None

    @classmethod
    def of(cls, case: Case, today: date) -> "CaseOut":
        own = {k: getattr(case, k) for k in cls.model_fields if hasattr(case, k) and k != "overdue"}
        return cls(**own, status_label=STATUS_LABELS[case.status], overdue=case.overdue(today))


class TimelineEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    occurred_at: datetime
    text: str


class TrackingSheet(CaseOut):
    timeline: list[TimelineEntry]


class ResolutionIn(RequestModel):
    outcome: Outcome = Field(description="met 需求已满足 / not_met 无法满足并已向企业说明")
    summary: str = Field(min_length=1, max_length=4000, description="处理过程及结果 / 服务小结")


@router.get("/ledger", response_model=list[CaseOut], summary="台账 / the station's ledger")
async def ledger(
    uow: UoW,
    principal: ReaderOrOrg,
    page: StationPaged,
    status: Annotated[str | None, Query(pattern="^(submitted|assigned|resolved|rated|archived)$")] = None,
) -> list[CaseOut]:
    cases, today = await usecases.ledger(uow, principal, page.station_id, status, page.limit, page.offset)
    return [CaseOut.of(c, today) for c in cases]


@router.get("/demands/{demand_id}", response_model=TrackingSheet, summary="跟踪单 / tracking sheet with timeline")
async def tracking_sheet(demand_id: UUID, uow: UoW, principal: ReaderOrOrg) -> TrackingSheet:
    case, entries, today = await usecases.case_with_timeline(uow, principal, demand_id)
    return TrackingSheet(**CaseOut.of(case, today).model_dump(), timeline=entries)


@router.post("/demands/{demand_id}/resolution", response_model=CaseOut, summary="办结 / resolve")
async def resolve(demand_id: UUID, body: ResolutionIn, uow: UoW, principal: Handler) -> CaseOut:
    case, today = await usecases.resolve(uow, principal, demand_id, outcome=body.outcome, summary=body.summary)
    return CaseOut.of(case, today)
