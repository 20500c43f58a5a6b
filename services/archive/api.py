"""Archive HTTP routes: sealed dossiers (read-only)."""

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from shared.auth import READERS, Principal, allow
from shared.contracts import StationId
from shared.runtime import ServiceRuntime, runtime_of

from . import usecases
from .domain import Dossier

router = APIRouter(tags=["archive 归档"])
Runtime = Annotated[ServiceRuntime, Depends(runtime_of)]
Reader = Annotated[Principal, allow(*READERS)]


class DossierSummary(BaseModel):
    demand_id: UUID
    station_id: str
    tracking_no: str
    archive_no: str
    sealed_at: datetime
    retain_until: date
    content_sha256: str

    @classmethod
    def of(cls, d: Dossier) -> "DossierSummary":
        return cls(**{k: getattr(d, k) for k in cls.model_fields})


class DossierOut(DossierSummary):
    content: dict


@router.get("/dossiers", response_model=list[DossierSummary], summary="档案目录 / sealed dossiers of a station")
async def list_dossiers(
    rt: Runtime,
    principal: Reader,
    station_id: StationId | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[DossierSummary]:
    return [DossierSummary.of(d) for d in await usecases.list_dossiers(rt, principal, station_id, limit, offset)]


@router.get("/dossiers/{demand_id}", response_model=DossierOut, summary="档案 / one sealed dossier")
async def get_dossier(demand_id: UUID, rt: Runtime, principal: Reader) -> DossierOut:
    d = await usecases.get_dossier(rt, principal, demand_id)
    return DossierOut(**DossierSummary.of(d).model_dump(), content=d.content)
