"""Archive SQL. The store is bound to one transaction's connection; the unit of work owns the transaction."""

from uuid import UUID

import asyncpg

from shared.contracts import Event
from shared.observability.metrics import StoreCounter

from .domain import Dossier, LoggedEvent, Supplement

_LOG = """
INSERT INTO event_log (event_id, demand_id, station_id, routing_key, occurred_at, payload)
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING
"""
_EVENTS = "SELECT event_id, routing_key, occurred_at, payload FROM event_log WHERE demand_id = $1"
_NEXT_SERIAL = """
INSERT INTO archive_counters (station_id, year, last_serial) VALUES ($1, $2, 1)
ON CONFLICT (station_id, year) DO UPDATE SET last_serial = archive_counters.last_serial + 1
RETURNING last_serial
"""
_DOSSIER_COLUMNS = (
    "demand_id, station_id, tracking_no, archive_no, sealed_at, retain_until, content, content_sha256, outcome"
)
_INSERT_DOSSIER = f"INSERT INTO dossiers ({_DOSSIER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
_GET_DOSSIER = f"SELECT {_DOSSIER_COLUMNS} FROM dossiers WHERE demand_id = $1"
_GET_IN_SCOPE = _GET_DOSSIER + " AND qs_covers($2, station_id)"
_LIST = f"""
SELECT {_DOSSIER_COLUMNS} FROM dossiers WHERE qs_covers($1, station_id)
ORDER BY sealed_at DESC LIMIT $2 OFFSET $3
"""
# The audit walks every sealed dossier in demand_id order, a page at a time.
_PAGE = f"""
SELECT {_DOSSIER_COLUMNS} FROM dossiers WHERE $1::uuid IS NULL OR demand_id > $1
ORDER BY demand_id LIMIT $2
"""
_LOG_ACCESS = "INSERT INTO access_log (demand_id, station_id, subject, role) VALUES ($1, $2, $3, $4)"

_SUPPLEMENT_COLUMNS = "demand_id, station_id, supplement_no, added_at, content, content_sha256"
_SUPPLEMENTS = f"SELECT {_SUPPLEMENT_COLUMNS} FROM dossier_supplements WHERE demand_id = $1 ORDER BY supplement_no"
_ADD_SUPPLEMENT = f"INSERT INTO dossier_supplements ({_SUPPLEMENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"

COUNTERS = (
    StoreCounter(
        "qs_dossiers_sealed_total",
        "Dossiers sealed, by station and how the demand ended",
        ("station_id", "outcome"),
        "SELECT station_id, coalesce(outcome, 'unknown'), count(*) FROM dossiers GROUP BY 1, 2",
    ),
    StoreCounter(
        "qs_dossier_supplements_total",
        "Supplements attached to dossiers sealed short, by station",
        ("station_id",),
        "SELECT station_id, count(*) FROM dossier_supplements GROUP BY 1",
    ),
)


class Store:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def log_event(self, event: Event) -> None:
        await self.conn.execute(
            _LOG,
            event.event_id,
            event.demand_id,
            event.station_id,
            event.routing_key,
            event.occurred_at,
            event.model_dump(mode="json"),
        )

    async def events(self, demand_id: UUID) -> list[LoggedEvent]:
        return [LoggedEvent(**r) for r in await self.conn.fetch(_EVENTS, demand_id)]

    async def next_serial(self, station_id: str, year: int) -> int:
        return await self.conn.fetchval(_NEXT_SERIAL, station_id, year)

    async def insert_dossier(self, d: Dossier) -> None:
        await self.conn.execute(
            _INSERT_DOSSIER,
            d.demand_id,
            d.station_id,
            d.tracking_no,
            d.archive_no,
            d.sealed_at,
            d.retain_until,
            d.content,
            d.content_sha256,
            d.outcome,
        )

    async def get_dossier(self, demand_id: UUID) -> Dossier | None:
        row = await self.conn.fetchrow(_GET_DOSSIER, demand_id)
        return Dossier(**row) if row else None

    async def get_in_scope(self, demand_id: UUID, scope: str) -> Dossier | None:
        row = await self.conn.fetchrow(_GET_IN_SCOPE, demand_id, scope)
        return Dossier(**row) if row else None

    async def list_in_scope(self, scope: str, limit: int, offset: int) -> list[Dossier]:
        return [Dossier(**r) for r in await self.conn.fetch(_LIST, scope, limit, offset)]

    async def dossiers_after(self, demand_id: UUID | None, limit: int) -> list[Dossier]:
        return [Dossier(**r) for r in await self.conn.fetch(_PAGE, demand_id, limit)]

    async def log_access(self, d: Dossier, subject: str, role: str) -> None:
        await self.conn.execute(_LOG_ACCESS, d.demand_id, d.station_id, subject, role)

    async def supplements(self, demand_id: UUID) -> list[Supplement]:
        return [Supplement(**r) for r in await self.conn.fetch(_SUPPLEMENTS, demand_id)]

    async def add_supplement(self, s: Supplement) -> None:
        await self.conn.execute(
            _ADD_SUPPLEMENT, s.demand_id, s.station_id, s.supplement_no, s.added_at, s.content, s.content_sha256
        )
