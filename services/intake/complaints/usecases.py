"""Complaint use cases: one unit of work each, in the caller's scope, retried safely with an Idempotency-Key.

Receiving and every stage write the complaint, its stage row and ComplaintUpdated (outbox) in one transaction. A
stage reads the complaint FOR UPDATE, so two heads moving it at once take turns and the second meets the new stage.
"""

from dataclasses import asdict, dataclass
from datetime import date
from uuid import UUID, uuid4

from shared.auth import STAFF, Principal, Role
from shared.calendar import china_today
from shared.contracts import AssigneeKind, ComplaintChannel, ComplaintStage, ComplaintSubject, utcnow
from shared.db.uow import Tx, UnitOfWork
from shared.errors import Forbidden, Invalid, NotFound
from shared.idempotency import Idempotent

from ..demands import usecases as demands
from ..settings import Settings
from ..stations.domain import Station
from ..store import Store
from . import domain
from .domain import Complaint, StageLimits, Subject, SubjectCorrection

_NOT_FOUND = NotFound("未找到该投诉", "complaint not found")


def limits_of(settings: Settings) -> StageLimits:
    return StageLimits(
        acknowledged=settings.complaint_acknowledge_days,
        investigated=settings.complaint_investigate_days,
        resolved=settings.complaint_resolve_days,
        answered=settings.complaint_answer_days,
        closed=settings.complaint_close_days,
    )


def today() -> date:
    """The China date the overdue flags are judged on."""
    return china_today(utcnow())


@dataclass(frozen=True)
class ComplaintForm:
    """A complaint as the station's staff record it from a call, a letter, the window or a message."""

    channel: ComplaintChannel
    subject: ComplaintSubject
    complainant_name: str
    complainant_contact: str
    content: str
    subject_id: str | None = None
    subject_name: str | None = None
    enterprise_name: str | None = None
    demand_id: UUID | None = None
    tracking_no: str | None = None


@dataclass(frozen=True)
class OnlineComplaint:
    """A complaint the enterprise files through its status link: the demand and the station are the link's."""

    subject: ComplaintSubject
    content: str
    subject_name: str | None = None
    contact_name: str | None = None  # else the demand's contact
    contact_phone: str | None = None


@dataclass(frozen=True)
class Visibility:
    """What `_VISIBLE` (store) asks: the scope, the clerk's own account, the organization."""

    scope: str
    recorder: str | None
    org: str

    @classmethod
    def of(cls, principal: Principal, scope: str | None = None) -> "Visibility":
        if principal.role is Role.org:
            return cls("", None, principal.org or "")
        own = principal.db_scope if scope is None else scope
        return cls(own, principal.subject if principal.role is Role.clerk else None, "")


async def _station(tx: Tx[Store], station_id: str) -> Station:
    station = await tx.store.station(station_id)
    if station is None:
        raise Invalid("服务站未登记", "station is not registered", field="station_id")
    return station


async def _receive(
    tx: Tx[Store],
    *,
    station: Station,
    channel: ComplaintChannel,
    subject: Subject,
    complainant: tuple[str, str],
    content: str,
    by: str,
    by_id: str,
    limits: StageLimits,
    demand: tuple[UUID, str, UUID] | None,
    enterprise_name: str | None,
) -> Complaint:
    at = utcnow()
    year = china_today(at).year
    serial = await tx.store.next_complaint_serial(station.station_id, year)
    complaint = domain.receive(
        complaint_id=uuid4(),
        station_id=station.station_id,
        station_name=station.name,
        year_serial=(year, serial),
        channel=channel,
        subject=subject,
        complainant_name=complainant[0],
        complainant_contact=complainant[1],
        content=content,
        by=by,
        by_id=by_id,
        at=at,
        event_id=uuid4(),
        correlation_id=demand[2] if demand else uuid4(),
        limits=limits,
        workday_overrides=await tx.store.workday_overrides(),
        enterprise_name=enterprise_name,
        demand_id=demand[0] if demand else None,
        tracking_no=demand[1] if demand else None,
    )
    await tx.store.add_complaint(complaint)
    await tx.publish(domain.updated_event(complaint))
    return complaint


async def record_complaint(
    uow: UnitOfWork[Store],
    principal: Principal,
    form: ComplaintForm,
    limits: StageLimits,
    *,
    idempotency_key: str | None = None,
) -> Complaint:
    """受理 by the station's clerk or head, for their own station; a demand it concerns must be the station's."""
    if principal.role not in STAFF or principal.station is None:
        raise Forbidden("只有服务站工作人员可以登记投诉", "only station staff record complaints")
    if form.channel is ComplaintChannel.online:
        raise Invalid(
            "网上投诉由企业通过查询链接提交；请选择电话、信函、窗口或即时通讯",
            "online complaints come through the status link; choose phone, letter, window or im",
            field="channel",
        )
    retry = Idempotent.of(idempotency_key, principal.subject, "complaint", asdict(form))
    async with uow.begin(principal) as tx:
        if (earlier := await tx.recall(retry)) is not None:
            found = await tx.store.complaint(UUID(earlier["complaint_id"]), **asdict(Visibility.of(principal)))
            if found is not None:
                return found
        station = await _station(tx, principal.station)
        demand = None
        if form.demand_id is not None or form.tracking_no is not None:
            row = await tx.store.station_demand(station.station_id, form.demand_id, form.tracking_no)
            if row is None:
                raise Invalid(
                    "本站没有该需求（需求编号与跟踪单号须为本站同一需求）",
                    "no such demand at this station (an id and a tracking number must name the same one)",
                    field="demand_id" if form.demand_id is not None else "tracking_no",
                )
            demand = (row["demand_id"], row["tracking_no"], row["correlation_id"])
            enterprise_name = form.enterprise_name or row["enterprise_name"]
        else:
            enterprise_name = form.enterprise_name
        complaint = await _receive(
            tx,
            station=station,
            channel=form.channel,
            subject=Subject(form.subject, form.subject_id, form.subject_name),
            complainant=(form.complainant_name, form.complainant_contact),
            content=form.content,
            by=principal.name,
            by_id=principal.subject,
            limits=limits,
            demand=demand,
            enterprise_name=enterprise_name,
        )
        await tx.remember(retry, {"complaint_id": str(complaint.complaint_id)})
    return complaint


async def file_online(
    uow: UnitOfWork[Store],
    token: str,
    form: OnlineComplaint,
    limits: StageLimits,
    *,
    idempotency_key: str | None = None,
) -> tuple[Complaint, Station]:
    """网上投诉 through the enterprise's status link: about its demand, at the demand's station. A complaint about an
    organization names the one the enterprise was told handles its demand, unless it names another."""
    retry = Idempotent.of(idempotency_key, demands.status_caller(token), "complaint", asdict(form))
    async with uow.begin() as tx:
        demand = await demands.by_status_token(tx.store, token)
        station = await _station(tx, demand.station_id)
        if (earlier := await tx.recall(retry)) is not None:
            found = await tx.store.complaint(UUID(earlier["complaint_id"]), scope="*", recorder=None, org="")
            if found is not None:
                return found, station
        name = form.subject_name
        h = demand.handling
        if form.subject is ComplaintSubject.organization and not name and h.assignee_kind == AssigneeKind.organization:
            name = h.assignee_name
        complaint = await _receive(
            tx,
            station=station,
            channel=ComplaintChannel.online,
            subject=Subject(form.subject, None, name),
            complainant=(form.contact_name or demand.contact_name, form.contact_phone or demand.contact_phone),
            content=form.content,
            by=domain.ONLINE_RECORDER,
            by_id=domain.ONLINE_RECORDER_ID,
            limits=limits,
            demand=(demand.demand_id, demand.tracking_no, demand.correlation_id),
            enterprise_name=demand.enterprise_name,
        )
        await tx.remember(retry, {"complaint_id": str(complaint.complaint_id)})
    return complaint, station


async def move(
    uow: UnitOfWork[Store],
    principal: Principal,
    complaint_id: UUID,
    stage: ComplaintStage,
    note: str,
    limits: StageLimits,
    *,
    founded: bool | None = None,
    correction: SubjectCorrection | None = None,
    idempotency_key: str | None = None,
) -> Complaint:
    """确认, 调查, 处理, 答复, 结案 by the head of a station whose scope holds the complaint: the next stage only."""
    if principal.role is not Role.head:
        raise Forbidden("只有站长可以推进投诉处理环节", "only the station's head moves a complaint")
    request = (str(complaint_id), stage.value, note, founded, asdict(correction) if correction else None)
    retry = Idempotent.of(idempotency_key, principal.subject, "complaint-stage", *request)
    async with uow.begin(principal) as tx:
        visible = Visibility.of(principal)
        complaint = await tx.store.complaint(complaint_id, **asdict(visible), for_update=True)
        if complaint is None:
            raise _NOT_FOUND
        if await tx.recall(retry) is not None:
            return complaint
        station = await _station(tx, complaint.station_id)
        moved = domain.advance(
            complaint,
            stage,
            note=note,
            by=principal.name,
            by_id=principal.subject,
            at=utcnow(),
            event_id=uuid4(),
            limits=limits,
            workday_overrides=await tx.store.workday_overrides(),
            founded=founded,
            correction=correction,
            station_name=station.name,
        )
        await tx.store.save_complaint_stage(moved)
        await tx.publish(domain.updated_event(moved))
        await tx.remember(retry, {"complaint_id": str(complaint_id), "stage": stage.value})
    return moved


async def get_complaint(uow: UnitOfWork[Store], principal: Principal, complaint_id: UUID) -> Complaint:
    async with uow.begin(principal) as tx:
        complaint = await tx.store.complaint(complaint_id, **asdict(Visibility.of(principal)))
        if complaint is None:
            raise _NOT_FOUND
        return complaint


async def list_complaints(
    uow: UnitOfWork[Store],
    principal: Principal,
    *,
    station_id: str | None,
    stage: ComplaintStage | None,
    subject: ComplaintSubject | None,
    overdue: bool | None,
    limit: int,
    offset: int,
) -> list[Complaint]:
    """The complaints of the caller's scope (or one station of it) the caller may see, newest first."""
    async with uow.begin(principal) as tx:
        scope = await tx.scope(station_id)  # 404 for a station outside the scope
        return await tx.store.complaints(
            **asdict(Visibility.of(principal, scope)),
            stage=stage.value if stage else None,
            subject=subject.value if subject else None,
            overdue=overdue,
            today=today(),
            limit=limit,
            offset=offset,
        )


async def online_complaints(uow: UnitOfWork[Store], token: str) -> tuple[list[Complaint], Station]:
    """What the enterprise sees behind its status link: the complaints it filed through it."""
    async with uow.begin() as tx:
        demand = await demands.by_status_token(tx.store, token)
        return await tx.store.online_complaints(demand.demand_id), await _station(tx, demand.station_id)
