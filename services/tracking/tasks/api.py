"""HTTP routes: special tasks (专项工作, 002 §9.6) a supervisor assigns to the stations of its subtree.

A supervisor assigns (POST /special-tasks) and follows completion across its stations; a station's clerk or
head reports progress and completion on its own part (POST /special-tasks/{task_id}/reports). Organizations
and operations have no part in them (403).
"""

from datetime import date, datetime, timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from shared.api import IdempotencyKey, StationPaged, UoW, allow
from shared.auth import READERS, STAFF, Principal, Role
from shared.contracts import StationId
from shared.validation import YEAR, Line, RequestModel, Text, plausible_date, rule

from . import domain, usecases
from .domain import (
    ALERT_LABELS,
    REPORT_LABELS,
    STATE_LABELS,
    Attachment,
    Clock,
    Part,
    PartState,
    Progress,
    Report,
    ReportKind,
    Task,
    TaskAlert,
)

router = APIRouter(tags=["专项工作 / special tasks"])
Supervisor = Annotated[Principal, allow(Role.supervisor)]
Reader = Annotated[Principal, allow(*READERS)]
Staff = Annotated[Principal, allow(*STAFF)]

# Checked against the China date in the use case (not in the past); the bounds only keep it plausible.
TaskDueDate = plausible_date(past=timedelta(days=2), future=3 * YEAR)


class AttachmentIn(RequestModel):
    name: Annotated[Line, Field(min_length=1, max_length=200)] = Field(description="附件名称")
    ref: Annotated[Line, Field(min_length=2, max_length=500), rule(domain.attachment_ref)] = Field(
        description="网址（http/https）或文件编号（文号），不上传文件 / a URL or a document number, no upload"
    )

    def attachment(self) -> Attachment:
        return Attachment(name=self.name, ref=self.ref)


Attachments = Annotated[list[AttachmentIn], Field(default_factory=list, max_length=20)]


class TaskIn(RequestModel):
    title: Annotated[Line, Field(min_length=1, max_length=200)] = Field(description="任务名称")
    description: Annotated[Text, Field(min_length=1, max_length=4000)] = Field(description="工作内容与要求")
    due_on: TaskDueDate = Field(description="截止日期（中国日期，不早于今天；遇节假日顺延至下一工作日）")
    attachments: Attachments = Field(description="附件（按网址或文号引用）")
    station_ids: list[StationId] | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="分派的服务站（须在本辖区内）；不填为本辖区全部已登记服务站",
    )


class ReportIn(RequestModel):
    kind: ReportKind = Field(description="progress 进度填报 / completion 完成报告（之后不能再填报）")
    text: Annotated[Text, Field(min_length=1, max_length=4000)] = Field(description="办理进度、工作内容")
    attachments: Attachments = Field(description="附件（按网址或文号引用）")


class AttachmentOut(BaseModel):
    name: str
    ref: str


class ReportOut(BaseModel):
    report_id: UUID
    kind: ReportKind
    kind_label: str
    text: str
    attachments: list[AttachmentOut]
    reported_by: str = Field(description="填报人账号")
    reported_by_name: str
    reported_at: datetime

    @classmethod
    def of(cls, r: Report) -> "ReportOut":
        return cls(
            report_id=r.report_id,
            kind=r.kind,
            kind_label=REPORT_LABELS[r.kind],
            text=r.text,
            attachments=[AttachmentOut(name=a.name, ref=a.ref) for a in r.attachments],
            reported_by=r.reported_by,
            reported_by_name=r.reported_by_name,
            reported_at=r.reported_at,
        )


class TaskAlertOut(BaseModel):
    kind: str = Field(description="warning 预警 / chase 催办 / supervision 督办")
    kind_label: str
    deadline: date
    to_scope: str = Field(description="送达：服务站本身，督办为下达任务的上级单位范围")
    raised_at: datetime

    @classmethod
    def of(cls, a: TaskAlert) -> "TaskAlertOut":
        return cls(
            kind=a.kind,
            kind_label=ALERT_LABELS[a.kind],
            deadline=a.deadline,
            to_scope=a.to_scope,
            raised_at=a.raised_at,
        )


class PartOut(BaseModel):
    """One station's part of a task."""

    station_id: str
    station_name: str | None
    state: PartState
    state_label: str
    completed_at: datetime | None
    completed_by: str | None
    reports: list[ReportOut]
    alerts: list[TaskAlertOut] = Field(description="预警、催办、督办")

    @classmethod
    def of(cls, part: Part, task: Task, clock: Clock) -> "PartOut":
        state = clock.state(part, task.due_on)
        return cls(
            station_id=part.station_id,
            station_name=part.station_name,
            state=state,
            state_label=STATE_LABELS[state],
            completed_at=part.completed_at,
            completed_by=part.completed_by,
            reports=[ReportOut.of(r) for r in part.reports],
            alerts=[TaskAlertOut.of(a) for a in part.alerts],
        )


class TaskFields(BaseModel):
    task_id: UUID
    title: str
    description: str
    due_on: date
    deadline: date = Field(description="截止日（截止日期遇节假日顺延至下一工作日）")
    attachments: list[AttachmentOut]
    issuer_scope: str = Field(description="下达单位的辖区，如 210100（市）或 210100/210112（区）")
    issued_by_name: str
    issued_at: datetime

    @staticmethod
    def fields(task: Task, clock: Clock) -> dict:
        return dict(
            task_id=task.task_id,
            title=task.title,
            description=task.description,
            due_on=task.due_on,
            deadline=clock.deadline(task.due_on),
            attachments=[AttachmentOut(name=a.name, ref=a.ref) for a in task.attachments],
            issuer_scope=task.issuer_scope,
            issued_by_name=task.issued_by_name,
            issued_at=task.issued_at,
        )


class OwnPartOut(BaseModel):
    state: PartState
    state_label: str
    completed_at: datetime | None


class TaskSummaryOut(TaskFields):
    """A task in a list: completion across the stations in the caller's scope."""

    stations_total: int
    stations_done: int
    stations_overdue: int
    own: OwnPartOut | None = Field(description="本站的办理状态（服务站人员）")

    @classmethod
    def of(cls, p: Progress, clock: Clock) -> "TaskSummaryOut":
        own = None
        if p.own is not None:
            state = clock.state(p.own, p.task.due_on)
            own = OwnPartOut(state=state, state_label=STATE_LABELS[state], completed_at=p.own.completed_at)
        return cls(
            **cls.fields(p.task, clock),
            stations_total=p.total,
            stations_done=p.done,
            stations_overdue=p.overdue,
            own=own,
        )


class TaskOut(TaskFields):
    """A task with every station's part in the caller's scope."""

    stations: list[PartOut]

    @classmethod
    def of(cls, task: Task, parts: list[Part], clock: Clock) -> "TaskOut":
        return cls(**cls.fields(task, clock), stations=[PartOut.of(p, task, clock) for p in parts])


@router.post("/special-tasks", status_code=201, response_model=TaskOut, summary="下达专项工作（上级单位）/ assign")
async def assign(body: TaskIn, uow: UoW, principal: Supervisor, idempotency_key: IdempotencyKey = None) -> TaskOut:
    task, parts, clock = await usecases.assign(
        uow,
        principal,
        title=body.title,
        description=body.description,
        due_on=body.due_on,
        attachments=[a.attachment() for a in body.attachments],
        station_ids=body.station_ids,
        idempotency_key=idempotency_key,
    )
    return TaskOut.of(task, parts, clock)


@router.get("/special-tasks", response_model=list[TaskSummaryOut], summary="专项工作列表 / special tasks")
async def tasks(
    uow: UoW,
    principal: Reader,
    page: StationPaged,
    state: Annotated[
        str | None,
        Query(pattern="^(open|overdue|done)$", description="open 有未完成 / overdue 有逾期 / done 全部完成"),
    ] = None,
) -> list[TaskSummaryOut]:
    found, clock = await usecases.tasks(uow, principal, page.station_id, state, page.limit, page.offset)
    return [TaskSummaryOut.of(p, clock) for p in found]


@router.get("/special-tasks/{task_id}", response_model=TaskOut, summary="专项工作详情 / a special task")
async def task(task_id: UUID, uow: UoW, principal: Reader) -> TaskOut:
    found, parts, clock = await usecases.task(uow, principal, task_id)
    return TaskOut.of(found, parts, clock)


@router.post(
    "/special-tasks/{task_id}/reports",
    status_code=201,
    response_model=PartOut,
    summary="填报进度或完成（本站）/ report progress or completion",
)
async def report(
    task_id: UUID, body: ReportIn, uow: UoW, principal: Staff, idempotency_key: IdempotencyKey = None
) -> PartOut:
    found, part, clock = await usecases.report(
        uow,
        principal,
        task_id,
        kind=body.kind,
        text=body.text,
        attachments=[a.attachment() for a in body.attachments],
        idempotency_key=idempotency_key,
    )
    return PartOut.of(part, found, clock)
