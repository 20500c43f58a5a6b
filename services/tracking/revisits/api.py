"""HTTP routes: re-visit tasks (回访任务) and re-visits (回访).

The station's clerks and head record re-visits of its demands; they and the station's supervisors read the task
list and a demand's re-visits; another station does not find the demand (404); organizations and operations are
refused (403): a re-visit is the station asking the enterprise about the service, organizations included.
"""

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field

from shared.api import IdempotencyKey, StationPaged, UoW, allow
from shared.auth import READERS, STAFF, Principal
from shared.contracts import RevisitMethod, printed_tracking_no
from shared.validation import Line, RequestModel, Text

from . import usecases
from .domain import STATUS_TEXT, Revisit, Task

router = APIRouter(tags=["回访 / re-visits"])
Staff = Annotated[Principal, allow(*STAFF)]
Reader = Annotated[Principal, allow(*READERS)]

_KINDS = (
    "dissatisfied 差评回访（评价为不满意，100%）/ not_met 未满足需求回访（100%）/ sample 抽样回访（按本站抽样比例）"
)


class RevisitIn(RequestModel):
    method: RevisitMethod = Field(description="phone 电话回访 / visit 上门回访 / message 短信、微信等留言回访")
    revisited_at: AwareDatetime = Field(
        description="回访时间（联系或尝试联系企业的时间，带时区，不晚于当前时间、不早于所回访的办结时间）"
        " / when the enterprise was reached or tried, with its offset"
    )
    reached: bool = Field(
        default=True, description="是否联系上企业；false 为未联系上（记录本次尝试，回访任务保持待办）"
    )
    contact: Annotated[Line, Field(min_length=1, max_length=200)] | None = Field(
        default=None,
        description="回访对象（联系上企业时必填），如：王建国（企业质量负责人）/ whom the station spoke to",
    )
    enterprise_said: Annotated[Text, Field(min_length=1, max_length=4000)] | None = Field(
        default=None,
        description="企业反馈意见（联系上企业时必填）；未联系上时可填写情况说明 / what the enterprise said",
    )
    need_met: bool | None = Field(
        default=None,
        description="企业确认需求是否已满足（仅联系上企业时填写）/ the enterprise confirms its need was met",
    )


class TaskOut(BaseModel):
    demand_id: UUID
    station_id: str
    round: int = Field(description="所回访的办结轮次（2 为重办）")
    kind: str = Field(description=_KINDS)
    kind_label: str
    appears_on: date = Field(description="任务出现日：办结（或不满意评价）后的次一工作日")
    due_on: date = Field(description="回访期限（工作日，本站回访时限）")
    status: str = Field(description="upcoming 待生成 / due 待回访 / overdue 回访超期 / done 已回访")
    status_label: str
    done_at: datetime | None = Field(description="完成时间：首次联系上企业的回访时间")
    attempts: int = Field(description="已记录的回访次数（含未联系上的）")
    triggered_at: datetime = Field(description="办结或不满意评价的时间")
    sample_rate: float | None = Field(description="抽样回访：抽样时的比例")

    @classmethod
    def of(cls, t: Task, today: date) -> "TaskOut":
        status = t.status(today)
        return cls(
            demand_id=t.demand_id,
            station_id=t.station_id,
            round=t.round,
            kind=t.kind.value,
            kind_label=t.kind.label,
            appears_on=t.appears_on,
            due_on=t.due_on,
            status=status,
            status_label=STATUS_TEXT[status],
            done_at=t.done_at,
            attempts=t.attempts,
            triggered_at=t.triggered_at,
            sample_rate=t.sample_rate,
        )


class ListedOut(TaskOut):
    """A row of the station's list, with what the clerk needs to call."""

    tracking_no: str = Field(description="跟踪单号（带服务站代码）/ the tracking number as printed")
    enterprise_name: str | None
    contact_phone: str | None = Field(description="联系电话 / the contact's phone")


class RevisitOut(BaseModel):
    revisit_id: UUID
    demand_id: UUID
    station_id: str
    round: int
    method: str
    method_label: str
    revisited_at: datetime
    reached: bool
    contact: str | None
    enterprise_said: str | None
    need_met: bool | None
    voluntary: bool = Field(description="主动回访：记录时该需求没有回访任务（单独统计，不计入回访率）")
    recorded_by: str
    recorded_at: datetime

    @classmethod
    def of(cls, r: Revisit) -> "RevisitOut":
        return cls(
            **{k: getattr(r, k) for k in cls.model_fields if k not in ("method", "method_label")},
            method=r.method.value,
            method_label=r.method.label,
        )


class RecordedOut(RevisitOut):
    today: date = Field(description="今日（北京时间）")
    tasks: list[TaskOut] = Field(description="该需求的回访任务（记录后的状态）")


class DemandRevisitsOut(BaseModel):
    demand_id: UUID
    today: date = Field(description="今日（北京时间）")
    tasks: list[TaskOut] = Field(description="回访任务，含尚未出现的（upcoming）")
    revisits: list[RevisitOut] = Field(description="回访记录，按回访时间")


@router.get(
    "/revisits",
    response_model=list[ListedOut],
    summary="回访任务 / the re-visit tasks of the caller's stations",
    description="办结后次一工作日出现的回访任务：评价为不满意的（差评回访）与需求未满足的一律回访，其余按本站抽样比例"
    "回访。status：due 待回访、overdue 回访超期、done 已回访；不填为全部已出现的任务。"
    " / Tasks appear on the working day after a resolution: always for a 不满意 rating and a need not met, for the"
    " others at the station's sample rate. status: due, overdue, done; none: every task that has appeared.",
)
async def tasks(
    uow: UoW,
    principal: Reader,
    page: StationPaged,
    status: Annotated[
        Literal["due", "overdue", "done"] | None,
        Query(description="due 待回访 / overdue 回访超期 / done 已回访；不填为全部"),
    ] = None,
    kind: Annotated[
        Literal["dissatisfied", "not_met", "sample"] | None, Query(description=_KINDS + "；不填为全部")
    ] = None,
) -> list[ListedOut]:
    listed, today = await usecases.task_list(uow, principal, page.station_id, status, kind, page.limit, page.offset)
    return [
        ListedOut(
            **TaskOut.of(row.task, today).model_dump(),
            tracking_no=printed_tracking_no(row.task.station_id, row.tracking_no),
            enterprise_name=row.enterprise_name,
            contact_phone=row.contact_phone,
        )
        for row in listed
    ]


@router.post(
    "/demands/{demand_id}/revisits",
    response_model=RecordedOut,
    status_code=201,
    summary="记录回访（服务专员或站长）/ record a re-visit",
    description="记录回访方式、时间、回访对象及企业意见；联系上企业的回访完成该需求在其之前产生的回访任务，未联系上的"
    "作为一次尝试记录，任务保持待办。无回访任务的需求也可回访（主动回访，单独统计）。"
    " / How, when, whom and what the enterprise said; one that reached the enterprise completes the demand's tasks"
    " made before it, one that did not is kept as an attempt. A demand without a task may be re-visited too"
    " (voluntary, counted apart).",
)
async def record(
    demand_id: UUID, body: RevisitIn, uow: UoW, principal: Staff, idempotency_key: IdempotencyKey = None
) -> RecordedOut:
    done = await usecases.record(
        uow,
        principal,
        demand_id,
        method=body.method,
        revisited_at=body.revisited_at,
        reached=body.reached,
        contact=body.contact,
        enterprise_said=body.enterprise_said,
        need_met=body.need_met,
        idempotency_key=idempotency_key,
    )
    return RecordedOut(
        **RevisitOut.of(done.revisit).model_dump(),
        today=done.today,
        tasks=[TaskOut.of(t, done.today) for t in done.tasks],
    )


@router.get(
    "/demands/{demand_id}/revisits",
    response_model=DemandRevisitsOut,
    summary="需求的回访任务与回访记录 / a demand's re-visit tasks and re-visits",
)
async def of_demand(demand_id: UUID, uow: UoW, principal: Reader) -> DemandRevisitsOut:
    found = await usecases.of_demand(uow, principal, demand_id)
    return DemandRevisitsOut(
        demand_id=demand_id,
        today=found.today,
        tasks=[TaskOut.of(t, found.today) for t in found.tasks],
        revisits=[RevisitOut.of(r) for r in found.revisits],
    )
