"""Intake HTTP routes: parse, call one use case, shape the reply."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query
from pydantic import BaseModel, ConfigDict, Field

from shared.auth import READERS, STAFF, Principal, Role, allow
from shared.contracts import Channel, StationId
from shared.runtime import ServiceRuntime, runtime_of
from shared import validation
from shared.validation import rule

from . import usecases
from .domain import Demand, Station

router = APIRouter(tags=["intake 需求受理"])
Runtime = Annotated[ServiceRuntime, Depends(runtime_of)]
Staff = Annotated[Principal, allow(*STAFF)]
Reader = Annotated[Principal, allow(*READERS)]
Anyone = Annotated[Principal, allow(*Role)]
Admin = Annotated[Principal, allow(Role.admin)]


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
    first_responder: str | None = Field(
        default=None, min_length=1, max_length=100, description="首位工作人员；不填则为当前登录人"
    )


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


class StationIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = Field(min_length=1, max_length=200, description="服务站名称")
    address: str = Field(default="", max_length=500)
    level: int = Field(ge=1, le=4, description="层级：1 都市圈/市级 2 区域 3 产业 4 重点企业")
    parent_id: StationId | None = Field(default=None, description="上级服务站编号")
    has_window: bool = Field(default=True, description="是否设有服务窗口")


class StationOut(StationIn):
    station_id: str

    @classmethod
    def of(cls, s: Station) -> "StationOut":
        return cls(**{k: getattr(s, k) for k in cls.model_fields})


@router.post("/demands", status_code=201, response_model=DemandOut, summary="登记需求 / register a demand")
async def submit_demand(
    body: DemandIn, rt: Runtime, principal: Staff, x_correlation_id: Annotated[UUID | None, Header()] = None
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
        first_responder=body.first_responder or principal.name,
    )
    return DemandOut.of(await usecases.submit_demand(rt, principal, form, x_correlation_id))


@router.get("/demands", response_model=list[DemandOut], summary="需求台账 / demands in your scope")
async def list_demands(
    rt: Runtime,
    principal: Reader,
    station_id: StationId | None = None,
    status: Annotated[str | None, Query(pattern="^(open|archived)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[DemandOut]:
    demands = await usecases.list_demands(rt, principal, station_id, status, limit, offset)
    return [DemandOut.of(d) for d in demands]


@router.get("/demands/{demand_id}", response_model=DemandOut, summary="需求详情 / one demand")
async def get_demand(demand_id: UUID, rt: Runtime, principal: Reader) -> DemandOut:
    return DemandOut.of(await usecases.get_demand(rt, principal, demand_id))


@router.get("/categories", response_model=list[CategoryOut], summary="服务类别（公开）/ service categories (public)")
async def list_categories(rt: Runtime) -> list[CategoryOut]:
    categories = await usecases.list_categories(rt)
    return [CategoryOut(code=c.code, label=c.label, time_limit_days=c.time_limit_days) for c in categories]


@router.get("/stations", response_model=list[StationOut], summary="服务站名录 / station registry")
async def list_stations(rt: Runtime, _: Anyone, under: str | None = None) -> list[StationOut]:
    return [StationOut.of(s) for s in await usecases.list_stations(rt, under)]


@router.get("/stations/{station_id:path}", response_model=StationOut, summary="服务站 / one station")
async def get_station(station_id: str, rt: Runtime, _: Anyone) -> StationOut:
    return StationOut.of(await usecases.get_station(rt, station_id))


@router.put("/stations/{station_id:path}", response_model=StationOut, summary="登记或修改服务站（运维）/ register a station")
async def save_station(station_id: StationId, body: StationIn, rt: Runtime, _: Admin) -> StationOut:
    station = Station(station_id=station_id, **body.model_dump())
    return StationOut.of(await usecases.save_station(rt, station))
