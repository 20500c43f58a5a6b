"""Complaint HTTP routes: staff record a complaint, the head moves it through its stages, readers list and read.

Who sees what (the use cases ask it of the store's SQL, row-level security asks again): the station's head and its
supervisors every complaint of their scope, a clerk those they recorded, an organization a complaint about itself
once the complainant has been answered (read-only, without the complainant). The enterprise's own online channel is
on the public router (services/intake/public).
"""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from shared.api import IdempotencyKey, StationPaged, UoW, allow
from shared.auth import Principal, Role
from shared.contracts import ComplaintChannel, ComplaintStage, ComplaintSubject

from ..dependencies import Config, Staff
from . import usecases
from .schemas import ComplaintIn, ComplaintOut, StageIn

router = APIRouter(tags=["intake 投诉"])

Head = Annotated[Principal, allow(Role.head)]
Reader = Annotated[Principal, allow(Role.clerk, Role.head, Role.supervisor, Role.org)]


def _out(c, principal: Principal) -> ComplaintOut:
    return ComplaintOut.of(c, usecases.today(), for_organization=principal.role is Role.org)


@router.post("/complaints", status_code=201, response_model=ComplaintOut, summary="登记投诉 / record a complaint")
async def record_complaint(
    body: ComplaintIn, uow: UoW, principal: Staff, settings: Config, idempotency_key: IdempotencyKey = None
) -> ComplaintOut:
    form = usecases.ComplaintForm(**{**body.model_dump(), "channel": ComplaintChannel(body.channel)})
    complaint = await usecases.record_complaint(
        uow, principal, form, usecases.limits_of(settings), idempotency_key=idempotency_key
    )
    return _out(complaint, principal)


@router.get("/complaints", response_model=list[ComplaintOut], summary="投诉列表 / complaints you may see")
async def list_complaints(
    uow: UoW,
    principal: Reader,
    page: StationPaged,
    stage: ComplaintStage | None = None,
    subject: ComplaintSubject | None = None,
    overdue: Annotated[bool | None, Query(description="true：下一环节已超时限；false：未超")] = None,
) -> list[ComplaintOut]:
    complaints = await usecases.list_complaints(
        uow,
        principal,
        station_id=page.station_id,
        stage=stage,
        subject=subject,
        overdue=overdue,
        limit=page.limit,
        offset=page.offset,
    )
    return [_out(c, principal) for c in complaints]


@router.get("/complaints/{complaint_id}", response_model=ComplaintOut, summary="投诉详情 / one complaint")
async def get_complaint(complaint_id: UUID, uow: UoW, principal: Reader) -> ComplaintOut:
    return _out(await usecases.get_complaint(uow, principal, complaint_id), principal)


@router.post(
    "/complaints/{complaint_id}/stages",
    response_model=ComplaintOut,
    summary="推进投诉处理环节（站长）/ the next stage",
)
async def move_complaint(
    complaint_id: UUID,
    body: StageIn,
    uow: UoW,
    principal: Head,
    settings: Config,
    idempotency_key: IdempotencyKey = None,
) -> ComplaintOut:
    complaint = await usecases.move(
        uow,
        principal,
        complaint_id,
        ComplaintStage(body.stage),
        body.note,
        usecases.limits_of(settings),
        founded=body.founded,
        correction=body.correction(),
        idempotency_key=idempotency_key,
    )
    return _out(complaint, principal)
