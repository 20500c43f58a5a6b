"""Demand SQL: demands and their items, tracking-number counters, status links, and what the status page adds (the
steps' moments and the rating link evaluation made for it, services/intake/public/domain.py).

The store is bound to one transaction's connection; the unit of work owns the transaction.

Station scope is asked of one SQL function, `qs_covers(scope, station_id)` (shared migration
0003): a station's scope covers the stations registered below it in the registry's tree.
"""

import json
from datetime import date, datetime
from uuid import UUID

import asyncpg

from shared.contracts import Channel, GreenChannel
from shared.db.together import at_once
from shared.observability.metrics import STATION_TREE_SQL, TREE_LABELS, StoreCounter, StoreQuery

from ..catalogue.domain import Category
from ..public.domain import RATING_LINK_FIELDS, STEP_TIME_FIELDS, RatingLink, StepTimes
from .domain import Closure, Demand, DemandItem, Extension, Handling, Pause, Reopening, Verification

# What the city watches of receipt (domain.md §7 "demands received (by channel)", "enterprises served"), counted
# from the demands at a scrape, so a restart reports the same and every replica the whole (PromQL takes
# `max without (instance)`). Per station with its district and city (STATION_TREE_SQL); each station with a demand
# has every series, 0 included. Rows are never deleted and a demand's station and channel never change, so the
# counters only grow.
SUBMITTED = StoreCounter(
    "qs_demands_submitted_total",
    "Demands registered (受理), by station and channel; withdrawn, merged and refused ones included",
    (*TREE_LABELS, "channel"),
)
ENTERPRISES_SERVED = StoreCounter(
    "qs_enterprises_served",
    "Enterprises (by credit code, else name) with at least one demand at the station that did not end refused,"
    " merged or withdrawn",
    TREE_LABELS,
    kind="gauge",
)
SUBMITTED_BY_CATEGORY = StoreCounter(
    "qs_demands_submitted_by_category_total",
    "Demands registered, by station and each category the form named when registered (a demand naming two counts"
    " in both; a later correction does not move it)",
    (*TREE_LABELS, "category"),
)
# An enterprise is its credit code; a demand without one (none is accepted today) would be its name.
_ENTERPRISE = "COALESCE(NULLIF(credit_code, ''), enterprise_name)"
# One row per station: a column per channel of the contract (a channel added there gets its column), then the
# enterprises served.
_BY_CHANNEL = ",\n    ".join(f"count(*) FILTER (WHERE channel = '{c.value}')" for c in Channel)
DEMAND_KPIS = StoreQuery(
    f"""SELECT {STATION_TREE_SQL},
    {_BY_CHANNEL},
    count(DISTINCT {_ENTERPRISE}) FILTER (WHERE closed_as IS NULL)
FROM demands
GROUP BY 1, 2, 3""",
    labels=len(TREE_LABELS),
    columns=(*((SUBMITTED, (c.value,)) for c in Channel), (ENTERPRISES_SERVED, ())),
)
# One row per station and category: the categories are data (the `categories` table, and any a demand names), so
# they cannot be columns of the query above. The categories as registered: those of the first correction that
# changed them (its `before`), else the form's own; a counter must not go down when a clerk corrects the items.
CATEGORY_KPIS = StoreQuery(
    f"""WITH registered AS (
    SELECT d.station_id, d.demand_id, COALESCE(c.categories, d.categories) AS categories
    FROM demands d
    LEFT JOIN (
        SELECT DISTINCT ON (demand_id) demand_id, before -> 'categories' AS categories
        FROM demand_corrections WHERE before ? 'categories'
        ORDER BY demand_id, corrected_at, correction_id
    ) c USING (demand_id)
), named AS (
    SELECT station_id, c.entry ->> 'code' AS category, count(DISTINCT demand_id) AS demands
    FROM registered, jsonb_array_elements(registered.categories) AS c(entry)
    GROUP BY 1, 2
)
SELECT {STATION_TREE_SQL}, category, COALESCE(named.demands, 0)
FROM (SELECT DISTINCT station_id FROM demands) stations
CROSS JOIN (SELECT code AS category FROM categories UNION SELECT category FROM named) known
LEFT JOIN named USING (station_id, category)""",
    labels=len(TREE_LABELS) + 1,
    columns=((SUBMITTED_BY_CATEGORY, ()),),
)
COUNTERS = (DEMAND_KPIS, CATEGORY_KPIS)

_NEXT_SERIAL = """
INSERT INTO tracking_counters (station_id, year, last_serial) VALUES ($1, $2, 1)
ON CONFLICT (station_id, year) DO UPDATE SET last_serial = tracking_counters.last_serial + 1
RETURNING last_serial
"""

_DEMAND_COLUMNS = (
    "demand_id",
    "station_id",
    "tracking_no",
    "enterprise_name",
    "credit_code",
    "contact_name",
    "contact_phone",
    "categories",
    "description",
    "channel",
    "first_responder",
    "time_limit_days",
    "submitted_at",
    "correlation_id",
    "status",
    "archive_no",
    "archived_at",
    "credit_code_flag",
    "received_at",
    "green_channel",
    "green_channel_reason",
    "details",
    "visit_id",
    "possible_duplicate_of",
    "expected_on",
    "progress",
    "first_responder_id",
    "address",
    "submitted_event_id",
    "corrected_at",
)
# What intake learns after registration (domain.Handling, domain.Closure); read with the demand, written by
# save_progress.
_HANDLING = ("assignment_no", "assignee_kind", "assignee_name", "referred_to", "returned_no", "round")
_CLOSURE = {
    "closed_as": "kind",
    "closed_reason": "reason",
    "closed_by": "closed_by",
    "closed_at": "closed_at",
    "closed_basis": "basis",
    "merged_into": "merged_into",
    "merged_into_tracking_no": "merged_into_tracking_no",
    "closed_by_enterprise": "by_enterprise",
    "closing_id": "event_id",
    "merged_into_station_id": "merged_into_station_id",
}
# What save_progress writes for a demand that has not ended (closed_by_enterprise is NOT NULL).
_NO_CLOSURE = dict.fromkeys(_CLOSURE.values()) | {"by_enterprise": False}
# After a 不满意 rating (domain.Reopening, domain.Verification): the latest of each, NULL until seen.
_REOPENING = {
    "reopened_round": "round",
    "reopened_at": "reopened_at",
    "reopened_due_on": "due_on",
    "reopened_assignment_count": "assignment_count",
}
_VERIFICATION = {"verified_round": "round", "verified_finding": "finding", "verified_at": "verified_at"}
# Read with the demand and written by save_progress, after the handling and the closure.
_ROUNDS = ("progress_round", *_REOPENING, *_VERIFICATION)
_INSERT = f"""INSERT INTO demands ({", ".join(_DEMAND_COLUMNS)})
VALUES ({", ".join(f"${n}" for n in range(1, len(_DEMAND_COLUMNS) + 1))})"""
_COLUMNS = ", ".join((*_DEMAND_COLUMNS, *_HANDLING, *_CLOSURE, *_ROUNDS))
_ITEM_FIELDS = (
    "position",
    "item_code",
    "item_version",
    "override_scope",
    "category",
    "label",
    "time_limit_days",
    "materials",
    "handled_by",
    "materials_received",
    "remarks",
)
_ITEM_JSON = ("materials", "materials_received")
# A demand's items come with its row (one statement, not two), in their order: an array of anonymous rows, which
# asyncpg decodes as tuples of exact types (the table's own row type would not survive a migration that adds a column
# while a replica runs: asyncpg keeps a composite type's codec for the connection's life). A jsonb field inside a row
# comes in binary, which the pool's jsonb codec (text) cannot read: sent as text and decoded as that codec would.
_ITEM_ROW = ", ".join(f"i.{c}::text" if c in _ITEM_JSON else f"i.{c}" for c in _ITEM_FIELDS)
_ITEMS_OF_D = f"""(SELECT array_agg(ROW({_ITEM_ROW}) ORDER BY i.position)
        FROM demand_items i WHERE i.demand_id = d.demand_id) AS items"""
_GET = f"""SELECT {_COLUMNS},
    {_ITEMS_OF_D}
FROM demands d WHERE demand_id = $1"""
_GET_IN_SCOPE = f"""SELECT {_COLUMNS},
    {_ITEMS_OF_D}
FROM demands d WHERE demand_id = $2 AND qs_covers($1, station_id)"""
_LOCK_IN_SCOPE = "SELECT true FROM demands WHERE demand_id = $2 AND qs_covers($1, station_id) FOR UPDATE"
# A page walks the stations the scope covers (listed_stations, shared migration 0006), each down demands_by_station
# for its first offset + limit demands, and merges them: a page reads about a page per station, however many demands
# there are. The scope is asked again of every row, and row-level security stands behind. Items only for the page.
_LIST = f"""
SELECT {_COLUMNS},
    {_ITEMS_OF_D}
FROM (
    SELECT {_COLUMNS}
    FROM (SELECT station_id AS listed FROM listed_stations WHERE qs_covers($1, station_id)) covered
    CROSS JOIN LATERAL (
        SELECT {_COLUMNS} FROM demands
        WHERE station_id = covered.listed AND qs_covers($1, station_id) AND ($2::text IS NULL OR status = $2)
            AND ($3::date IS NULL OR submitted_at >= $3::date::timestamp AT TIME ZONE 'Asia/Shanghai')
            AND ($4::date IS NULL OR submitted_at < ($4::date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai')
        ORDER BY submitted_at DESC, tracking_no DESC
        LIMIT $5::bigint + $6::bigint) station_page
    ORDER BY submitted_at DESC, tracking_no DESC
    LIMIT $5 OFFSET $6) d
ORDER BY submitted_at DESC, tracking_no DESC
"""
_INSERT_ITEM = f"""
INSERT INTO demand_items (demand_id, station_id, {", ".join(_ITEM_FIELDS)})
VALUES ($1, $2, {", ".join(f"${n}" for n in range(3, len(_ITEM_FIELDS) + 3))})
"""
_OPEN_DUPLICATE = """
SELECT d.demand_id FROM demands d JOIN demand_items i USING (demand_id)
WHERE d.station_id = $1 AND d.credit_code = $2 AND d.status = 'open'
    AND d.progress IN ('submitted', 'reopened', 'assigned')
    AND i.item_code = ANY($3::text[])
ORDER BY d.submitted_at DESC LIMIT 1
"""
_SAVE_PROGRESS = f"""
UPDATE demands SET progress = $2, status = $3, archive_no = $4, archived_at = $5,
    {", ".join(f"{c} = ${n}" for n, c in enumerate((*_HANDLING, *_CLOSURE, *_ROUNDS), start=6))}
WHERE demand_id = $1
"""
# A correction replaces the form's correctable fields and the items.
_SAVE_FORM = """
UPDATE demands SET contact_name = $2, contact_phone = $3, description = $4, details = $5, categories = $6,
    time_limit_days = $7, expected_on = $8, corrected_at = $9
WHERE demand_id = $1
"""
_DELETE_ITEMS = "DELETE FROM demand_items WHERE demand_id = $1"

# --- the clock, as the enterprise is told it (tracking's pauses and approved extensions) -------------
# A resumption may come before its pause: each fills in its own columns of the same row.

_PAUSED = """
INSERT INTO demand_pauses (pause_id, demand_id, station_id, assignment_no, reason_kind, reason, paused_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (pause_id) DO UPDATE SET assignment_no = EXCLUDED.assignment_no, reason_kind = EXCLUDED.reason_kind,
    reason = EXCLUDED.reason, paused_at = EXCLUDED.paused_at
"""
_RESUMED = """
INSERT INTO demand_pauses (pause_id, demand_id, station_id, resumed_at, paused_working_days, handling_due_on)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (pause_id) DO UPDATE SET resumed_at = EXCLUDED.resumed_at,
    paused_working_days = EXCLUDED.paused_working_days, handling_due_on = EXCLUDED.handling_due_on
"""
_PAUSE_FIELDS = (
    "pause_id",
    "assignment_no",
    "reason_kind",
    "reason",
    "paused_at",
    "resumed_at",
    "paused_working_days",
    "handling_due_on",
)
_PAUSES = f"SELECT {', '.join(_PAUSE_FIELDS)} FROM demand_pauses WHERE demand_id = $1"
_EXTENDED = """
INSERT INTO demand_extensions
    (extension_id, demand_id, station_id, assignment_no, reason, due_on, new_due_on, decided_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (extension_id) DO NOTHING
"""
_EXTENSIONS = """SELECT extension_id, assignment_no, reason, due_on, new_due_on, decided_at FROM demand_extensions
WHERE demand_id = $1"""

# --- status links ---------------------------------------------------------------

_ADD_STATUS_LINK = "INSERT INTO status_links (token_sha256, demand_id, station_id, expires_at) VALUES ($1, $2, $3, $4)"
_STATUS_LINK = "SELECT demand_id, expires_at FROM status_links WHERE token_sha256 = $1"

# --- the status page (migrations/0014_status_page.sql): the steps' moments, the rating link ---------------------

_STEP_TIMES = f"SELECT {', '.join(STEP_TIME_FIELDS)} FROM status_steps WHERE demand_id = $1"


def _latest(step: str) -> str:
    """The event's (round, moment) of a step replaces the one kept when it is later, or none is kept."""
    new, kept = (f"({t}.{step}_round, {t}.{step}_at)" for t in ("EXCLUDED", "status_steps"))
    return (
        f"EXCLUDED.{step}_round IS NOT NULL AND (status_steps.{step}_round IS NULL OR status_steps.{step}_at IS NULL"
        f" OR {new} > {kept})"
    )


# An event's moment (public/domain.moment: its own step's columns, NULL in the others) merged into the demand's row in
# the upsert itself, so events in any order leave the same row without reading it first: 派单 the earliest
# (LEAST ignores NULL), 办结 and 评价 the latest (round, moment); a column the event does not tell stays as kept.
_LATEST_STEPS = ",\n    ".join(
    f"{c} = CASE WHEN {_latest(step)} THEN EXCLUDED.{c} ELSE status_steps.{c} END"
    for step in ("resolved", "rated")
    for c in (f"{step}_round", f"{step}_at")
)
_MERGE_STEP_TIMES = f"""
INSERT INTO status_steps ({", ".join(STEP_TIME_FIELDS)})
VALUES ({", ".join(f"${n}" for n in range(1, len(STEP_TIME_FIELDS) + 1))})
ON CONFLICT (demand_id) DO UPDATE SET
    first_assigned_at = LEAST(status_steps.first_assigned_at, EXCLUDED.first_assigned_at),
    {_LATEST_STEPS}
"""
_RATING_LINK = f"SELECT {', '.join(RATING_LINK_FIELDS)} FROM status_rating_links WHERE demand_id = $1 AND round = $2"
# A RatingLinkIssued's link in one statement, without reading the demand or the link first: kept only for a demand
# intake knows (none: nothing written, and the answer false), and over the round's link only if issued later (by
# issued_at, then the event id: a uuid orders as its text does), so links in any order, or one again, leave the latest.
_KEEP_RATING_LINK = f"""
WITH demand AS (SELECT demand_id FROM demands WHERE demand_id = $1::uuid),
kept AS (
    INSERT INTO status_rating_links ({", ".join(RATING_LINK_FIELDS)})
    SELECT $1::uuid, $2::text, $3::integer, $4::text, $5::timestamptz, $6::timestamptz, $7::uuid FROM demand
    ON CONFLICT (demand_id, round) DO UPDATE SET
        url = EXCLUDED.url, expires_at = EXCLUDED.expires_at, issued_at = EXCLUDED.issued_at,
        event_id = EXCLUDED.event_id
    WHERE (status_rating_links.issued_at, status_rating_links.event_id) < (EXCLUDED.issued_at, EXCLUDED.event_id)
)
SELECT EXISTS (SELECT FROM demand)
"""


def _item(fields: tuple) -> DemandItem:
    data = dict(zip(_ITEM_FIELDS, fields, strict=True))
    for c in _ITEM_JSON:
        data[c] = tuple(json.loads(data[c]))
    return DemandItem(**data)


def _demand(row: asyncpg.Record) -> Demand:
    data = dict(row)
    items = tuple(_item(i) for i in data.pop("items") or ())
    data["categories"] = tuple(Category(**c) for c in data["categories"])
    data["channel"] = Channel(data["channel"])
    data["green_channel"] = GreenChannel(data["green_channel"]) if data["green_channel"] else None
    handling = Handling(**{c: data.pop(c) for c in _HANDLING})
    closure = {field: data.pop(column) for column, field in _CLOSURE.items()}
    reopening = {field: data.pop(column) for column, field in _REOPENING.items()}
    verification = {field: data.pop(column) for column, field in _VERIFICATION.items()}
    return Demand(
        **data,
        items=items,
        handling=handling,
        closure=Closure(**closure) if closure["kind"] is not None else None,
        reopening=Reopening(**reopening) if reopening["round"] is not None else None,
        verification=Verification(**verification) if verification["round"] is not None else None,
    )


def _step_values(times: StepTimes) -> tuple:
    return tuple(getattr(times, c) for c in STEP_TIME_FIELDS)


def _categories(d: Demand) -> list[dict]:
    return [{"code": c.code, "label": c.label, "time_limit_days": c.time_limit_days} for c in d.categories]


class DemandStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def next_serial(self, station_id: str, year: int) -> int:
        return await self.conn.fetchval(_NEXT_SERIAL, station_id, year)

    async def insert(self, d: Demand) -> None:
        values = {
            **{c: getattr(d, c) for c in _DEMAND_COLUMNS},
            "categories": _categories(d),
            "channel": d.channel.value,
            "green_channel": d.green_channel.value if d.green_channel else None,
        }
        await self.conn.execute(_INSERT, *(values[c] for c in _DEMAND_COLUMNS))
        await self._insert_items(d)

    async def _insert_items(self, d: Demand) -> None:
        for i in d.items:
            await self.conn.execute(
                _INSERT_ITEM,
                d.demand_id,
                d.station_id,
                *(list(v) if isinstance(v, tuple) else v for v in (getattr(i, f) for f in _ITEM_FIELDS)),
            )

    async def save_form(self, d: Demand) -> None:
        """A corrected form: its fields and its items replace the old ones (the audit keeps those)."""
        await self.conn.execute(
            _SAVE_FORM,
            d.demand_id,
            d.contact_name,
            d.contact_phone,
            d.description,
            d.details,
            _categories(d),
            d.time_limit_days,
            d.expected_on,
            d.corrected_at,
        )
        await self.conn.execute(_DELETE_ITEMS, d.demand_id)
        await self._insert_items(d)

    async def get(self, demand_id: UUID, *, for_update: bool = False) -> Demand | None:
        """The demand with its items (one statement); `for_update` locks the demand's row."""
        row = await self.conn.fetchrow(_GET + (" FOR UPDATE" if for_update else ""), demand_id)
        return _demand(row) if row else None

    async def get_in_scope(self, demand_id: UUID, scope: str, *, for_update: bool = False) -> Demand | None:
        """`for_update` locks the row first, then reads: a statement that waits for the lock gets the committed row
        but reads its items as they were before the wait, and a correction saved from those would put back the items
        another correction had just changed. (An event handler's `get` holds the demand's lock before it reads and
        writes no items: one statement there.)"""
        if for_update and not await self.conn.fetchval(_LOCK_IN_SCOPE, scope, demand_id):
            return None
        row = await self.conn.fetchrow(_GET_IN_SCOPE, scope, demand_id)
        return _demand(row) if row else None

    async def list_in_scope(
        self, scope: str, status: str | None, since: date | None, until: date | None, limit: int, offset: int
    ) -> list[Demand]:
        return [_demand(row) for row in await self.conn.fetch(_LIST, scope, status, since, until, limit, offset)]

    async def open_duplicate(self, station_id: str, credit_code: str, codes: list[str]) -> UUID | None:
        return await self.conn.fetchval(_OPEN_DUPLICATE, station_id, credit_code, codes)

    async def save_progress(self, d: Demand, steps: StepTimes | None = None) -> None:
        """What intake learned after registration: progress, handling, how it ended, its archiving; with `steps`, the
        event's moment for the status page merged into the demand's (_MERGE_STEP_TIMES), in the same statement."""
        c = d.closure
        progress = (
            d.demand_id,
            d.progress,
            d.status,
            d.archive_no,
            d.archived_at,
            *(getattr(d.handling, f) for f in _HANDLING),
            *(getattr(c, f) if c else _NO_CLOSURE[f] for f in _CLOSURE.values()),
            d.progress_round,
            *(getattr(d.reopening, f) if d.reopening else None for f in _REOPENING.values()),
            *(getattr(d.verification, f) if d.verification else None for f in _VERIFICATION.values()),
        )
        if steps is None:
            await self.conn.execute(_SAVE_PROGRESS, *progress)
        else:  # different rows: the demand's, and its status_steps row
            await at_once(self.conn, (_SAVE_PROGRESS, progress), (_MERGE_STEP_TIMES, _step_values(steps)))

    # --- the clock, as the enterprise is told it ---------------------------------------

    async def record_pause(self, d: Demand, p: Pause) -> None:
        await self.conn.execute(
            _PAUSED, p.pause_id, d.demand_id, d.station_id, p.assignment_no, p.reason_kind, p.reason, p.paused_at
        )

    async def record_resumption(
        self, d: Demand, pause_id: UUID, at: datetime, paused_working_days: int, handling_due_on: date
    ) -> None:
        await self.conn.execute(_RESUMED, pause_id, d.demand_id, d.station_id, at, paused_working_days, handling_due_on)

    async def add_extension(self, d: Demand, e: Extension) -> None:
        await self.conn.execute(
            _EXTENDED,
            e.extension_id,
            d.demand_id,
            d.station_id,
            e.assignment_no,
            e.reason,
            e.due_on,
            e.new_due_on,
            e.decided_at,
        )

    async def clock(self, demand_id: UUID) -> tuple[tuple[Pause, ...], tuple[Extension, ...]]:
        pauses = tuple(Pause(**r) for r in await self.conn.fetch(_PAUSES, demand_id))
        return pauses, tuple(Extension(**r) for r in await self.conn.fetch(_EXTENSIONS, demand_id))

    # --- status links -----------------------------------------------------------

    async def add_status_link(self, digest: str, d: Demand, expires_at: datetime) -> None:
        await self.conn.execute(_ADD_STATUS_LINK, digest, d.demand_id, d.station_id, expires_at)

    async def status_link(self, digest: str) -> asyncpg.Record | None:
        return await self.conn.fetchrow(_STATUS_LINK, digest)

    # --- the status page ----------------------------------------------------------

    async def step_times(self, demand_id: UUID) -> StepTimes | None:
        row = await self.conn.fetchrow(_STEP_TIMES, demand_id)
        return StepTimes(**row) if row else None

    async def status_rating_link(self, demand_id: UUID, round_: int) -> RatingLink | None:
        """The rating link kept for the demand's round (the latest evaluation issued for it), if any."""
        row = await self.conn.fetchrow(_RATING_LINK, demand_id, round_)
        return RatingLink(**row) if row else None

    async def keep_status_rating_link(self, link: RatingLink) -> bool:
        """The link kept for its round unless one issued later is (_KEEP_RATING_LINK); False: the demand is unknown,
        nothing kept."""
        return await self.conn.fetchval(_KEEP_RATING_LINK, *(getattr(link, c) for c in RATING_LINK_FIELDS))
