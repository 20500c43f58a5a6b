"""Visit HTTP routes: visits to enterprises (主动进企业走访) and the demands collected on them."""

from datetime import date
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, Field

from shared.api import Paged, UoW
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


@router.post("/visits", status_code=201, response_model=VisitOut, summary="记录主动进企业走访 / record a visit")
async def record_visit(body: VisitIn, uow: UoW, principal: Staff) -> VisitOut:
    return VisitOut(**await usecases.record_visit(uow, principal, **body.model_dump()))


@router.get("/visits", response_model=list[VisitOut], summary="走访记录 / visits")
async def list_visits(uow: UoW, principal: Reader, page: Paged) -> list[VisitOut]:
    return [VisitOut(**v) for v in await usecases.list_visits(uow, principal, page.limit, page.offset)]


@router.get("/visits/{visit_id}", response_model=VisitOut, summary="一次走访及其需求 / a visit and its demands")
async def get_visit(visit_id: UUID, uow: UoW, principal: Reader) -> VisitOut:
    visit, demands = await usecases.get_visit(uow, principal, visit_id)
    return VisitOut(**visit, demands=demands)
