"""HTTP route: the rating side of the scorecards (GET /scorecards, issue 10; 001 §7.2.2.2, 002 §8.1.4).

The same JSON shape as tracking's and intake's (the console joins their rows on `key`): per station, first responder,
service organization or category, the ratings of a period by the same definitions as GET /kpis and the breakdown
metrics (qs_category_ratings_*, qs_organization_ratings_*).
"""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from shared.api import UoW, allow
from shared.auth import READERS, Principal, Role
from shared.contracts import NationalLevel, StationId
from shared.validation import QueryDate

from .. import kpis
from ..api import Config
from . import usecases
from .domain import By, Row

router = APIRouter(tags=["考核 / scorecards"])
Reader = Annotated[Principal, allow(*READERS, Role.org)]


class RowOut(BaseModel):
    key: str = Field(
        description="行的键：服务站编号 / 首问工作人员账号（无账号时为姓名）/ 服务机构编号 / 服务类别代码"
        " / station id, first responder account (name when unknown), organization id or category code"
    )
    label: str = Field(description="名称 / the key's name")
    ratings: int = Field(description="有效评价数（期内评价，申诉复核作废的除外）/ valid ratings rated in the period")
    voided: int = Field(description="期内评价中已经申诉复核作废的 / of the period's ratings, those voided on appeal")
    very_satisfied: int = Field(description="非常满意（有效）")
    satisfied: int = Field(description="满意（有效）")
    basically_satisfied: int = Field(description="基本满意（有效；本表单的「一般」）/ 一般 on the seeds' form")
    dissatisfied: int = Field(description="不满意（有效）")
    very_dissatisfied: int = Field(description="非常不满意（有效；本表单没有此项，恒为 0）")
    satisfied_count: int = Field(
        description="满意数：满意等级（EVALUATION_SATISFIED_LEVELS）的有效评价 / at a level counted as satisfied"
    )
    satisfaction_rate: float | None = Field(
        description="满意率 = satisfied_count / ratings；无有效评价时为 null / null without a valid rating"
    )
    solved: int = Field(description="解决数：第 5 项「问题是否解决」答「是」的有效评价 / item 5 answered yes")


class ScorecardOut(BaseModel):
    by: By
    period_from: date = Field(serialization_alias="from", description="统计期间起（含，北京日期）/ first day")
    period_to: date = Field(serialization_alias="to", description="统计期间止（含，北京日期）/ last day")
    station_id: str | None = Field(description="只看的服务站；null 为调用者的全部范围 / the one station asked for")
    rows: list[RowOut] = Field(description="期内有评价的各行（按 key 排序）/ the keys with a rating in the period")


def _row(row: Row, definition: kpis.Definition) -> RowOut:
    f = row.figures
    national = f.national
    return RowOut(
        key=row.key,
        label=row.label,
        ratings=f.ratings,
        voided=f.voided,
        **{level.value: national[level] for level in NationalLevel},
        satisfied_count=f.satisfied_count(definition),
        satisfaction_rate=f.satisfaction_rate(definition),
        solved=f.solved,
    )


@router.get(
    "/scorecards",
    response_model=ScorecardOut,
    summary="考核评分表（评价部分）/ scorecard: the rating figures",
    description="按服务站、首问工作人员、服务机构或服务类别，统计期间内（按评价日期，北京时间）的评价：有效评价数、"
    "作废数、全国「好差评」五级分布、满意数与满意率（满意等级由 EVALUATION_SATISFIED_LEVELS 设置）、解决数。一个需求"
    "列了两个类别时计入两个类别；服务机构是该轮办结所对应派单的承办机构。范围：服务站人员本站，上级单位其辖区"
    "（station_id 只看其中一站，范围外 404）；服务机构只能按服务机构查看本机构一行；运维 403。期间默认本月 1 日至今天，"
    "最长 366 天。/ Per station, first responder, organization or category, the ratings of the period (by rating"
    " date, China time): valid ones, voided ones, the national 好差评 distribution, 满意率 and 解决 count; the same"
    " definitions as GET /kpis and the breakdown metrics.",
)
async def scorecard(
    uow: UoW,
    principal: Reader,
    settings: Config,
    by: Annotated[By, Query(description="station / staff / organization / category")],
    station_id: Annotated[
        StationId | None, Query(description="只看一个服务站（须在调用者范围内）/ one station of the caller's scope")
    ] = None,
    start: Annotated[
        QueryDate | None, Query(alias="from", description="统计期间起（含，北京日期），默认本月 1 日 / first day")
    ] = None,
    end: Annotated[
        QueryDate | None, Query(alias="to", description="统计期间止（含，北京日期），默认今天 / last day")
    ] = None,
) -> ScorecardOut:
    card = await usecases.scorecard(uow, principal, by, station_id, start, end)
    definition = kpis.Definition.of(settings)
    return ScorecardOut(
        by=card.by,
        period_from=card.period.start,
        period_to=card.period.end,
        station_id=card.station_id,
        rows=[_row(row, definition) for row in card.rows],
    )
