"""Public HTTP routes, no login: the enterprise submits online and follows its demand behind a private link.

Every route is rate-limited per client address and calls the demands', the status page's, changes' or complaints'
use cases; the status token is the enterprise's only authority and reaches exactly one demand. The status shows each
step's moment and, while the round waits for its rating, the one-time rating link evaluation made for it (only
here: the staff's demand API never carries it). A complaint filed through the link (网上投诉) is about that demand,
and the link shows its stages and, once given, the answer.
"""

from typing import Annotated

from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import Response

from shared.api import IdempotencyKey, UoW
from shared.contracts import Channel, StationId
from shared.ratelimit import RateLimiter
from shared.validation import Key

from ..changes.schemas import WithdrawalIn
from ..complaints import usecases as complaints
from ..complaints.schemas import PublicComplaintIn, PublicComplaintOut
from ..demands import usecases
from ..demands.api import form_of, pdf_response
from ..demands.schemas import PublicDemandIn, PublicSubmittedOut
from ..dependencies import Config, Links
from . import usecases as status_page
from .schemas import PublicStatusOut

router = APIRouter(prefix="/public", tags=["public 企业在线申报与查询（无需登录）"])
Token = Annotated[str, Path(min_length=20, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]


def _limit(request: Request, rule_: str) -> None:
    limiter: RateLimiter = request.app.state.rate_limiter
    limiter.check(rule_, "client", request.client.host if request.client else "unknown")


@router.post(
    "/stations/{station_id:path}/demands",
    status_code=201,
    response_model=PublicSubmittedOut,
    summary="企业在线申报 / submit online",
)
async def submit_online(
    station_id: StationId,
    body: PublicDemandIn,
    request: Request,
    uow: UoW,
    links: Links,
    settings: Config,
    idempotency_key: Annotated[Key | None, Header()] = None,
) -> PublicSubmittedOut:
    _limit(request, settings.public_rate_limit)
    form = form_of(body, station_id=station_id, channel=Channel.website, first_responder="网上申报")
    demand, token = await usecases.submit_demand(uow, None, form, links, idempotency_key=idempotency_key)
    url = links.url(token)
    return PublicSubmittedOut(
        tracking_no=demand.tracking_no,
        printed_tracking_no=demand.printed_tracking_no,
        expected_on=demand.expected_on,
        status_url=url,
        notice_url=url + "/notice.pdf",
    )


@router.get("/status/{token}", response_model=PublicStatusOut, summary="查询办理进度 / my demand's progress")
async def status(token: Token, request: Request, uow: UoW, settings: Config) -> PublicStatusOut:
    _limit(request, settings.public_rate_limit)
    return PublicStatusOut.of_page(await status_page.status(uow, token))


@router.post("/status/{token}/withdrawal", response_model=PublicStatusOut, summary="撤回我的需求 / withdraw my demand")
async def withdraw(
    token: Token,
    body: WithdrawalIn,
    request: Request,
    uow: UoW,
    settings: Config,
    idempotency_key: IdempotencyKey = None,
) -> PublicStatusOut:
    _limit(request, settings.public_rate_limit)
    page = await status_page.withdraw(uow, token, body.reason, idempotency_key=idempotency_key)
    return PublicStatusOut.of_page(page)


@router.get("/status/{token}/notice.pdf", response_class=Response, summary="下载受理通知书 / my notice")
async def status_notice(token: Token, request: Request, uow: UoW, links: Links, settings: Config) -> Response:
    _limit(request, settings.public_rate_limit)
    return await pdf_response(await usecases.notice_by_token(uow, token, links))


@router.post(
    "/status/{token}/complaints",
    status_code=201,
    response_model=PublicComplaintOut,
    summary="在线投诉 / complain about my demand's service",
)
async def complain(
    token: Token,
    body: PublicComplaintIn,
    request: Request,
    uow: UoW,
    settings: Config,
    idempotency_key: IdempotencyKey = None,
) -> PublicComplaintOut:
    _limit(request, settings.public_rate_limit)
    # Each complaint takes a number and reaches the station's head: one link files only so many, from any address.
    limiter: RateLimiter = request.app.state.rate_limiter
    limiter.check(settings.complaint_link_rate_limit, "complaint", usecases.status_caller(token))
    form = complaints.OnlineComplaint(**body.model_dump())
    complaint, station = await complaints.file_online(
        uow, token, form, complaints.limits_of(settings), idempotency_key=idempotency_key
    )
    return PublicComplaintOut.of(complaint, station)


@router.get(
    "/status/{token}/complaints",
    response_model=list[PublicComplaintOut],
    summary="我的投诉及答复 / my complaints and their answers",
)
async def my_complaints(token: Token, request: Request, uow: UoW, settings: Config) -> list[PublicComplaintOut]:
    _limit(request, settings.public_rate_limit)
    found, station = await complaints.online_complaints(uow, token)
    return [PublicComplaintOut.of(c, station) for c in found]
