"""Station registry HTTP routes: the registry for anyone signed in, its upkeep by operations."""

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import ConfigDict, Field

from shared.api import UoW
from shared.contracts import StationId
from shared.validation import Line, RequestModel

from ..dependencies import Admin, Anyone
from . import usecases
from .domain import Station

router = APIRouter(tags=["intake 需求受理"])


class StationIn(RequestModel):
    name: Line = Field(min_length=1, max_length=200, description="服务站名称")
    address: Line = Field(default="", max_length=500)
    level: int = Field(ge=1, le=4, description="层级：1 都市圈/市级 2 区域 3 产业 4 重点企业")
    parent_id: StationId | None = Field(default=None, description="上级服务站编号")
    has_window: bool = Field(default=True, description="是否设有服务窗口")
    phone: Line | None = Field(default=None, max_length=50, description="咨询电话")


class StationOut(StationIn):
    model_config = ConfigDict(from_attributes=True)

    station_id: str


@router.get("/stations", response_model=list[StationOut], summary="服务站名录 / station registry")
async def list_stations(
    uow: UoW, _: Anyone, under: Annotated[Line | None, Query(max_length=200)] = None
) -> list[StationOut]:
    return [StationOut.model_validate(s) for s in await usecases.list_stations(uow, under)]


@router.get("/stations/{station_id:path}", response_model=StationOut, summary="服务站 / one station")
async def get_station(station_id: Annotated[Line, Path(max_length=200)], uow: UoW, _: Anyone) -> StationOut:
    return StationOut.model_validate(await usecases.get_station(uow, station_id))


@router.put(
    "/stations/{station_id:path}", response_model=StationOut, summary="登记或修改服务站（运维）/ register a station"
)
async def save_station(station_id: StationId, body: StationIn, uow: UoW, _: Admin) -> StationOut:
    station = await usecases.save_station(uow, Station(station_id=station_id, **body.model_dump()))
    return StationOut.model_validate(station)
