"""Evaluation HTTP routes: surveys, staff transcription, one-time rating links for enterprises, appeals (申诉复核)."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, computed_field

from shared.api import IdempotencyKey, StationPaged, UoW, allow
from shared.auth import READERS, STAFF, Principal, Role
from shared.contracts import FINAL_ROUND, Answers, NationalLevel, Overall
from shared.ratelimit import RateLimiter
from shared.validation import RequestModel, Text

from . import kpis, usecases
from .settings import Settings

router = APIRouter(tags=["evaluation 服务评价"])
public = APIRouter(prefix="/public", tags=["public 企业评价（无需登录）"])
Staff = Annotated[Principal, allow(*STAFF)]
Reader = Annotated[Principal, allow(*READERS)]
Supervisor = Annotated[Principal, allow(Role.supervisor)]
Round = Annotated[int, Path(ge=1, le=FINAL_ROUND, description="评价轮次：1 为首次评价，2 为重办后的评价 / the round")]
Token = Annotated[str, Path(min_length=20, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]


async def _settings(request: Request) -> Settings:
    return request.app.state.runtime.settings


Config = Annotated[Settings, Depends(_settings)]


class RatingIn(RequestModel):
    """The satisfaction form (满意度调查表); `answers.overall` is required, the rest optional."""

    answers: Answers


class VoidIn(RequestModel):
    """申诉复核：作废该轮评价的理由（如恶意评价、误评）/ why the rating is voided (malicious or mistaken)."""

    reason: Annotated[Text, Field(min_length=1, max_length=2000)] = Field(description="作废理由 / reason")


class RatingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    round: int = Field(description="评价轮次：1 首次，2 重办后 / 1 first, 2 after re-handling")
    final: bool = Field(description="最终评价（第二轮评价，之后不再核实重办）/ the final round's rating")
    answers: dict
    overall: Overall = Field(description="总体评价（第 10 项）/ item 10")
    national_level: NationalLevel = Field(
        description="全国政务服务「好差评」等级（向上报送用；一般 = 基本满意）/ level on the national 好差评 scale"
    )
    source: str
    recorded_by: str | None
    rated_at: datetime
    voided: bool = Field(description="是否经申诉复核作废（作废的评价保留，但不计入满意度）/ voided on appeal")
    voided_at: datetime | None
    voided_by: str | None
    void_reason: str | None

    @computed_field(description="总体评价的中文名 / item 10's label")
    @property
    def overall_label(self) -> str:
        return self.overall.label

    @computed_field(description="好差评等级的中文名，如「基本满意」/ the national level's label")
    @property
    def national_level_label(self) -> str:
        return self.national_level.label


class SurveyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    demand_id: UUID
    station_id: str
    tracking_no: str
    round: int
    served_by_org: bool
    assignment_no: int | None = Field(
        description="items 6–9 follow this assignment: the one the resolution answers, else the latest"
    )
    status: str = Field(description="waiting / open / rated / closed (ended without being resolved)")
    awaiting_assignment: bool = Field(
        description="已办结，但其所答复的派单尚未同步到评价：评价表暂不开放（status 为 waiting），同步后自动开放"
        " / resolved, but the assignment it answers is not known here yet: the survey (status waiting) opens once it is"
    )
    opened_at: datetime | None
    rated_at: datetime | None
    closed_as: str | None = Field(description="refused 否定备案 / merged 已并单 / withdrawn 已撤回, when closed")
    closed_at: datetime | None
    voided_rounds: list[int] = Field(
        description="评价经申诉复核作废的轮次（评价保留，不计入满意度）/ the rounds whose rating was voided on appeal"
    )


class SurveyWithRatings(SurveyOut):
    ratings: list[RatingOut]


class LinkOut(BaseModel):
    url: str
    expires_at: datetime
    also_valid: int = Field(
        description="本轮此前发出、仍然有效的评价链接数：任一链接评价后其余全部失效"
        " / the round's earlier links still valid beside this one; all stop once one of them is used"
    )


class PublicSurveyOut(BaseModel):
    """What the enterprise sees behind its link: which demand, and whether items 6–9 apply."""

    model_config = ConfigDict(from_attributes=True)

    tracking_no: str
    round: int = Field(description="评价轮次：2 为重办后的再次评价 / 2: rating again after re-handling")
    technician_items_apply: bool
    status: str


@router.get("/surveys", response_model=list[SurveyOut], summary="评价表 / surveys in your scope")
async def list_surveys(
    uow: UoW,
    principal: Reader,
    page: StationPaged,
    status: Annotated[str | None, Query(pattern="^(waiting|open|rated|closed)$")] = None,
) -> list[SurveyOut]:
    surveys = await usecases.list_surveys(uow, principal, page.station_id, status, page.limit, page.offset)
    return [SurveyOut.model_validate(s) for s in surveys]


@router.get("/surveys/{demand_id}", response_model=SurveyWithRatings, summary="评价详情 / a survey and its ratings")
async def get_survey(demand_id: UUID, uow: UoW, principal: Reader) -> SurveyWithRatings:
    survey, ratings = await usecases.get_survey(uow, principal, demand_id)
    return SurveyWithRatings(**SurveyOut.model_validate(survey).model_dump(), ratings=ratings)


@router.post(
    "/surveys/{demand_id}/rating",
    status_code=201,
    response_model=SurveyOut,
    summary="录入纸质评价表 / transcribe a paper rating",
    description="录入本轮评价并发布 Rated；本轮已评价时回答 409；带相同 Idempotency-Key 的重试回答同一评价表，不会重复"
    "录入。/ Records the round's rating and publishes Rated; a rated round is a 409; a retry with the same"
    " Idempotency-Key answers the survey again and records nothing twice.",
)
async def record_paper_rating(
    demand_id: UUID,
    body: RatingIn,
    uow: UoW,
    settings: Config,
    principal: Staff,
    idempotency_key: IdempotencyKey = None,
) -> SurveyOut:
    survey = await usecases.record_paper_rating(
        uow,
        principal,
        demand_id,
        body.answers,
        idempotency_key=idempotency_key,
        definition=kpis.Definition.of(settings),
    )
    return SurveyOut.model_validate(survey)


@router.post(
    "/surveys/{demand_id}/link",
    status_code=201,
    response_model=LinkOut,
    summary="生成一次性评价链接 / issue a one-time rating link",
    description="每次生成一个新链接，此前的链接在本轮评价前仍然有效；带相同 Idempotency-Key 的重试不另生成链接，"
    "而是为同一链接换发新令牌并回答新网址（第一次的网址随之失效），该链接已使用或已失效时回答 409。/ Each call"
    " issues a new link (the earlier ones stay valid until the round is rated); a retry with the same"
    " Idempotency-Key issues none: it gives the same link a new token and answers its URL (the first URL stops"
    " working), or 409 when that link was used or retired meanwhile.",
)
async def issue_link(
    demand_id: UUID, uow: UoW, settings: Config, principal: Staff, idempotency_key: IdempotencyKey = None
) -> LinkOut:
    link = await usecases.issue_link(
        uow, principal, demand_id, days=settings.rating_link_days, idempotency_key=idempotency_key
    )
    return LinkOut(
        url=f"{settings.public_url}/public/ratings/{link.token}", expires_at=link.expires_at, also_valid=link.also_valid
    )


@router.post(
    "/surveys/{demand_id}/ratings/{round}/void",
    response_model=RatingOut,
    summary="申诉复核：作废一轮评价 / void a rating on appeal",
    description="上级单位（其辖区包含该服务站）经申诉复核，认定该轮评价为恶意或误评时作废：评价保留并标记作废（作废人、"
    "时间、理由），不再计入满意率等任何满意度数字，并发布 RatingVoided。已作废的评价再次作废回答 409；评价经核实属实、"
    "需求已重办后不能再作废（409）；带相同 Idempotency-Key 的重试回答同一结果。"
    "/ A supervisor whose scope covers the station voids a rating judged malicious or mistaken: kept, marked void,"
    " left out of every satisfaction figure; RatingVoided is published. Voiding it again is a 409, as is voiding a"
    " rating whose founded verification reopened the demand; a retry with the same Idempotency-Key gets the same"
    " answer.",
)
async def void_rating(
    demand_id: UUID,
    round: Round,
    body: VoidIn,
    uow: UoW,
    principal: Supervisor,
    idempotency_key: IdempotencyKey = None,
) -> RatingOut:
    rating = await usecases.void_rating(uow, principal, demand_id, round, body.reason, idempotency_key=idempotency_key)
    return RatingOut.model_validate(rating)


def _limit(request: Request, token: str) -> None:
    settings: Settings = request.app.state.runtime.settings
    limiter: RateLimiter = request.app.state.rate_limiter
    limiter.check(settings.public_rate_limit, "client", request.client.host if request.client else "unknown")
    limiter.check(settings.link_rate_limit, "link", token)


@public.get("/ratings/{token}", response_model=PublicSurveyOut, summary="打开评价链接 / open a rating link")
async def open_link(token: Token, request: Request, uow: UoW) -> PublicSurveyOut:
    _limit(request, token)
    return PublicSurveyOut.model_validate(await usecases.survey_by_link(uow, token))


@public.post("/ratings/{token}", status_code=201, response_model=PublicSurveyOut, summary="企业评价 / rate")
async def rate_by_link(token: Token, body: RatingIn, request: Request, uow: UoW, settings: Config) -> PublicSurveyOut:
    _limit(request, token)
    survey = await usecases.rate_by_link(uow, token, body.answers, definition=kpis.Definition.of(settings))
    return PublicSurveyOut.model_validate(survey)
