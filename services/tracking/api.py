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
from .domain import STATUS_LABELS, STATUSES, Case

router = APIRouter(tags=["tracking 跟踪"])
ReaderOrOrg = Annotated[Principal, allow(*READERS, Role.org)]
Handler = Annotated[Principal, allow(*STAFF, Role.org)]


class HandlerOut(BaseModel):
    """A co-handler (协办)."""

    kind: str
    id: str
    name: str


class ReferralOut(BaseModel):
    """转办: the department the demand was referred to; the station keeps following it."""

    department: str
    contact_name: str | None = None
    contact_phone: str | None = None
    reason: str


class ReturnOut(BaseModel):
    """The latest assignment given back (退单)."""

    assignment_no: int
    returned_by: str | None
    returned_at: datetime | None
    reason: str | None


class ClosingOut(BaseModel):
    """How the demand ended without being resolved: 否定备案 (refused), 并单 (merged) or 撤回 (withdrawn)."""

    kind: str = Field(description="refused / merged / withdrawn")
    label: str
    reason: str
    closed_by: str
    closed_at: datetime
    basis: str | None = Field(default=None, description="否定备案的法律或政策依据 / legal or policy basis of a refusal")
    merged_into: UUID | None = None
    merged_into_tracking_no: str | None = None
    by_enterprise: bool | None = Field(
        default=None, description="撤回由企业提出 / withdrawn at the enterprise's request"
    )


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
    description: str | None = Field(description="企业需求 / the need as registered (or last corrected)")
    time_limit_days: int | None = Field(description="承诺办结时限（工作日）/ committed time limit in working days")
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
    department: str | None = Field(description="牵头科室 / lead department")
    co_handlers: list[HandlerOut] = Field(description="协办 / co-handlers")
    referral: ReferralOut | None = Field(description="转办 / the referral, when referred to another department")
    last_return: ReturnOut | None = Field(description="最近一次退单 / the latest assignment given back")
    corrected_at: datetime | None = Field(description="最近一次更正登记 / when the form was last corrected")
    closing: ClosingOut | None = Field(description="否定备案、并单或撤回 / how the demand ended without resolution")

    @classmethod
    def of(cls, case: Case, today: date) -> "CaseOut":
        derived = {"overdue", "co_handlers", "referral", "closing"}
        own = {k: getattr(case, k) for k in cls.model_fields if hasattr(case, k) and k not in derived}
        return cls(
            **own,
            status_label=STATUS_LABELS[case.status],
            overdue=case.overdue(today),
            co_handlers=case.co_handlers or [],
            referral=case.referral,
            last_return=ReturnOut(
                assignment_no=case.returned_no,
                returned_by=case.returned_by,
                returned_at=case.returned_at,
                reason=case.return_reason,
            )
            if case.returned_no
            else None,
            closing=ClosingOut(
                kind=case.closed_as, label=STATUS_LABELS[case.closed_as], closed_at=case.closed_at, **case.closing
            )
            if case.closed_as
            else None,
        )


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
    status: Annotated[
        str | None,
        Query(
            pattern=f"^({'|'.join(STATUSES)})$",
            description="已受理 submitted、已退单待改派 returned、办理中 assigned、已转办 referred、已办结 resolved、"
            "已评价 rated、否定备案 refused、已并单 merged、已撤回 withdrawn、已归档 archived",
        ),
    ] = None,
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
