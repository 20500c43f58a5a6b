"""Catalogue HTTP routes: categories and the catalogue in force (public), item and override upkeep (admin)."""

from typing import Annotated

from fastapi import APIRouter, Path

from shared.api import UoW
from shared.contracts import StationId

from ..dependencies import Admin
from . import usecases
from .schemas import CatalogueEntryOut, CatalogueItemIn, CategoryOut, OverrideIn

router = APIRouter(tags=["intake 需求受理"])
ItemCode = Annotated[str, Path(pattern=r"^[a-z_]+\.[a-z_]+$")]


@router.get("/categories", response_model=list[CategoryOut], summary="服务类别（公开）/ service categories (public)")
async def list_categories(uow: UoW) -> list[CategoryOut]:
    return [CategoryOut.model_validate(c) for c in await usecases.list_categories(uow)]


@router.get("/catalogue", response_model=list[CatalogueEntryOut], summary="服务项目目录（公开）/ catalogue (public)")
async def get_catalogue(uow: UoW, station_id: StationId | None = None) -> list[CatalogueEntryOut]:
    return [CatalogueEntryOut.of(e) for e in await usecases.catalogue(uow, station_id)]


@router.put("/catalogue/items/{item_code}", response_model=CatalogueEntryOut, summary="新增或修订服务项目（运维）")
async def save_item(item_code: ItemCode, body: CatalogueItemIn, uow: UoW, principal: Admin) -> CatalogueEntryOut:
    changes = {**body.model_dump(), "materials": tuple(body.materials)}
    return CatalogueEntryOut.of(await usecases.save_item(uow, principal, item_code, **changes))


@router.put("/catalogue/overrides/{item_code}", status_code=201, summary="城市或服务站的目录调整（运维）")
async def save_override(item_code: ItemCode, body: OverrideIn, uow: UoW, principal: Admin) -> dict:
    o = await usecases.save_override(uow, principal, body.scope, item_code, body.time_limit_days, body.materials)
    return {
        "scope": o.scope,
        "item_code": o.item_code,
        "version": o.version,
        "time_limit_days": o.time_limit_days,
        "materials": list(o.materials) if o.materials is not None else None,
    }
