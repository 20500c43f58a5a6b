"""Archive HTTP routes: sealed dossiers (read-only, every read logged), retention and legal holds, the audited
disposal after retention, the chain's verification and the access log."""

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from shared.api import StationPaged, UoW, allow
from shared.auth import READERS, Principal, Role
from shared.contracts import StationId
from shared.validation import Line, QueryDate, RequestModel, SearchText, Text

from . import domain, usecases
from .domain import ChainReport, Hold, Kept

router = APIRouter(tags=["archive 归档"])
Reader = Annotated[Principal, allow(*READERS)]
Head = Annotated[Principal, allow(Role.head)]
HeadOrSupervisor = Annotated[Principal, allow(Role.head, Role.supervisor)]
HeadOrAdmin = Annotated[Principal, allow(Role.head, Role.admin)]
ReaderOrAdmin = Annotated[Principal, allow(*READERS, Role.admin)]
Verifier = Annotated[Principal, allow(Role.head, Role.supervisor, Role.admin)]
Purpose = Annotated[
    SearchText | None,
    Query(description="查阅目的（可选，记入查阅日志）/ why the record is read, kept in the access log"),
]
Reason = Annotated[Text, Field(min_length=1, max_length=500)]


class DossierSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    demand_id: UUID
    station_id: str
    tracking_no: str
    archive_no: str
    sealed_at: datetime
    retain_until: date = Field(description="封存时确定的保管期限 / kept until, as sealed (at least 3 years)")
    retained_until: date = Field(
        description="现行保管期限：封存时的期限，服务站设置更长时按设置延长（从不缩短）"
        " / kept until now: the sealed date, lengthened by a longer station setting"
    )
    on_hold: bool = Field(description="是否处于法律保全（保全期间不得销毁）/ under a legal hold")
    content_sha256: str
    chain_no: int = Field(description="在本站哈希链中的序号 / place in the station's hash chain")
    previous_sha256: str | None = Field(description="本站前一份档案的链哈希 / the previous dossier's chain hash")
    chain_sha256: str = Field(description="本档案的链哈希 / this dossier's chain hash")
    disposed_at: datetime | None = Field(description="销毁时间：内容已删除，哈希保留 / disposed of: content removed")
    outcome: str | None = Field(
        description="办结 resolved / 否定备案 refused / 并单 merged / 撤回 withdrawn "
        "(content.outcome has the reason, basis or merged-into)"
    )
    enterprise_name: str | None = Field(
        description="企业名称（需求登记时封存的；销毁后为空）/ the enterprise's name as sealed with the demand "
        "(content.demand.enterprise; null once disposed of)",
    )
    credit_code: str | None = Field(
        description="统一社会信用代码（封存时的；销毁后为空）/ its credit code as sealed (null once disposed of)",
    )

    @classmethod
    def of(cls, k: Kept) -> "DossierSummary":
        d = k.dossier
        return cls.model_validate(
            {**d.__dict__, **d.sealed_enterprise(), "retained_until": k.retained_until, "on_hold": k.on_hold}
        )


class SupplementOut(BaseModel):
    """Events the sealed dossier lacked, attached afterwards with their own hash (补充归档)."""

    model_config = ConfigDict(from_attributes=True)

    supplement_no: int
    added_at: datetime
    content: dict | None
    content_sha256: str


class HoldOut(BaseModel):
    """法律保全: set and lifted by the head, each with a reason."""

    model_config = ConfigDict(from_attributes=True)

    hold_id: UUID
    demand_id: UUID
    reason: str
    set_by: str
    set_at: datetime
    lift_reason: str | None
    lifted_by: str | None
    lifted_at: datetime | None


class DossierOut(DossierSummary):
    content: dict | None = Field(
        description="封存内容（销毁后为空）：demand 需求登记表（含明细表和登记时的企业信息）、"
        "notice 受理通知书、每类事件一节（assignments 派单/改派/转办、returns 退单、follow_ups 跟进与预约、"
        "pauses 挂起、extension_* 延期、warnings 预警、chases 催办、supervisions 督办、resolutions 办结与服务小结、"
        "ratings 评价、verifications 核实、reopenings 重办、voids 申诉作废、revisits 回访、complaints 投诉…），"
        "outcome 结果，fees 收费、deliverables 交付成果、staff 参与人员，rounds 各轮次，events 全部事件"
        " / the sealed record: null once disposed of"
    )
    supplements: list[SupplementOut]
    holds: list[HoldOut]


@router.get(
    "/dossiers",
    response_model=list[DossierSummary],
    summary="档案目录与检索 / sealed dossiers of a station, searched",
    description="按封存时间倒序；每次查阅（含检索条件）记入查阅日志。"
    " / Newest first; every list, with what was searched for, is kept in the access log.",
)
async def list_dossiers(
    uow: UoW,
    principal: Reader,
    page: StationPaged,
    purpose: Purpose = None,
    q: Annotated[
        SearchText | None,
        Query(
            description="跟踪单号（开头部分，如 2026-0001 或带站代码的 hunnan-01-2026-0001；只输入数字时也按流水号"
            "末尾查找，如 000123 或 123）、档案号、企业名称或统一社会信用代码（任意部分）/ a tracking number by its "
            "start (stored or printed) or, for digits only, by the end of its serial; or any part of the archive "
            "number, the enterprise's name or credit code"
        ),
    ] = None,
    sealed_from: Annotated[
        QueryDate | None, Query(description="封存日期起（含，北京日期）/ sealed on or after (China date)")
    ] = None,
    sealed_to: Annotated[
        QueryDate | None, Query(description="封存日期止（含，北京日期）/ sealed on or before (China date)")
    ] = None,
) -> list[DossierSummary]:
    search = domain.dossier_search(q, sealed_from, sealed_to)
    kept = await usecases.list_dossiers(uow, principal, page.station_id, page.limit, page.offset, purpose, search)
    return [DossierSummary.of(k) for k in kept]


@router.get("/dossiers/{demand_id}", response_model=DossierOut, summary="档案 / one sealed dossier")
async def get_dossier(demand_id: UUID, uow: UoW, principal: Reader, purpose: Purpose = None) -> DossierOut:
    kept, supplements, holds = await usecases.get_dossier(uow, principal, demand_id, purpose)
    return DossierOut(
        **DossierSummary.of(kept).model_dump(),
        content=kept.dossier.content,
        supplements=[SupplementOut.model_validate(s) for s in supplements],
        holds=[HoldOut.model_validate(h) for h in holds],
    )


# --------------------------------------------------------------------------- retention and holds


class RetentionIn(RequestModel):
    years: int = Field(ge=3, le=100, description="保管年限，不少于 3 年 / years kept after sealing, at least 3")
    reason: Reason = Field(description="设置理由 / why")


class RetentionOut(BaseModel):
    station_id: str
    years: int = Field(description="现行保管年限（未设置时为最低 3 年）/ years kept (3 when never set)")
    minimum_years: int
    reason: str | None
    set_by: str | None
    set_at: datetime | None


@router.get("/retention/{station_id:path}", response_model=RetentionOut, summary="档案保管期限 / a station's retention")
async def get_retention(station_id: StationId, uow: UoW, principal: ReaderOrAdmin) -> RetentionOut:
    return RetentionOut(**await usecases.get_retention(uow, principal, station_id))


@router.put(
    "/retention/{station_id:path}",
    response_model=RetentionOut,
    summary="设置档案保管期限（站长、运维）/ set a station's retention",
    description="只能延长，不得少于 3 年；已封存档案按较长者保管，从不缩短。记入查阅日志。"
    " / At least 3 years; a longer setting lengthens sealed dossiers too, a shorter one never shortens them. Logged.",
)
async def set_retention(station_id: StationId, body: RetentionIn, uow: UoW, principal: HeadOrAdmin) -> RetentionOut:
    return RetentionOut(**await usecases.set_retention(uow, principal, station_id, body.years, body.reason))


class ReasonIn(RequestModel):
    reason: Reason


@router.post(
    "/dossiers/{demand_id}/hold",
    response_model=HoldOut,
    status_code=201,
    summary="法律保全（站长）/ put a legal hold on a dossier",
)
async def set_hold(demand_id: UUID, body: ReasonIn, uow: UoW, principal: Head) -> HoldOut:
    return HoldOut.model_validate(await usecases.set_hold(uow, principal, demand_id, body.reason))


@router.post(
    "/dossiers/{demand_id}/hold/release", response_model=HoldOut, summary="解除保全（站长）/ lift a legal hold"
)
async def lift_hold(demand_id: UUID, body: ReasonIn, uow: UoW, principal: Head) -> HoldOut:
    hold: Hold = await usecases.lift_hold(uow, principal, demand_id, body.reason)
    return HoldOut.model_validate(hold)


# --------------------------------------------------------------------------- disposal


class DisposalIn(RequestModel):
    station_id: StationId | None = Field(default=None, description="服务站（默认本站）/ the station, default own")
    reason: Reason = Field(description="销毁理由 / why")


class ConfirmationIn(RequestModel):
    confirm: Literal[True] = Field(description="确认销毁（不可撤销）/ confirm: cannot be undone")


class DisposalItem(BaseModel):
    demand_id: UUID
    station_id: str
    archive_no: str
    tracking_no: str
    sealed_at: datetime
    retained_until: date
    content_sha256: str
    chain_no: int | None = None
    chain_sha256: str | None = None


class DisposalRecordOut(BaseModel):
    """销毁记录, kept forever."""

    demand_id: UUID
    station_id: str
    archive_no: str
    tracking_no: str
    sealed_at: datetime
    retained_until: date
    content_sha256: str
    chain_no: int
    chain_sha256: str
    disposed_by: str
    disposed_at: datetime


class DisposalOut(BaseModel):
    disposal_id: UUID
    station_id: str
    reason: str
    requested_by: str
    requested_at: datetime
    items: list[DisposalItem] = Field(description="申请时已过保管期限且未保全的档案 / due when requested")
    confirmed_by: str | None
    confirmed_at: datetime | None


class DisposalDetail(DisposalOut):
    records: list[DisposalRecordOut] = Field(description="已销毁 / disposed of")
    skipped: list[DisposalItem] = Field(
        description="确认时已不满足销毁条件（新设保全或延长期限）而保留的 / kept: no longer due when confirmed"
    )


@router.post(
    "/disposals",
    response_model=DisposalDetail,
    status_code=201,
    summary="销毁申请（站长）/ request a disposal",
    description="列出已过保管期限且未被保全的档案；确认前不销毁任何档案。"
    " / Lists the dossiers past retention and free of holds; nothing is disposed of until confirmed.",
)
async def request_disposal(body: DisposalIn, uow: UoW, principal: Head) -> DisposalDetail:
    return DisposalDetail(**await usecases.request_disposal(uow, principal, body.station_id, body.reason))


@router.get("/disposals", response_model=list[DisposalOut], summary="销毁申请与记录 / disposal requests")
async def list_disposals(uow: UoW, principal: HeadOrSupervisor, page: StationPaged) -> list[DisposalOut]:
    rows = await usecases.list_disposals(uow, principal, page.station_id, page.limit, page.offset)
    return [DisposalOut(**r) for r in rows]


@router.get("/disposals/{disposal_id}", response_model=DisposalDetail, summary="销毁申请与记录 / one disposal")
async def get_disposal(disposal_id: UUID, uow: UoW, principal: HeadOrSupervisor) -> DisposalDetail:
    return DisposalDetail(**await usecases.get_disposal(uow, principal, disposal_id))


@router.post(
    "/disposals/{disposal_id}/confirmation",
    response_model=DisposalDetail,
    summary="确认销毁（站长）/ confirm a disposal",
    description="逐份销毁仍满足条件的档案：删除内容，保留档案号与哈希，写入永久销毁记录；数据库拒绝销毁未到期或保全中的档案。"
    " / Disposes of each listed dossier still due: content removed, number and hashes kept, a disposal record kept "
    "forever; the database refuses a dossier not yet due or on hold.",
)
async def confirm_disposal(disposal_id: UUID, body: ConfirmationIn, uow: UoW, principal: Head) -> DisposalDetail:
    return DisposalDetail(**await usecases.confirm_disposal(uow, principal, disposal_id))


# --------------------------------------------------------------------------- the chain and the access log


class BrokenLinkOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    chain_no: int | None
    archive_no: str | None
    demand_id: UUID | None
    problem: str
    problem_en: str


class ChainOut(BaseModel):
    station_id: str
    intact: bool = Field(description="全链完好 / every hash recomputes")
    dossiers: int = Field(description="已校验的档案数（至第一处断裂）/ links checked (up to the first break)")
    disposed: int
    supplements: int
    head_sha256: str | None = Field(description="链尾哈希：记下它，日后可证明此前档案未被改动 / the chain's head hash")
    broken: BrokenLinkOut | None = Field(description="第一处断裂 / the first broken link")

    @classmethod
    def of(cls, r: ChainReport) -> "ChainOut":
        broken = BrokenLinkOut.model_validate(r.broken) if r.broken else None
        return cls(
            station_id=r.station_id,
            intact=r.intact,
            dossiers=r.dossiers,
            disposed=r.disposed,
            supplements=r.supplements,
            head_sha256=r.head_sha256,
            broken=broken,
        )


@router.get(
    "/chain/verify",
    response_model=list[ChainOut],
    summary="校验档案哈希链 / verify the stations' hash chains",
    description="重新计算每份档案的内容哈希和本站哈希链，报告每站第一处断裂。"
    " / Recomputes every content hash and each station's chain; reports each station's first broken link.",
)
async def verify_chain(
    uow: UoW,
    principal: Verifier,
    station_id: Annotated[StationId | None, Query(description="只校验一个服务站 / one station")] = None,
) -> list[ChainOut]:
    return [ChainOut.of(r) for r in await usecases.verify_chain(uow, principal, station_id)]


class AccessOut(BaseModel):
    id: int
    accessed_at: datetime
    action: str = Field(
        description="dossier.read 查阅档案、dossier.list 查阅目录或检索（detail 含检索条件）、"
        "weekly_report.read 查阅列有走访记录的周报、export.* 导出、retention.set 设置保管期限、hold.set/"
        "hold.lift 保全与解除、disposal.request/disposal.confirm 销毁申请与确认"
    )
    station_id: str
    demand_id: UUID | None
    subject: str
    subject_name: str | None
    role: str
    what: str | None
    demand_ids: list[UUID] | None
    purpose: str | None
    detail: dict | None


@router.get(
    "/access-log",
    response_model=list[AccessOut],
    summary="档案查阅与操作日志 / the archive's access log",
    description="站长看本站，上级单位看辖区。/ A head sees the station's, a supervisor its subtree's.",
)
async def access_log(
    uow: UoW,
    principal: HeadOrSupervisor,
    page: StationPaged,
    demand_id: Annotated[UUID | None, Query(description="只看某一需求的档案 / one demand's")] = None,
    action: Annotated[Line | None, Query(max_length=50, description="操作类型 / action")] = None,
    start: Annotated[QueryDate | None, Query(alias="from", description="起（含，北京日期）/ from (China date)")] = None,
    end: Annotated[QueryDate | None, Query(alias="to", description="止（含，北京日期）/ to (China date)")] = None,
) -> list[AccessOut]:
    rows = await usecases.access_log(
        uow, principal, page.station_id, demand_id, action, start, end, page.limit, page.offset
    )
    return [AccessOut(**r) for r in rows]
