"""HTTP route: the satisfaction KPIs of the supervisor's view (GET /kpis), per station in the caller's scope and for the
whole of it (domain.md §7, §9: 满意率 and 解决率).

The same definitions as the rating metrics on /metrics (README, "Satisfaction"), counted from the same ratings by the
same columns (services/evaluation/store.py): valid ratings only (voided ones excluded). For the 30 China days ending
today a station's figures are its qs_ratings_last_30_days; for another period, while no rating of it was voided after
it ended, the increase over the period of qs_ratings_total minus qs_ratings_voided_total (the solved pair likewise).
"""

from datetime import date
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from shared.api import KpiScoped, UoW, allow
from shared.auth import READERS, Principal
from shared.contracts import Overall
from shared.kpis import below

from . import kpis, usecases
from .api import Config

router = APIRouter(tags=["KPI 指标"])
Reader = Annotated[Principal, allow(*READERS)]


class LevelsOut(BaseModel):
    """各总体评价等级（评价表第 10 项）的有效评价数 / valid ratings at each overall level (item 10 of the form)."""

    very_satisfied: int = Field(description="非常满意")
    satisfied: int = Field(description="满意")
    average: int = Field(description="一般")
    dissatisfied: int = Field(description="不满意")


class SatisfactionOut(BaseModel):
    """满意率（domain.md §9）：有效评价中满意等级（EVALUATION_SATISFIED_LEVELS）的比例
    / 满意率: the share of valid ratings at a level counted as satisfied."""

    ratings: LevelsOut
    valid: int = Field(
        description="有效评价数（满意率的分母）：评价日期（北京时间）在期内的评价，申诉复核作废的除外"
        " / valid ratings rated on a China date of the period (voided ones excluded): the denominator"
    )
    satisfied: int = Field(
        description='满意数（满意率的分子）：其中总体评价为满意等级的（qs_ratings_total{satisfied="true"} 的规则）'
        " / of them, those at a level counted as satisfied: the numerator"
    )
    satisfaction_rate: float | None = Field(
        description="满意率 = satisfied / valid；无有效评价时为 null / null when there is no valid rating"
    )
    below_target: bool | None = Field(
        description="低于目标（EVALUATION_TARGET_SATISFACTION_RATE）；无比率时为 null"
        " / below the target; null without a rate"
    )


class SolutionOut(BaseModel):
    """解决率（domain.md §9）：回答了第 5 项「问题是否解决」的有效评价中，回答「是」的比例
    / 解决率: of the valid ratings answering item 5 (problem solved), the share answering yes."""

    yes: int = Field(description='第 5 项答「是」（qs_ratings_solved_total{solved="yes"} 的规则）/ answered yes')
    no: int = Field(description="第 5 项答「否」/ answered no")
    solution_rate: float | None = Field(
        description="解决率 = yes / (yes + no)；未答第 5 项的评价不计；无回答时为 null"
        " / ratings leaving item 5 blank are not counted; null when none answered it"
    )


class NationalLevelsOut(BaseModel):
    """全国政务服务「好差评」五级上的有效评价数（一般 = 基本满意；本表单没有「非常不满意」，恒为 0）
    / valid ratings on the national 好差评 five-level scale (一般 maps to 基本满意; nothing maps to 非常不满意)."""

    very_satisfied: int = Field(description="非常满意")
    satisfied: int = Field(description="满意")
    basically_satisfied: int = Field(description="基本满意")
    dissatisfied: int = Field(description="不满意")
    very_dissatisfied: int = Field(description="非常不满意")


class NationalOut(BaseModel):
    """向上报送的「好差评」分布（映射见 shared.contracts Overall.national）
    / the distribution reported upward on the national 好差评 scale."""

    ratings: NationalLevelsOut
    bad: int = Field(description="差评数：不满意 + 非常不满意 / bad ratings (不满意, 非常不满意)")
    bad_rate: float | None = Field(
        description="差评率 = bad / 有效评价数；无有效评价时为 null / bad / valid ratings; null when none"
    )


class FiguresOut(BaseModel):
    satisfaction: SatisfactionOut
    solution: SolutionOut
    national: NationalOut


def _figures(f: kpis.Figures, definition: kpis.Definition) -> dict:
    """FiguresOut's fields: the counts, their rates, and 满意率 compared to its target."""
    satisfaction_rate = f.satisfaction_rate(definition)
    return {
        "satisfaction": SatisfactionOut(
            ratings=LevelsOut(**{level.value: f.count(level) for level in Overall}),
            valid=f.valid,
            satisfied=f.satisfied(definition),
            satisfaction_rate=satisfaction_rate,
            below_target=below(satisfaction_rate, definition.target_satisfaction_rate),
        ),
        "solution": SolutionOut(yes=f.solved_yes, no=f.solved_no, solution_rate=f.solution_rate),
        "national": NationalOut(
            ratings=NationalLevelsOut(**{level.value: n for level, n in f.national.items()}),
            bad=f.bad,
            bad_rate=f.bad_rate,
        ),
    }


class StationOut(FiguresOut):
    station_id: str
    district: str = Field(
        description="区（县）代码：服务站编号形如 市代码/区代码/…（均为 6 位数字）时的第二段，否则为空"
        " / district code: the station id's second part when the id is city/district/… (6-digit codes), else ''"
    )
    city: str = Field(
        description="市代码：服务站编号第一段为 6 位数字时的该段，否则为空"
        " / city code: the station id's first part when it is a 6-digit code, else ''"
    )


class TargetsOut(BaseModel):
    satisfaction_rate: float = Field(description="满意率目标 / EVALUATION_TARGET_SATISFACTION_RATE")


class KpisOut(BaseModel):
    period_from: date = Field(serialization_alias="from", description="统计期间起（含，北京日期）/ first day")
    period_to: date = Field(serialization_alias="to", description="统计期间止（含，北京日期）/ last day")
    satisfied_levels: list[Overall] = Field(
        description="计为满意的总体评价等级（EVALUATION_SATISFIED_LEVELS）/ the levels counted as satisfied"
    )
    targets: TargetsOut
    stations: list[StationOut] = Field(
        description="范围内有有效评价的各服务站（期内没有评价的计为 0）"
        " / each station in scope with a valid rating (0 where none falls in the period)"
    )
    total: FiguresOut = Field(description="整个范围合计（比率按合计数计算）/ the whole scope (rates of the sums)")


@router.get(
    "/kpis",
    response_model=KpisOut,
    summary="满意度 KPI（上级单位视图）/ satisfaction KPIs for the supervisor's view",
    description="调用者范围内（或其中一个服务站）每个服务站及合计，统计期间内（按评价日期，北京时间）的有效评价："
    "各总体评价等级的评价数、满意率（满意等级由 EVALUATION_SATISFIED_LEVELS 设置）及其目标、是否低于目标，"
    "解决率（第 5 项「问题是否解决」），以及向上报送的全国「好差评」五级分布与差评率。申诉复核作废的评价不计。"
    "与 /metrics 的 qs_ratings_total − qs_ratings_voided_total、qs_ratings_solved_total − "
    "qs_ratings_solved_voided_total、qs_ratings_last_30_days 定义相同。统计期间默认本月 1 日至今天，最长 366 天。"
    " / Per station in the caller's scope (or one of them) and for the whole scope, the valid ratings (voided ones"
    " excluded) rated on a China date of the period (by default this month up to today, at most 366 days): per overall"
    " level, 满意率 with its target, 解决率 (item 5), and the distribution on the national 好差评 scale with its bad"
    " rate. The same definitions as the rating metrics on /metrics.",
)
async def kpi_figures(
    uow: UoW,
    principal: Reader,
    settings: Config,
    query: KpiScoped,
) -> KpisOut:
    report = await usecases.kpi_figures(uow, principal, query.station_id, query.start, query.end)
    definition = kpis.Definition.of(settings)
    return KpisOut(
        period_from=report.period.start,
        period_to=report.period.end,
        satisfied_levels=list(definition.satisfied_levels),
        targets=TargetsOut(satisfaction_rate=definition.target_satisfaction_rate),
        stations=[
            StationOut(station_id=s.station_id, district=s.district, city=s.city, **_figures(s, definition))
            for s in report.stations
        ],
        total=FiguresOut(**_figures(report.total, definition)),
    )
