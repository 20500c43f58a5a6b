"""HTTP routes: follow-ups (跟进记录) and appointments on the tracking sheet, and the sheet's print (HTML, PDF)."""

from datetime import date, datetime, time
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from shared.api import IdempotencyKey, StationPaged, UoW, allow
from shared.auth import READERS, STAFF, Principal, Role
from shared.contracts import Appointment, FollowUpKind, printed_tracking_no
from shared.validation import Line, QueryDate, RequestModel, Text

from . import sheet, usecases
from .domain import FollowUp, UpcomingAppointment

router = APIRouter(tags=["跟进记录与预约 / follow-ups and appointments"])
# Who writes a follow-up: the station's clerks and head, and the organization the case is assigned to now.
Recorder = Annotated[Principal, allow(*STAFF, Role.org)]
# Who reads them: the station, its supervisors, the organization assigned now.
ReaderOrOrg = Annotated[Principal, allow(*READERS, Role.org)]

_KINDS = "联系企业 contact、预约 appointment、发现问题 problem、协调 coordination、解释说明 explanation"


class AppointmentIn(RequestModel):
    on: date = Field(description="预约日期（北京时间，不早于今天）/ the day, not in the past (China)")
    at: time | None = Field(default=None, description="预约时间，如 09:30 / the time, China local")
    place: Annotated[Line, Field(min_length=1, max_length=200)] = Field(description="地点 / where")
    attendees: Annotated[Line, Field(min_length=1, max_length=200)] = Field(description="参加人员 / who")


class FollowUpIn(RequestModel):
    kind: FollowUpKind = Field(description=_KINDS)
    text: Annotated[Text, Field(min_length=1, max_length=4000)] = Field(description="跟进内容 / what was done or said")
    appointment: AppointmentIn | None = Field(
        default=None, description="预约信息：仅当 kind 为 appointment 时填写且必填 / required iff kind is appointment"
    )


class AppointmentOut(BaseModel):
    on: date
    at: time | None
    place: str
    attendees: str


class FollowUpOut(BaseModel):
    follow_up_id: UUID
    demand_id: UUID
    station_id: str
    kind: FollowUpKind
    kind_label: str
    text: str
    appointment: AppointmentOut | None
    recorded_by: str
    recorded_by_org: str | None = Field(
        description="机构人员记录时为机构编号 / the organization, when its staff wrote it"
    )
    recorded_at: datetime

    @classmethod
    def of(cls, f: FollowUp) -> "FollowUpOut":
        return cls(
            follow_up_id=f.follow_up_id,
            demand_id=f.demand_id,
            station_id=f.station_id,
            kind=f.kind,
            kind_label=f.kind.label,
            text=f.text,
            appointment=AppointmentOut(**f.appointment.model_dump()) if f.appointment else None,
            recorded_by=f.recorded_by,
            recorded_by_org=f.recorded_by_org,
            recorded_at=f.recorded_at,
        )


class UpcomingOut(BaseModel):
    """A row of the appointments list."""

    demand_id: UUID
    station_id: str
    tracking_no: str = Field(
        description="跟踪单号（带服务站代码）/ the tracking number as printed, with the station code"
    )
    enterprise_name: str | None
    on: date
    at: time | None
    place: str
    attendees: str
    text: str
    recorded_by: str
    recorded_by_org: str | None
    recorded_at: datetime
    follow_up_id: UUID

    @classmethod
    def of(cls, a: UpcomingAppointment) -> "UpcomingOut":
        return cls(
            demand_id=a.demand_id,
            station_id=a.station_id,
            tracking_no=printed_tracking_no(a.station_id, a.tracking_no),
            enterprise_name=a.enterprise_name,
            on=a.on,
            at=a.at,
            place=a.place,
            attendees=a.attendees,
            text=a.text,
            recorded_by=a.recorded_by,
            recorded_by_org=a.recorded_by_org,
            recorded_at=a.recorded_at,
            follow_up_id=a.follow_up_id,
        )


@router.post(
    "/demands/{demand_id}/follow-ups",
    status_code=201,
    response_model=FollowUpOut,
    summary="记录跟进 / record a follow-up or an appointment",
)
async def record_follow_up(
    demand_id: UUID, body: FollowUpIn, uow: UoW, principal: Recorder, idempotency_key: IdempotencyKey = None
) -> FollowUpOut:
    appointment = Appointment(**body.appointment.model_dump()) if body.appointment else None
    follow_up = await usecases.record(
        uow,
        principal,
        demand_id,
        kind=body.kind,
        text=body.text,
        appointment=appointment,
        idempotency_key=idempotency_key,
    )
    return FollowUpOut.of(follow_up)


@router.get(
    "/demands/{demand_id}/follow-ups", response_model=list[FollowUpOut], summary="跟进记录 / a case's follow-ups"
)
async def follow_ups(demand_id: UUID, uow: UoW, principal: ReaderOrOrg) -> list[FollowUpOut]:
    return [FollowUpOut.of(f) for f in await usecases.follow_ups(uow, principal, demand_id)]


@router.get("/appointments", response_model=list[UpcomingOut], summary="近期预约 / upcoming appointments")
async def appointments(
    uow: UoW,
    principal: ReaderOrOrg,
    page: StationPaged,
    start: Annotated[
        QueryDate | None, Query(alias="from", description="起始日期（含，北京时间），默认今天 / from, default today")
    ] = None,
    end: Annotated[
        QueryDate | None,
        Query(alias="to", description="截止日期（含），默认起始日期后 14 天 / to, default from + 14 days"),
    ] = None,
) -> list[UpcomingOut]:
    found = await usecases.appointments(uow, principal, page.station_id, start, end, page.limit, page.offset)
    return [UpcomingOut.of(a) for a in found]


@router.get(
    "/demands/{demand_id}/sheet.html", response_class=HTMLResponse, summary="跟踪单（打印）/ tracking sheet to print"
)
async def sheet_html(demand_id: UUID, uow: UoW, principal: ReaderOrOrg) -> HTMLResponse:
    return HTMLResponse(sheet.render_html(await usecases.sheet(uow, principal, demand_id)))


@router.get("/demands/{demand_id}/sheet.pdf", response_class=Response, summary="跟踪单 PDF / tracking sheet as PDF")
async def sheet_pdf(demand_id: UUID, uow: UoW, principal: ReaderOrOrg) -> Response:
    found = await usecases.sheet(uow, principal, demand_id)
    # Printing takes a few hundred milliseconds of CPU: off the event loop, so requests and messages keep flowing.
    pdf = await run_in_threadpool(sheet.render_pdf, found)
    filename = f"tracking-sheet-{printed_tracking_no(found.case.station_id, found.case.tracking_no)}.pdf"
    return Response(
        pdf, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{filename}"'}
    )
