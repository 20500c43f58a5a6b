"""Archive HTTP routes: sealed dossiers (read-only)."""

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from shared.api import StationPaged, UoW, allow
from shared.auth import READERS, Principal

from . import usecases

router = APIRouter(tags=["archive 归档"])
Reader = Annotated[Principal, allow(*READERS)]


class DossierSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    demand_id: UUID
    station_id: str
    tracking_no: str
    archive_no: str
    sealed_at: datetime
    retain_until: date
    content_sha256: str
    outcome: str | None = Field(
        description="办结 resolved / 否定备案 refused / 并单 merged / 撤回 withdrawn "
        "(content.outcome has the reason, basis or merged-into)"
    )


class SupplementOut(BaseModel):
    """Events the sealed dossier lacked, attached afterwards with their own hash (补充归档)."""

    model_config = ConfigDict(from_attributes=True)

    supplement_no: int
    added_at: datetime
    content: dict
    content_sha256: str


class DossierOut(DossierSummary):
    content: dict = Field(
        description="封存内容：每类事件一节（含各自轮次，如 ratings、verifications 核实、reopenings 重办、"
        "voids 申诉作废），outcome 结果（办结时含轮次、评价及核实或作废），rounds 各轮次的事件，events 全部事件 / "
        "one section per kind of event (each with its round), the outcome, the events of each round, all events"
    )
    supplements: list[SupplementOut]


@router.get("/dossiers", response_model=list[DossierSummary], summary="档案目录 / sealed dossiers of a station")
async def list_dossiers(
    uow: UoW,
    principal: Reader,
    page: StationPaged,
) -> list[DossierSummary]:
    dossiers = await usecases.list_dossiers(uow, principal, page.station_id, page.limit, page.offset)
    return [DossierSummary.model_validate(d) for d in dossiers]


@router.get("/dossiers/{demand_id}", response_model=DossierOut, summary="档案 / one sealed dossier")
async def get_dossier(demand_id: UUID, uow: UoW, principal: Reader) -> DossierOut:
    d, supplements = await usecases.get_dossier(uow, principal, demand_id)
    return DossierOut(**DossierSummary.model_validate(d).model_dump(), content=d.content, supplements=supplements)
