"""Registry HTTP routes: admit, edit, suspend, reinstate and exit organizations; read them; candidates."""

from datetime import date
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from shared.api import Paged, StationPaged, UoW, allow
from shared.auth import READERS, Principal, Role
from shared.calendar import china_today
from shared.contracts import utcnow
from shared.errors import Invalid
from shared.validation import DueDate

from . import usecases
from .domain import ReviewThresholds, Status
from .schemas import (
    CATEGORY_PATTERN,
    ORG_ID_PATTERN,
    AuditOut,
    CandidateOut,
    CandidatesOut,
    ExpiringOut,
    NotEligibleOut,
    OrganizationIn,
    OrganizationOut,
    OrganizationProfileOut,
    RecordOut,
    RouteOut,
    StatusIn,
    route_label,
)

router = APIRouter(tags=["organizations 服务机构库"])
Registrar = Annotated[Principal, allow(Role.admin, Role.supervisor, Role.head)]
RegistryReader = Annotated[Principal, allow(*READERS, Role.admin, Role.org)]
Reader = Annotated[Principal, allow(*READERS)]
OrgId = Annotated[str, Path(pattern=ORG_ID_PATTERN, description="机构编号，如 org-01")]


async def _thresholds(request: Request) -> ReviewThresholds:
    return ReviewThresholds.of(request.app.state.runtime.settings)


Thresholds = Annotated[ReviewThresholds, Depends(_thresholds)]
# Paths under /organizations/ that are routes, never an organization's id.
_RESERVED = {"expiring"}


def _today() -> date:
    return china_today(utcnow())


@router.get(
    "/organizations/expiring",
    response_model=list[ExpiringOut],
    summary="即将到期的资质与协议 / qualifications and agreements expiring soon",
)
async def expiring(
    uow: UoW,
    principal: RegistryReader,
    page: Paged,
    within_days: Annotated[int, Query(ge=0, le=366, description="天数（含今天起算）")] = 30,
) -> list[ExpiringOut]:
    rows = await usecases.expiring(uow, principal, within_days, page.limit, page.offset)
    return [ExpiringOut(**r) for r in rows]


@router.get("/organizations", response_model=list[OrganizationOut], summary="服务机构库 / the registry")
async def list_organizations(
    uow: UoW,
    principal: RegistryReader,
    page: StationPaged,
    thresholds: Thresholds,
    category: Annotated[str | None, Query(pattern=CATEGORY_PATTERN, description="服务类别")] = None,
    status: Annotated[Status | None, Query(description="状态")] = None,
    flagged: Annotated[
        bool | None,
        Query(description="true：只列提示复核的机构；false：只列未提示的（服务机构本身不可用）/ by the review flag"),
    ] = None,
) -> list[OrganizationOut]:
    orgs = await usecases.list_organizations(
        uow,
        principal,
        category=category,
        status=status,
        station_id=page.station_id,
        limit=page.limit,
        offset=page.offset,
        flagged=flagged,
        thresholds=thresholds,
    )
    today = _today()
    return [OrganizationOut.of(o, today, review) for o, review in orgs]


@router.put(
    "/organizations/{org_id}",
    response_model=OrganizationOut,
    responses={201: {"model": OrganizationOut, "description": "准入（新登记）/ admitted"}},
    summary="准入或修改服务机构 / admit or edit an organization",
)
async def save_organization(
    org_id: OrgId, body: OrganizationIn, uow: UoW, principal: Registrar, response: Response
) -> OrganizationOut:
    if org_id in _RESERVED:
        raise Invalid("该编号为系统保留，请换一个", "this id is reserved", field="org_id")
    org, created = await usecases.save_organization(uow, principal, body.domain(org_id))
    response.status_code = 201 if created else 200
    return OrganizationOut.of(org, _today())


@router.put(
    "/organizations/{org_id}/status",
    response_model=OrganizationOut,
    summary="暂停、恢复或退出 / suspend, reinstate or exit",
)
async def change_status(org_id: OrgId, body: StatusIn, uow: UoW, principal: Registrar) -> OrganizationOut:
    org = await usecases.change_status(uow, principal, org_id, body.status, reason=body.reason, until=body.until)
    return OrganizationOut.of(org, _today())


@router.get(
    "/organizations/{org_id}",
    response_model=OrganizationProfileOut,
    summary="服务机构档案与动态评价 / profile and running record",
)
async def get_organization(
    org_id: OrgId, uow: UoW, principal: RegistryReader, thresholds: Thresholds
) -> OrganizationProfileOut:
    org, record, review = await usecases.get_organization(uow, principal, org_id, thresholds)
    return OrganizationProfileOut(**OrganizationOut.of(org, _today(), review).model_dump(), record=RecordOut.of(record))


@router.get(
    "/organizations/{org_id}/history",
    response_model=list[AuditOut],
    summary="准入、修改、暂停、恢复、退出记录 / audit",
)
async def organization_history(org_id: OrgId, uow: UoW, principal: RegistryReader, page: Paged) -> list[AuditOut]:
    rows = await usecases.organization_history(uow, principal, org_id, page.limit, page.offset)
    return [AuditOut(**r) for r in rows]


@router.get(
    "/demands/{demand_id}/candidates",
    response_model=CandidatesOut,
    summary="可派服务机构（按动态评价排序）/ ranked candidates for a demand",
)
async def candidates(
    demand_id: UUID,
    uow: UoW,
    principal: Reader,
    due_on: Annotated[DueDate | None, Query(description="拟定办结期限；不填按受理通知书或承诺时限")] = None,
) -> CandidatesOut:
    c = await usecases.candidates(uow, principal, demand_id, due_on)
    return CandidatesOut(
        demand_id=c.demand_id,
        station_id=c.station_id,
        round=c.round,
        due_on=c.due_on,
        previous_assignee=c.previous_assignee,
        categories=c.categories,
        item_codes=c.item_codes,
        suggested_route=c.suggested_route,
        suggested_route_label=route_label(c.suggested_route),
        routes=[RouteOut(**r) for r in c.routes],
        candidates=[
            CandidateOut(
                rank=n,
                org_id=o.org_id,
                name=o.name,
                contacts=[{"name": x.name, "phone": x.phone, "role": x.role} for x in o.contacts],
                agreement_valid_until=o.agreement.valid_until,
                previous_assignee=c.previously(o.org_id),
                **RecordOut.of(r).model_dump(),
            )
            for n, (o, r) in enumerate(c.candidates, start=1)
        ],
        not_eligible=[
            NotEligibleOut(
                org_id=o.org_id, name=o.name, reason=e.zh, reason_en=e.en, previous_assignee=c.previously(o.org_id)
            )
            for o, e in c.not_eligible
        ],
        departments=c.departments,
    )
