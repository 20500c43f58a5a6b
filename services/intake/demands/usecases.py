"""Demand use cases: one unit of work each.

Event use cases get the open transaction from `UnitOfWork.handle` (lock, inbox claim);
request use cases open their own in the caller's scope. What a route knows from the
service's settings (the status-link secret and address) comes in as plain values.
"""

import hashlib
import hmac
import json
from base64 import urlsafe_b64encode
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from uuid import UUID, uuid4

from shared.auth import SYSTEM, Principal
from shared.calendar import CHINA
from shared.contracts import (
    Archived,
    Assigned,
    AssignmentReturned,
    CasePaused,
    CaseResumed,
    Channel,
    Closing,
    DemandMerged,
    DemandReopened,
    ExtensionDecided,
    GreenChannel,
    Rated,
    RatingVerified,
    Resolved,
    utcnow,
)
from shared.db.uow import Tx, UnitOfWork
from shared.errors import Forbidden, Invalid, NotFound
from shared.idempotency import Idempotent
from shared.validation import credit_code_flag

from ..access_log.usecases import log_read
from ..catalogue import domain as catalogue
from ..catalogue.domain import CatalogueEntry
from ..notice import Notice, NoticeItem
from ..public.domain import StepTimes
from ..stations.domain import Station
from ..store import Store
from . import domain
from .domain import Demand

COMPLAINT_CHANNELS = (
    "向本服务站站长当面或电话反映",
    "向上级市场监督管理部门书面投诉",
    "拨打 12345 政务服务便民热线或 12315 市场监管投诉举报热线",
)
_PROGRESS_STAGES = {Resolved: "resolved", Rated: "rated"}


@dataclass(frozen=True)
class StatusLinks:
    """The enterprise's private status links: signed with the service's secret, served at its public address."""

    secret: str
    base_url: str
    days: int

    def token(self, demand_id: UUID) -> str:
        """Recomputable (a retried submission gets the same link) and unguessable without the secret."""
        mac = hmac.new(self.secret.encode(), demand_id.bytes, hashlib.sha256).digest()
        return urlsafe_b64encode(mac).rstrip(b"=").decode()

    def url(self, token: str) -> str:
        return f"{self.base_url}/public/status/{token}"


@dataclass(frozen=True)
class ItemRequest:
    code: str
    remarks: str | None = None
    materials_received: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DemandForm:
    station_id: str
    enterprise_name: str
    credit_code: str
    contact_name: str
    contact_phone: str
    items: list[ItemRequest]
    description: str
    channel: Channel
    first_responder: str
    first_responder_id: str | None = None  # the signed-in clerk's account when they are the first responder
    received_at: datetime | None = None  # when the demand reached the station, if not now
    green_channel: GreenChannel | None = None
    green_channel_reason: str | None = None
    details: dict = field(default_factory=dict)
    visit_id: UUID | None = None

    def digest(self) -> str:
        canonical = json.dumps(self.__dict__, sort_keys=True, default=str, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def entries_in_force(store: Store, station_id: str) -> dict[str, CatalogueEntry]:
    items, overrides, _ = await store.catalogue()
    labels = {c.code: c.label for c in (await store.categories()).values()}
    return {i.item_code: catalogue.resolve_entry(i, labels[i.category], overrides, station_id) for i in items}


async def submit_demand(
    uow: UnitOfWork[Store],
    principal: Principal | None,
    form: DemandForm,
    links: StatusLinks,
    *,
    idempotency_key: str | None = None,
    correlation_id: UUID | None = None,
) -> tuple[Demand, str]:
    """Registers a demand; returns it and the enterprise's status token.

    `principal` is None for the public online channel, whose station comes from the URL.
    """
    if principal is not None and form.station_id != principal.station:
        raise Forbidden("只能为本服务站登记需求", "a demand can be registered only for your own station")
    submitted_at = utcnow()
    async with uow.begin(principal or SYSTEM) as tx:
        store = tx.store
        # One key space per station, so a retry from another window of the station finds the first result.
        request = Idempotent.of(idempotency_key, f"station:{form.station_id}", form.digest())
        if (earlier := await tx.recall(request)) is not None:
            demand = await store.get(UUID(earlier["demand_id"]))
            return demand, links.token(demand.demand_id)
        if await store.station(form.station_id) is None:
            raise Invalid("服务站未登记", "station is not registered", field="station_id")
        if form.visit_id and await store.visit(form.station_id, form.visit_id) is None:
            raise Invalid("未找到本站的这次走访记录", "no such visit at this station", field="visit_id")
        entries = await entries_in_force(store, form.station_id)
        items = domain.pick_items([(i.code, i.remarks, i.materials_received) for i in form.items], entries)
        labels = {c.code: c.label for c in (await store.categories()).values()}
        duplicate = await store.open_duplicate(form.station_id, form.credit_code, [i.item_code for i in items])
        address = await store.enterprise_address(form.station_id, form.credit_code)
        profile = await store.enterprise_profile(form.station_id, form.credit_code)  # read before a new dossier starts
        serial = await store.next_serial(form.station_id, domain.numbering_year(submitted_at))
        demand = domain.new_demand(
            demand_id=uuid4(),
            station_id=form.station_id,
            serial=serial,
            submitted_at=submitted_at,
            received_at=form.received_at,
            enterprise_name=form.enterprise_name,
            credit_code=form.credit_code,
            credit_code_flag=credit_code_flag(form.credit_code),
            contact_name=form.contact_name,
            contact_phone=form.contact_phone,
            items=items,
            category_labels=labels,
            description=form.description,
            channel=form.channel,
            first_responder=form.first_responder,
            first_responder_id=form.first_responder_id,
            green_channel=form.green_channel,
            green_channel_reason=form.green_channel_reason,
            details=form.details,
            visit_id=form.visit_id,
            possible_duplicate_of=duplicate,
            correlation_id=correlation_id or uuid4(),
            workday_overrides=await store.workday_overrides(),
            address=address,
        )
        await store.insert(demand)
        await store.ensure_enterprise(demand)
        token = links.token(demand.demand_id)
        await store.add_status_link(_digest(token), demand, submitted_at + timedelta(days=links.days))
        await tx.remember(request, {"demand_id": str(demand.demand_id)})
        await tx.publish(domain.submitted_event(demand, profile))
    return demand, token


async def get_demand(uow: UnitOfWork[Store], principal: Principal, demand_id: UUID) -> Demand:
    """One demand in the caller's scope, with the audit of its corrections: it names the enterprise's contact, so
    the read is logged (in its transaction)."""
    async with uow.begin(principal) as tx:
        demand = await tx.store.get_in_scope(demand_id, principal.db_scope)
        if demand is None:
            raise NotFound("未找到该需求", "demand not found")
        await log_read(tx, "demand.read", "demand", principal.db_scope, [(demand.station_id, str(demand_id))])
        return replace(demand, corrections=tuple(await tx.store.corrections(demand_id)))


async def list_demands(
    uow: UnitOfWork[Store],
    principal: Principal,
    station_id: str | None,
    status: str | None,
    since: date | None,
    until: date | None,
    limit: int,
    offset: int,
) -> list[Demand]:
    """A page of the demands in the caller's scope (or one station of it): each names its contact, so the list is
    logged with every demand it showed (one line per station)."""
    return await _listed(uow, principal, "demand.list", station_id, status, since, until, limit, offset)


# The most demands one ledger export holds (a year of a busy district); the export's access-log lines name each.
LEDGER_MAX = 10_000


async def ledger(
    uow: UnitOfWork[Store], principal: Principal, station_id: str | None, since: date | None, until: date | None
) -> list[Demand]:
    """The demands a ledger export (台账, CSV or Excel) holds: every contact in it, so logged as one export per
    station with every demand in it."""
    return await _listed(uow, principal, "ledger.export", station_id, None, since, until, LEDGER_MAX, 0)


async def _listed(
    uow: UnitOfWork[Store],
    principal: Principal,
    purpose: str,
    station_id: str | None,
    status: str | None,
    since: date | None,
    until: date | None,
    limit: int,
    offset: int,
) -> list[Demand]:
    async with uow.begin(principal) as tx:
        scope = await tx.scope(station_id)
        demands = await tx.store.list_in_scope(scope, status, since, until, limit, offset)
        await log_read(tx, purpose, "demand", scope, [(d.station_id, str(d.demand_id)) for d in demands])
        return demands


async def _notice(store: Store, demand: Demand, status_url: str | None) -> Notice:
    station = await store.station(demand.station_id)
    return Notice(
        station_name=station.name,
        station_address=station.address,
        station_phone=station.phone,
        tracking_no=demand.printed_tracking_no,  # printed with the station's code (unique across the city)
        enterprise_name=demand.enterprise_name,
        credit_code=demand.credit_code,
        contact_name=demand.contact_name,
        submitted_at=demand.submitted_at.astimezone(CHINA),
        first_responder=demand.first_responder,
        channel_label=demand.channel.label,
        items=tuple(
            NoticeItem(
                label=i.label,
                category_label=next(c.label for c in demand.categories if c.code == i.category),
                time_limit_days=i.time_limit_days,
                materials_needed=i.materials_needed,
                remarks=i.remarks,
            )
            for i in demand.items
        ),
        time_limit_days=demand.time_limit_days,
        expected_on=demand.expected_on,
        status_url=status_url,
        complaint_channels=COMPLAINT_CHANNELS,
        green_channel_reason=(
            f"{demand.green_channel.label}：{demand.green_channel_reason}" if demand.green_channel else None
        ),
        reissued_at=demand.corrected_at.astimezone(CHINA) if demand.corrected_at else None,
    )


async def notice(uow: UnitOfWork[Store], principal: Principal, demand_id: UUID, links: StatusLinks) -> Notice:
    """The acceptance notice staff print (as a page or a PDF): it names the contact, so the read is logged."""
    async with uow.begin(principal) as tx:
        demand = await tx.store.get_in_scope(demand_id, principal.db_scope)
        if demand is None:
            raise NotFound("未找到该需求", "demand not found")
        await log_read(tx, "notice.read", "demand", principal.db_scope, [(demand.station_id, str(demand_id))])
        return await _notice(tx.store, demand, links.url(links.token(demand.demand_id)))


def status_caller(token: str) -> str:
    """Whose Idempotency-Keys a request through a status link uses: the link's own (its hash, never the token)."""
    return f"status-link:{_digest(token)}"


async def by_status_token(store: Store, token: str, *, for_update: bool = False) -> Demand:
    """The one demand a status link reaches, with what the enterprise is told of its clock; unknown or expired: 404."""
    link = await store.status_link(_digest(token))
    if link is None or link["expires_at"] <= utcnow():
        raise NotFound("查询链接无效或已过期", "status link is unknown or expired")
    demand = await store.get(link["demand_id"], for_update=for_update)
    pauses, extensions = await store.clock(demand.demand_id)
    return replace(demand, pauses=pauses, extensions=extensions)


async def status_by_token(uow: UnitOfWork[Store], token: str) -> tuple[Demand, Station]:
    # The token is the enterprise's only authority and reaches exactly one demand.
    async with uow.begin() as tx:
        demand = await by_status_token(tx.store, token)
        return demand, await tx.store.station(demand.station_id)


async def notice_by_token(uow: UnitOfWork[Store], token: str, links: StatusLinks) -> Notice:
    async with uow.begin() as tx:
        demand = await by_status_token(tx.store, token)
        return await _notice(tx.store, demand, links.url(token))


async def _known(tx: Tx[Store], event) -> Demand:
    demand = await tx.store.get(event.demand_id, for_update=True)
    if demand is None:
        raise LookupError(f"demand {event.demand_id} unknown to intake")  # retried until it is visible
    return demand


async def record_progress(tx: Tx[Store], event: Resolved | Rated, *, steps: StepTimes | None = None) -> None:
    """The progress the enterprise's status link shows; events come in any order, progress only moves forward. With
    `steps`, the status page's moment of the event (public/usecases.py), saved in the same statement."""
    demand = domain.advance(await _known(tx, event), _PROGRESS_STAGES[type(event)], event.round)
    await tx.store.save_progress(domain.record_round(demand, event.round), steps)


async def record_assigned(tx: Tx[Store], event: Assigned, *, steps: StepTimes | None = None) -> None:
    """派单, 改派 (a higher assignment_no) or 转办: the enterprise is told who handles it now. With `steps`, as
    record_progress."""
    await tx.store.save_progress(domain.assign(await _known(tx, event), event), steps)


async def record_returned(tx: Tx[Store], event: AssignmentReturned) -> None:
    """退单: the enterprise is told the station is matching another assignee, until a later assignment is seen."""
    await tx.store.save_progress(domain.give_back(await _known(tx, event), event))


async def record_closed(tx: Tx[Store], event: Closing) -> None:
    """Refused (否定备案) or merged (并单) by the station head: the demand has ended, the enterprise is told why."""
    demand = await _known(tx, event)
    station = None
    if isinstance(event, DemandMerged):  # merged within the head's scope: maybe into a station below it
        original = await tx.store.get(event.merged_into)
        station = original.station_id if original else None
    await tx.store.save_progress(domain.close(demand, event, station))


async def record_paused(tx: Tx[Store], event: CasePaused) -> None:
    """挂起: the enterprise is told the clock stands still and why (行政许可法 §45 pattern), not who paused it."""
    demand = await _known(tx, event)
    pause = domain.Pause(
        pause_id=event.pause_id,
        assignment_no=event.assignment_no,
        reason_kind=event.reason_kind.value,
        reason=event.reason,
        paused_at=event.paused_at,
    )
    await tx.store.record_pause(demand, pause)


async def record_resumed(tx: Tx[Store], event: CaseResumed) -> None:
    """恢复计时: the enterprise is told the date moved; before or after its pause, the same row is filled in."""
    demand = await _known(tx, event)
    await tx.store.record_resumption(
        demand, event.pause_id, event.resumed_at, event.paused_working_days, event.handling_due_on
    )


async def record_extension(tx: Tx[Store], event: ExtensionDecided) -> None:
    """延期: an approved one gives the enterprise its new date and the reason; a refused one changes nothing for it."""
    demand = await _known(tx, event)
    if event.approved:
        extension = domain.Extension(
            extension_id=event.extension_id,
            assignment_no=event.assignment_no,
            reason=event.reason,
            due_on=event.due_on,
            # The deadline the approval left in force (a pause since the request moved it), else the date asked for.
            new_due_on=event.handling_due_on or event.new_due_on,
            decided_at=event.decided_at,
        )
        await tx.store.add_extension(demand, extension)


async def record_reopened(tx: Tx[Store], event: DemandReopened) -> None:
    """重办: the enterprise is told its demand is handled again, in which round and by when (not why or by whom)."""
    await tx.store.save_progress(domain.reopen(await _known(tx, event), event))


async def record_verified(tx: Tx[Store], event: RatingVerified) -> None:
    """核实 of a 不满意 rating: unfounded or unreachable, the enterprise is told it was verified and the demand will be
    archived; founded, that it will be handled again (the reopening brings the deadline)."""
    await tx.store.save_progress(domain.verify(await _known(tx, event), event))


async def record_archived(tx: Tx[Store], event: Archived) -> None:
    await tx.store.save_progress(domain.archive(await _known(tx, event), event))
