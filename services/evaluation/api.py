"""Evaluation HTTP routes: surveys and ratings."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from shared.contracts import Answers, RatingSource, StationId
from shared.runtime import ServiceRuntime, runtime_of

from . import usecases
from .domain import Survey

router = APIRouter(tags=["evaluation 服务评价"])
Runtime = Annotated[ServiceRuntime, Depends(runtime_of)]


class RatingIn(BaseModel):
    """The satisfaction form (满意度调查表); `answers.overall` is required, the rest optional."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    answers: Answers
    source: RatingSource = Field(default=RatingSource.online, description="online 企业在线评价 / paper 纸质表录入")
    recorded_by: str | None = Field(default=None, max_length=100, description="纸质表录入人")


class RatingOut(BaseModel):
    round: int
    answers: dict
    source: str
    recorded_by: str | None
    rated_at: datetime


class SurveyOut(BaseModel):
    demand_id: UUID
    station_id: str
    tracking_no: str
    round: int
    served_by_org: bool
    status: str
    opened_at: datetime | None
    rated_at: datetime | None

    @classmethod
    def of(cls, s: Survey) -> "SurveyOut":
        return cls(**{k: getattr(s, k) for k in cls.model_fields})


class SurveyWithRatings(SurveyOut):
    ratings: list[RatingOut]


@router.get("/surveys", response_model=list[SurveyOut], summary="评价表 / surveys of a station")
async def list_surveys(
    rt: Runtime,
    station_id: StationId,
    status: Annotated[str | None, Query(pattern="^(waiting|open|rated)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[SurveyOut]:
    return [SurveyOut.of(s) for s in await usecases.list_surveys(rt, station_id, status, limit, offset)]


@router.get("/surveys/{demand_id}", response_model=SurveyWithRatings, summary="评价详情 / a survey and its ratings")
async def get_survey(demand_id: UUID, rt: Runtime) -> SurveyWithRatings:
    survey, ratings = await usecases.get_survey(rt, demand_id)
    return SurveyWithRatings(**SurveyOut.of(survey).model_dump(), ratings=[RatingOut(**dict(r)) for r in ratings])


@router.post("/surveys/{demand_id}/rating", status_code=201, response_model=SurveyOut, summary="评价 / rate")
async def rate(demand_id: UUID, body: RatingIn, rt: Runtime) -> SurveyOut:
    survey = await usecases.rate(rt, demand_id, body.answers, source=body.source, recorded_by=body.recorded_by)
    return SurveyOut.of(survey)
