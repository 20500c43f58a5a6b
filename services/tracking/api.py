"""Tracking HTTP routes: ledger, tracking sheet, resolution."""

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from shared.api import IdempotencyKey, StationPaged, UoW, allow
from shared.auth import READERS, STAFF, Principal, Role
from shared.contracts import Deliverable, Fee, Outcome, printed_tracking_no
from shared.validation import Line, QueryDate, RequestModel, SearchText, Text, amount

from . import usecases
from .deps import Config, Defaults
from .domain import STATUS_LABELS, STATUSES, Case
from .worklists import Search, Worklist

router = APIRouter(tags=["tracking 跟踪"])
ReaderOrOrg = Annotated[Principal, allow(*READERS, Role.org)]
Handler = Annotated[Principal, allow(*STAFF, Role.org)]


class HandlerOut(BaseModel):
    """A co-handler (协办)."""

    kind: str
    id: str
    name: str


class ReferralOut(BaseModel):
    """转办: the department the demand was referred to; the station keeps following it."""

    department: str
    contact_name: str | None = None
    contact_phone: str | None = None
    reason: str


class ReturnOut(BaseModel):
    """The latest assignment given back (退单)."""

    assignment_no: int
    returned_by: str | None
    returned_at: datetime | None
    reason: str | None


class ClosingOut(BaseModel):
    """How the demand ended without being resolved: 否定备案 (refused), 并单 (merged) or 撤回 (withdrawn)."""

    kind: str = Field(description="refused / merged / withdrawn")
    label: str
    reason: str
    closed_by: str
    closed_at: datetime
    basis: str | None = Field(default=None, description="否定备案的法律或政策依据 / legal or policy basis of a refusal")
    merged_into: UUID | None = None
    merged_into_tracking_no: str | None = None
    by_enterprise: bool | None = Field(
        default=None, description="撤回由企业提出 / withdrawn at the enterprise's request"
    )


class ItemOut(BaseModel):
    """A catalogue item the demand names (服务项目)."""

    code: str
    label: str


class CaseOut(BaseModel):
    demand_id: UUID
    station_id: str
    tracking_no: str
    printed_tracking_no: str = Field(
        description="打印的跟踪单号：服务站代码 + 跟踪单号，全市唯一 / as printed, with the station's code"
    )
    status: str
    status_label: str
    overdue: bool = Field(
        description="已超期：未办结、未挂起，且已过现行办结期限（未派单的，已过响应期限）"
        " / late: open, not paused, past the handling deadline in force (unassigned: the response deadline)"
    )
    round: int = Field(description="办理轮次：1 为首次办理，2 为核实属实后的重办 / 1, or 2 once re-handled (重办)")
    enterprise_name: str | None
    credit_code: str | None = Field(default=None, description="统一社会信用代码 / unified social credit code")
    contact_phone: str | None = Field(default=None, description="联系电话 / the contact's phone")
    categories: list[dict] | None
    items: list[ItemOut] | None = Field(default=None, description="服务项目 / catalogue items")
    description: str | None = Field(description="企业需求 / the need as registered (or last corrected)")
    time_limit_days: int | None = Field(description="承诺办结时限（工作日）/ committed time limit in working days")
    channel: str | None
    first_responder: str | None
    first_responder_id: str | None = Field(
        default=None, description="首问负责人账号 / the first responder's account (token subject)"
    )
    submitted_at: datetime | None
    assignee_kind: str | None
    assignee_id: str | None = Field(default=None, description="责任人或机构编号 / the assignee's id")
    assignee_name: str | None
    handling_mode: str | None
    due_on: date | None = Field(description="派单时承诺的办结日期 / the due date committed at assignment")
    response_due_on: date | None = Field(
        default=None, description="响应期限（受理至派单）/ response deadline: submitted → assigned"
    )
    handling_due_on: date | None = Field(
        default=None,
        description="现行办结期限（含挂起顺延与批准的延期）"
        " / handling deadline in force (pauses and extensions counted)",
    )
    paused_since: datetime | None = Field(default=None, description="挂起中，自何时起 / paused since, while paused")
    resolution_working_days: int | None = Field(
        default=None,
        description="办结用时：受理至办结的工作日数（自受理次日起算，当日办结为 0；挂起不扣除）；未办结为 null"
        " / working days from acceptance to resolution (from the working day after it; pauses not deducted)",
    )
    outcome: str | None
    summary: str | None
    resolved_at: datetime | None
    overall: str | None
    rated_at: datetime | None
    awaiting_verification: bool = Field(
        default=False,
        description="待核实：本轮评价为「不满意」（最终轮之前），尚未核实且评价未作废"
        " / the round's 不满意 rating waits for verification by the head or the first responder",
    )
    verify_due_on: date | None = Field(default=None, description="核实时限 / verification deadline of a 不满意 rating")
    finding: str | None = Field(
        default=None,
        description="本轮核实结论：founded 属实（重办）/ unfounded 不属实 / unreachable 无法联系企业；未核实为 null",
    )
    verified_at: datetime | None = Field(default=None, description="本轮评价的核实时间 / when the rating was verified")
    rating_voided_at: datetime | None = Field(
        default=None, description="本轮评价经申诉复核作废的时间 / when an appeal voided the round's rating"
    )
    reopened_at: datetime | None = Field(
        default=None, description="重办开始时间（第 2 轮起）/ when the current round was reopened (重办)"
    )
    archive_no: str | None
    archived_at: datetime | None
    department: str | None = Field(description="牵头科室 / lead department")
    co_handlers: list[HandlerOut] = Field(description="协办 / co-handlers")
    referral: ReferralOut | None = Field(description="转办 / the referral, when referred to another department")
    last_return: ReturnOut | None = Field(description="最近一次退单 / the latest assignment given back")
    corrected_at: datetime | None = Field(description="最近一次更正登记 / when the form was last corrected")
    closing: ClosingOut | None = Field(description="否定备案、并单或撤回 / how the demand ended without resolution")

    @classmethod
    def of(cls, case: Case, today: date) -> "CaseOut":
        derived = {"overdue", "co_handlers", "referral", "closing"}
        own = {k: getattr(case, k) for k in cls.model_fields if hasattr(case, k) and k not in derived}
        return cls(
            **own,
            printed_tracking_no=printed_tracking_no(case.station_id, case.tracking_no),
            overdue=case.overdue(today),
            co_handlers=case.co_handlers or [],
            referral=case.referral,
            last_return=ReturnOut(
                assignment_no=case.returned_no,
                returned_by=case.returned_by,
                returned_at=case.returned_at,
                reason=case.return_reason,
            )
            if case.returned_no
            else None,
            closing=ClosingOut(
                kind=case.closed_as, label=STATUS_LABELS[case.closed_as], closed_at=case.closed_at, **case.closing
            )
            if case.closed_as
            else None,
        )


class TimelineEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    occurred_at: datetime
    text: str


class TrackingSheet(CaseOut):
    timeline: list[TimelineEntry]


class FeeIn(RequestModel):
    """收费情况 (000 档案管理), kept in the sealed record."""

    free_service: bool = Field(description="是否免费（公益）服务 / a free service")
    amount_yuan: amount(le=100_000_000) = Field(
        default=0, description="收费金额（元，最多两位小数；免费服务为 0）/ yuan, 0 when free"
    )
    payer: Line | None = Field(
        default=None, min_length=1, max_length=200, description="付费方（企业、财政补贴、服务站等）/ who paid"
    )
    note: Text | None = Field(default=None, max_length=500, description="收费说明 / note")


class DeliverableIn(RequestModel):
    """A report, certificate or data set delivered, by reference (the file itself stays where it lies)."""

    title: Line = Field(min_length=1, max_length=200, description="名称，如 检定证书 / title")
    reference: Line = Field(
        min_length=1, max_length=200, description="编号或存放位置，如 证书编号 JD-2026-0012 / number or locator"
    )


class ResolutionIn(RequestModel):
    outcome: Outcome = Field(description="met 需求已满足 / not_met 无法满足并已向企业说明")
    summary: str = Field(min_length=1, max_length=4000, description="处理过程及结果 / 服务小结")
    fee: FeeIn | None = Field(default=None, description="收费情况 / the fee charged")
    deliverables: list[DeliverableIn] = Field(
        default_factory=list, max_length=50, description="交付的报告、证书或数据（引用）/ deliverables, by reference"
    )
    staff_involved: list[Annotated[Line, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=50, description="参与服务的人员 / the people who served"
    )
    round: int | None = Field(
        default=None,
        ge=1,
        description="办理轮次（可选）：给出时须为需求当前的轮次，防止办结已过去的一轮"
        " / optional: when given, it must be the demand's current round (a stale page cannot resolve a past round)",
    )


@router.get(
    "/ledger",
    response_model=list[CaseOut],
    summary="台账、查询与工作清单 / the ledger, search and work lists",
    description="所有条件可选，同时给出时须全部满足；只列出调用者有权查看的需求。"
    " / Every filter is optional and they combine (AND); only what the caller may see is listed.",
)
async def ledger(
    uow: UoW,
    principal: ReaderOrOrg,
    page: StationPaged,
    settings: Config,
    status: Annotated[
        str | None,
        Query(
            pattern=f"^({'|'.join(STATUSES)})$",
            description="已受理 submitted、重办待派 reopened、已退单待改派 returned、办理中 assigned、已转办 referred、"
            "已办结 resolved、"
            "已评价 rated、否定备案 refused、已并单 merged、已撤回 withdrawn、已归档 archived",
        ),
    ] = None,
    q: Annotated[
        SearchText | None,
        Query(
            description="跟踪单号（如 2026-000001 或带站代码的 hunnan-01-2026-000001）、企业名称、统一社会信用代码或"
            "联系电话（部分匹配）/ tracking number (plain or printed), enterprise name, credit code or contact phone"
        ),
    ] = None,
    item: Annotated[SearchText | None, Query(description="服务项目代码 / catalogue item code")] = None,
    handler: Annotated[
        SearchText | None, Query(description="责任人或机构：编号或名称 / the assignee, by id or (part of the) name")
    ] = None,
    submitted_from: Annotated[
        QueryDate | None, Query(alias="from", description="受理日期起（含，北京时间）/ submitted on or after")
    ] = None,
    submitted_to: Annotated[
        QueryDate | None, Query(alias="to", description="受理日期止（含，北京时间）/ submitted on or before")
    ] = None,
    worklist: Annotated[
        Worklist | None,
        Query(
            alias="list",
            description="工作清单 / work list: mine 我的需求、due_soon 即将到期、overdue 已超期、paused 挂起中、"
            "awaiting_reply 待回复督办、to_verify 待核实（评价为不满意，待站长或首问负责人核实）",
        ),
    ] = None,
) -> list[CaseOut]:
    search = Search(
        q=q,
        item=item,
        handler=handler,
        submitted_from=submitted_from,
        submitted_to=submitted_to,
        worklist=worklist,
    )
    cases, today = await usecases.ledger(
        uow, principal, page.station_id, status, page.limit, page.offset, search, warn_days=settings.warn_days
    )
    return [CaseOut.of(c, today) for c in cases]


@router.get("/demands/{demand_id}", response_model=TrackingSheet, summary="跟踪单 / tracking sheet with timeline")
async def tracking_sheet(demand_id: UUID, uow: UoW, principal: ReaderOrOrg) -> TrackingSheet:
    case, entries, today = await usecases.case_with_timeline(uow, principal, demand_id)
    return TrackingSheet(**CaseOut.of(case, today).model_dump(), timeline=entries)


@router.post(
    "/demands/{demand_id}/resolution",
    response_model=CaseOut,
    summary="办结 / resolve",
    description="办结当前轮次并发布 Resolved；已办结的轮次再次办结回答 409；带相同 Idempotency-Key 的重试回答同一需求，"
    "不会重复办结。/ Resolves the current round and publishes Resolved; resolving a resolved round is a 409; a retry"
    " with the same Idempotency-Key answers the demand again and resolves nothing twice.",
)
async def resolve(
    demand_id: UUID,
    body: ResolutionIn,
    uow: UoW,
    principal: Handler,
    defaults: Defaults,
    idempotency_key: IdempotencyKey = None,
) -> CaseOut:
    case, today = await usecases.resolve(
        uow,
        principal,
        demand_id,
        outcome=body.outcome,
        summary=body.summary,
        round_=body.round,
        defaults=defaults,
        fee=Fee(**body.fee.model_dump()) if body.fee else None,
        deliverables=tuple(Deliverable(**d.model_dump()) for d in body.deliverables),
        staff_involved=tuple(body.staff_involved),
        idempotency_key=idempotency_key,
    )
    return CaseOut.of(case, today)
