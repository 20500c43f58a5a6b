"""Intake use cases: one unit of work each.

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
from shared.contracts import Archived, Assigned, Channel, GreenChannel, Rated, Resolved, StationRegistered, utcnow
from shared.db.uow import Tx, UnitOfWork
from shared.errors import DomainError, Forbidden, Invalid, NotFound
from shared.validation import credit_code_flag

from . import domain
from .domain import CatalogueEntry, Demand, EnterpriseDossier, Override, Station
from .notice import Notice, NoticeItem
from .store import Store

COMPLAINT_CHANNELS = (
    "向本服务站站长当面或电话反映",
    "向上级市场监督管理部门书面投诉",
    "拨打 12345 政务服务便民热线或 12315 市场监管投诉举报热线",
)
# Registry writes take turns, so each announcement's ancestors are those of the registry as committed.
_REGISTRY_LOCK = "intake.station-registry"
_PROGRESS_STAGES = {Assigned: "assigned", Resolved: "resolved", Rated: "rated"}


class IdempotencyConflict(DomainError):
    status = 409
    code = "idempotency_conflict"


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


async def _entries(store: Store, station_id: str) -> dict[str, CatalogueEntry]:
    items, overrides, _ = await store.catalogue()
    labels = {c.code: c.label for c in (await store.categories()).values()}
    return {i.item_code: domain.resolve_entry(i, labels[i.category], overrides, station_id) for i in items}


async def submit_demand(
    uow: UnitOfWork[Store], principal: Principal | None, form: DemandForm, links: StatusLinks, *,
    idempotency_key: str | None = None, correlation_id: UUID | None = None,
) -> tuple[Demand, str]:  # fmt: skip
    """Registers a demand; returns it and the enterprise's status token.

    `principal` is None for the public online channel, whose station comes from the URL.
    """
    if principal is not None and form.station_id != principal.station:
        raise Forbidden("只能为本服务站登记需求", "a demand can be registered only for your own station")
    submitted_at = utcnow()
    async with uow.begin(principal or SYSTEM) as tx:
        store = tx.store
        if idempotency_key:
            # Concurrent retries of one submission take turns, so the second finds the first's result.
            await store.lock_idempotency_key(form.station_id, idempotency_key)
            earlier = await store.idempotent_result(form.station_id, idempotency_key)
            if earlier is not None:
                if earlier["request_sha256"] != form.digest():
                    raise IdempotencyConflict(
                        "该幂等键已用于另一份不同的登记", "this Idempotency-Key was used for a different request"
                    )
                demand = await store.get(earlier["demand_id"])
                return demand, links.token(demand.demand_id)
        if await store.station(form.station_id) is None:
            raise Invalid("服务站未登记", "station is not registered", field="station_id")
        if form.visit_id and await store.visit(form.station_id, form.visit_id) is None:
            raise Invalid("未找到本站的这次走访记录", "no such visit at this station", field="visit_id")
        entries = await _entries(store, form.station_id)
        items = domain.pick_items([(i.code, i.remarks, i.materials_received) for i in form.items], entries)
        labels = {c.code: c.label for c in (await store.categories()).values()}
        duplicate = await store.open_duplicate(form.station_id, form.credit_code, [i.item_code for i in items])
        serial = await store.next_serial(form.station_id, domain.numbering_year(submitted_at))
        demand = domain.new_demand(
            demand_id=uuid4(), station_id=form.station_id, serial=serial, submitted_at=submitted_at,
            received_at=form.received_at, enterprise_name=form.enterprise_name, credit_code=form.credit_code,
            credit_code_flag=credit_code_flag(form.credit_code), contact_name=form.contact_name,
            contact_phone=form.contact_phone, items=items, category_labels=labels, description=form.description,
            channel=form.channel, first_responder=form.first_responder, first_responder_id=form.first_responder_id,
            green_channel=form.green_channel,
            green_channel_reason=form.green_channel_reason, details=form.details, visit_id=form.visit_id,
            possible_duplicate_of=duplicate, correlation_id=correlation_id or uuid4(),
            workday_overrides=await store.workday_overrides(),
        )  # fmt: skip
        await store.insert(demand)
        await store.ensure_enterprise(demand)
        token = links.token(demand.demand_id)
        await store.add_status_link(_digest(token), demand, submitted_at + timedelta(days=links.days))
        if idempotency_key:
            await store.remember_idempotent(form.station_id, idempotency_key, form.digest(), demand.demand_id)
        await tx.publish(domain.submitted_event(demand))
    return demand, token


async def get_demand(uow: UnitOfWork[Store], principal: Principal, demand_id: UUID) -> Demand:
    async with uow.begin(principal) as tx:
        demand = await tx.store.get_in_scope(demand_id, principal.db_scope)
    if demand is None:
        raise NotFound("未找到该需求", "demand not found")
    return demand


async def list_demands(
    uow: UnitOfWork[Store], principal: Principal, station_id: str | None, status: str | None,
    since: date | None, until: date | None, limit: int, offset: int,
) -> list[Demand]:  # fmt: skip
    async with uow.begin(principal) as tx:
        scope = await tx.scope(station_id)
        return await tx.store.list_in_scope(scope, status, since, until, limit, offset)


async def _notice(store: Store, demand: Demand, status_url: str | None) -> Notice:
    station = await store.station(demand.station_id)
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


async def notice(uow: UnitOfWork[Store], principal: Principal, demand_id: UUID, links: StatusLinks) -> Notice:
    async with uow.begin(principal) as tx:
        demand = await tx.store.get_in_scope(demand_id, principal.db_scope)
        if demand is None:
            raise NotFound("未找到该需求", "demand not found")
        return await _notice(tx.store, demand, links.url(links.token(demand.demand_id)))


async def _by_status_token(store: Store, token: str) -> Demand:
    link = await store.status_link(_digest(token))
    if link is None or link["expires_at"] <= utcnow():
        raise NotFound("查询链接无效或已过期", "status link is unknown or expired")
    return await store.get(link["demand_id"])


async def status_by_token(uow: UnitOfWork[Store], token: str) -> tuple[Demand, Station]:
    # The token is the enterprise's only authority and reaches exactly one demand.
    async with uow.begin() as tx:
        demand = await _by_status_token(tx.store, token)
        return demand, await tx.store.station(demand.station_id)


async def notice_by_token(uow: UnitOfWork[Store], token: str, links: StatusLinks) -> Notice:
    async with uow.begin() as tx:
        demand = await _by_status_token(tx.store, token)
        return await _notice(tx.store, demand, links.url(token))


async def record_progress(tx: Tx[Store], event: Assigned | Resolved | Rated) -> None:
    """The progress the enterprise's status link shows; events come in any order, progress only moves forward."""
    demand = await tx.store.get(event.demand_id, for_update=True)
    if demand is None:
        raise LookupError(f"demand {event.demand_id} unknown to intake")  # retried until it is visible
    await tx.store.save_progress(domain.advance(demand, _PROGRESS_STAGES[type(event)]))


async def record_archived(tx: Tx[Store], event: Archived) -> None:
    demand = await tx.store.get(event.demand_id, for_update=True)
    if demand is None:
        raise LookupError(f"archived demand {event.demand_id} unknown to intake")
    await tx.store.save_progress(domain.archive(demand, event))


# --- catalogue ----------------------------------------------------------------------------------
# Reference data, not station-scoped: read by anyone, written by operations in the service's own scope.

async def list_categories(uow: UnitOfWork[Store]) -> list[domain.Category]:
    async with uow.begin() as tx:
        return list((await tx.store.categories()).values())


async def catalogue(uow: UnitOfWork[Store], station_id: str | None) -> list[CatalogueEntry]:
    """The catalogue as it applies at a station (its overrides), or the city-independent base."""
    async with uow.begin() as tx:
        items, overrides, order = await tx.store.catalogue()
        labels = {c.code: c.label for c in (await tx.store.categories()).values()}
    target = station_id or ""
    entries = [domain.resolve_entry(i, labels[i.category], overrides if target else [], target) for i in items]
    return sorted(entries, key=lambda e: order[e.item.item_code])


async def save_item(uow: UnitOfWork[Store], principal: Principal, item_code: str, **changes) -> CatalogueEntry:
    """A new version of a catalogue item (or its first); demands already submitted keep theirs."""
    async with uow.begin() as tx:
        categories = await tx.store.categories()
        if changes["category"] not in categories:
            raise Invalid("未知的服务类别", "unknown category", field="category")
        item = domain.new_item_version(await tx.store.latest_item(item_code), item_code=item_code, **changes)
        await tx.store.add_item(item, principal.name)
    return domain.resolve_entry(item, categories[item.category].label, [], "")


async def save_override(
    uow: UnitOfWork[Store], principal: Principal, scope: str, item_code: str, time_limit_days: int | None,
    materials: list[str] | None,
) -> Override:  # fmt: skip
    async with uow.begin() as tx:
        item = await tx.store.latest_item(item_code)
        if item is None:
            raise NotFound("未找到该服务项目", "catalogue item not found")
        if time_limit_days is not None:
            domain.check_commitment(time_limit_days, item.legal_limit_days)
        override = Override(
            scope=scope, item_code=item_code, version=await tx.store.next_override_version(scope, item_code),
            time_limit_days=time_limit_days, materials=tuple(materials) if materials is not None else None,
        )  # fmt: skip
        await tx.store.add_override(override, principal.name)
    return override


async def save_workday(uow: UnitOfWork[Store], day: date, is_workday: bool, note: str) -> None:
    async with uow.begin() as tx:
        await tx.store.save_workday(day, is_workday, note)


# --- enterprises and visits ---------------------------------------------------------------------

async def save_enterprise(
    uow: UnitOfWork[Store], principal: Principal, dossier: EnterpriseDossier
) -> EnterpriseDossier:
    dossier = replace(dossier, station_id=principal.station, credit_code_flag=credit_code_flag(dossier.credit_code))
    domain.check_park(dossier)
    async with uow.begin(principal) as tx:
        await tx.store.save_enterprise(dossier)
    return dossier


async def get_enterprise(uow: UnitOfWork[Store], principal: Principal, credit_code: str) -> EnterpriseDossier:
    async with uow.begin(principal) as tx:
        dossier = await tx.store.enterprise(principal.db_scope, credit_code)
    if dossier is None:
        raise NotFound("未找到该企业档案", "enterprise not found")
    return dossier


async def search_enterprises(uow: UnitOfWork[Store], principal: Principal, **filters) -> list[EnterpriseDossier]:
    async with uow.begin(principal) as tx:
        return await tx.store.search_enterprises(principal.db_scope, **filters)


async def record_visit(uow: UnitOfWork[Store], principal: Principal, **visit) -> dict:
    record = {**visit, "visit_id": uuid4(), "station_id": principal.station, "recorded_by": principal.name}
    async with uow.begin(principal) as tx:
        await tx.store.add_visit(record)
    return record


async def get_visit(uow: UnitOfWork[Store], principal: Principal, visit_id: UUID) -> tuple[dict, list]:
    async with uow.begin(principal) as tx:
        visit = await tx.store.visit(principal.db_scope, visit_id)
        if visit is None:
            raise NotFound("未找到该走访记录", "visit not found")
        return dict(visit), [dict(r) for r in await tx.store.visit_demands(visit_id)]


async def list_visits(uow: UnitOfWork[Store], principal: Principal, limit: int, offset: int) -> list[dict]:
    async with uow.begin(principal) as tx:
        return [dict(r) for r in await tx.store.visits(principal.db_scope, limit, offset)]


# --- stations -----------------------------------------------------------------------------------
# Intake owns the registry. Every change is announced (StationRegistered, through the outbox) in the
# transaction that makes it, so each service's copy of the tree, and the station scope that follows
# it, catches up; intake records the same event in its own copy at once.

async def list_stations(uow: UnitOfWork[Store], under: str | None) -> list[Station]:
    async with uow.begin() as tx:
        return await tx.store.stations(under)


async def get_station(uow: UnitOfWork[Store], station_id: str) -> Station:
    async with uow.begin() as tx:
        station = await tx.store.station(station_id)
    if station is None:
        raise NotFound("未找到该服务站", "station not found")
    return station


async def save_station(uow: UnitOfWork[Store], station: Station, *, correlation_id: UUID | None = None) -> Station:
    """Registry upkeep by operations (admin); the registry is not station-scoped data.

    A station that moves takes its subtree along: every station below it is announced again
    with its new ancestors.
    """
    async with uow.begin(lock=_REGISTRY_LOCK) as tx:
        before = await tx.store.station(station.station_id)
        parent = await tx.store.station(station.parent_id) if station.parent_id else None
        parent_ancestors = await tx.store.ancestors(parent.station_id) if parent else []
        shallowest_child = await tx.store.shallowest_child_level(station.station_id)
        domain.check_station_placement(station, parent, parent_ancestors, shallowest_child)
        await tx.store.save_station(station)
        [announced] = await _announce(tx, [station.station_id], correlation_id or uuid4())
        if before is not None and before.parent_id != station.parent_id:
            below = await tx.store.descendants(station.station_id)
            await _announce(tx, below, announced.correlation_id, causation_id=announced.event_id)
    return station


async def announce_stations(uow: UnitOfWork[Store]) -> None:
    """On start: announce every station never announced (the seeded ones, say), once whatever replicas start.

    The registry lock makes replicas take turns; the second finds nothing left to announce.
    """
    async with uow.begin(lock=_REGISTRY_LOCK) as tx:
        pending = await tx.store.unannounced()
        if pending:
            await _announce(tx, pending, uuid4())


async def _announce(
    tx: Tx[Store], station_ids: list[str], correlation_id: UUID, *, causation_id: UUID | None = None
) -> list[StationRegistered]:
    """StationRegistered for each station with its ancestors as the registry has them now, parents first."""
    events = []
    for station, ancestors in await tx.store.with_ancestors(station_ids):
        event = domain.station_registered(station, ancestors, correlation_id=correlation_id, causation_id=causation_id)
        await tx.publish(event)
        await tx.store.record_tree(event)
        events.append(event)
    await tx.store.mark_announced(station_ids, utcnow())
    return events
