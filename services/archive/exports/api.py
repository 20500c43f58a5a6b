"""HTTP routes of the exports: the service record form and the dossier (HTML, PDF), books (JSON, PDF, XLSX), jobs.

Station staff read their station's dossiers, supervisors their subtree's (404 outside, like a dossier that does not
exist); organizations and operations are refused (403). Every read is written to the access log (with `purpose`
when given). PDFs are printed off the event loop.
"""

from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from shared.api import Paged, UoW, allow, in_the_loop
from shared.auth import READERS, Principal
from shared.contracts import StationId, utcnow
from shared.validation import QueryDate, RequestModel, SearchText

from . import domain, render, usecases
from .domain import BookKind, ExportFormat, Job
from .settings import ExportSettings

router = APIRouter(tags=["档案导出 / archive exports"])
Reader = Annotated[Principal, allow(*READERS)]
Purpose = Annotated[
    SearchText | None,
    Query(description="查阅目的（可选，记入查阅日志）/ why the record is read, kept in the access log"),
]


async def _settings(request: Request) -> ExportSettings:
    return ExportSettings.of(request.app.state.runtime.settings)


Settings = Annotated[ExportSettings, Depends(_settings)]


def _pdf(data: bytes, filename: str) -> Response:
    return Response(
        data, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{filename}"'}
    )


# --------------------------------------------------------------------------- one dossier


@router.get(
    "/dossiers/{demand_id}/service-record",
    response_class=HTMLResponse,
    summary="服务记录表（打印）/ the service record form, to print",
    description="000 附录E / 002 附录C 的服务记录表：受理、派单、办结、评价、归档五个时间（北京时间）与满意度评价。",
)
async def service_record_html(demand_id: UUID, uow: UoW, principal: Reader, purpose: Purpose = None) -> HTMLResponse:
    return HTMLResponse(
        render.record_html(await usecases.service_record(uow, principal, demand_id, purpose, pdf=False))
    )


@router.get(
    "/dossiers/{demand_id}/service-record.pdf",
    response_class=Response,
    summary="服务记录表 PDF / the service record form as PDF",
)
async def service_record_pdf(demand_id: UUID, uow: UoW, principal: Reader, purpose: Purpose = None) -> Response:
    view = await usecases.service_record(uow, principal, demand_id, purpose, pdf=True)
    return _pdf(await run_in_threadpool(render.record_pdf, view), f"service-record-{view['archive_no']}.pdf")


@router.get(
    "/dossiers/{demand_id}/dossier.html",
    response_class=HTMLResponse,
    summary="档案全文（打印）/ the whole sealed dossier, to print",
)
async def dossier_html(demand_id: UUID, uow: UoW, principal: Reader, purpose: Purpose = None) -> HTMLResponse:
    return HTMLResponse(render.dossier_html(await usecases.dossier(uow, principal, demand_id, purpose, pdf=False)))


@router.get(
    "/dossiers/{demand_id}/dossier.pdf",
    response_class=Response,
    summary="档案全文 PDF / the whole sealed dossier as one PDF",
    description="封存的全部内容：需求登记表、每一轮的派单、跟进、办结、评价、核实、重办，回访、投诉，以及补充归档。",
)
async def dossier_pdf(demand_id: UUID, uow: UoW, principal: Reader, purpose: Purpose = None) -> Response:
    view = await usecases.dossier(uow, principal, demand_id, purpose, pdf=True)
    return _pdf(await run_in_threadpool(render.dossier_pdf, view), f"dossier-{view['archive_no']}.pdf")


# --------------------------------------------------------------------------- books

_KIND = (
    "enterprise 一企一册（统一社会信用代码）、chain 一链一册（产业链）、town 一镇一册（专业镇）、park 一园一册（园区）"
)


class BookParams:
    """Which book: the key (credit code, chain, town or park, as the enterprise's dossier named it at submission),
    the period of submission dates (China, both included), optionally one station of the caller's scope."""

    def __init__(
        self,
        key: Annotated[SearchText, Query(description="统一社会信用代码 / 产业链 / 专业镇 / 园区名称")],
        start: Annotated[QueryDate | None, Query(alias="from", description="受理日期起（含，北京日期）")] = None,
        end: Annotated[QueryDate | None, Query(alias="to", description="受理日期止（含，北京日期）")] = None,
        station_id: Annotated[
            StationId | None, Query(description="只看一个服务站（须在调用者范围内）/ one station of the scope")
        ] = None,
    ) -> None:
        self.key, self.start, self.end, self.station_id = key, start, end, station_id


Book = Annotated[BookParams, Depends(in_the_loop(BookParams))]


class Count(BaseModel):
    label: str
    count: int


class EnterpriseCount(BaseModel):
    credit_code: str
    name: str
    chain_leader: bool
    demands: int


class SummaryOut(BaseModel):
    demands: int = Field(description="需求（档案）数")
    enterprises: int
    by_category: list[Count] = Field(description="按服务类别（一个需求多类别时分别计入）")
    by_outcome: list[Count]
    by_overall: list[Count] = Field(description="最终评价（作废的不计）")
    rated: int = Field(description="有效评价数")
    voided: int = Field(description="经申诉复核作废的评价数")
    satisfied: int = Field(
        description="满意（按评价服务的满意等级设置）：有效评价中评价时计为满意的（Rated.counts_as_satisfied；此前的评价按"
        "非常满意 + 满意）/ valid ratings counted as satisfied under evaluation's EVALUATION_SATISFIED_LEVELS when"
        " recorded (非常满意 + 满意 for ratings from before that flag)"
    )
    satisfaction_rate: float | None = Field(description="满意率；没有有效评价时为 null")
    rehandled: int = Field(description="经重办（第 2 轮）的需求数")
    fees_yuan: float
    by_enterprise: list[EnterpriseCount]


class CatalogueRow(BaseModel):
    demand_id: UUID
    archive_no: str
    tracking_no: str
    station_id: str
    enterprise_name: str
    credit_code: str
    chain: str
    chain_leader: bool
    town: str
    park_name: str
    categories: str
    items: str
    channel: str
    accepted: str = Field(description="受理时间（北京时间）")
    dispatched: str = Field(description="派单时间")
    ended: str = Field(description="办结（或否定备案、并单、撤回）时间")
    rated: str = Field(description="评价时间")
    archived: str = Field(description="归档时间")
    outcome: str
    overall: str
    rounds: int
    fee_yuan: float


class BookOut(BaseModel):
    kind: BookKind
    title: str
    key: str
    scope: str
    period: str = Field(description="期间（受理日期）")
    summary: SummaryOut
    dossiers: list[CatalogueRow]


def _query(kind: BookKind, params: BookParams) -> domain.BookQuery:
    return domain.book_query(kind, params.key, params.start, params.end)


@router.get(
    "/books/{kind}",
    response_model=BookOut,
    summary="档案册汇总 / a book's summary and catalogue",
    description=f"{_KIND}。产业链、专业镇、园区以企业提交需求时本站企业档案的登记为准。",
)
async def book_summary(
    kind: BookKind, params: Book, uow: UoW, principal: Reader, settings: Settings, purpose: Purpose = None
) -> BookOut:
    found = await usecases.book(
        uow, principal, _query(kind, params), params.station_id, settings, fmt="json", purpose=purpose
    )
    view = found.view(utcnow())
    return BookOut(
        kind=kind,
        title=view["title"],
        key=view["key"],
        scope=view["scope"],
        period=view["period"],
        summary=SummaryOut(**{k: v for k, v in view["summary"].items() if k != "rate_text"}),
        dossiers=[CatalogueRow(**row) for row in view["catalogue"]],
    )


async def _book_file(
    kind: BookKind, params: BookParams, uow, principal, settings: ExportSettings, fmt: ExportFormat, purpose
) -> Response:
    query = _query(kind, params)
    found = await usecases.book(uow, principal, query, params.station_id, settings, fmt=fmt.value, purpose=purpose)
    data = await run_in_threadpool(usecases.print_book, found, fmt, utcnow())
    name = domain.filename(query, fmt)
    disposition = "inline" if fmt is ExportFormat.pdf else "attachment"
    return Response(
        data, media_type=fmt.media_type, headers={"Content-Disposition": f'{disposition}; filename="{name}"'}
    )


@router.get(
    "/books/{kind}/book.pdf",
    response_class=Response,
    summary="档案册 PDF / a book as PDF",
    description="汇总表、档案目录和每份档案全文。超过直接下载上限（ARCHIVE_BOOK_SYNC_LIMIT）时回答 413，"
    "请用 POST /jobs。",
)
async def book_pdf(
    kind: BookKind, params: Book, uow: UoW, principal: Reader, settings: Settings, purpose: Purpose = None
) -> Response:
    return await _book_file(kind, params, uow, principal, settings, ExportFormat.pdf, purpose)


@router.get(
    "/books/{kind}/book.xlsx",
    response_class=Response,
    summary="档案册 XLSX / a book as a workbook",
    description="工作表：汇总、档案目录、档案内容。超过直接下载上限时回答 413，请用 POST /jobs。",
)
async def book_xlsx(
    kind: BookKind, params: Book, uow: UoW, principal: Reader, settings: Settings, purpose: Purpose = None
) -> Response:
    return await _book_file(kind, params, uow, principal, settings, ExportFormat.xlsx, purpose)


# --------------------------------------------------------------------------- jobs


class JobIn(RequestModel):
    kind: Literal["book"] = Field(default="book", description="任务类型：档案册 / a book")
    book: BookKind = Field(description=_KIND)
    key: SearchText = Field(description="统一社会信用代码 / 产业链 / 专业镇 / 园区名称")
    format: ExportFormat = Field(description="pdf 或 xlsx")
    start: QueryDate | None = Field(default=None, alias="from", description="受理日期起（含，北京日期）")
    end: QueryDate | None = Field(default=None, alias="to", description="受理日期止（含，北京日期）")
    station_id: StationId | None = Field(default=None, description="只看一个服务站（须在调用者范围内）")


class Progress(BaseModel):
    done: int
    total: int | None = Field(description="步骤总数：每份档案一步，最后打印一步；开始前为 null")


class JobOut(BaseModel):
    job_id: UUID
    kind: str
    parameters: dict
    scope: str = Field(description="任务读取的范围（服务站或辖区）")
    state: domain.JobState = Field(description="queued 排队中 / running 生成中 / done 已完成 / failed 失败")
    state_label: str
    progress: Progress
    attempts: int
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    expires_at: datetime | None = Field(description="文件保留至 / the file can be downloaded until")
    file_name: str | None
    file_size: int | None
    file_sha256: str | None
    download_url: str | None = Field(description="完成后的下载地址 / where to download once done")
    url: str

    @classmethod
    def of(cls, job: Job, request: Request) -> "JobOut":
        now = utcnow()
        ready = job.state is domain.JobState.done and not job.expired(now)
        return cls(
            job_id=job.job_id,
            kind=job.kind,
            parameters=job.parameters,
            scope=job.station_id,
            state=job.state,
            state_label=job.state.label + ("（文件已过期）" if job.expired(now) else ""),
            progress=Progress(done=job.progress_done, total=job.progress_total),
            attempts=job.attempts,
            error=job.error,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            expires_at=job.expires_at,
            file_name=job.file_name,
            file_size=job.file_size,
            file_sha256=job.file_sha256,
            download_url=str(request.url_for("job_file", job_id=job.job_id)) if ready else None,
            url=str(request.url_for("get_job", job_id=job.job_id)),
        )


@router.post(
    "/jobs",
    status_code=202,
    response_model=JobOut,
    summary="创建后台任务（档案册）/ make a book in the background",
    description="立即回答 202 和任务；轮询 GET /jobs/{job_id} 查看进度，完成后从 download_url 下载。"
    " / Answers 202 with the job at once; poll it, then download.",
)
async def create_job(body: JobIn, request: Request, uow: UoW, principal: Reader) -> JSONResponse:
    query = domain.book_query(body.book, body.key, body.start, body.end)
    job = await usecases.create_job(uow, principal, query, body.format, body.station_id)
    out = JobOut.of(job, request)
    return JSONResponse(out.model_dump(mode="json"), status_code=202, headers={"Location": out.url})


@router.get("/jobs", response_model=list[JobOut], summary="我的后台任务 / my jobs")
async def list_jobs(request: Request, uow: UoW, principal: Reader, page: Paged) -> list[JobOut]:
    return [JobOut.of(j, request) for j in await usecases.list_jobs(uow, principal, page.limit, page.offset)]


@router.get("/jobs/{job_id}", response_model=JobOut, summary="后台任务进度 / a job and its progress", name="get_job")
async def get_job(job_id: UUID, request: Request, uow: UoW, principal: Reader) -> JobOut:
    return JobOut.of(await usecases.get_job(uow, principal, job_id), request)


@router.get(
    "/jobs/{job_id}/file",
    response_class=Response,
    summary="下载任务文件 / download a job's file",
    description="生成中回答 409，过期或失败回答 410。下载记入查阅日志。",
    name="job_file",
)
async def job_file(job_id: UUID, uow: UoW, principal: Reader, purpose: Purpose = None) -> Response:
    job, data = await usecases.job_file(uow, principal, job_id, purpose)
    name = job.file_name or f"{job_id}.{job.format.value}"
    disposition = "inline" if job.format is ExportFormat.pdf else "attachment"
    return Response(
        data,
        media_type=job.media_type or job.format.media_type,
        headers={"Content-Disposition": f"{disposition}; filename=\"{name}\"; filename*=UTF-8''{quote(name)}"},
    )
