"""HTTP route: the complaint scorecard (GET /scorecards, issue 10; 001 §7.2.2.2, 002 §8.1.4).

One of the three services answering the scorecard in one JSON shape (tracking the handling, evaluation the
ratings); the console joins their rows on `key`. The station's clerks and head and its supervisors read their scope
(another station by name: 404); an organization only its own row by organization (another dimension: 403), of the
complaints about it already answered; operations are refused (403).
"""

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from shared.api import KpiScoped, UoW, allow
from shared.auth import READERS, Principal, Role

from . import usecases
from .domain import By, Scorecard

router = APIRouter(tags=["考核表 / scorecards"])
Reader = Annotated[Principal, allow(*READERS, Role.org)]


class RowOut(BaseModel):
    key: str = Field(
        description="station：服务站编号；staff：被投诉工作人员账号（投诉未注明账号时为姓名）；organization：被投诉服务"
        "机构编号；category：投诉所涉需求的服务类别代码 / the station id, the staff account (else name) complained"
        " about, the organization id complained about, or the category code of the demand the complaint is tied to"
    )
    label: str = Field(description="名称 / the name shown to people")
    complaints: int = Field(description="投诉：受理日期（北京日期）在期内的投诉 / complaints filed in the period")
    complaints_open: int = Field(description="未结案：上述投诉中现尚未结案的 / of those, not closed now")
    complaints_overdue: int = Field(
        description="超期：上述投诉中未结案且已过下一环节时限的 / of those, open and past the next stage's limit"
    )


class ScorecardOut(BaseModel):
    by: By
    period_from: str = Field(serialization_alias="from", description="统计期间起（含，北京日期）/ first day")
    period_to: str = Field(serialization_alias="to", description="统计期间止（含，北京日期）/ last day")
    station_id: str | None = Field(description="所查看的服务站（未指定为 null）/ the station asked for, else null")
    rows: list[RowOut] = Field(
        description="期内有投诉的各行，按 key 排序 / a row per key with complaints in the period"
    )


def _out(card: Scorecard) -> ScorecardOut:
    return ScorecardOut(
        by=card.by,
        period_from=card.period.start.isoformat(),
        period_to=card.period.end.isoformat(),
        station_id=card.station_id,
        rows=[
            RowOut(
                key=r.key,
                label=r.label,
                complaints=r.figures.complaints,
                complaints_open=r.figures.complaints_open,
                complaints_overdue=r.figures.complaints_overdue,
            )
            for r in card.rows
        ],
    )


@router.get(
    "/scorecards",
    response_model=ScorecardOut,
    response_model_by_alias=True,
    summary="考核表：投诉数字 / scorecard: complaint figures",
    description="统计期间（北京日期，含首尾，默认本月 1 日至今天，最长 366 天）内受理的投诉，按服务站、被投诉工作人员、"
    "被投诉服务机构或所涉需求的服务类别分行：投诉数、未结案数、超期数。"
    " / Complaints filed in the period per station, staff member or organization complained about, or category of"
    " the demand concerned: filed, still open, overdue.",
)
async def scorecard(
    uow: UoW,
    principal: Reader,
    query: KpiScoped,
    by: Annotated[By, Query(description="分行方式 station / staff / organization / category")] = By.station,
) -> ScorecardOut:
    return _out(await usecases.scorecard(uow, principal, by, query.station_id, query.start, query.end))
