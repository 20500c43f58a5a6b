"""Archive SQL. The store is bound to one transaction's connection; the unit of work owns the transaction."""

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

import asyncpg

from shared.calendar_corrections import CalendarCorrectionsStore
from shared.contracts import Event
from shared.observability.metrics import StoreCounter
from shared.validation import like_pattern

from .domain import Dossier, DossierSearch, Hold, Kept, LoggedEvent, Supplement
from .stationwork.store import StationWorkStore

# Logging an event is one round trip: how its demand's dossier stands (none, sealed, disposed of), the event logged
# unless the dossier was disposed of (its events went with it), and, when $7 asks and no dossier is sealed, the
# demand's whole log with the event. The statement's reads see the database as it was before its insert, so the event
# comes from the insert's RETURNING (as stored: jsonb, timestamptz), or, already logged, from the log itself.
_LOG = """
WITH dossier AS (
    SELECT disposed_at IS NOT NULL AS disposed FROM dossiers WHERE demand_id = $2
), logged AS (
    INSERT INTO event_log (event_id, demand_id, station_id, routing_key, occurred_at, payload)
    SELECT $1::uuid, $2::uuid, $3::text, $4::text, $5::timestamptz, $6::jsonb
    WHERE NOT EXISTS (SELECT FROM dossier WHERE disposed)
    ON CONFLICT (event_id) DO NOTHING
    RETURNING event_id, routing_key, occurred_at, payload
), story AS (
    SELECT event_id, routing_key, occurred_at, payload FROM logged
    UNION ALL
    SELECT event_id, routing_key, occurred_at, payload FROM event_log WHERE demand_id = $2
)
SELECT (SELECT disposed FROM dossier) AS disposed, story.*
FROM (SELECT) AS one LEFT JOIN story ON $7::boolean AND NOT EXISTS (SELECT FROM dossier)
"""
_EVENTS = "SELECT event_id, routing_key, occurred_at, payload FROM event_log WHERE demand_id = $1"
_NEXT_SERIAL = """
INSERT INTO archive_counters (station_id, year, last_serial) VALUES ($1, $2, 1)
ON CONFLICT (station_id, year) DO UPDATE SET last_serial = archive_counters.last_serial + 1
RETURNING last_serial
"""
# Sealing numbers the dossier and keeps it as long as its station says (NULL: never set), in one round trip.
_NUMBER = f"""{_NEXT_SERIAL.rstrip()},
    (SELECT years FROM retention_settings WHERE station_id = $1) AS retention_years
"""
_SEALED_COLUMNS = (
    "demand_id, station_id, tracking_no, archive_no, sealed_at, retain_until, content, content_sha256, outcome"
)
_DOSSIER_COLUMNS = f"{_SEALED_COLUMNS}, chain_no, previous_sha256, chain_sha256, disposed_at, disposal_id"
# The database links the dossier into its station's chain as it inserts it (trigger dossiers_chain, migration 0005).
_INSERT_DOSSIER = f"""
INSERT INTO dossiers ({_SEALED_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
RETURNING {_DOSSIER_COLUMNS}
"""
_GET_DOSSIER = f"SELECT {_DOSSIER_COLUMNS} FROM dossiers WHERE demand_id = $1"
# With what people ask of a sealed record: kept until when (the station's setting may have lengthened it), on hold?
_KEEPING = """, archive_retained_until(station_id, sealed_at, retain_until) AS retained_until,
    EXISTS (SELECT 1 FROM legal_holds h WHERE h.demand_id = dossiers.demand_id AND h.lifted_at IS NULL) AS on_hold"""
_GET_IN_SCOPE = f"SELECT {_DOSSIER_COLUMNS}{_KEEPING} FROM dossiers WHERE demand_id = $1 AND qs_covers($2, station_id)"
# Opening one dossier: also whether it ever had a hold or a supplement (most never do), whose lists are read only then.
_OPEN_IN_SCOPE = f"""
SELECT {_DOSSIER_COLUMNS}{_KEEPING},
    EXISTS (SELECT 1 FROM legal_holds h WHERE h.demand_id = dossiers.demand_id) AS ever_held,
    EXISTS (SELECT 1 FROM dossier_supplements s WHERE s.demand_id = dossiers.demand_id) AS supplemented
FROM dossiers WHERE demand_id = $1 AND qs_covers($2, station_id)
"""
# The catalogue, searched (domain.DossierSearch): $4 is the search word as a LIKE literal (like_pattern), or NULL; a
# tracking number by its start, stored or printed with the station's code, and, when the word is only digits (ASCII),
# by the end of its serial too (staff type the serial's tail: 000123 or 123 finds 2026-000123); the archive number,
# the enterprise's name and credit code (as sealed with the demand, kept in generated columns by migration 0008; a
# disposed dossier has only its numbers) by any part, case ignored.
# The page walks the stations the scope covers (listed_stations, shared migration 0006), each down dossiers_by_station
# for its first offset + limit dossiers, and merges them: about a page per station, however many dossiers there are.
# The scope is asked again of every row, and row-level security stands behind. What _KEEPING asks, only of the page.
_LIST = f"""
SELECT {_DOSSIER_COLUMNS}{_KEEPING}
FROM (
    SELECT {_DOSSIER_COLUMNS}
    FROM (SELECT station_id AS listed FROM listed_stations WHERE qs_covers($1, station_id)) covered
    CROSS JOIN LATERAL (
        SELECT {_DOSSIER_COLUMNS} FROM dossiers
        WHERE station_id = covered.listed AND qs_covers($1, station_id)
          AND ($4::text IS NULL
               OR tracking_no LIKE $4 || '%'
               OR (regexp_replace(station_id, '^.*/', '') || '-' || tracking_no) ILIKE $4 || '%'
               OR ($4 ~ '^[0-9]+$' AND substring(tracking_no FROM '[^-]*$') LIKE '%' || $4)
               OR archive_no ILIKE '%' || $4 || '%'
               OR enterprise_name ILIKE '%' || $4 || '%'
               OR credit_code ILIKE '%' || $4 || '%')
          AND ($5::timestamptz IS NULL OR sealed_at >= $5)
          AND ($6::timestamptz IS NULL OR sealed_at < $6)
        ORDER BY sealed_at DESC
        LIMIT $2::bigint + $3::bigint) station_page
    ORDER BY sealed_at DESC LIMIT $2 OFFSET $3) dossiers
ORDER BY sealed_at DESC
"""
# The audit walks every sealed dossier in demand_id order, a page at a time.
_PAGE = f"""
SELECT {_DOSSIER_COLUMNS} FROM dossiers WHERE $1::uuid IS NULL OR demand_id > $1
ORDER BY demand_id LIMIT $2
"""
_LOG_ACCESS = """
INSERT INTO access_log (demand_id, station_id, subject, role, subject_name, action, what, demand_ids, purpose, detail)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
"""
_ACCESS_COLUMNS = (
    "id, accessed_at, action, station_id, demand_id, subject, subject_name, role, what, demand_ids, purpose, detail"
)
_ACCESS_LOG = f"""
SELECT {_ACCESS_COLUMNS} FROM access_log
WHERE qs_covers($1, station_id)
  AND ($2::uuid IS NULL OR demand_id = $2 OR $2 = ANY(demand_ids))
  AND ($3::text IS NULL OR action = $3)
  AND ($4::timestamptz IS NULL OR accessed_at >= $4)
  AND ($5::timestamptz IS NULL OR accessed_at < $5)
ORDER BY accessed_at DESC, id DESC LIMIT $6 OFFSET $7
"""

# Retention, holds, disposal (migration 0005).
_RETENTION = "SELECT station_id, years, reason, set_by, set_at FROM retention_settings WHERE station_id = $1"
_SET_RETENTION = """
INSERT INTO retention_settings (station_id, years, reason, set_by, set_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (station_id) DO UPDATE SET years = $2, reason = $3, set_by = $4, set_at = $5
"""
_STATION_KNOWN = "SELECT EXISTS (SELECT 1 FROM station_tree WHERE station_id = $1)"
_RETAINED_UNTIL = (
    "SELECT archive_retained_until(station_id, sealed_at, retain_until) FROM dossiers WHERE demand_id = $1"
)
_HOLD_COLUMNS = "hold_id, demand_id, station_id, reason, set_by, set_at, lift_reason, lifted_by, lifted_at"
_HOLDS = f"SELECT {_HOLD_COLUMNS} FROM legal_holds WHERE demand_id = $1 ORDER BY set_at"
_ADD_HOLD = f"INSERT INTO legal_holds ({_HOLD_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL, NULL)"
_LIFT_HOLD = """
UPDATE legal_holds SET lift_reason = $2, lifted_by = $3, lifted_at = $4 WHERE hold_id = $1 AND lifted_at IS NULL
"""
# Due for disposal by the database's own China date: what the dossiers' trigger will let through.
_DISPOSABLE = f"""
SELECT {_DOSSIER_COLUMNS}, archive_retained_until(station_id, sealed_at, retain_until) AS retained_until
FROM dossiers d WHERE qs_covers($1, station_id) AND archive_disposable(d)
ORDER BY station_id, chain_no LIMIT $2
"""
_DISPOSAL_COLUMNS = "disposal_id, station_id, reason, requested_by, requested_at, items, confirmed_by, confirmed_at"
_ADD_DISPOSAL = f"INSERT INTO disposals ({_DISPOSAL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL)"
_GET_DISPOSAL = f"SELECT {_DISPOSAL_COLUMNS} FROM disposals WHERE disposal_id = $1 AND qs_covers($2, station_id)"
_LIST_DISPOSALS = f"""
SELECT {_DISPOSAL_COLUMNS} FROM disposals WHERE qs_covers($1, station_id)
ORDER BY requested_at DESC LIMIT $2 OFFSET $3
"""
_CONFIRM_DISPOSAL = "UPDATE disposals SET confirmed_by = $2, confirmed_at = $3 WHERE disposal_id = $1"
_DISPOSE = """
UPDATE dossiers SET content = NULL, disposed_at = $2, disposal_id = $3
WHERE demand_id = $1 AND archive_disposable(dossiers)
RETURNING demand_id, station_id, archive_no, tracking_no, sealed_at, content_sha256, chain_no, chain_sha256,
          archive_retained_until(station_id, sealed_at, retain_until) AS retained_until
"""
_DISPOSE_SUPPLEMENTS = "UPDATE dossier_supplements SET content = NULL WHERE demand_id = $1 AND content IS NOT NULL"
_DISPOSE_EVENTS = "DELETE FROM event_log WHERE demand_id = $1"
_RECORD_COLUMNS = (
    "demand_id, disposal_id, station_id, archive_no, tracking_no, sealed_at, retained_until, content_sha256, "
    "chain_no, chain_sha256, disposed_by, disposed_at"
)
_ADD_RECORD = (
    f"INSERT INTO disposal_records ({_RECORD_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
)
_RECORDS = f"SELECT {_RECORD_COLUMNS} FROM disposal_records WHERE disposal_id = $1 ORDER BY station_id, chain_no"

# The chain: every dossier (and supplement) of the stations in scope, station by station in chain order.
_CHAIN_STATIONS = "SELECT DISTINCT station_id FROM dossiers WHERE qs_covers($1, station_id) ORDER BY station_id"
_CHAIN = f"SELECT {_DOSSIER_COLUMNS} FROM dossiers WHERE station_id = $1 ORDER BY chain_no"
_CHAIN_SUPPLEMENTS = """
SELECT demand_id, station_id, supplement_no, added_at, content, content_sha256 FROM dossier_supplements
WHERE station_id = $1 ORDER BY demand_id, supplement_no
"""

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
    StoreCounter(
        "qs_dossiers_disposed_total",
        "Dossiers disposed of after their retention (content removed, hashes kept), by station",
        ("station_id",),
        "SELECT station_id, count(*) FROM disposal_records GROUP BY 1",
    ),
    StoreCounter(
        "qs_dossier_legal_holds",
        "Dossiers under a legal hold now, by station",
        ("station_id",),
        "SELECT station_id, count(*) FROM legal_holds WHERE lifted_at IS NULL GROUP BY 1",
        kind="gauge",
    ),
)


@dataclass(frozen=True)
class Logged:
    """What logging an event found: whether its demand's dossier is sealed (and disposed of), and the demand's log."""

    sealed: bool
    disposed: bool
    events: list[LoggedEvent]  # the whole log, this event included, when read back with no dossier sealed; else []


def _kept(row: asyncpg.Record | dict) -> Kept:
    values = dict(row)
    retained, held = values.pop("retained_until"), values.pop("on_hold")
    return Kept(dossier=Dossier(**values), retained_until=retained, on_hold=held)


class Store(StationWorkStore, CalendarCorrectionsStore):
    """The archive's store: demands' events and sealed dossiers here; a station's own work (visits, special tasks) and
    the copy of the working-day corrections in their mixins."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def log_event(self, event: Event, *, read_back: bool = False) -> Logged:
        """Log the event unless its dossier was disposed of; with `read_back`, the demand's whole log too (none once
        a dossier is sealed)."""
        rows = await self.conn.fetch(
            _LOG,
            event.event_id,
            event.demand_id,
            event.station_id,
            event.routing_key,
            event.occurred_at,
            event.model_dump(mode="json"),
            read_back,
        )
        disposed = rows[0]["disposed"]
        return Logged(
            sealed=disposed is not None,
            disposed=bool(disposed),
            events=[LoggedEvent(**{k: v for k, v in r.items() if k != "disposed"}) for r in rows if r["event_id"]],
        )

    async def events(self, demand_id: UUID) -> list[LoggedEvent]:
        return [LoggedEvent(**r) for r in await self.conn.fetch(_EVENTS, demand_id)]

    async def next_serial(self, station_id: str, year: int) -> int:
        return await self.conn.fetchval(_NEXT_SERIAL, station_id, year)

    async def number(self, station_id: str, year: int) -> tuple[int, int | None]:
        """The next archive serial of the station's year, and the years its dossiers are kept (None: never set)."""
        row = await self.conn.fetchrow(_NUMBER, station_id, year)
        return row["last_serial"], row["retention_years"]

    async def insert_dossier(self, d: Dossier) -> Dossier:
        """The dossier as inserted: linked into its station's chain by the database."""
        row = await self.conn.fetchrow(
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
        return Dossier(**row)

    async def get_dossier(self, demand_id: UUID) -> Dossier | None:
        row = await self.conn.fetchrow(_GET_DOSSIER, demand_id)
        return Dossier(**row) if row else None

    async def get_in_scope(self, demand_id: UUID, scope: str) -> Kept | None:
        row = await self.conn.fetchrow(_GET_IN_SCOPE, demand_id, scope)
        return _kept(row) if row else None

    async def open_in_scope(self, demand_id: UUID, scope: str) -> tuple[Kept, list[Supplement], list[Hold]] | None:
        """A dossier in the scope with its supplements and holds (every one, lifted too), or None."""
        row = await self.conn.fetchrow(_OPEN_IN_SCOPE, demand_id, scope)
        if row is None:
            return None
        values = dict(row)
        held, supplemented = values.pop("ever_held"), values.pop("supplemented")
        supplements = await self.supplements(demand_id) if supplemented else []
        holds = await self.holds(demand_id) if held else []
        return _kept(values), supplements, holds

    async def list_in_scope(
        self, scope: str, limit: int, offset: int, search: DossierSearch = DossierSearch()
    ) -> list[Kept]:
        q = like_pattern(search.q) if search.q else None
        rows = await self.conn.fetch(_LIST, scope, limit, offset, q, search.since, search.until)
        return [_kept(r) for r in rows]

    async def dossiers_after(self, demand_id: UUID | None, limit: int) -> list[Dossier]:
        return [Dossier(**r) for r in await self.conn.fetch(_PAGE, demand_id, limit)]

    async def log_access(
        self,
        *,
        action: str,
        station_id: str,
        subject: str,
        role: str,
        name: str | None = None,
        demand_id: UUID | None = None,
        what: str | None = None,
        demand_ids: list[UUID] | None = None,
        purpose: str | None = None,
        detail: dict | None = None,
    ) -> None:
        """One line of the access log: a read of personal or enterprise data, or an act on the archive."""
        await self.conn.execute(
            _LOG_ACCESS, demand_id, station_id, subject, role, name, action, what, demand_ids, purpose, detail
        )

    async def access_log(
        self,
        scope: str,
        demand_id: UUID | None,
        action: str | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
        offset: int,
    ) -> list[dict]:
        rows = await self.conn.fetch(_ACCESS_LOG, scope, demand_id, action, since, until, limit, offset)
        return [dict(r) for r in rows]

    # ------------------------------------------------------------------ retention and holds

    async def station_known(self, station_id: str) -> bool:
        return await self.conn.fetchval(_STATION_KNOWN, station_id)

    async def retention(self, station_id: str) -> dict | None:
        row = await self.conn.fetchrow(_RETENTION, station_id)
        return dict(row) if row else None

    async def set_retention(self, station_id: str, years: int, reason: str, set_by: str, set_at: datetime) -> None:
        await self.conn.execute(_SET_RETENTION, station_id, years, reason, set_by, set_at)

    async def retained_until(self, demand_id: UUID) -> date | None:
        return await self.conn.fetchval(_RETAINED_UNTIL, demand_id)

    async def holds(self, demand_id: UUID) -> list[Hold]:
        return [Hold(**r) for r in await self.conn.fetch(_HOLDS, demand_id)]

    async def add_hold(self, h: Hold) -> None:
        await self.conn.execute(_ADD_HOLD, h.hold_id, h.demand_id, h.station_id, h.reason, h.set_by, h.set_at)

    async def lift_hold(self, hold_id: UUID, reason: str, lifted_by: str, lifted_at: datetime) -> None:
        await self.conn.execute(_LIFT_HOLD, hold_id, reason, lifted_by, lifted_at)

    # ------------------------------------------------------------------ disposal

    async def disposable(self, scope: str, limit: int) -> list[tuple[Dossier, date]]:
        rows = await self.conn.fetch(_DISPOSABLE, scope, limit)
        return [(Dossier(**{k: v for k, v in r.items() if k != "retained_until"}), r["retained_until"]) for r in rows]

    async def add_disposal(self, d: dict) -> None:
        await self.conn.execute(
            _ADD_DISPOSAL,
            d["disposal_id"],
            d["station_id"],
            d["reason"],
            d["requested_by"],
            d["requested_at"],
            d["items"],
        )

    async def disposal(self, disposal_id: UUID, scope: str, *, for_update: bool = False) -> dict | None:
        row = await self.conn.fetchrow(_GET_DISPOSAL + (" FOR UPDATE" if for_update else ""), disposal_id, scope)
        return dict(row) if row else None

    async def disposals(self, scope: str, limit: int, offset: int) -> list[dict]:
        return [dict(r) for r in await self.conn.fetch(_LIST_DISPOSALS, scope, limit, offset)]

    async def confirm_disposal(self, disposal_id: UUID, confirmed_by: str, confirmed_at: datetime) -> None:
        await self.conn.execute(_CONFIRM_DISPOSAL, disposal_id, confirmed_by, confirmed_at)

    async def dispose(self, demand_id: UUID, disposal_id: UUID, disposed_by: str, disposed_at: datetime) -> dict | None:
        """Dispose of one dossier if it is still due (retention over, no hold): its content, its supplements'
        contents and its raw events go; its row, hashes and the disposal record stay. None when not due (any more)."""
        row = await self.conn.fetchrow(_DISPOSE, demand_id, disposed_at, disposal_id)
        if row is None:
            return None
        await self.conn.execute(_DISPOSE_SUPPLEMENTS, demand_id)
        await self.conn.execute(_DISPOSE_EVENTS, demand_id)
        record = dict(row) | {"disposal_id": disposal_id, "disposed_by": disposed_by, "disposed_at": disposed_at}
        await self.conn.execute(_ADD_RECORD, *(record[c.strip()] for c in _RECORD_COLUMNS.split(",")))
        return record

    async def disposal_records(self, disposal_id: UUID) -> list[dict]:
        return [dict(r) for r in await self.conn.fetch(_RECORDS, disposal_id)]

    # ------------------------------------------------------------------ the chain

    async def chain_stations(self, scope: str) -> list[str]:
        return [r["station_id"] for r in await self.conn.fetch(_CHAIN_STATIONS, scope)]

    async def chain(self, station_id: str) -> tuple[list[Dossier], dict[UUID, list[Supplement]]]:
        dossiers = [Dossier(**r) for r in await self.conn.fetch(_CHAIN, station_id)]
        supplements: dict[UUID, list[Supplement]] = {}
        for r in await self.conn.fetch(_CHAIN_SUPPLEMENTS, station_id):
            supplements.setdefault(r["demand_id"], []).append(Supplement(**r))
        return dossiers, supplements

    async def supplements(self, demand_id: UUID) -> list[Supplement]:
        return [Supplement(**r) for r in await self.conn.fetch(_SUPPLEMENTS, demand_id)]

    async def add_supplement(self, s: Supplement) -> None:
        await self.conn.execute(
            _ADD_SUPPLEMENT, s.demand_id, s.station_id, s.supplement_no, s.added_at, s.content, s.content_sha256
        )
