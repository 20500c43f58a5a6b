"""Station registry use cases: one unit of work each.

Intake owns the registry. Every change is announced (StationRegistered, through the outbox) in the
transaction that makes it, so each service's copy of the tree, and the station scope that follows
it, catches up; intake records the same event in its own copy at once.
"""

from datetime import timedelta
from uuid import UUID, uuid4

from shared.contracts import StationRegistered, utcnow
from shared.db.uow import Tx, UnitOfWork
from shared.errors import NotFound

from ..settings import Settings
from ..store import Store
from . import domain
from .domain import Station

# Registry writes take turns, so each announcement's ancestors are those of the registry as committed.
_REGISTRY_LOCK = "intake.station-registry"


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


async def announce_stations(uow: UnitOfWork[Store], settings: Settings) -> None:
    """On start and then periodically: announce every station never announced (the seeded ones, say) or not
    announced for `registry_announce_minutes`, so a consumer whose queue did not exist yet catches up.

    The registry lock makes replicas take turns; the second finds nothing due.
    """
    stale = utcnow() - timedelta(minutes=settings.registry_announce_minutes)
    async with uow.begin(lock=_REGISTRY_LOCK) as tx:
        due = await tx.store.due_for_announcement(stale)
        if due:
            await _announce(tx, due, uuid4())


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
