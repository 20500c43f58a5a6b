"""Intake use cases: one transaction each."""

import hashlib
import hmac
import json
from base64 import urlsafe_b64encode
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from uuid import UUID, uuid4

from shared.auth import Principal, narrow
from shared.calendar import CHINA
from shared.contracts import Archived, Assigned, Channel, Event, GreenChannel, Rated, Resolved, utcnow
from shared.errors import DomainError, Forbidden, Invalid, NotFound
from shared.messaging import inbox, outbox
from shared.runtime import ServiceRuntime
from shared.validation import credit_code_flag

from . import domain, store
from .domain import CatalogueEntry, Demand, EnterpriseDossier, Override, Station
from .notice import Notice, NoticeItem

CONSUMER = "intake"
COMPLAINT_CHANNELS = (
    "向本服务站站长当面或电话反映",
    "向上级市场监督管理部门书面投诉",
    "拨打 12345 政务服务便民热线或 12315 市场监管投诉举报热线",
)


class Counters:
    """Business metrics of intake, on the service's registry."""

    def __init__(self, rt: ServiceRuntime) -> None:
        self.submitted = rt.metrics.counter(
            "qs_demands_submitted_total", "Demands registered, by station and channel", ["station_id", "channel"]
        )


class IdempotencyConflict(DomainError):
    status = 409
    code = "idempotency_conflict"


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


def status_token(rt: ServiceRuntime, demand_id: UUID) -> str:
    """The enterprise's private status link token: recomputable (a retried submission gets the same link)
    and unguessable without the service's secret."""
    mac = hmac.new(rt.settings.status_link_secret.encode(), demand_id.bytes, hashlib.sha256).digest()
    return urlsafe_b64encode(mac).rstrip(b"=").decode()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _entries(conn, station_id: str) -> dict[str, CatalogueEntry]:
    items, overrides, _ = await store.catalogue(conn)
    labels = {c.code: c.label for c in (await store.categories(conn)).values()}
    return {i.item_code: domain.resolve_entry(i, labels[i.category], overrides, station_id) for i in items}


async def submit_demand(
    rt: ServiceRuntime, principal: Principal | None, form: DemandForm, *, idempotency_key: str | None = None,
    correlation_id: UUID | None = None,
) -> tuple[Demand, str]:  # fmt: skip
    """Registers a demand; returns it and the enterprise's status token.

    `principal` is None for the public online channel, whose station comes from the URL.
    """
    if principal is not None and form.station_id != principal.station:
        raise Forbidden("只能为本服务站登记需求", "a demand can be registered only for your own station")
    submitted_at = utcnow()
    async with rt.transaction(principal) if principal else rt.transaction() as conn:
        if idempotency_key:
            # Concurrent retries of one submission take turns, so the second finds the first's result.
            await store.lock_idempotency_key(conn, form.station_id, idempotency_key)
            earlier = await store.idempotent_result(conn, form.station_id, idempotency_key)
            if earlier is not None:
                if earlier["request_sha256"] != form.digest():
                    raise IdempotencyConflict(
                        "该幂等键已用于另一份不同的登记", "this Idempotency-Key was used for a different request"
                    )
                demand = await store.get(conn, earlier["demand_id"])
                return demand, status_token(rt, demand.demand_id)
        station = await store.station(conn, form.station_id)
        if station is None:
            raise Invalid("服务站未登记", "station is not registered", field="station_id")
        if form.visit_id and await store.visit(conn, form.station_id, form.visit_id) is None:
            raise Invalid("未找到本站的这次走访记录", "no such visit at this station", field="visit_id")
        entries = await _entries(conn, form.station_id)
        items = domain.pick_items([(i.code, i.remarks, i.materials_received) for i in form.items], entries)
        labels = {c.code: c.label for c in (await store.categories(conn)).values()}
        duplicate = await store.open_duplicate(conn, form.station_id, form.credit_code, [i.item_code for i in items])
        serial = await store.next_serial(conn, form.station_id, domain.numbering_year(submitted_at))
        demand = domain.new_demand(
            demand_id=uuid4(), station_id=form.station_id, serial=serial, submitted_at=submitted_at,
            received_at=form.received_at, enterprise_name=form.enterprise_name, credit_code=form.credit_code,
            credit_code_flag=credit_code_flag(form.credit_code), contact_name=form.contact_name,
            contact_phone=form.contact_phone, items=items, category_labels=labels, description=form.description,
            channel=form.channel, first_responder=form.first_responder, first_responder_id=form.first_responder_id,
            green_channel=form.green_channel,
            green_channel_reason=form.green_channel_reason, details=form.details, visit_id=form.visit_id,
            possible_duplicate_of=duplicate, correlation_id=correlation_id or uuid4(),
            workday_overrides=await store.workday_overrides(conn),
        )  # fmt: skip
        await store.insert(conn, demand)
        await store.ensure_enterprise(conn, demand)
        token = status_token(rt, demand.demand_id)
        expires = submitted_at + timedelta(days=rt.settings.status_link_days)
        await store.add_status_link(conn, _digest(token), demand, expires)
        if idempotency_key:
            await store.remember_idempotent(conn, form.station_id, idempotency_key, form.digest(), demand.demand_id)
        await outbox.add(conn, domain.submitted_event(demand))
    rt.counters.submitted.labels(demand.station_id, demand.channel.value).inc()
    return demand, token


async def get_demand(rt: ServiceRuntime, principal: Principal, demand_id: UUID) -> Demand:
    async with rt.transaction(principal) as conn:
        demand = await store.get_in_scope(conn, demand_id, principal.db_scope)
    if demand is None:
        raise NotFound("未找到该需求", "demand not found")
    return demand


async def list_demands(
    rt: ServiceRuntime, principal: Principal, station_id: str | None, status: str | None,
    since: date | None, until: date | None, limit: int, offset: int,
) -> list[Demand]:  # fmt: skip
    scope = narrow(principal, station_id)
    async with rt.transaction(principal) as conn:
        return await store.list_in_scope(conn, scope, status, since, until, limit, offset)


async def _notice(conn, demand: Demand, status_url: str | None) -> Notice:
    station = await store.station(conn, demand.station_id)
    return Notice(
        station_name=station.name, station_address=station.address, station_phone=station.phone,
        tracking_no=demand.tracking_no, enterprise_name=demand.enterprise_name, credit_code=demand.credit_code,
        contact_name=demand.contact_name, submitted_at=demand.submitted_at.astimezone(CHINA),
        first_responder=demand.first_responder, channel_label=demand.channel.label,
        items=tuple(
            NoticeItem(label=i.label, category_label=next(c.label for c in demand.categories if c.code == i.category),
                       time_limit_days=i.time_limit_days, materials_needed=i.materials_needed, remarks=i.remarks)
            for i in demand.items
        ),
        time_limit_days=demand.time_limit_days, expected_on=demand.expected_on, status_url=status_url,
        complaint_channels=COMPLAINT_CHANNELS,
        green_channel_reason=(
            f"{demand.green_channel.label}：{demand.green_channel_reason}"
            if demand.green_channel else None
        ),
    )  # fmt: skip


def status_url(rt: ServiceRuntime, token: str) -> str:
    return f"{rt.settings.public_url}/public/status/{token}"


async def notice(rt: ServiceRuntime, principal: Principal, demand_id: UUID) -> Notice:
    async with rt.transaction(principal) as conn:
        demand = await store.get_in_scope(conn, demand_id, principal.db_scope)
        if demand is None:
            raise NotFound("未找到该需求", "demand not found")
        return await _notice(conn, demand, status_url(rt, status_token(rt, demand.demand_id)))


async def _by_status_token(conn, token: str) -> Demand:
    link = await store.status_link(conn, _digest(token))
    if link is None or link["expires_at"] <= utcnow():
        raise NotFound("查询链接无效或已过期", "status link is unknown or expired")
    return await store.get(conn, link["demand_id"])


async def status_by_token(rt: ServiceRuntime, token: str) -> tuple[Demand, Station]:
    # The token is the enterprise's only authority and reaches exactly one demand.
    async with rt.transaction() as conn:
        demand = await _by_status_token(conn, token)
        return demand, await store.station(conn, demand.station_id)


async def notice_by_token(rt: ServiceRuntime, token: str) -> Notice:
    async with rt.transaction() as conn:
        demand = await _by_status_token(conn, token)
        return await _notice(conn, demand, status_url(rt, token))


async def record_progress(rt: ServiceRuntime, event: Event) -> None:
    stage = {Assigned: "assigned", Resolved: "resolved", Rated: "rated"}[type(event)]
    async with rt.demand_transaction(event.demand_id) as conn:
        if not await inbox.claim(conn, CONSUMER, event.event_id):
            return
        demand = await store.get(conn, event.demand_id, for_update=True)
        if demand is None:
            raise LookupError(f"demand {event.demand_id} unknown to intake")  # retried until it is visible
        await store.save_progress(conn, domain.advance(demand, stage))


async def record_archived(rt: ServiceRuntime, event: Archived) -> None:
    async with rt.demand_transaction(event.demand_id) as conn:
        if not await inbox.claim(conn, CONSUMER, event.event_id):
            return
        demand = await store.get(conn, event.demand_id, for_update=True)
        if demand is None:
            raise LookupError(f"archived demand {event.demand_id} unknown to intake")
        await store.save_progress(conn, domain.archive(demand, event))


# --- catalogue ----------------------------------------------------------------------------------

async def list_categories(rt: ServiceRuntime) -> list[domain.Category]:
    async with rt.transaction() as conn:
        return list((await store.categories(conn)).values())


async def catalogue(rt: ServiceRuntime, station_id: str | None) -> list[CatalogueEntry]:
    """The catalogue as it applies at a station (its overrides), or the city-independent base."""
    async with rt.transaction() as conn:
        items, overrides, order = await store.catalogue(conn)
        labels = {c.code: c.label for c in (await store.categories(conn)).values()}
    target = station_id or ""
    entries = [domain.resolve_entry(i, labels[i.category], overrides if target else [], target) for i in items]
    return sorted(entries, key=lambda e: order[e.item.item_code])


async def save_item(rt: ServiceRuntime, principal: Principal, item_code: str, **changes) -> CatalogueEntry:
    """A new version of a catalogue item (or its first); demands already submitted keep theirs."""
    async with rt.transaction() as conn:
        categories = await store.categories(conn)
        if changes["category"] not in categories:
            raise Invalid("未知的服务类别", "unknown category", field="category")
        item = domain.new_item_version(await store.latest_item(conn, item_code), item_code=item_code, **changes)
        await store.add_item(conn, item, principal.name)
    return domain.resolve_entry(item, categories[item.category].label, [], "")


async def save_override(
    rt: ServiceRuntime, principal: Principal, scope: str, item_code: str, time_limit_days: int | None,
    materials: list[str] | None,
) -> Override:  # fmt: skip
    async with rt.transaction() as conn:
        item = await store.latest_item(conn, item_code)
        if item is None:
            raise NotFound("未找到该服务项目", "catalogue item not found")
        if time_limit_days is not None:
            domain.check_commitment(time_limit_days, item.legal_limit_days)
        override = Override(
            scope=scope, item_code=item_code, version=await store.next_override_version(conn, scope, item_code),
            time_limit_days=time_limit_days, materials=tuple(materials) if materials is not None else None,
        )  # fmt: skip
        await store.add_override(conn, override, principal.name)
    return override


async def save_workday(rt: ServiceRuntime, day: date, is_workday: bool, note: str) -> None:
    async with rt.transaction() as conn:
        await store.save_workday(conn, day, is_workday, note)


# --- enterprises and visits ---------------------------------------------------------------------

async def save_enterprise(rt: ServiceRuntime, principal: Principal, dossier: EnterpriseDossier) -> EnterpriseDossier:
    dossier = replace(dossier, station_id=principal.station, credit_code_flag=credit_code_flag(dossier.credit_code))
    domain.check_park(dossier)
    async with rt.transaction(principal) as conn:
        await store.save_enterprise(conn, dossier)
    return dossier


async def get_enterprise(rt: ServiceRuntime, principal: Principal, credit_code: str) -> EnterpriseDossier:
    async with rt.transaction(principal) as conn:
        dossier = await store.enterprise(conn, principal.db_scope, credit_code)
    if dossier is None:
        raise NotFound("未找到该企业档案", "enterprise not found")
    return dossier


async def search_enterprises(rt: ServiceRuntime, principal: Principal, **filters) -> list[EnterpriseDossier]:
    async with rt.transaction(principal) as conn:
        return await store.search_enterprises(conn, principal.db_scope, **filters)


async def record_visit(rt: ServiceRuntime, principal: Principal, **visit) -> dict:
    record = {**visit, "visit_id": uuid4(), "station_id": principal.station, "recorded_by": principal.name}
    async with rt.transaction(principal) as conn:
        await store.add_visit(conn, record)
    return record


async def get_visit(rt: ServiceRuntime, principal: Principal, visit_id: UUID) -> tuple[dict, list]:
    async with rt.transaction(principal) as conn:
        visit = await store.visit(conn, principal.db_scope, visit_id)
        if visit is None:
            raise NotFound("未找到该走访记录", "visit not found")
        return dict(visit), [dict(r) for r in await store.visit_demands(conn, visit_id)]


async def list_visits(rt: ServiceRuntime, principal: Principal, limit: int, offset: int) -> list[dict]:
    async with rt.transaction(principal) as conn:
        return [dict(r) for r in await store.visits(conn, principal.db_scope, limit, offset)]


# --- stations -----------------------------------------------------------------------------------

async def list_stations(rt: ServiceRuntime, under: str | None) -> list[Station]:
    async with rt.transaction() as conn:
        return await store.stations(conn, under)


async def get_station(rt: ServiceRuntime, station_id: str) -> Station:
    async with rt.transaction() as conn:
        station = await store.station(conn, station_id)
    if station is None:
        raise NotFound("未找到该服务站", "station not found")
    return station


async def save_station(rt: ServiceRuntime, station: Station) -> Station:
    """Registry upkeep by operations (admin); the registry is not station-scoped data."""
    async with rt.transaction() as conn:
        parent = await store.station(conn, station.parent_id) if station.parent_id else None
        domain.check_station_placement(station, parent)
        await store.save_station(conn, station)
    return station
