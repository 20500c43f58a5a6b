"""Visit HTTP routes: visits to enterprises (主动进企业走访) and the demands collected on them."""

from datetime import date
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, Field

from shared.api import IdempotencyKey, Paged, UoW
from shared.validation import Line, RequestModel, VisitDate

from ..dependencies import Reader, Staff
from ..schemas import CreditCode, Short
from . import usecases

router = APIRouter(tags=["intake 需求受理"])


class VisitIn(RequestModel):
    credit_code: CreditCode = Field(description="走访企业的统一社会信用代码")
    enterprise_name: Short
    staff: list[Annotated[Line, Field(min_length=1, max_length=100)]] = Field(min_length=1, max_length=20)
    visited_on: VisitDate
    findings: str = Field(min_length=1, max_length=4000, description="走访发现的问题与需求")


class VisitOut(BaseModel):
    visit_id: UUID
    station_id: str
    credit_code: str
    enterprise_name: str
    staff: list[str]
    visited_on: date
    findings: str
    recorded_by: str
    demands: list[dict] = Field(default_factory=list, description="此次走访收集的需求")


@router.post(
    "/visits",
    status_code=201,
    response_model=VisitOut,
    summary="记录主动进企业走访 / record a visit",
    description="记录并发布 VisitRecorded；重试时带同一 Idempotency-Key 不会重复记录。/ Kept and published "
    "(VisitRecorded); a retry with the same Idempotency-Key records nothing twice.",
)
async def record_visit(body: VisitIn, uow: UoW, principal: Staff, idempotency_key: IdempotencyKey = None) -> VisitOut:
    form = usecases.VisitForm(**body.model_dump())
    return VisitOut(**await usecases.record_visit(uow, principal, form, idempotency_key=idempotency_key))


# A visit names the enterprise and what was found there: every read is in the access log (visit.list, visit.read).
@router.get("/visits", response_model=list[VisitOut], summary="走访记录 / visits")
async def list_visits(uow: UoW, principal: Reader, page: Paged) -> list[VisitOut]:
    return [VisitOut(**v) for v in await usecases.list_visits(uow, principal, page.limit, page.offset)]


@router.get("/visits/{visit_id}", response_model=VisitOut, summary="一次走访及其需求 / a visit and its demands")
async def get_visit(visit_id: UUID, uow: UoW, principal: Reader) -> VisitOut:
    visit, demands = await usecases.get_visit(uow, principal, visit_id)
    return VisitOut(**visit, demands=demands)
