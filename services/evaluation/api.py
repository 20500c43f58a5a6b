"""Evaluation HTTP routes: surveys, staff transcription, one-time rating links for enterprises."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from shared.api import StationPaged, UoW, allow
from shared.auth import READERS, STAFF, Principal
from shared.contracts import Answers
from shared.ratelimit import RateLimiter
from shared.validation import RequestModel

from . import usecases
from .settings import Settings

router = APIRouter(tags=["evaluation 服务评价"])
public = APIRouter(prefix="/public", tags=["public 企业评价（无需登录）"])
Staff = Annotated[Principal, allow(*STAFF)]
Reader = Annotated[Principal, allow(*READERS)]
Token = Annotated[str, Path(min_length=20, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]


def _settings(request: Request) -> Settings:
    return request.app.state.runtime.settings


Config = Annotated[Settings, Depends(_settings)]


class RatingIn(RequestModel):
    """The satisfaction form (满意度调查表); `answers.overall` is required, the rest optional."""

    answers: Answers


class RatingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    round: int
    answers: dict
    source: str
    recorded_by: str | None
    rated_at: datetime


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
    opened_at: datetime | None
    rated_at: datetime | None
    closed_as: str | None = Field(description="refused 否定备案 / merged 已并单 / withdrawn 已撤回, when closed")
    closed_at: datetime | None


class SurveyWithRatings(SurveyOut):
    ratings: list[RatingOut]


class LinkOut(BaseModel):
    url: str
    expires_at: datetime


class PublicSurveyOut(BaseModel):
    """What the enterprise sees behind its link: which demand, and whether items 6–9 apply."""

    model_config = ConfigDict(from_attributes=True)

    tracking_no: str
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
)
async def record_paper_rating(demand_id: UUID, body: RatingIn, uow: UoW, principal: Staff) -> SurveyOut:
    return SurveyOut.model_validate(await usecases.record_paper_rating(uow, principal, demand_id, body.answers))


@router.post(
    "/surveys/{demand_id}/link",
    status_code=201,
    response_model=LinkOut,
    summary="生成一次性评价链接 / issue a one-time rating link",
)
async def issue_link(demand_id: UUID, uow: UoW, settings: Config, principal: Staff) -> LinkOut:
    token, expires_at = await usecases.issue_link(uow, principal, demand_id, days=settings.rating_link_days)
    return LinkOut(url=f"{settings.public_url}/public/ratings/{token}", expires_at=expires_at)


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
async def rate_by_link(token: Token, body: RatingIn, request: Request, uow: UoW) -> PublicSurveyOut:
    _limit(request, token)
    return PublicSurveyOut.model_validate(await usecases.rate_by_link(uow, token, body.answers))
