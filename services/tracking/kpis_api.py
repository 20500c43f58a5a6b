"""HTTP route: the KPIs of the supervisor's view (GET /kpis), per station in the caller's scope and for the whole of it,
the whole also per category and per service organization (domain.md §7).

The same definitions as the KPI metrics on /metrics (README, metrics paragraph; domain.md §9), counted from the same
cases: the "now" figures equal the gauges, the period's figures use the counters' rules over a period.
"""

from datetime import date
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from shared.api import KpiScoped, UoW, allow
from shared.auth import READERS, Principal
from shared.kpis import below

from . import kpis, usecases
from .deps import Config
from .revisits import usecases as revisits

router = APIRouter(tags=["KPI 指标"])
Reader = Annotated[Principal, allow(*READERS)]


class NowOut(BaseModel):
    """现状（今天 = 服务时钟的北京日期，与台账的超期清单相同），与 /metrics 的同名指标相同
    / as the cases stand now (today by the service's clock, as the ledger's overdue list), equal to the gauges."""

    model_config = ConfigDict(from_attributes=True)

    open: int = Field(description="办理中：未办结、未终止、未归档（qs_demands_open）/ still being handled")
    overdue_response: int = Field(
        description='响应超期：从未派单、未挂起，已过响应期限（qs_demands_overdue{deadline="response"}）'
        " / never assigned, not paused, past the response deadline"
    )
    overdue_handling: int = Field(
        description="办理超期：办理中、未挂起，已过现行办结期限（含挂起顺延与批准的延期）"
        '（qs_demands_overdue{deadline="handling"}）/ being handled, not paused, past the handling deadline in force'
    )
    paused: int = Field(description="挂起中：办理中且正在挂起（qs_demands_paused）/ being handled and paused now")


class HandlingOut(BaseModel):
    """按时办结率（domain.md §9）：现行办结期限在期内的需求中，按期办结的比例；另有办结率的分子（期内办结数）
    / on-time completion of the cases due in the period (domain.md §9), and the numerator of 办结率."""

    due: int = Field(
        description="应办结：现行办结期限（含挂起顺延与批准的延期）在期内的需求中，已办结的和现已办理超期的"
        "（挂起中、已终止的不计）；每个需求只计入其期限所在的一个期间"
        " / the cases whose handling deadline in force fell in the period, resolved or late now (paused and ended"
        " ones are not counted); each case counts in the one period of its deadline"
    )
    resolved_in_period: int = Field(
        description="期内办结（办结率的分子）：办结日期（北京时间）在期内的需求，不论其期限在何时，故可多于 due；"
        "重办的需求按首次办结计一次 / 办结率's numerator: the cases resolved on a China date in the period, whatever"
        " their deadline (so it may exceed due); a re-handled demand once, by its first resolution"
    )
    resolved_on_time: int = Field(
        description="按时办结：应办结需求中办结日期不晚于现行办结期限的（qs_demands_resolved_on_time_total 的规则），"
        "不多于 due / of the cases counted in due, those resolved on or before the handling deadline in force"
        " (never more than due)"
    )
    on_time_rate: float | None = Field(
        description="按时办结率 = resolved_on_time / due；无应办结需求时为 null / null when nothing is due"
    )
    below_target: bool | None = Field(
        description="低于目标（TRACKING_TARGET_ON_TIME_RATE）；无比率时为 null / below the target; null without a rate"
    )
    reopened: int = Field(
        description="重办：期内办结（按首次办结）的需求中，经核实属实而重新办理的（qs_demands_reopened_total 的规则）"
        " / of resolved_in_period (by their first resolution), those reopened after a founded verification"
    )
    reopen_rate: float | None = Field(
        description="重办率 = reopened / resolved_in_period；期内无办结时为 null / null when nothing was resolved"
    )


class ResponseOut(BaseModel):
    """响应率（domain.md §9）：期内应响应的需求中，按时派单的比例 / response within the limit over the period."""

    due: int = Field(
        description="应响应：响应期限在期内或在期内首次派单的需求中，已派单的和现已响应超期的（已终止的不计）"
        " / of the cases whose response deadline fell in the period or that were first assigned in it: those"
        " assigned and those never assigned and late now (ended ones are not counted)"
    )
    responded_in_time: int = Field(
        description="及时响应：上述需求中首次派单日期不晚于响应期限的（qs_demands_responded_in_time_total 的规则）"
        " / of the same cases, first assigned on or before the response deadline"
    )
    response_rate: float | None = Field(
        description="响应率 = responded_in_time / due；无应响应需求时为 null / null when nothing is due"
    )
    below_target: bool | None = Field(
        description="低于目标（TRACKING_TARGET_RESPONSE_RATE）；无比率时为 null / below the target; null without a rate"
    )


class ResolutionOut(BaseModel):
    """办结用时：期内办结（办结日期在期内）的需求，从受理到办结的工作日数（自受理次日起算，当日办结为 0；
    法定节假日与调休上班日按日历计；挂起不扣除），与 qs_demand_resolution_working_days 相同
    / time to resolve of the cases resolved in the period, in working days from acceptance (counted from the
    working day after it: resolved the day it was accepted is 0; holidays and make-up workdays counted; pauses not
    deducted), as qs_demand_resolution_working_days."""

    resolved: int = Field(
        description="计入的办结需求数（即期内办结数 resolved_in_period 中已计算用时的）"
        " / the cases measured: those of resolved_in_period with a time to resolve"
    )
    average_working_days: float | None = Field(
        description="平均办结用时（工作日）；无办结需求时为 null / mean working days; null when none was resolved"
    )
    p90_working_days: int | None = Field(
        description="办结用时第 90 百分位（最近秩法：从小到大第 ⌈0.9×n⌉ 个，为实际值、不插值）；无办结需求时为 null"
        " / 90th percentile by nearest rank: the ⌈0.9 × n⌉-th smallest of the n values, one of them, never"
        " interpolated (Prometheus' histogram_quantile estimates it from buckets); null when none was resolved"
    )


class RevisitsOut(BaseModel):
    """回访率与差评回访率（domain.md §9）：期内到期的回访任务中已完成回访的比例 / re-visit tasks due in the period and
    how many were done (services/tracking/revisits; the metrics qs_revisits_*)."""

    model_config = ConfigDict(from_attributes=True)

    due: int = Field(
        description="应回访：回访期限在期内（且已出现）的回访任务数（差评、未满足需求、抽样）"
        " / re-visit tasks due on a day of the period (appeared by today)"
    )
    done: int = Field(
        description="已回访：上述任务中已有联系上企业的回访的（截至现在）"
        " / of those, done by now (a re-visit reached the enterprise)"
    )
    revisit_rate: float | None = Field(description="回访率 = done / due；无应回访任务时为 null")
    dissatisfied_due: int = Field(description="应差评回访：上述任务中评价为不满意的 / the 差评回访 tasks of due")
    dissatisfied_done: int = Field(description="已差评回访 / of those, done")
    dissatisfied_revisit_rate: float | None = Field(
        description="差评回访率 = dissatisfied_done / dissatisfied_due（目标 100%）；无则为 null"
    )
    overdue: int = Field(
        description="现回访超期：已过回访期限、尚未完成的任务（与 qs_revisits_overdue 相同，不限期间）"
        " / tasks late now, as the gauge, whatever the period"
    )
    voluntary: int = Field(
        description="主动回访：无回访任务的需求在期内联系上企业的回访次数（单独统计，不计入回访率）"
        " / re-visits of demands without a task that reached the enterprise in the period (in no rate)"
    )


def _revisits(r: kpis.Revisits) -> RevisitsOut:
    return RevisitsOut(
        due=r.due,
        done=r.done,
        revisit_rate=r.revisit_rate,
        dissatisfied_due=r.dissatisfied_due,
        dissatisfied_done=r.dissatisfied_done,
        dissatisfied_revisit_rate=r.dissatisfied_revisit_rate,
        overdue=r.overdue,
        voluntary=r.voluntary,
    )


class FiguresOut(BaseModel):
    now: NowOut
    handling: HandlingOut
    response: ResponseOut
    resolution: ResolutionOut


def _resolution(r: kpis.ResolutionTime) -> ResolutionOut:
    return ResolutionOut(resolved=r.resolved, average_working_days=r.average, p90_working_days=r.p90)


def _figures(f: kpis.Figures, targets: kpis.Targets) -> dict:
    """FiguresOut's fields: the figures with each rate compared to its target."""
    return {**_handled(f, targets), "now": NowOut.model_validate(f.now), "response": _response(f, targets)}


def _response(f: kpis.Figures, targets: kpis.Targets) -> ResponseOut:
    response = f.response
    return ResponseOut(
        due=response.due,
        responded_in_time=response.responded_in_time,
        response_rate=response.response_rate,
        below_target=below(response.response_rate, targets.response_rate),
    )


def _handled(f: kpis.Figures, targets: kpis.Targets) -> dict:
    """The handling figures and the time to resolve, which an organization has as well as a station."""
    handling = f.handling
    return {
        "handling": HandlingOut(
            due=handling.due,
            resolved_in_period=handling.resolved_in_period,
            resolved_on_time=handling.resolved_on_time,
            on_time_rate=handling.on_time_rate,
            below_target=below(handling.on_time_rate, targets.on_time_rate),
            reopened=handling.reopened,
            reopen_rate=handling.reopen_rate,
        ),
        "resolution": _resolution(f.resolution),
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
    revisits: RevisitsOut = Field(description="回访（期内到期的回访任务）/ re-visits of the period")


class TotalOut(FiguresOut):
    revisits: RevisitsOut = Field(description="回访（整个范围合计）/ re-visits of the whole scope")


class CategoryOut(FiguresOut):
    """一个服务类别在整个范围内的 KPI（需求有多个类别的，计入每个类别，故各类别相加多于合计）
    / the scope's figures of the demands naming this category (one of two categories counts in both)."""

    category: str = Field(description="服务类别代码（需求表单的服务类别）/ category code, as the demand form names it")
    label: str = Field(description="服务类别名称 / category name")


class OrganizationNowOut(BaseModel):
    """该机构现承办（未退单）的需求现状，与 /metrics 的 qs_organization_demands_* 相同 / as they stand now."""

    model_config = ConfigDict(from_attributes=True)

    open: int = Field(description="办理中 / still being handled (qs_organization_demands_open)")
    overdue_handling: int = Field(
        description="办理超期：未挂起，已过现行办结期限 / past the handling deadline in force, not paused"
        " (qs_organization_demands_overdue)"
    )
    paused: int = Field(description="挂起中 / paused now (qs_organization_demands_paused)")


class OrganizationOut(BaseModel):
    """一个服务机构在整个范围内的 KPI：其现承办（未退单）的需求，及在其派单下办结的需求；响应由服务站负责，不计
    / the scope's figures of the cases a service organization holds now (not given back) or that were resolved
    under its assignment; response is the station's and not counted."""

    organization_id: str = Field(description="服务机构编号 / the organization's id")
    name: str = Field(description="服务机构名称 / the organization's name")
    now: OrganizationNowOut
    handling: HandlingOut
    resolution: ResolutionOut


class TargetsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    on_time_rate: float = Field(description="按时办结率目标 / TRACKING_TARGET_ON_TIME_RATE")
    response_rate: float = Field(description="响应率目标 / TRACKING_TARGET_RESPONSE_RATE")
    revisit_rate: float = Field(description="回访率目标 / TRACKING_TARGET_REVISIT_RATE")


class KpisOut(BaseModel):
    period_from: date = Field(serialization_alias="from", description="统计期间起（含，北京日期）/ first day")
    period_to: date = Field(serialization_alias="to", description="统计期间止（含，北京日期）/ last day")
    targets: TargetsOut
    stations: list[StationOut] = Field(description="范围内有需求的各服务站 / each station in scope with a case")
    total: TotalOut = Field(
        description="整个范围合计（比率按合计数计算，办结用时按全部需求计算）"
        " / the whole scope (rates of the sums, time to resolve over all its cases)"
    )
    by_category: list[CategoryOut] = Field(
        description="整个范围按服务类别（同样的定义）/ the whole scope per category, by the same rules"
    )
    by_organization: list[OrganizationOut] = Field(
        description="整个范围按服务机构（同样的定义）/ the whole scope per service organization, by the same rules"
    )


@router.get(
    "/kpis",
    response_model=KpisOut,
    summary="KPI 指标（上级单位视图）/ KPIs for the supervisor's view",
    description="调用者范围内（或其中一个服务站）每个服务站及合计的 KPI：现状（办理中、响应超期、办理超期、挂起中，"
    "与 /metrics 的指标相同）；统计期间内的按时办结率与响应率（domain.md §9）及其目标、是否低于目标，期内办结数，"
    "以及期内办结需求的平均办结用时与第 90 百分位（工作日）。合计另按服务类别（by_category）与服务机构"
    "（by_organization）分列；各服务站及合计另有回访（revisits：期内到期回访任务的回访率、差评回访率）。"
    "统计期间为北京日期，默认本月 1 日至今天，最长 366 天。各数字的定义见字段说明。"
    " / Per station in the caller's scope (or one of them) and for the whole scope: the figures as they stand now"
    " (the same as the gauges on /metrics), and for the period (China dates, by default this month up to today, at"
    " most 366 days) the on-time completion and response rates with their targets, the cases resolved in it and"
    " their average and 90th-percentile working days to resolve; the whole scope also per category (by_category)"
    " and per service organization (by_organization); each station and the total also have their re-visits (revisits:"
    " the re-visit rate and the 差评 re-visit rate of the tasks due in the period). Each figure is defined on its"
    " field.",
)
async def kpi_figures(
    uow: UoW,
    principal: Reader,
    settings: Config,
    query: KpiScoped,
) -> KpisOut:
    report = await usecases.kpi_figures(uow, principal, query.station_id, query.start, query.end)
    # Read just after, for the same period: the stations are those of the report (a re-visit task is a
    # case's), and the total is the sum of theirs.
    visits = await revisits.kpi_figures(uow, principal, query.station_id, report.period)
    targets = kpis.Targets.of(settings)
    return KpisOut(
        period_from=report.period.start,
        period_to=report.period.end,
        targets=TargetsOut.model_validate(targets),
        stations=[
            StationOut(
                station_id=s.station_id,
                district=s.district,
                city=s.city,
                **_figures(s, targets),
                revisits=_revisits(visits.of(s.station_id)),
            )
            for s in report.stations
        ],
        total=TotalOut(**_figures(report.total, targets), revisits=_revisits(visits.total)),
        by_category=[
            CategoryOut(category=c.category, label=c.label, **_figures(c, targets)) for c in report.by_category
        ],
        by_organization=[
            OrganizationOut(
                organization_id=o.organization_id,
                name=o.name,
                now=OrganizationNowOut.model_validate(o.now),
                **_handled(o, targets),
            )
            for o in report.by_organization
        ],
    )
