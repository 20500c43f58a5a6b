"""HTTP route: the handling scorecard (GET /scorecards, issue 10; 001 §7.2.2.2, 002 §8.1.4).

One of the three services answering the scorecard in one JSON shape (evaluation the ratings, intake the complaints);
the console joins their rows on `key`. The station's clerks and head and its supervisors read their scope (another
station by name: 404); an organization only its own row by organization (another dimension: 403); operations are
refused (403).
"""

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from shared.api import KpiScoped, UoW, allow
from shared.auth import READERS, Principal, Role

from . import usecases
from .domain import By, Row, Scorecard

router = APIRouter(tags=["考核表 / scorecards"])
Reader = Annotated[Principal, allow(*READERS, Role.org)]


class RowOut(BaseModel):
    """一行：一个服务站、工作人员、服务机构或服务类别在期内的办理数字 / one key's handling figures for the period."""

    model_config = ConfigDict(from_attributes=True)

    key: str = Field(
        description="station：服务站编号；staff：首问工作人员账号（无账号时为姓名）；organization：服务机构编号；"
        "category：服务类别代码 / the station id, the first responder's account (else name), the organization id,"
        " or the category code"
    )
    label: str = Field(description="名称：服务站名、工作人员姓名、机构名称、类别名称 / the name shown to people")
    received: int = Field(
        description="受理：受理日期（北京日期）在期内的需求 / demands submitted on a day of the period"
    )
    responded: int = Field(description="响应：首次派单日期在期内的需求 / demands first assigned on a day of the period")
    response_due: int = Field(
        description="应响应（响应率的分母，与 GET /kpis 相同）：响应期限在期内或在期内首次派单的需求中，已派单的和"
        "现已响应超期的 / 响应率's denominator, as GET /kpis: of the demands whose response deadline fell in the"
        " period or that were first assigned in it, those assigned and those never assigned and late now"
    )
    responded_in_time: int = Field(
        description="及时响应：应响应的需求中首次派单日期不晚于响应期限的 / of response_due, first assigned by the"
        " response deadline"
    )
    response_rate: float | None = Field(description="响应率 = responded_in_time / response_due；无则为 null")
    resolved: int = Field(
        description="办结：（首次）办结日期在期内的需求；重办的需求按首次办结计一次 / demands whose (first)"
        " resolution fell on a day of the period"
    )
    handling_due: int = Field(
        description="应办结（按时办结率的分母，与 GET /kpis 相同）：现行办结期限（重办的按首轮）在期内的需求中，"
        "已办结的和现已办理超期的（挂起中、已终止的不计）/ 按时办结率's denominator, as GET /kpis: of the demands"
        " whose handling deadline in force fell in the period, those resolved and those late now"
    )
    resolved_on_time: int = Field(
        description="按时办结：应办结的需求中办结日期不晚于现行办结期限的 / of handling_due, resolved by the deadline"
    )
    on_time_rate: float | None = Field(description="按时办结率 = resolved_on_time / handling_due；无则为 null")
    reopened: int = Field(
        description="重办：期内办结（按首次办结）的需求中，经核实属实而重新办理的 / of resolved, those reopened"
        " after a founded verification of a 不满意 rating"
    )
    reopen_rate: float | None = Field(description="重办率 = reopened / resolved；无则为 null")
    revisits_due: int = Field(
        description="应回访：回访期限在期内（且已出现）的回访任务 / re-visit tasks due on a day of the period"
    )
    revisits_done: int = Field(description="已回访：上述任务中已联系上企业的（截至现在）/ of those, done by now")
    revisit_rate: float | None = Field(description="回访率 = revisits_done / revisits_due；无则为 null")


class ScorecardOut(BaseModel):
    by: By
    period_from: str = Field(serialization_alias="from", description="统计期间起（含，北京日期）/ first day")
    period_to: str = Field(serialization_alias="to", description="统计期间止（含，北京日期）/ last day")
    station_id: str | None = Field(description="所查看的服务站（未指定为 null）/ the station asked for, else null")
    rows: list[RowOut] = Field(description="期内有数据的各行，按 key 排序 / a row per key with figures in the period")


def _row(r: Row) -> RowOut:
    f = r.figures
    return RowOut(
        key=r.key,
        label=r.label,
        **{name: getattr(f, name) for name in f.__dataclass_fields__},
        response_rate=f.response_rate,
        on_time_rate=f.on_time_rate,
        reopen_rate=f.reopen_rate,
        revisit_rate=f.revisit_rate,
    )


def _out(card: Scorecard) -> ScorecardOut:
    return ScorecardOut(
        by=card.by,
        period_from=card.period.start.isoformat(),
        period_to=card.period.end.isoformat(),
        station_id=card.station_id,
        rows=[_row(r) for r in card.rows],
    )


@router.get(
    "/scorecards",
    response_model=ScorecardOut,
    response_model_by_alias=True,
    summary="考核表：办理数字 / scorecard: handling figures",
    description="统计期间（北京日期，含首尾，默认本月 1 日至今天，最长 366 天）内按服务站、工作人员（首问）、服务机构"
    "或服务类别分行的受理、响应、办结、按时办结、重办、回访数字及比率；定义与 GET /kpis 相同，见字段说明。"
    "服务站人员与上级单位看本范围（或其中一个服务站），服务机构只能看 by=organization 的本机构一行。"
    " / Per station, first responder, organization or category, the period's received, responded, resolved, on-time,"
    " reopened and re-visit figures and rates, by the rules of GET /kpis (see each field).",
)
async def scorecard(
    uow: UoW,
    principal: Reader,
    query: KpiScoped,
    by: Annotated[By, Query(description="分行方式 station / staff / organization / category")] = By.station,
) -> ScorecardOut:
    return _out(await usecases.scorecard(uow, principal, by, query.station_id, query.start, query.end))
