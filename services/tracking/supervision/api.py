"""HTTP routes: 督办 by a supervisor's hand, the station's answer, and the list of 督办.

Warnings (预警) and chases (催办) have no route: the scheduler fires them (supervision/usecases.scan) and they show on
the tracking sheet's timeline and as events.
"""

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from shared.api import IdempotencyKey, StationPaged, UoW, allow
from shared.auth import READERS, STAFF, Principal, Role
from shared.contracts import printed_tracking_no
from shared.validation import DueDate, RequestModel, Text

from ..deps import Config
from . import usecases
from .domain import STATUS_LABELS, STATUSES, Supervision

router = APIRouter(tags=["预警、催办与督办 / warnings, chases, supervision"])
Supervisor = Annotated[Principal, allow(Role.supervisor)]
Staff = Annotated[Principal, allow(*STAFF)]
Reader = Annotated[Principal, allow(*READERS)]


class SupervisionIn(RequestModel):
    comment: Annotated[Text, Field(min_length=1, max_length=4000, description="督办意见 / what the supervisor wants")]
    reply_due_on: DueDate | None = Field(
        default=None,
        description="回复时限，须晚于今天；不填则为服务站设置的督办回复工作日数（默认 2 个工作日）"
        " / the date the station must answer by (after today); by default the station's reply_days working days",
    )


class AnswerIn(RequestModel):
    answer: Annotated[Text, Field(min_length=1, max_length=4000, description="回复内容 / the station's answer")]


class SupervisionOut(BaseModel):
    supervision_id: UUID
    demand_id: UUID
    station_id: str
    tracking_no: str
    printed_tracking_no: str = Field(description="打印的跟踪单号 / the tracking number as printed")
    enterprise_name: str | None
    level: str = Field(description="district 区县督办 / city 市级督办")
    level_label: str
    supervisor_scope: str = Field(description="督办的上级单位范围（区县或市的代码前缀）/ the district or city prefix")
    issued_by: str = Field(description="督办人；system 为系统自动督办 / who issued it; system for the scheduler")
    issued_at: datetime
    comment: str
    reply_due_on: date
    deadline: str | None = Field(description="超期的时限（自动督办）/ the missed deadline, for an automatic one")
    escalated_from: UUID | None = Field(description="由哪一区县督办升级而来 / the district 督办 this escalates")
    status: str = Field(description="open 待回复 / answered 已回复 / escalated 已升级")
    status_label: str
    overdue: bool = Field(description="已过回复时限仍未回复 / past its reply date without an answer")
    answered_by: str | None
    answered_at: datetime | None
    answer: str | None
    escalated_at: datetime | None

    @classmethod
    def of(cls, s: Supervision, tracking_no: str, enterprise_name: str | None, today: date) -> "SupervisionOut":
        return cls(
            supervision_id=s.supervision_id,
            demand_id=s.demand_id,
            station_id=s.station_id,
            tracking_no=tracking_no,
            printed_tracking_no=printed_tracking_no(s.station_id, tracking_no),
            enterprise_name=enterprise_name,
            level=s.level.value,
            level_label=s.level.label,
            supervisor_scope=s.supervisor_scope,
            issued_by=s.issued_by,
            issued_at=s.issued_at,
            comment=s.comment,
            reply_due_on=s.reply_due_on,
            deadline=s.deadline.value if s.deadline else None,
            escalated_from=s.escalated_from,
            status=s.status,
            status_label=STATUS_LABELS[s.status],
            overdue=s.overdue(today),
            answered_by=s.answered_by,
            answered_at=s.answered_at,
            answer=s.answer,
            escalated_at=s.escalated_at,
        )


@router.post(
    "/demands/{demand_id}/supervisions",
    response_model=SupervisionOut,
    status_code=201,
    summary="督办 / a supervisor's 督办 with a reply date and comment",
    description="上级单位（市或区县）对其辖区内服务站办理中的需求发起督办；市级范围为市级督办，其余为区县督办。"
    "带同一 Idempotency-Key 重试只督办一次。"
    " / A city or district supervisor supervises a case being handled in its area; a retry with the same"
    " Idempotency-Key makes one 督办.",
)
async def supervise(
    demand_id: UUID,
    body: SupervisionIn,
    uow: UoW,
    principal: Supervisor,
    settings: Config,
    idempotency_key: IdempotencyKey = None,
) -> SupervisionOut:
    found = await usecases.supervise(
        uow,
        principal,
        settings,
        demand_id,
        comment=body.comment,
        reply_due_on=body.reply_due_on,
        idempotency_key=idempotency_key,
    )
    return SupervisionOut.of(*found)


@router.post(
    "/supervisions/{supervision_id}/answer",
    response_model=SupervisionOut,
    summary="回复督办 / the station answers a 督办",
    description="服务站（窗口人员或站长）回复督办；已回复或已升级的督办不能再回复（409）。"
    " / The station's clerk or head answers; an answered or escalated one cannot be (409).",
)
async def answer(supervision_id: UUID, body: AnswerIn, uow: UoW, principal: Staff) -> SupervisionOut:
    return SupervisionOut.of(*await usecases.answer(uow, principal, supervision_id, text=body.answer))


@router.get(
    "/supervisions",
    response_model=list[SupervisionOut],
    summary="督办清单 / the 督办 of the caller's stations",
    description="服务站人员看本站的，上级单位看辖区内的。"
    " / Station staff see their station's, supervisors their area's.",
)
async def supervisions(
    uow: UoW,
    principal: Reader,
    page: StationPaged,
    status: Annotated[
        str | None,
        Query(pattern=f"^({'|'.join(STATUSES)})$", description="open 待回复 / answered 已回复 / escalated 已升级"),
    ] = None,
) -> list[SupervisionOut]:
    found, today = await usecases.supervisions(uow, principal, page.station_id, status, page.limit, page.offset)
    return [SupervisionOut.of(s, no, name, today) for s, no, name in found]
