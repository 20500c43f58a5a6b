"""Intake SQL. The store is bound to one transaction's connection; the unit of work owns the transaction.

Station scope is asked of one SQL function, `qs_covers(scope, station_id)` (shared migration
0003): a station's scope covers the stations registered below it in the registry's tree.
"""

from datetime import date, datetime
from uuid import UUID

import asyncpg

from shared import stations as station_tree
from shared.contracts import Channel, GreenChannel, StationRegistered
from shared.observability.metrics import StoreCounter
from shared.validation import like_pattern

from .domain import (
    CatalogueItem,
    Category,
    Demand,
    DemandItem,
    EnterpriseDossier,
    Override,
    Station,
)

COUNTERS = (
    StoreCounter(
        "qs_demands_submitted_total",
        "Demands registered, by station and channel",
        ("station_id", "channel"),
        "SELECT station_id, channel, count(*) FROM demands GROUP BY 1, 2",
    ),
)

# --- catalogue --------------------------------------------------------------------------------

_CATEGORIES = "SELECT code, label, time_limit_days FROM categories ORDER BY sort_order"
_ITEM_COLUMNS = """item_code, version, category, label, description, materials, time_limit_days, legal_limit_days,
    handled_by"""
_LATEST_ITEMS = f"""
SELECT DISTINCT ON (item_code) {_ITEM_COLUMNS} FROM catalogue_items
ORDER BY item_code, version DESC
"""
_LATEST_ITEM = f"SELECT {_ITEM_COLUMNS} FROM catalogue_items WHERE item_code = $1 ORDER BY version DESC LIMIT 1"
_ITEM_ORDER = "SELECT item_code, min(sort_order) AS sort_order FROM catalogue_items GROUP BY item_code"
_ADD_ITEM = f"""
INSERT INTO catalogue_items ({_ITEM_COLUMNS}, sort_order, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,
        coalesce((SELECT min(sort_order) FROM catalogue_items WHERE item_code = $1),
                 (SELECT coalesce(max(sort_order), 0) + 1 FROM catalogue_items)), $10)
"""
_OVERRIDES = """
SELECT DISTINCT ON (scope, item_code) scope, item_code, version, time_limit_days, materials
FROM catalogue_overrides ORDER BY scope, item_code, version DESC
"""
_LATEST_OVERRIDE_VERSION = "SELECT coalesce(max(version), 0) FROM catalogue_overrides WHERE scope = $1 AND item_code = $2"
_ADD_OVERRIDE = """
INSERT INTO catalogue_overrides (scope, item_code, version, time_limit_days, materials, created_by)
VALUES ($1, $2, $3, $4, $5, $6)
"""

# --- calendar ---------------------------------------------------------------------------------

_WORKDAY_OVERRIDES = "SELECT day, is_workday FROM calendar_overrides"
_SAVE_WORKDAY = """
INSERT INTO calendar_overrides (day, is_workday, note) VALUES ($1, $2, $3)
ON CONFLICT (day) DO UPDATE SET is_workday = EXCLUDED.is_workday, note = EXCLUDED.note
"""

# --- demands ----------------------------------------------------------------------------------

_NEXT_SERIAL = """
INSERT INTO tracking_counters (station_id, year, last_serial) VALUES ($1, $2, 1)
ON CONFLICT (station_id, year) DO UPDATE SET last_serial = tracking_counters.last_serial + 1
RETURNING last_serial
"""

_DEMAND_COLUMNS = (
    "demand_id", "station_id", "tracking_no", "enterprise_name", "credit_code", "contact_name", "contact_phone",
    "categories", "description", "channel", "first_responder", "time_limit_days", "submitted_at", "correlation_id",
    "status", "archive_no", "archived_at", "credit_code_flag", "received_at", "green_channel", "green_channel_reason",
    "details", "visit_id", "possible_duplicate_of", "expected_on", "progress", "first_responder_id",
)  # fmt: skip
_COLUMNS = ", ".join(_DEMAND_COLUMNS)
_INSERT = f"INSERT INTO demands ({_COLUMNS}) VALUES ({', '.join(f'${n}' for n in range(1, len(_DEMAND_COLUMNS) + 1))})"
_GET = f"SELECT {_COLUMNS} FROM demands WHERE demand_id = $1"
_GET_IN_SCOPE = f"SELECT {_COLUMNS} FROM demands WHERE demand_id = $2 AND qs_covers($1, station_id)"
_LIST = f"""
SELECT {_COLUMNS} FROM demands
WHERE qs_covers($1, station_id) AND ($2::text IS NULL OR status = $2)
    AND ($3::date IS NULL OR submitted_at >= $3::date::timestamp AT TIME ZONE 'Asia/Shanghai')
    AND ($4::date IS NULL OR submitted_at < ($4::date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai')
ORDER BY submitted_at DESC, tracking_no DESC
LIMIT $5 OFFSET $6
"""
_ITEM_FIELDS = ("position", "item_code", "item_version", "override_scope", "category", "label", "time_limit_days",
                "materials", "handled_by", "materials_received", "remarks")  # fmt: skip
_INSERT_ITEM = f"""
INSERT INTO demand_items (demand_id, station_id, {', '.join(_ITEM_FIELDS)})
VALUES ($1, $2, {', '.join(f'${n}' for n in range(3, len(_ITEM_FIELDS) + 3))})
"""
_ITEMS = f"SELECT demand_id, {', '.join(_ITEM_FIELDS)} FROM demand_items WHERE demand_id = ANY($1::uuid[]) ORDER BY position"
_OPEN_DUPLICATE = """
SELECT d.demand_id FROM demands d JOIN demand_items i USING (demand_id)
WHERE d.station_id = $1 AND d.credit_code = $2 AND d.status = 'open' AND d.progress IN ('submitted', 'assigned')
    AND i.item_code = ANY($3::text[])
ORDER BY d.submitted_at DESC LIMIT 1
"""
_SAVE_PROGRESS = "UPDATE demands SET progress = $2, status = $3, archive_no = $4, archived_at = $5 WHERE demand_id = $1"

# --- idempotency and status links ---------------------------------------------------------------

_LOCK_IDEMPOTENCY_KEY = "SELECT pg_advisory_xact_lock(hashtext($1 || ' ' || $2))"
_IDEMPOTENT_RESULT = "SELECT request_sha256, demand_id FROM idempotency_keys WHERE station_id = $1 AND key = $2"
_REMEMBER_IDEMPOTENT = (
    "INSERT INTO idempotency_keys (station_id, key, request_sha256, demand_id) VALUES ($1, $2, $3, $4)"
)
_ADD_STATUS_LINK = "INSERT INTO status_links (token_sha256, demand_id, station_id, expires_at) VALUES ($1, $2, $3, $4)"
_STATUS_LINK = "SELECT demand_id, expires_at FROM status_links WHERE token_sha256 = $1"

# --- enterprises ------------------------------------------------------------------------------

_ENTERPRISE_FIELDS = (
    "station_id", "credit_code", "name", "credit_code_flag", "legal_representative", "industry", "size", "employees",
    "output_value_wan", "main_products", "address", "in_park", "park_name", "town", "chain", "chain_leader",
    "own_labs", "labs_cover_own_testing", "contacts", "products", "instruments", "special_equipment", "operator_exams",
)  # fmt: skip
_ENTERPRISE_COLUMNS = ", ".join(_ENTERPRISE_FIELDS)
_UPSERT_ENTERPRISE = f"""
INSERT INTO enterprises ({_ENTERPRISE_COLUMNS}) VALUES ({', '.join(f'${n}' for n in range(1, len(_ENTERPRISE_FIELDS) + 1))})
ON CONFLICT (station_id, credit_code) DO UPDATE SET
    {', '.join(f'{c} = EXCLUDED.{c}' for c in _ENTERPRISE_FIELDS[2:])}, updated_at = now()
"""
_GET_ENTERPRISE = f"SELECT {_ENTERPRISE_COLUMNS} FROM enterprises WHERE qs_covers($1, station_id) AND credit_code = $2"
_SEARCH_ENTERPRISES = f"""
SELECT {_ENTERPRISE_COLUMNS} FROM enterprises
WHERE qs_covers($1, station_id)
    AND ($2::text IS NULL OR name ILIKE '%' || $8 || '%' OR credit_code = upper($2))  -- $8: $2 with LIKE escaped
    AND ($3::text IS NULL OR park_name = $3)
    AND ($4::text IS NULL OR chain = $4)
    AND ($5::text IS NULL OR town = $5)
ORDER BY name LIMIT $6 OFFSET $7
"""
_ENSURE_ENTERPRISE = """
INSERT INTO enterprises (station_id, credit_code, name, credit_code_flag, contacts) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (station_id, credit_code) DO NOTHING
"""

# --- visits -----------------------------------------------------------------------------------

_VISIT_FIELDS = ("visit_id", "station_id", "credit_code", "enterprise_name", "staff", "visited_on", "findings",
                 "recorded_by")  # fmt: skip
_VISIT_COLUMNS = ", ".join(_VISIT_FIELDS)
_ADD_VISIT = f"INSERT INTO visits ({_VISIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
_VISIT = f"SELECT {_VISIT_COLUMNS} FROM visits WHERE qs_covers($1, station_id) AND visit_id = $2"
_VISITS = f"""
SELECT {_VISIT_COLUMNS} FROM visits WHERE qs_covers($1, station_id)
ORDER BY visited_on DESC LIMIT $2 OFFSET $3
"""
_VISIT_DEMANDS = "SELECT demand_id, tracking_no FROM demands WHERE visit_id = $1 ORDER BY tracking_no"

# --- stations ---------------------------------------------------------------------------------

_STATION_COLUMNS = "station_id, name, address, level, parent_id, has_window, phone"
_STATIONS = f"""
SELECT {_STATION_COLUMNS} FROM stations
WHERE $1::text IS NULL OR qs_covers($1, station_id)
ORDER BY station_id
"""
_STATION = f"SELECT {_STATION_COLUMNS} FROM stations WHERE station_id = $1"
_UPSERT_STATION = f"""
INSERT INTO stations ({_STATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (station_id) DO UPDATE SET name = EXCLUDED.name, address = EXCLUDED.address,
    level = EXCLUDED.level, parent_id = EXCLUDED.parent_id, has_window = EXCLUDED.has_window, phone = EXCLUDED.phone
"""
# Each station with its registry ancestors, the root first and the parent last, walked up the parent links.
# The depth bound only guards against a cycle the placement rules already refuse.
_WITH_ANCESTORS = f"""
WITH RECURSIVE up (origin, ancestor, depth) AS (
    SELECT station_id, parent_id, 1 FROM stations WHERE station_id = ANY($1::text[])
    UNION ALL
    SELECT up.origin, s.parent_id, up.depth + 1
    FROM up JOIN stations s ON s.station_id = up.ancestor
    WHERE up.depth < 32
)
SELECT {', '.join(f's.{c}' for c in _STATION_COLUMNS.split(', '))}, a.ancestors
FROM stations s CROSS JOIN LATERAL (
    SELECT coalesce(array_agg(up.ancestor ORDER BY up.depth DESC) FILTER (WHERE up.ancestor IS NOT NULL),
                    '{{}}'::text[]) AS ancestors
    FROM up WHERE up.origin = s.station_id
) a
WHERE s.station_id = ANY($1::text[])
ORDER BY cardinality(a.ancestors), s.station_id
"""
# Every station registered below one, at any depth.
_DESCENDANTS = """
WITH RECURSIVE down (station_id, depth) AS (
    SELECT station_id, 1 FROM stations WHERE parent_id = $1
    UNION ALL
    SELECT s.station_id, down.depth + 1 FROM stations s JOIN down ON s.parent_id = down.station_id
    WHERE down.depth < 32
)
SELECT DISTINCT station_id FROM down ORDER BY station_id
"""
_CHILD_LEVELS = "SELECT min(level) FROM stations WHERE parent_id = $1"
_UNANNOUNCED = "SELECT station_id FROM stations WHERE announced_at IS NULL ORDER BY station_id"
_MARK_ANNOUNCED = "UPDATE stations SET announced_at = $2 WHERE station_id = ANY($1::text[])"


def _item(row: asyncpg.Record) -> CatalogueItem:
    return CatalogueItem(**{**row, "materials": tuple(row["materials"])})


def _demand(row: asyncpg.Record, items: tuple[DemandItem, ...]) -> Demand:
    data = dict(row)
    data["categories"] = tuple(Category(**c) for c in data["categories"])
    data["channel"] = Channel(data["channel"])
    data["green_channel"] = GreenChannel(data["green_channel"]) if data["green_channel"] else None
    return Demand(**data, items=items)


def _dossier(row: asyncpg.Record) -> EnterpriseDossier:
    data = dict(row)
    for table in ("contacts", "products", "instruments", "special_equipment", "operator_exams"):
        data[table] = tuple(data[table])
    if data["output_value_wan"] is not None:
        data["output_value_wan"] = float(data["output_value_wan"])
    return EnterpriseDossier(**data)


class Store:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    # --- catalogue ----------------------------------------------------------------------------

    async def categories(self) -> dict[str, Category]:
        return {r["code"]: Category(**r) for r in await self.conn.fetch(_CATEGORIES)}

    async def catalogue(self) -> tuple[list[CatalogueItem], list[Override], dict[str, int]]:
        items = [_item(r) for r in await self.conn.fetch(_LATEST_ITEMS)]
        overrides = [
            Override(**{**r, "materials": tuple(r["materials"]) if r["materials"] is not None else None})
            for r in await self.conn.fetch(_OVERRIDES)
        ]
        order = {r["item_code"]: r["sort_order"] for r in await self.conn.fetch(_ITEM_ORDER)}
        return items, overrides, order

    async def latest_item(self, item_code: str) -> CatalogueItem | None:
        row = await self.conn.fetchrow(_LATEST_ITEM, item_code)
        return _item(row) if row else None

    async def add_item(self, i: CatalogueItem, by: str) -> None:
        await self.conn.execute(_ADD_ITEM, i.item_code, i.version, i.category, i.label, i.description,
                                list(i.materials), i.time_limit_days, i.legal_limit_days, i.handled_by, by)  # fmt: skip

    async def next_override_version(self, scope: str, item_code: str) -> int:
        return await self.conn.fetchval(_LATEST_OVERRIDE_VERSION, scope, item_code) + 1

    async def add_override(self, o: Override, by: str) -> None:
        materials = list(o.materials) if o.materials is not None else None
        await self.conn.execute(_ADD_OVERRIDE, o.scope, o.item_code, o.version, o.time_limit_days, materials, by)

    # --- calendar -----------------------------------------------------------------------------

    async def workday_overrides(self) -> dict[date, bool]:
        return {r["day"]: r["is_workday"] for r in await self.conn.fetch(_WORKDAY_OVERRIDES)}

    async def save_workday(self, day: date, is_workday: bool, note: str) -> None:
        await self.conn.execute(_SAVE_WORKDAY, day, is_workday, note)

    # --- demands ------------------------------------------------------------------------------

    async def next_serial(self, station_id: str, year: int) -> int:
        return await self.conn.fetchval(_NEXT_SERIAL, station_id, year)

    async def insert(self, d: Demand) -> None:
        values = {
            **{c: getattr(d, c) for c in _DEMAND_COLUMNS},
            "categories": [{"code": c.code, "label": c.label, "time_limit_days": c.time_limit_days}
                           for c in d.categories],  # fmt: skip
            "channel": d.channel.value,
            "green_channel": d.green_channel.value if d.green_channel else None,
        }
        await self.conn.execute(_INSERT, *(values[c] for c in _DEMAND_COLUMNS))
        for i in d.items:
            await self.conn.execute(_INSERT_ITEM, d.demand_id, d.station_id, *(
                list(v) if isinstance(v, tuple) else v for v in (getattr(i, f) for f in _ITEM_FIELDS)
            ))  # fmt: skip

    async def _with_items(self, rows: list[asyncpg.Record]) -> list[Demand]:
        items: dict[UUID, list[DemandItem]] = {}
        for r in await self.conn.fetch(_ITEMS, [row["demand_id"] for row in rows]):
            data = dict(r)
            demand_id = data.pop("demand_id")
            data["materials"] = tuple(data["materials"])
            data["materials_received"] = tuple(data["materials_received"])
            items.setdefault(demand_id, []).append(DemandItem(**data))
        return [_demand(row, tuple(items.get(row["demand_id"], ()))) for row in rows]

    async def get(self, demand_id: UUID, *, for_update: bool = False) -> Demand | None:
        row = await self.conn.fetchrow(_GET + (" FOR UPDATE" if for_update else ""), demand_id)
        return (await self._with_items([row]))[0] if row else None

    async def get_in_scope(self, demand_id: UUID, scope: str) -> Demand | None:
        row = await self.conn.fetchrow(_GET_IN_SCOPE, scope, demand_id)
        return (await self._with_items([row]))[0] if row else None

    async def list_in_scope(
        self, scope: str, status: str | None, since: date | None, until: date | None, limit: int, offset: int
    ) -> list[Demand]:
        return await self._with_items(await self.conn.fetch(_LIST, scope, status, since, until, limit, offset))

    async def open_duplicate(self, station_id: str, credit_code: str, codes: list[str]) -> UUID | None:
        return await self.conn.fetchval(_OPEN_DUPLICATE, station_id, credit_code, codes)

    async def save_progress(self, d: Demand) -> None:
        await self.conn.execute(_SAVE_PROGRESS, d.demand_id, d.progress, d.status, d.archive_no, d.archived_at)

    # --- idempotency and status links -----------------------------------------------------------

    async def lock_idempotency_key(self, station_id: str, key: str) -> None:
        await self.conn.execute(_LOCK_IDEMPOTENCY_KEY, station_id, key)

    async def idempotent_result(self, station_id: str, key: str) -> asyncpg.Record | None:
        return await self.conn.fetchrow(_IDEMPOTENT_RESULT, station_id, key)

    async def remember_idempotent(self, station_id: str, key: str, digest: str, demand_id: UUID) -> None:
        await self.conn.execute(_REMEMBER_IDEMPOTENT, station_id, key, digest, demand_id)

    async def add_status_link(self, digest: str, d: Demand, expires_at: datetime) -> None:
        await self.conn.execute(_ADD_STATUS_LINK, digest, d.demand_id, d.station_id, expires_at)

    async def status_link(self, digest: str) -> asyncpg.Record | None:
        return await self.conn.fetchrow(_STATUS_LINK, digest)

    # --- enterprises --------------------------------------------------------------------------

    async def save_enterprise(self, e: EnterpriseDossier) -> None:
        await self.conn.execute(_UPSERT_ENTERPRISE, *(
            list(v) if isinstance(v, tuple) else v for v in (getattr(e, f) for f in _ENTERPRISE_FIELDS)
        ))  # fmt: skip

    async def ensure_enterprise(self, d: Demand) -> None:
        """A demand from an enterprise the station has no dossier for starts one (一企一册)."""
        contact = [{"name": d.contact_name, "phone": d.contact_phone}]
        await self.conn.execute(_ENSURE_ENTERPRISE, d.station_id, d.credit_code, d.enterprise_name,
                                d.credit_code_flag, contact)  # fmt: skip

    async def enterprise(self, scope: str, credit_code: str) -> EnterpriseDossier | None:
        row = await self.conn.fetchrow(_GET_ENTERPRISE, scope, credit_code)
        return _dossier(row) if row else None

    async def search_enterprises(
        self, scope: str, q: str | None, park: str | None, chain: str | None, town: str | None, limit: int, offset: int
    ) -> list[EnterpriseDossier]:
        pattern = like_pattern(q) if q is not None else None
        rows = await self.conn.fetch(_SEARCH_ENTERPRISES, scope, q, park, chain, town, limit, offset, pattern)
        return [_dossier(r) for r in rows]

    # --- visits -------------------------------------------------------------------------------

    async def add_visit(self, visit: dict) -> None:
        await self.conn.execute(_ADD_VISIT, *(visit[c] for c in _VISIT_FIELDS))

    async def visit(self, scope: str, visit_id: UUID) -> asyncpg.Record | None:
        return await self.conn.fetchrow(_VISIT, scope, visit_id)

    async def visits(self, scope: str, limit: int, offset: int) -> list[asyncpg.Record]:
        return await self.conn.fetch(_VISITS, scope, limit, offset)

    async def visit_demands(self, visit_id: UUID) -> list[asyncpg.Record]:
        return await self.conn.fetch(_VISIT_DEMANDS, visit_id)

    # --- stations -----------------------------------------------------------------------------

    async def stations(self, under: str | None) -> list[Station]:
        return [Station(**r) for r in await self.conn.fetch(_STATIONS, under)]

    async def station(self, station_id: str) -> Station | None:
        row = await self.conn.fetchrow(_STATION, station_id)
        return Station(**row) if row else None

    async def save_station(self, s: Station) -> None:
        await self.conn.execute(_UPSERT_STATION, s.station_id, s.name, s.address, s.level, s.parent_id,
                                s.has_window, s.phone)  # fmt: skip

    async def with_ancestors(self, station_ids: list[str]) -> list[tuple[Station, list[str]]]:
        """The stations with their registry ancestors (the root first, the parent last), parents before children."""
        rows = await self.conn.fetch(_WITH_ANCESTORS, station_ids)
        return [(Station(**{k: v for k, v in r.items() if k != "ancestors"}), list(r["ancestors"])) for r in rows]

    async def record_tree(self, event: StationRegistered) -> None:
        """Intake's own copy of the tree (`station_tree`, which `qs_covers` reads), as every service keeps it."""
        await station_tree.record(self, event)

    async def ancestors(self, station_id: str) -> list[str]:
        found = await self.with_ancestors([station_id])
        return found[0][1] if found else []

    async def descendants(self, station_id: str) -> list[str]:
        return [r["station_id"] for r in await self.conn.fetch(_DESCENDANTS, station_id)]

    async def shallowest_child_level(self, station_id: str) -> int | None:
        return await self.conn.fetchval(_CHILD_LEVELS, station_id)

    async def unannounced(self) -> list[str]:
        return [r["station_id"] for r in await self.conn.fetch(_UNANNOUNCED)]

    async def mark_announced(self, station_ids: list[str], at: datetime) -> None:
        await self.conn.execute(_MARK_ANNOUNCED, station_ids, at)
