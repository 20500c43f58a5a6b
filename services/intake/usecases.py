"""Intake use cases: one transaction each."""

from dataclasses import dataclass
from uuid import UUID, uuid4

from shared.auth import Principal, narrow
from shared.calendar import CHINA
from shared.contracts import Archived, Channel, utcnow
from shared.errors import Forbidden, Invalid, NotFound
from shared.messaging import inbox, outbox
from shared.runtime import ServiceRuntime

from . import domain, store
from .domain import Category, Demand, Station

CONSUMER = "intake"


@dataclass(frozen=True)
class DemandForm:
    station_id: str
    enterprise_name: str
    credit_code: str
    contact_name: str
    contact_phone: str
    categories: list[str]
    description: str
    channel: Channel
    first_responder: str


async def submit_demand(
    rt: ServiceRuntime, principal: Principal, form: DemandForm, correlation_id: UUID | None = None
) -> Demand:
    if form.station_id != principal.station:
        raise Forbidden("只能为本服务站登记需求", "a demand can be registered only for your own station")
    submitted_at = utcnow().astimezone(CHINA)
    async with rt.transaction(principal) as conn:
        if await store.station(conn, form.station_id) is None:
            raise Invalid("服务站未登记", "station is not registered", field="station_id")
        chosen = domain.pick_categories(form.categories, await store.categories(conn))
        serial = await store.next_serial(conn, form.station_id, submitted_at.year)
        demand = domain.new_demand(
            demand_id=uuid4(),
            station_id=form.station_id,
            serial=serial,
            submitted_at=submitted_at,
            enterprise_name=form.enterprise_name,
            credit_code=form.credit_code,
            contact_name=form.contact_name,
            contact_phone=form.contact_phone,
            categories=chosen,
            description=form.description,
            channel=form.channel,
            first_responder=form.first_responder,
            correlation_id=correlation_id or uuid4(),
        )
        await store.insert(conn, demand)
        await outbox.add(conn, domain.submitted_event(demand))
    rt.counters.submitted.labels(demand.station_id, demand.channel.value).inc()
    return demand


async def get_demand(rt: ServiceRuntime, principal: Principal, demand_id: UUID) -> Demand:
    async with rt.transaction(principal) as conn:
        demand = await store.get_in_scope(conn, demand_id, principal.db_scope)
    if demand is None:
        raise NotFound("未找到该需求", "demand not found")
    return demand


async def list_demands(
    rt: ServiceRuntime, principal: Principal, station_id: str | None, status: str | None, limit: int, offset: int
) -> list[Demand]:
    scope = narrow(principal, station_id)
    async with rt.transaction(principal) as conn:
        return await store.list_in_scope(conn, scope, status, limit, offset)


async def list_categories(rt: ServiceRuntime) -> list[Category]:
    async with rt.transaction() as conn:
        return list((await store.categories(conn)).values())


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


async def record_archived(rt: ServiceRuntime, event: Archived) -> None:
    async with rt.transaction() as conn:
        if not await inbox.claim(conn, CONSUMER, event.event_id):
            return
        demand = await store.get(conn, event.demand_id, for_update=True)
        if demand is None:
            # Archived implies a submission we must have stored; retry until it is visible.
            raise LookupError(f"archived demand {event.demand_id} unknown to intake")
        await store.save_archived(conn, domain.archive(demand, event))


class Counters:
    """Business metrics of intake, on the service's registry."""

    def __init__(self, rt: ServiceRuntime) -> None:
        self.submitted = rt.metrics.counter(
            "qs_demands_submitted_total", "Demands registered, by station and channel", ["station_id", "channel"]
        )
