"""Intake HTTP routes: parse, authorize, call one use case, shape the reply."""

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from shared import validation
from shared.auth import READERS, STAFF, Principal, Role, allow
from shared.contracts import Channel, GreenChannel, StationId
from shared.ratelimit import RateLimiter
from shared.runtime import UoW
from shared.validation import (
    CalendarDay, Key, Limit, Line, Offset, QueryDate, ReceivedAt, RecordDate, RequestModel, SearchText, VisitDate,
    amount, rule,
)  # fmt: skip

from . import ledger, notice, usecases
from .domain import PROGRESS_LABELS, CatalogueEntry, Demand, EnterpriseDossier, Station
from .settings import Settings


def _settings(request: Request) -> Settings:
    return request.app.state.runtime.settings


def _status_links(settings: Annotated[Settings, Depends(_settings)]) -> usecases.StatusLinks:
    return usecases.StatusLinks(settings.status_link_secret, settings.public_url, settings.status_link_days)


router = APIRouter(tags=["intake 需求受理"])
public = APIRouter(prefix="/public", tags=["public 企业在线申报与查询（无需登录）"])
Config = Annotated[Settings, Depends(_settings)]
Links = Annotated[usecases.StatusLinks, Depends(_status_links)]
Staff = Annotated[Principal, allow(*STAFF)]
Reader = Annotated[Principal, allow(*READERS)]
Anyone = Annotated[Principal, allow(*Role)]
Admin = Annotated[Principal, allow(Role.admin)]
CreditCode = Annotated[str, rule(validation.credit_code)]
Phone = Annotated[str, rule(validation.china_phone)]
Token = Annotated[str, Path(min_length=20, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]
ItemCode = Annotated[str, Path(pattern=r"^[a-z_]+\.[a-z_]+$")]
Short = Annotated[Line, Field(min_length=1, max_length=200)]


# --- the form ------------------------------------------------------------------------------------

class EnterpriseIn(RequestModel):
    name: Short = Field(description="企业名称")
    credit_code: CreditCode = Field(description="统一社会信用代码（校验位不符的旧代码照收，但会标记）")


class ContactIn(RequestModel):
    name: Line = Field(min_length=1, max_length=100, description="企业联系人")
    phone: Phone = Field(description="联系电话（手机或带区号座机）")


class ItemIn(RequestModel):
    code: Line = Field(min_length=3, max_length=80, description="服务项目代码，见 GET /catalogue")
    remarks: str | None = Field(default=None, max_length=1000, description="备注")
    materials_received: list[Annotated[Line, Field(max_length=200)]] = Field(
        default_factory=list, max_length=30, description="已收到的材料（其余材料写入受理通知书，一次告知）"
    )


class ProductRow(RequestModel):
    name: Short = Field(description="产品名称")
    standard_name: Line | None = Field(default=None, max_length=200, description="执行标准名称")
    standard_no: Line | None = Field(default=None, max_length=100, description="执行标准编号")
    adoption: Line | None = Field(default=None, max_length=100, description="采标情况")
    disclosed: bool | None = Field(default=None, description="是否自我声明公开")


class InstrumentRow(RequestModel):
    name: Short = Field(description="计量器具名称")
    measuring_range: Line | None = Field(default=None, max_length=100, description="测量范围")
    accuracy_class: Line | None = Field(default=None, max_length=50, description="准确度等级")
    serial_no: Line | None = Field(default=None, max_length=100, description="出厂编号")
    purpose: Line | None = Field(default=None, max_length=200, description="用途")
    traceability: Literal["verification", "calibration"] | None = Field(default=None, description="溯源方式：检定/校准")
    last_traced_by: Line | None = Field(default=None, max_length=200, description="上次溯源机构")
    last_traced_on: RecordDate | None = Field(default=None, description="上次溯源日期")
    valid_until: RecordDate | None = Field(default=None, description="有效期至")


class SpecialEquipmentRow(RequestModel):
    kind: Short = Field(description="设备类别，如 锅炉、压力容器、电梯")
    quantity: int = Field(ge=1, le=100_000, description="数量")
    next_inspection_on: RecordDate | None = Field(default=None, description="下次检验日期")


class OperatorExamRow(RequestModel):
    trade: Short = Field(description="工种")
    people: int = Field(ge=1, le=10_000, description="人数")
    category: Literal["A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K"] = Field(description="作业类别 A–K")
    training_mode: Line | None = Field(default=None, max_length=100, description="培训方式")


class DetailsIn(RequestModel):
    """The form's detail tables; each only with the categories it belongs to."""

    products: list[ProductRow] = Field(default_factory=list, max_length=200)
    instruments: list[InstrumentRow] = Field(default_factory=list, max_length=1000)
    special_equipment: list[SpecialEquipmentRow] = Field(default_factory=list, max_length=200)
    operator_exams: list[OperatorExamRow] = Field(default_factory=list, max_length=100)


class DemandIn(RequestModel):
    """一表登记: the demand as the station receives it."""

    station_id: StationId = Field(description="服务站编号，如 210100/210112/hunnan-01")
    enterprise: EnterpriseIn
    contact: ContactIn
    items: list[ItemIn] = Field(min_length=1, max_length=20, description="服务项目")
    description: str = Field(min_length=1, max_length=4000, description="需求描述")
    channel: Channel = Field(description="受理渠道")
    first_responder: Line | None = Field(default=None, min_length=1, max_length=100,
                                        description="首位工作人员；不填则为当前登录人")  # fmt: skip
    received_at: ReceivedAt | None = Field(default=None, description="收到需求的时间（须带时区）；不填则为现在")
    green_channel: GreenChannel | None = Field(default=None, description="绿色通道申请")
    green_channel_reason: str | None = Field(default=None, max_length=1000, description="绿色通道理由")
    details: DetailsIn = Field(default_factory=DetailsIn)
    visit_id: UUID | None = Field(default=None, description="走访记录编号（主动进企业时收集的需求）")


class PublicDemandIn(RequestModel):
    """Online submission by the enterprise: station, channel and status come from the system, not the caller."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    enterprise: EnterpriseIn
    contact: ContactIn
    items: list[ItemIn] = Field(min_length=1, max_length=20)
    description: str = Field(min_length=1, max_length=4000)
    details: DetailsIn = Field(default_factory=DetailsIn)


class DemandItemOut(BaseModel):
    code: str
    version: int
    label: str
    category: str
    time_limit_days: int
    materials: list[str]
    materials_needed: list[str]
    remarks: str | None


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
    credit_code_flag: str | None
    contact_name: str
    contact_phone: str
    categories: list[CategoryOut]
    items: list[DemandItemOut]
    description: str
    channel: Channel
    first_responder: str
    received_at: datetime | None
    time_limit_days: int
    expected_on: date | None
    green_channel: GreenChannel | None
    green_channel_reason: str | None
    details: dict
    visit_id: UUID | None
    possible_duplicate_of: UUID | None
    submitted_at: datetime
    status: str
    progress: str
    archive_no: str | None
    archived_at: datetime | None

    @classmethod
    def of(cls, d: Demand) -> "DemandOut":
        simple = {k: getattr(d, k) for k in cls.model_fields if k not in ("categories", "items")}
        return cls(
            **simple,
            categories=[CategoryOut(code=c.code, label=c.label, time_limit_days=c.time_limit_days) for c in d.categories],
            items=[DemandItemOut(code=i.item_code, version=i.item_version, label=i.label, category=i.category,
                                 time_limit_days=i.time_limit_days, materials=list(i.materials),
                                 materials_needed=list(i.materials_needed), remarks=i.remarks) for i in d.items],
        )  # fmt: skip


class SubmittedOut(DemandOut):
    status_url: str = Field(description="企业查询进度的专属链接（请转交企业，勿公开）")
    notice_url: str


class PublicSubmittedOut(BaseModel):
    tracking_no: str
    expected_on: date | None
    status_url: str
    notice_url: str


def _form(body: DemandIn | PublicDemandIn, *, station_id: str, channel: Channel, first_responder: str,
          **extra) -> usecases.DemandForm:  # fmt: skip
    return usecases.DemandForm(
        station_id=station_id,
        enterprise_name=body.enterprise.name,
        credit_code=body.enterprise.credit_code,
        contact_name=body.contact.name,
        contact_phone=body.contact.phone,
        items=[usecases.ItemRequest(i.code, i.remarks, i.materials_received) for i in body.items],
        description=body.description,
        channel=channel,
        first_responder=first_responder,
        details={k: v for k, v in body.details.model_dump(mode="json").items() if v},
        **extra,
    )


@router.post("/demands", status_code=201, response_model=SubmittedOut, summary="登记需求 / register a demand")
async def submit_demand(
    body: DemandIn, uow: UoW, links: Links, principal: Staff,
    idempotency_key: Annotated[Key | None, Header()] = None,
    x_correlation_id: Annotated[UUID | None, Header()] = None,
) -> SubmittedOut:  # fmt: skip
    # The signed-in clerk is the first responder (首问负责) unless the form names someone else.
    named = body.first_responder and body.first_responder != principal.name
    form = _form(
        body, station_id=body.station_id, channel=body.channel, first_responder=body.first_responder or principal.name,
        first_responder_id=None if named else principal.subject, received_at=body.received_at,
        green_channel=body.green_channel, green_channel_reason=body.green_channel_reason, visit_id=body.visit_id,
    )  # fmt: skip
    demand, token = await usecases.submit_demand(
        uow, principal, form, links, idempotency_key=idempotency_key, correlation_id=x_correlation_id
    )
    url = links.url(token)
    return SubmittedOut(**DemandOut.of(demand).model_dump(), status_url=url, notice_url=url + "/notice.pdf")


@router.get("/demands", response_model=list[DemandOut], summary="需求列表 / demands in your scope")
async def list_demands(
    uow: UoW,
    principal: Reader,
    station_id: StationId | None = None,
    status: Annotated[str | None, Query(pattern="^(open|archived)$")] = None,
    since: QueryDate | None = None,
    until: QueryDate | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[DemandOut]:
    demands = await usecases.list_demands(uow, principal, station_id, status, since, until, limit, offset)
    return [DemandOut.of(d) for d in demands]


@router.get("/demands/{demand_id}", response_model=DemandOut, summary="需求详情 / one demand")
async def get_demand(demand_id: UUID, uow: UoW, principal: Reader) -> DemandOut:
    return DemandOut.of(await usecases.get_demand(uow, principal, demand_id))


@router.get("/demands/{demand_id}/notice", response_class=HTMLResponse, summary="受理通知书（打印）/ acceptance notice")
async def notice_html(demand_id: UUID, uow: UoW, links: Links, principal: Reader) -> HTMLResponse:
    return HTMLResponse(notice.render_html(await usecases.notice(uow, principal, demand_id, links)))


def _pdf(n: notice.Notice) -> Response:
    pdf = notice.render_pdf(n)
    filename = f"notice-{n.tracking_no}.pdf"
    return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{filename}"'})


@router.get("/demands/{demand_id}/notice.pdf", response_class=Response, summary="受理通知书 PDF / notice as PDF")
async def notice_pdf(demand_id: UUID, uow: UoW, links: Links, principal: Reader) -> Response:
    return _pdf(await usecases.notice(uow, principal, demand_id, links))


async def _ledger(uow, principal, station_id, since, until) -> list[list]:
    demands = await usecases.list_demands(uow, principal, station_id, None, since, until, 10_000, 0)
    return ledger.rows(demands)


@router.get("/ledger.csv", response_class=Response, summary="需求台账 CSV / intake ledger")
async def ledger_csv(uow: UoW, principal: Reader, station_id: StationId | None = None, since: QueryDate | None = None,
                     until: QueryDate | None = None) -> Response:  # fmt: skip
    table = await _ledger(uow, principal, station_id, since, until)
    return Response(ledger.to_csv(table), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="ledger.csv"'})  # fmt: skip


@router.get("/ledger.xlsx", response_class=Response, summary="需求台账 Excel / intake ledger")
async def ledger_xlsx(uow: UoW, principal: Reader, station_id: StationId | None = None, since: QueryDate | None = None,
                      until: QueryDate | None = None) -> Response:  # fmt: skip
    table = await _ledger(uow, principal, station_id, since, until)
    title = f"需求台账 {station_id or principal.station} {since or ''}–{until or ''}"
    return Response(
        ledger.to_xlsx(table, title),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": 'attachment; filename="ledger.xlsx"'},
    )


# --- catalogue -----------------------------------------------------------------------------------

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
        return cls(code=i.item_code, version=i.version, category=i.category, category_label=e.category_label,
                   label=i.label, description=i.description, materials=list(e.materials),
                   time_limit_days=e.time_limit_days, legal_limit_days=i.legal_limit_days, handled_by=i.handled_by,
                   override_scope=e.override.scope if e.override else None)  # fmt: skip


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


class WorkdayIn(RequestModel):
    is_workday: bool = Field(description="true 调休上班日 / false 法定节假日")
    note: Line = Field(default="", max_length=200)


@router.get("/categories", response_model=list[CategoryOut], summary="服务类别（公开）/ service categories (public)")
async def list_categories(uow: UoW) -> list[CategoryOut]:
    categories = await usecases.list_categories(uow)
    return [CategoryOut(code=c.code, label=c.label, time_limit_days=c.time_limit_days) for c in categories]


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
    return {"scope": o.scope, "item_code": o.item_code, "version": o.version, "time_limit_days": o.time_limit_days,
            "materials": list(o.materials) if o.materials is not None else None}  # fmt: skip


@router.put("/calendar/{day}", status_code=204, summary="工作日调整（运维）/ working-day override")
async def save_workday(day: CalendarDay, body: WorkdayIn, uow: UoW, _: Admin) -> Response:
    await usecases.save_workday(uow, day, body.is_workday, body.note)
    return Response(status_code=204)


# --- enterprises and visits -------------------------------------------------------------------------

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
    model_config = ConfigDict(extra="ignore")
    station_id: str
    credit_code: str
    credit_code_flag: str | None
    contacts: list[dict]
    products: list[dict]
    instruments: list[dict]
    special_equipment: list[dict]
    operator_exams: list[dict]

    @classmethod
    def of(cls, e: EnterpriseDossier) -> "EnterpriseDossierOut":
        return cls.model_validate({k: getattr(e, k) for k in cls.model_fields})


@router.put("/enterprises/{credit_code}", response_model=EnterpriseDossierOut, summary="登记或更新企业档案（一企一册）")
async def save_enterprise(credit_code: Annotated[str, Path(min_length=18, max_length=18)], body: EnterpriseDossierIn,
                          uow: UoW, principal: Staff) -> EnterpriseDossierOut:  # fmt: skip
    code = validation.credit_code(credit_code)
    data = body.model_dump(mode="json")
    for table in ("contacts", "products", "instruments", "special_equipment", "operator_exams"):
        data[table] = tuple(data[table])
    dossier = EnterpriseDossier(station_id=principal.station, credit_code=code, **data)
    return EnterpriseDossierOut.of(await usecases.save_enterprise(uow, principal, dossier))


@router.get("/enterprises/{credit_code}", response_model=EnterpriseDossierOut, summary="企业档案 / an enterprise")
async def get_enterprise(credit_code: Annotated[Line, Path(min_length=1, max_length=40)], uow: UoW,
                         principal: Reader) -> EnterpriseDossierOut:  # fmt: skip
    return EnterpriseDossierOut.of(await usecases.get_enterprise(uow, principal, credit_code.strip().upper()))


@router.get("/enterprises", response_model=list[EnterpriseDossierOut], summary="查找企业 / search enterprises")
async def search_enterprises(
    uow: UoW, principal: Reader, q: SearchText | None = None,
    park: Annotated[Line | None, Query(min_length=1, max_length=200)] = None, chain: SearchText | None = None,
    town: SearchText | None = None,
    limit: Limit = 100, offset: Offset = 0,
) -> list[EnterpriseDossierOut]:  # fmt: skip
    found = await usecases.search_enterprises(uow, principal, q=q, park=park, chain=chain, town=town, limit=limit,
                                              offset=offset)  # fmt: skip
    return [EnterpriseDossierOut.of(e) for e in found]


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
async def list_visits(uow: UoW, principal: Reader, limit: Limit = 100,
                      offset: Offset = 0) -> list[VisitOut]:  # fmt: skip
    return [VisitOut(**v) for v in await usecases.list_visits(uow, principal, limit, offset)]


@router.get("/visits/{visit_id}", response_model=VisitOut, summary="一次走访及其需求 / a visit and its demands")
async def get_visit(visit_id: UUID, uow: UoW, principal: Reader) -> VisitOut:
    visit, demands = await usecases.get_visit(uow, principal, visit_id)
    return VisitOut(**visit, demands=demands)


# --- stations --------------------------------------------------------------------------------------

class StationIn(RequestModel):
    name: Line = Field(min_length=1, max_length=200, description="服务站名称")
    address: Line = Field(default="", max_length=500)
    level: int = Field(ge=1, le=4, description="层级：1 都市圈/市级 2 区域 3 产业 4 重点企业")
    parent_id: StationId | None = Field(default=None, description="上级服务站编号")
    has_window: bool = Field(default=True, description="是否设有服务窗口")
    phone: Line | None = Field(default=None, max_length=50, description="咨询电话")


class StationOut(StationIn):
    station_id: str

    @classmethod
    def of(cls, s: Station) -> "StationOut":
        return cls(**{k: getattr(s, k) for k in cls.model_fields})


@router.get("/stations", response_model=list[StationOut], summary="服务站名录 / station registry")
async def list_stations(uow: UoW, _: Anyone,
                        under: Annotated[Line | None, Query(max_length=200)] = None) -> list[StationOut]:  # fmt: skip
    return [StationOut.of(s) for s in await usecases.list_stations(uow, under)]


@router.get("/stations/{station_id:path}", response_model=StationOut, summary="服务站 / one station")
async def get_station(station_id: Annotated[Line, Path(max_length=200)], uow: UoW, _: Anyone) -> StationOut:
    return StationOut.of(await usecases.get_station(uow, station_id))


@router.put("/stations/{station_id:path}", response_model=StationOut, summary="登记或修改服务站（运维）/ register a station")
async def save_station(station_id: StationId, body: StationIn, uow: UoW, _: Admin) -> StationOut:
    return StationOut.of(await usecases.save_station(uow, Station(station_id=station_id, **body.model_dump())))


# --- public: the enterprise's own channel ------------------------------------------------------------

class StatusOut(BaseModel):
    """What the enterprise sees behind its private link: its demand's progress and nothing else."""

    tracking_no: str
    station_name: str
    station_phone: str | None
    items: list[str]
    progress: str
    progress_label: str
    submitted_at: datetime
    expected_on: date | None
    archive_no: str | None


def _limit(request: Request, rule_: str) -> None:
    limiter: RateLimiter = request.app.state.rate_limiter
    limiter.check(rule_, "client", request.client.host if request.client else "unknown")


@public.post("/stations/{station_id:path}/demands", status_code=201, response_model=PublicSubmittedOut,
             summary="企业在线申报 / submit online")  # fmt: skip
async def submit_online(station_id: StationId, body: PublicDemandIn, request: Request, uow: UoW, links: Links,
                        settings: Config,
                        idempotency_key: Annotated[Key | None, Header()] = None,
                        ) -> PublicSubmittedOut:  # fmt: skip
    _limit(request, settings.public_rate_limit)
    form = _form(body, station_id=station_id, channel=Channel.website, first_responder="网上申报")
    demand, token = await usecases.submit_demand(uow, None, form, links, idempotency_key=idempotency_key)
    url = links.url(token)
    return PublicSubmittedOut(tracking_no=demand.tracking_no, expected_on=demand.expected_on, status_url=url,
                              notice_url=url + "/notice.pdf")  # fmt: skip


@public.get("/status/{token}", response_model=StatusOut, summary="查询办理进度 / my demand's progress")
async def status(token: Token, request: Request, uow: UoW, settings: Config) -> StatusOut:
    _limit(request, settings.public_rate_limit)
    demand, station = await usecases.status_by_token(uow, token)
    return StatusOut(tracking_no=demand.tracking_no, station_name=station.name, station_phone=station.phone,
                     items=[i.label for i in demand.items], progress=demand.progress,
                     progress_label=PROGRESS_LABELS[demand.progress], submitted_at=demand.submitted_at,
                     expected_on=demand.expected_on, archive_no=demand.archive_no)  # fmt: skip


@public.get("/status/{token}/notice.pdf", response_class=Response, summary="下载受理通知书 / my notice")
async def status_notice(token: Token, request: Request, uow: UoW, links: Links, settings: Config) -> Response:
    _limit(request, settings.public_rate_limit)
    return _pdf(await usecases.notice_by_token(uow, token, links))
