"""Intake HTTP routes: parse, call one use case, shape the reply."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query
from pydantic import BaseModel, ConfigDict, Field

from shared.contracts import Channel, StationId
from shared.runtime import ServiceRuntime, runtime_of
from shared import validation
from shared.validation import rule

from . import usecases
from .domain import Demand

router = APIRouter(tags=["intake 需求受理"])
Runtime = Annotated[ServiceRuntime, Depends(runtime_of)]


class EnterpriseIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = Field(min_length=1, max_length=200, description="企业名称")
    credit_code: Annotated[str, rule(validation.credit_code)] = Field(description="统一社会信用代码")


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = Field(min_length=1, max_length=100, description="企业联系人")
    phone: Annotated[str, rule(validation.china_phone)] = Field(description="联系电话（手机或带区号座机）")


class DemandIn(BaseModel):
    """一表登记: the demand as the station receives it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    station_id: StationId = Field(description="服务站编号，如 210100/210112/hunnan-01")
    enterprise: EnterpriseIn
    contact: ContactIn
    categories: list[str] = Field(min_length=1, max_length=14, description="服务类别代码，见 GET /categories")
    description: str = Field(min_length=1, max_length=4000, description="需求描述")
    channel: Channel = Field(description="受理渠道")
    first_responder: str = Field(min_length=1, max_length=100, description="首位工作人员")


class CategoryOut(BaseModel):
    code: str
    label: str
    time_limit_days: int


class DemandOut(BaseModel):
    demand_id: UUID
    station_id: str
    tracking_no: str
    enterprise_name: str
    credit_code: str
    contact_name: str
    contact_phone: str
    categories: list[CategoryOut]
    description: str
    channel: Channel
    first_responder: str
    time_limit_days: int
    submitted_at: datetime
    status: str
    archive_no: str | None
    archived_at: datetime | None

    @classmethod
    def of(cls, d: Demand) -> "DemandOut":
        return cls(
            **{k: getattr(d, k) for k in cls.model_fields if k != "categories"},
            categories=[CategoryOut(code=c.code, label=c.label, time_limit_days=c.time_limit_days) for c in d.categories],
        )


@router.post("/demands", status_code=201, response_model=DemandOut, summary="登记需求 / register a demand")
async def submit_demand(
    body: DemandIn, rt: Runtime, x_correlation_id: Annotated[UUID | None, Header()] = None
) -> DemandOut:
    form = usecases.DemandForm(
        station_id=body.station_id,
        enterprise_name=body.enterprise.name,
        credit_code=body.enterprise.credit_code,
        contact_name=body.contact.name,
        contact_phone=body.contact.phone,
        categories=body.categories,
        description=body.description,
        channel=body.channel,
        first_responder=body.first_responder,
    )
    return DemandOut.of(await usecases.submit_demand(rt, form, x_correlation_id))


@router.get("/demands", response_model=list[DemandOut], summary="需求台账 / demands of a station")
async def list_demands(
    rt: Runtime,
    station_id: StationId,
    status: Annotated[str | None, Query(pattern="^(open|archived)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[DemandOut]:
    return [DemandOut.of(d) for d in await usecases.list_demands(rt, station_id, status, limit, offset)]


@router.get("/demands/{demand_id}", response_model=DemandOut, summary="需求详情 / one demand")
async def get_demand(demand_id: UUID, rt: Runtime) -> DemandOut:
    return DemandOut.of(await usecases.get_demand(rt, demand_id))


@router.get("/categories", response_model=list[CategoryOut], summary="服务类别 / service categories")
async def list_categories(rt: Runtime) -> list[CategoryOut]:
    return [CategoryOut(code=c.code, label=c.label, time_limit_days=c.time_limit_days) for c in await usecases.list_categories(rt)]
