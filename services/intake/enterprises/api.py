"""Enterprise HTTP routes: the dossier (一企一册), registered, looked up and searched in the caller's scope."""

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import ConfigDict, EmailStr, Field

from shared import validation
from shared.api import Paged, UoW
from shared.validation import Line, RequestModel, SearchText, amount

from ..dependencies import Reader, Staff
from ..schemas import InstrumentRow, OperatorExamRow, Phone, ProductRow, Short, SpecialEquipmentRow
from . import usecases
from .domain import EnterpriseDossier

router = APIRouter(tags=["intake 需求受理"])


class ContactRow(RequestModel):
    name: Line = Field(min_length=1, max_length=100)
    title: Line | None = Field(default=None, max_length=100)
    phone: Phone | None = None
    email: EmailStr | None = None
    wechat: Line | None = Field(default=None, max_length=100)


class EnterpriseDossierIn(RequestModel):
    """一企一册 base data (000 附录D, 002 附录A)."""

    name: Short = Field(description="企业名称")
    legal_representative: Line | None = Field(default=None, max_length=100, description="法定代表人")
    industry: Line | None = Field(default=None, max_length=100, description="所属行业")
    size: Literal["micro", "small", "medium", "large"] | None = Field(default=None, description="企业规模")
    employees: int | None = Field(default=None, ge=0, le=10_000_000, description="员工总数")
    output_value_wan: amount(le=1e10) | None = Field(default=None, ge=0, description="企业产值（万元）")
    main_products: str | None = Field(default=None, max_length=1000, description="主要产品")
    address: Line | None = Field(default=None, max_length=300, description="企业地址")
    in_park: bool | None = Field(default=None, description="是否位于产业园区")
    park_name: Line | None = Field(default=None, max_length=200, description="园区名称")
    town: Line | None = Field(default=None, max_length=100, description="专业镇")
    chain: Line | None = Field(default=None, max_length=100, description="产业链")
    chain_leader: bool = Field(default=False, description="是否链主企业")
    own_labs: int | None = Field(default=None, ge=0, le=1000, description="自有实验室数量")
    labs_cover_own_testing: bool | None = Field(default=None, description="自有实验室能否满足自身检测需求")
    contacts: list[ContactRow] = Field(default_factory=list, max_length=20)
    products: list[ProductRow] = Field(default_factory=list, max_length=200)
    instruments: list[InstrumentRow] = Field(default_factory=list, max_length=1000)
    special_equipment: list[SpecialEquipmentRow] = Field(default_factory=list, max_length=200)
    operator_exams: list[OperatorExamRow] = Field(default_factory=list, max_length=100)


class EnterpriseDossierOut(EnterpriseDossierIn):
    model_config = ConfigDict(extra="ignore", from_attributes=True)
    station_id: str
    credit_code: str
    credit_code_flag: str | None
    contacts: list[dict]
    products: list[dict]
    instruments: list[dict]
    special_equipment: list[dict]
    operator_exams: list[dict]


@router.put("/enterprises/{credit_code}", response_model=EnterpriseDossierOut, summary="登记或更新企业档案（一企一册）")
async def save_enterprise(
    credit_code: Annotated[str, Path(min_length=18, max_length=18)],
    body: EnterpriseDossierIn,
    uow: UoW,
    principal: Staff,
) -> EnterpriseDossierOut:
    code = validation.credit_code(credit_code)
    data = body.model_dump(mode="json")
    for table in ("contacts", "products", "instruments", "special_equipment", "operator_exams"):
        data[table] = tuple(data[table])
    dossier = EnterpriseDossier(station_id=principal.station, credit_code=code, **data)
    return EnterpriseDossierOut.model_validate(await usecases.save_enterprise(uow, principal, dossier))


@router.get("/enterprises/{credit_code}", response_model=EnterpriseDossierOut, summary="企业档案 / an enterprise")
async def get_enterprise(
    credit_code: Annotated[Line, Path(min_length=1, max_length=40)], uow: UoW, principal: Reader
) -> EnterpriseDossierOut:
    dossier = await usecases.get_enterprise(uow, principal, credit_code.strip().upper())
    return EnterpriseDossierOut.model_validate(dossier)


@router.get("/enterprises", response_model=list[EnterpriseDossierOut], summary="查找企业 / search enterprises")
async def search_enterprises(
    uow: UoW,
    principal: Reader,
    page: Paged,
    q: SearchText | None = None,
    park: Annotated[Line | None, Query(min_length=1, max_length=200)] = None,
    chain: SearchText | None = None,
    town: SearchText | None = None,
) -> list[EnterpriseDossierOut]:
    found = await usecases.search_enterprises(
        uow, principal, q=q, park=park, chain=chain, town=town, limit=page.limit, offset=page.offset
    )
    return [EnterpriseDossierOut.model_validate(e) for e in found]
