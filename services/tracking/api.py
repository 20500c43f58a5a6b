"""Tracking HTTP routes: ledger, tracking sheet, resolution."""

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from shared.auth import READERS, STAFF, Principal, Role, allow
from shared.contracts import Outcome, StationId
from shared.runtime import ServiceRuntime, runtime_of

from . import usecases
from .domain import STATUS_LABELS, Case

router = APIRouter(tags=["tracking 跟踪"])
Runtime = Annotated[ServiceRuntime, Depends(runtime_of)]
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
    kind: str
    occurred_at: datetime
    text: str


class TrackingSheet(CaseOut):
    timeline: list[TimelineEntry]


class ResolutionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    outcome: Outcome = Field(description="met 需求已满足 / not_met 无法满足并已向企业说明")
    summary: str = Field(min_length=1, max_length=4000, description="处理过程及结果 / 服务小结")


@router.get("/ledger", response_model=list[CaseOut], summary="台账 / the station's ledger")
async def ledger(
    rt: Runtime,
    principal: ReaderOrOrg,
    station_id: StationId | None = None,
    status: Annotated[str | None, Query(pattern="^(submitted|assigned|resolved|rated|archived)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[CaseOut]:
    cases, today = await usecases.ledger(rt, principal, station_id, status, limit, offset)
    return [CaseOut.of(c, today) for c in cases]


@router.get("/demands/{demand_id}", response_model=TrackingSheet, summary="跟踪单 / tracking sheet with timeline")
async def tracking_sheet(demand_id: UUID, rt: Runtime, principal: ReaderOrOrg) -> TrackingSheet:
    case, entries, today = await usecases.case_with_timeline(rt, principal, demand_id)
    timeline = [TimelineEntry(kind=e["kind"], occurred_at=e["occurred_at"], text=e["detail"]["text"]) for e in entries]
    return TrackingSheet(**CaseOut.of(case, today).model_dump(), timeline=timeline)


@router.post("/demands/{demand_id}/resolution", response_model=CaseOut, summary="办结 / resolve")
async def resolve(demand_id: UUID, body: ResolutionIn, rt: Runtime, principal: Handler) -> CaseOut:
    case, today = await usecases.resolve(rt, principal, demand_id, outcome=body.outcome, summary=body.summary)
    return CaseOut.of(case, today)
