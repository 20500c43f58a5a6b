"""Catalogue request and response bodies."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.validation import Line, RequestModel

from ..schemas import Short
from .domain import CatalogueEntry


class CategoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    label: str
    time_limit_days: int


class CatalogueEntryOut(BaseModel):
    code: str
    version: int
    category: str
    category_label: str
    label: str
    description: str
    materials: list[str]
    time_limit_days: int
    legal_limit_days: int | None
    handled_by: str
    override_scope: str | None

    @classmethod
    def of(cls, e: CatalogueEntry) -> "CatalogueEntryOut":
        i = e.item
        return cls(
            code=i.item_code,
            version=i.version,
            category=i.category,
            category_label=e.category_label,
            label=i.label,
            description=i.description,
            materials=list(e.materials),
            time_limit_days=e.time_limit_days,
            legal_limit_days=i.legal_limit_days,
            handled_by=i.handled_by,
            override_scope=e.override.scope if e.override else None,
        )


class CatalogueItemIn(RequestModel):
    category: Line = Field(min_length=2, max_length=40)
    label: Short
    description: str = Field(default="", max_length=2000)
    materials: list[Annotated[Line, Field(max_length=200)]] = Field(default_factory=list, max_length=30)
    time_limit_days: int = Field(ge=1, le=365, description="承诺办结时限（工作日）")
    legal_limit_days: int | None = Field(default=None, ge=1, le=365, description="法定时限（工作日）")
    handled_by: Literal["station", "organization", "department"]


class OverrideIn(RequestModel):
    scope: Annotated[str, Field(pattern=r"^[0-9]{6}(/[0-9]{6}){0,3}(/[a-z0-9][a-z0-9-]{0,39})?$")] = Field(
        description="城市前缀（如 210100）或服务站编号"
    )
    time_limit_days: int | None = Field(default=None, ge=1, le=365)
    materials: list[Annotated[Line, Field(max_length=200)]] | None = Field(default=None, max_length=30)
