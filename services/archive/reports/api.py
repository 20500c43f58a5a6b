"""HTTP routes of the weekly report (周报, 004 §5.5.1): JSON, printable HTML, PDF; the head's plan for next week.

Station staff read their station's report; a supervisor reads one station of its subtree (`?station_id=`) or, naming
none, the whole subtree's. The head writes the plan (PUT). Organizations and operations are refused (403); a station
outside the caller's scope answers 404.
"""

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from shared.api import StationPaged, UoW, allow
from shared.auth import READERS, Principal, Role
from shared.contracts import StationId
from shared.validation import RequestModel, Text

from . import domain, render, usecases
from .domain import Week

router = APIRouter(tags=["周报 / weekly reports"])
Reader = Annotated[Principal, allow(*READERS)]
Head = Annotated[Principal, allow(Role.head)]
WeekText = Annotated[str, Path(description="ISO 周（北京日期），如 2026-W47 / the ISO week, China dates")]
StationQuery = Annotated[
    StationId | None,
    Query(
        description="服务站（须在调用者范围内）；上级单位不填时为整个辖区 / a station; a supervisor's subtree if none"
    ),
]


class Count(BaseModel):
    label: str
    count: int


class Figure(BaseModel):
    total: int = Field(description="需求数（同一需求只计一次）")
    by_category: list[Count]
    by_channel: list[Count]


class Counted(BaseModel):
    received: Figure = Field(description="受理")
    dispatched: Figure = Field(description="派单（含改派、转办）")
    resolved: Figure = Field(description="办结")
    overdue: Figure = Field(description="超期：本周被催办（办结时限已过）的需求")
    rated: Figure = Field(description="评价")


class Ratings(BaseModel):
    by_overall: list[Count]
    valid: int
    voided: int
    satisfied: int
    satisfaction_rate: float | None


class StationCount(BaseModel):
    station_id: str
    label: str = Field(description="服务站名称")
    count: int


class VisitRow(BaseModel):
    visit_id: UUID
    visited_on: date = Field(description="走访日期（北京日期）")
    station_id: str
    station: str = Field(description="服务站名称")
    enterprise_name: str
    credit_code: str
    staff: list[str] = Field(description="走访人员")
    findings: str = Field(description=f"走访发现（摘要，至多 {domain.SHORT} 字）")
    received_at: datetime | None = Field(
        default=None,
        description="归档服务收到走访记录的时间，走访按此计入周报 / when the archive received it: its week",
    )
    late: bool = Field(
        default=False, description="补录：走访日期在本周之前、本周才收到 / dated before the week it counts in"
    )


class Visits(BaseModel):
    """走访企业（主动进企业）: the visits the archive received in the week, listed with their dates; a visit dated
    before the week (entered late, or delayed on its way: 补录) is in the report of the week it arrived."""

    total: int = Field(description="本周收到的走访记录次数（含补录）")
    late: int = Field(default=0, description="其中补录（走访日期在本周之前）的次数")
    enterprises: int = Field(description="走访企业数（按统一社会信用代码）")
    by_station: list[StationCount]
    listed: list[VisitRow] = Field(description=f"走访清单，按日期（至多 {domain.LISTED} 条）")
    not_listed: int = Field(description="超出清单上限未列出的走访次数")


class TaskPartRow(BaseModel):
    task_id: UUID
    station_id: str
    station: str
    title: str
    issued_by: str | None = Field(description="下达人（未收到下达事件时为空）")
    due_on: date = Field(description="截止日期（下达时所定）")
    deadline: date = Field(description="期限：截止日期遇节假日顺延至下一工作日")
    state: Literal["done", "overdue", "open"] = Field(description="截至本周末（本周未结束时为当前）的状态")
    state_label: str = Field(description="已完成（本周完成报告）/ 已逾期 / 办理中")
    completed_on: date | None = Field(description="完成报告日期（北京日期）")
    reports: int = Field(description="本周填报次数（进度与完成）")


class TaskReportRow(BaseModel):
    report_id: UUID
    task_id: UUID
    station_id: str
    station: str
    title: str
    kind: Literal["progress", "completion"]
    kind_label: str = Field(description="进度填报 / 完成报告")
    reported_at: datetime
    received_at: datetime | None = Field(
        default=None,
        description="归档服务收到填报的时间，填报按此计入周报 / when the archive received it: its week",
    )
    late: bool = Field(
        default=False, description="补录：填报时间在本周之前、本周才收到 / made before the week it counts in"
    )
    reported_by: str
    text: str = Field(description=f"填报内容（摘要，至多 {domain.SHORT} 字）")


class SpecialTasks(BaseModel):
    """专项工作: each station's part open at some time in the week, and the reports the archive received in it."""

    as_of: date = Field(description="状态判定日：已结束的周为下周一，本周为今天（北京日期）")
    tasks: int = Field(description="本周在办的专项工作项数")
    parts: int = Field(description="本周在办的站点任务数（一项工作下达多个站点时各站分别计）")
    progress_reports: int = Field(description="本周收到的进度填报次数")
    late_reports: int = Field(default=0, description="本周收到的填报中补录（填报时间在本周之前）的次数")
    completed: int = Field(description="本周完成（收到完成报告）的站点任务数")
    overdue: int = Field(description="逾期未完成的站点任务数")
    open: list[TaskPartRow] = Field(description=f"本周在办的站点任务，逾期的在前（至多 {domain.LISTED} 条）")
    reports: list[TaskReportRow] = Field(
        description=f"本周收到的进度填报与完成报告，按填报时间（至多 {domain.LISTED} 条）"
    )


class Figures(BaseModel):
    counted: Counted
    ratings: Ratings
    closed: list[Count] = Field(description="否定备案、并单、撤回")
    visits_collected: int = Field(description="受理渠道为主动进企业的需求数")
    visits: Visits | None = Field(
        default=None,
        description="走访企业；在归档服务接收走访事件之前保存的周报中为空 / null in a report kept before visits were "
        "received",
    )
    special_tasks: SpecialTasks | None = Field(
        default=None,
        description="专项工作；在归档服务接收专项工作事件之前保存的周报中为空 / null in a report kept before special "
        "tasks were received",
    )


class PlanOut(BaseModel):
    station: str
    text: str
    by: str
    at: str


class WeeklyOut(BaseModel):
    scope: str = Field(description="服务站，或上级单位的辖区前缀")
    scope_name: str
    week: str
    week_label: str
    subtree: bool
    stored: bool = Field(description="是否为已保存的周报（周结束后生成，数据不再变化）")
    complete: bool = Field(description="该周是否已结束")
    generated_at: datetime
    generated_by: str
    figures: Figures
    plans: list[PlanOut] = Field(description="下周工作计划：本站的，或辖区内各站的")


def _out(report) -> WeeklyOut:
    view = report.view()
    return WeeklyOut(
        scope=report.scope,
        scope_name=report.scope_name,
        week=str(report.week),
        week_label=report.week.label,
        subtree=report.subtree,
        stored=report.stored,
        complete=report.complete,
        generated_at=report.generated_at,
        generated_by=report.generated_by,
        figures=Figures(**report.figures),
        plans=[PlanOut(**p) for p in view["plans"]],
    )


class ReportRow(BaseModel):
    station_id: str
    week: str
    generated_at: datetime
    generated_by: str
    has_plan: bool


@router.get("/weekly-reports", response_model=list[ReportRow], summary="已生成的周报 / weekly reports kept")
async def list_reports(uow: UoW, principal: Reader, page: StationPaged) -> list[ReportRow]:
    rows = await usecases.list_reports(uow, principal, page.station_id, page.limit, page.offset)
    return [
        ReportRow(
            station_id=r["station_id"],
            week=str(Week(r["iso_year"], r["iso_week"])),
            generated_at=r["generated_at"],
            generated_by=r["generated_by"],
            has_plan=r["has_plan"],
        )
        for r in rows
    ]


@router.get(
    "/weekly-reports/{week}",
    response_model=WeeklyOut,
    summary="周报 / the weekly report of a station or a subtree",
    description="每周一（北京时间）自动生成上一周的周报；任何一周均可随时查看（已结束的周首次查看时生成并保存）。",
)
async def weekly(week: WeekText, uow: UoW, principal: Reader, station_id: StationQuery = None) -> WeeklyOut:
    return _out(await usecases.weekly(uow, principal, Week.parse(week), station_id))


@router.get("/weekly-reports/{week}/report.html", response_class=HTMLResponse, summary="周报（打印）/ to print")
async def weekly_html(week: WeekText, uow: UoW, principal: Reader, station_id: StationQuery = None) -> HTMLResponse:
    report = await usecases.weekly(uow, principal, Week.parse(week), station_id)
    return HTMLResponse(render.weekly_html(report.view()))


@router.get("/weekly-reports/{week}/report.pdf", response_class=Response, summary="周报 PDF / as PDF")
async def weekly_pdf(week: WeekText, uow: UoW, principal: Reader, station_id: StationQuery = None) -> Response:
    report = await usecases.weekly(uow, principal, Week.parse(week), station_id)
    pdf = await run_in_threadpool(render.weekly_pdf, report.view())
    name = f"weekly-report-{report.week}.pdf"
    return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{name}"'})


class PlanIn(RequestModel):
    plan: Annotated[Text, Field(min_length=1, max_length=4000)] = Field(description="下周工作计划 / next week's plan")
    station_id: StationId | None = Field(default=None, description="服务站（默认本站）/ the station, default own")


@router.put(
    "/weekly-reports/{week}/plan",
    response_model=WeeklyOut,
    summary="填写下周工作计划（站长）/ the head's plan for the next week",
    description="写在第 {week} 周的周报中，是下一周的计划；可在本周内随时填写或修改。",
)
async def set_plan(week: WeekText, body: PlanIn, uow: UoW, principal: Head) -> WeeklyOut:
    return _out(await usecases.set_plan(uow, principal, Week.parse(week), body.station_id, body.plan))
