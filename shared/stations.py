"""Every service's copy of the station registry's tree (intake owns the registry).

The tree is what station scope follows: `qs_covers(scope, station)` in SQL looks a
station's registry ancestors up here, so a head sees the service points below the
station and a district supervisor those of every station in the district.
"""

from typing import Any

from shared.contracts import StationRegistered, queue_name
from shared.messaging import EventRouter
from shared.settings import ServiceSettings

_UPSERT = """
INSERT INTO station_tree (station_id, name, level, parent_id, ancestors, updated_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (station_id) DO UPDATE
SET name = EXCLUDED.name, level = EXCLUDED.level, parent_id = EXCLUDED.parent_id,
    ancestors = EXCLUDED.ancestors, updated_at = EXCLUDED.updated_at
WHERE station_tree.updated_at <= EXCLUDED.updated_at
"""


async def record(tx: Any, event: StationRegistered) -> None:
    """The latest registration wins, whatever order they arrive in."""
    await tx.conn.execute(
        _UPSERT, event.station_id, event.name, event.level, event.parent_id, event.ancestors, event.occurred_at
    )


def subscriber(uow: Any, settings: ServiceSettings) -> EventRouter:
    """Every service keeps the tree from its own queue `<service>.station.registered`; the runtime includes this."""
    router = EventRouter(uow.consumer, delivery_limit=settings.delivery_limit)

    @router.consumes(StationRegistered, queue=queue_name(uow.consumer, StationRegistered))
    async def on_station(event: StationRegistered) -> None:
        await uow.handle(event, record)

    return router
