"""`--prefill N` of `make bench` (devtools/bench.py): the five bench databases filled with N historical, complete
demand lifecycles before the measured runs, so that the bench shows what stores that have grown cost (issue 14).

The lifecycles are clones. After the warm-up, `TEMPLATES` more lifecycles are driven through the services as usual
and left to settle (every outbox row published, every demand archived in intake and tracking and sealed in archive).
The rows those demands wrote in each database are the templates: every table with a `demand_id` column, the outbox,
each consumer's inbox (through the events of the templates' demands) and the remembered Idempotency-Key answers
(through the demand their answer names). Copy g of a template is `INSERT … SELECT` from the template rows joined to a
map of the copies, in chunks of `CHUNK` copies, with every column remapped the same way in every database:

- uuid columns (and uuid[]): md5(value || ':' || g)::uuid, so one demand, event or correlation id becomes the same
  new id wherever it appears (the inbox of a consumer then holds exactly the events the clones' outboxes published);
- the `demand_id`, `event_id` and `correlation_id` at the top of an event payload or a remembered answer likewise;
  a dossier's sealed content is left as it was (its content hash must still verify);
- tracking and archive numbers renumbered per station and China year in the clones' chronological order, with the
  number counters set to the last one issued, so new demands number on without collision and the correctness
  check's "numbers = counter" holds;
- Idempotency-Keys and status/rating link token hashes given a unique value derived from the old one and g;
- timestamps and dates shifted back: business rows spread over the past `SPAN_DAYS` days (about 2.9 years, under
  the three-year minimum retention of a dossier, so nothing becomes disposable), outbox, inbox and
  Idempotency-Key rows over the past `MESSAGE_SPAN` (inside the pruner's shortest retention, 7 days: the stores keep
  all N lifecycles' events during the run, the worst case of a busy week, rather than being pruned back while the
  bench measures);
- serial ids (outbox, timeline, access log) from their sequences; dossiers chained by archive's own insert trigger
  (a valid hash chain, the clones after the templates).

Templates are sealed and settled, so every clone is too: no open case for tracking's scheduler, no survey to chase,
nothing unpublished for the relays. The clones sort chronologically inside each chunk, so the heap is in time order
as a real history's would be. Every database is then VACUUMed and ANALYZEd, and a CHECKPOINT writes the fill out.
Connects as the postgres superuser (trust), which row-level security does not restrict.
"""

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from devtools import bench_load as load
from devtools import bench_system as system

TEMPLATES = 18  # lifecycles driven as templates after the warm-up's, 3 at a time
CHUNK = 20_000  # copies per INSERT statement
SPAN_DAYS = 1050.0  # business rows: the clones' submissions spread over this many days back
MESSAGE_SPAN = timedelta(days=6)  # outbox, inbox, Idempotency-Key rows: inside the outbox's 7-day retention
NEWEST = timedelta(hours=1)  # the newest clone, before the bench's own demands
MESSAGING = frozenset({"outbox", "inbox", "idempotent_requests"})
SETTLE_SECONDS = 60.0
CHINA = ZoneInfo("Asia/Shanghai")
PARALLEL = 2  # databases filled at once (the machine's cores)

_MAP = """
CREATE TEMP TABLE prefill_map (
    t_demand uuid NOT NULL, g integer NOT NULL, ord integer NOT NULL, shift interval NOT NULL,
    msg_shift interval NOT NULL, days integer NOT NULL, tracking_no text, archive_no text)
"""
_MAP_COLUMNS = ("t_demand", "g", "ord", "shift", "msg_shift", "days", "tracking_no", "archive_no")
_EVENTS = "CREATE TEMP TABLE prefill_events (event_id uuid PRIMARY KEY, t_demand uuid NOT NULL)"
_COLUMNS = """
SELECT c.table_name, c.column_name, c.data_type, c.udt_name, coalesce(c.column_default, '') AS column_default,
    c.is_generated = 'ALWAYS' AS generated
FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name)
WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
ORDER BY c.table_name, c.ordinal_position
"""
_FOREIGN_KEYS = """
SELECT conrelid::regclass::text AS child, confrelid::regclass::text AS parent
FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace
"""
_TABLES = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str
    udt: str = ""
    default: str = ""
    generated: bool = False


@dataclass(frozen=True)
class Template:
    demand_id: UUID
    station_id: str
    submitted_at: datetime


@dataclass(frozen=True)
class Copy:
    """One clone: of which template, copy number g, its place in time (0 the oldest) and its numbers."""

    template: Template
    g: int
    ord: int
    shift: timedelta
    msg_shift: timedelta
    tracking_no: str
    archive_no: str

    def record(self) -> tuple:
        days = round(self.shift.total_seconds() / 86400)
        return (self.template.demand_id, self.g, self.ord, self.shift, self.msg_shift, days) + (
            self.tracking_no,
            self.archive_no,
        )


# --------------------------------------------------------------------------- the pure planning


def plan(
    templates: list[Template],
    n: int,
    now: datetime,
    tracking_last: Mapping[tuple[str, int], int],
    archive_last: Mapping[tuple[str, int], int],
) -> tuple[list[Copy], dict[tuple[str, int], int], dict[tuple[str, int], int]]:
    """N copies of the templates in turn, the oldest first, spread evenly from SPAN_DAYS back to NEWEST; their
    tracking and archive numbers per station and China year, continuing the counters (`*_last`: (station, year) →
    last serial issued); and the counters' new values."""
    if not templates:
        raise ValueError("no template lifecycles to clone")
    span = timedelta(days=SPAN_DAYS) - NEWEST
    tracking = dict(tracking_last)
    archive = dict(archive_last)
    copies = []
    for k in range(n):
        t = templates[k % len(templates)]
        behind = (n - k) / n  # 1 for the oldest copy, 1/n for the newest
        at = now - NEWEST - span * behind
        msg_at = now - NEWEST - (MESSAGE_SPAN - NEWEST) * behind
        key = (t.station_id, at.astimezone(CHINA).year)
        tracking[key] = tracking.get(key, 0) + 1
        archive[key] = archive.get(key, 0) + 1
        if max(tracking[key], archive[key]) > 999_999:
            raise ValueError(f"more than 999,999 demands in {key}: the numbers have six digits")
        copies.append(
            Copy(
                template=t,
                g=k // len(templates) + 1,
                ord=k,
                shift=at - t.submitted_at,
                msg_shift=msg_at - t.submitted_at,
                tracking_no=f"{key[1]:04d}-{tracking[key]:06d}",
                archive_no=f"A{key[1]:04d}-{archive[key]:06d}",
            )
        )
    changed = {k: v for k, v in tracking.items() if tracking_last.get(k) != v}
    changed_archive = {k: v for k, v in archive.items() if archive_last.get(k) != v}
    return copies, changed, changed_archive


def remap(uuid_sql: str) -> str:
    """A uuid's value in copy m.g (inline: an SQL function around it would cost a call per value)."""
    return f"md5({uuid_sql}::text || ':' || m.g::text)::uuid"


def remap_json(jsonb_sql: str) -> str:
    """An event payload or a remembered answer with its top-level demand, event and correlation ids remapped."""
    keys = ", ".join(
        f"'{k}', {remap(f'({jsonb_sql}->>{k!r})')}::text" for k in ("demand_id", "event_id", "correlation_id")
    )
    return (
        f"CASE WHEN jsonb_typeof({jsonb_sql}) = 'object'"
        f" THEN {jsonb_sql} || jsonb_strip_nulls(jsonb_build_object({keys})) ELSE {jsonb_sql} END"
    )


def column_expr(table: str, col: Column) -> str | None:
    """The value of `col` in a clone (t: the template row, m: the copy's map row); None: left to its default."""
    c = f"t.{col.name}"
    if col.generated or col.default.startswith("nextval("):
        return None
    if col.name in ("tracking_no", "archive_no"):
        return f"CASE WHEN {c} IS NULL THEN NULL ELSE m.{col.name} END"
    if col.name == "token_sha256":
        return f"encode(sha256(convert_to({c} || ':' || m.g::text, 'UTF8')), 'hex')"
    if table == "idempotent_requests" and col.name == "key":
        return f"md5({c} || ':' || m.g::text)::uuid::text"
    if col.data_type == "uuid":
        return remap(c)
    if col.udt == "_uuid":
        return f"(SELECT array_agg({remap('x')}) FROM unnest({c}) x)"
    if col.data_type == "timestamp with time zone":
        return f"{c} + m.{'msg_shift' if table in MESSAGING else 'shift'}"
    if col.data_type == "date":
        return f"{c} + m.days"
    if col.data_type == "jsonb" and col.name in ("payload", "result"):
        return remap_json(c)
    return c


def source(table: str, columns: Iterable[Column]) -> str | None:
    """FROM … of a table's template rows joined to the copies; None: the table holds no lifecycle's rows."""
    names = {c.name for c in columns}
    if table == "inbox":
        return "inbox t JOIN prefill_events e ON e.event_id = t.event_id JOIN prefill_map m ON m.t_demand = e.t_demand"
    if table == "idempotent_requests":
        return "idempotent_requests t JOIN prefill_map m ON m.t_demand::text = t.result->>'demand_id'"
    if "demand_id" in names:
        return f"{table} t JOIN prefill_map m ON m.t_demand = t.demand_id"
    return None


def clone_sql(table: str, columns: list[Column]) -> str | None:
    """INSERT … SELECT of the copies with ord in [$1, $2), in time order; None for a table not cloned."""
    frm = source(table, columns)
    if frm is None:
        return None
    pairs = [(c.name, column_expr(table, c)) for c in columns]
    pairs = [(name, expr) for name, expr in pairs if expr is not None]
    names = ", ".join(name for name, _ in pairs)
    exprs = ",\n    ".join(expr for _, expr in pairs)
    return (
        f"INSERT INTO {table} ({names})\nSELECT\n    {exprs}\nFROM {frm}\n"
        "WHERE m.ord >= $1 AND m.ord < $2\nORDER BY m.ord"
    )


def parents_first(tables: Iterable[str], edges: Iterable[tuple[str, str]]) -> list[str]:
    """Tables ordered so that a foreign key's target comes before the table referring to it (edges: child→parent)."""
    todo = sorted(tables)
    parents: dict[str, set[str]] = {t: set() for t in todo}
    for child, parent in edges:
        if child in parents and parent in parents and child != parent:
            parents[child].add(parent)
    out: list[str] = []
    while todo:
        ready = [t for t in todo if parents[t] <= set(out)]
        if not ready:
            raise ValueError(f"a foreign key cycle among {todo}")
        out += ready
        todo = [t for t in todo if t not in ready]
    return out


def render(report: Mapping) -> str:
    """The line the bench prints under its table."""
    rows = sum(sum(r["added"] for r in tables.values()) for tables in report["rows"].values())
    size = sum(report["size_mb_after"].values())
    pruned = report.get("pruned_during_run")
    tail = (
        ""
        if pruned is None
        else "; pruned during the run: "
        + (", ".join(f"{db} {t} {n}" for db, tables in pruned.items() for t, n in tables.items() if n) or "nothing")
    )
    return (
        f"stores prefilled: {report['demands']:,} historical demands ({rows:,} rows, {size:,.0f} MB in the five"
        f" databases) in {report['seconds']:.0f} s before the runs{tail}"
    )


# --------------------------------------------------------------------------- against the databases


async def _connect(database: str) -> asyncpg.Connection:
    return await asyncpg.connect(system.database_url(database))


async def _counts(database: str) -> dict[str, int]:
    conn = await _connect(database)
    try:
        tables = [r[0] for r in await conn.fetch(_TABLES)]
        return {t: await conn.fetchval(f'SELECT count(*) FROM "{t}"') for t in tables}
    finally:
        await conn.close()


async def _size_mb(database: str) -> float:
    conn = await _connect(database)
    try:
        return round(await conn.fetchval("SELECT pg_database_size(current_database())") / 2**20, 1)
    finally:
        await conn.close()


async def _templates(driver: load.Driver, say: Callable[[str], None]) -> None:
    say(f"prefill: {TEMPLATES} template lifecycles")
    queue = list(range(TEMPLATES))

    async def worker() -> None:
        while queue:
            queue.pop()
            lc = await driver.lifecycle()
            if lc.error:
                raise RuntimeError(f"template lifecycle failed: {lc.error}")

    await asyncio.gather(*(worker() for _ in range(3)))


_UNSETTLED = {
    "intake": "SELECT count(*) FROM demands WHERE status <> 'archived' OR archive_no IS NULL",
    "tracking": "SELECT count(*) FROM cases WHERE archive_no IS NULL",
    "archive": "SELECT (SELECT count(*) FROM dossiers) - $1::bigint",
}


async def _settle(databases: Mapping[str, str]) -> list[Template]:
    """Wait until every demand is archived everywhere and every outbox row published; the demands then."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        conn = await _connect(databases["intake"])
        try:
            rows = await conn.fetch("SELECT demand_id, station_id, submitted_at FROM demands ORDER BY submitted_at")
        finally:
            await conn.close()
        left = 0
        for service, database in databases.items():
            conn = await _connect(database)
            try:
                left += await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                if service in _UNSETTLED:
                    args = (len(rows),) if service == "archive" else ()
                    left += abs(await conn.fetchval(_UNSETTLED[service], *args))
            finally:
                await conn.close()
        if left == 0:
            return [Template(r["demand_id"], r["station_id"], r["submitted_at"]) for r in rows]
        if time.monotonic() > deadline:
            raise RuntimeError(f"prefill: the template lifecycles did not settle in {SETTLE_SECONDS:g} s")
        await asyncio.sleep(0.5)


async def _counters(database: str, table: str) -> dict[tuple[str, int], int]:
    conn = await _connect(database)
    try:
        return {(r[0], r[1]): r[2] for r in await conn.fetch(f"SELECT station_id, year, last_serial FROM {table}")}
    finally:
        await conn.close()


async def _events(databases: Mapping[str, str], templates: list[Template]) -> list[tuple[UUID, UUID]]:
    ids = [t.demand_id for t in templates]
    out = []
    for database in databases.values():
        conn = await _connect(database)
        try:
            rows = await conn.fetch("SELECT event_id, demand_id FROM outbox WHERE demand_id = ANY($1::uuid[])", ids)
            out += [(r[0], r[1]) for r in rows]
        finally:
            await conn.close()
    return out


_SET_COUNTER = """
INSERT INTO {table} (station_id, year, last_serial) SELECT * FROM unnest($1::text[], $2::int[], $3::int[])
ON CONFLICT (station_id, year) DO UPDATE SET last_serial = EXCLUDED.last_serial
"""


async def _fill_one(
    service: str,
    database: str,
    records: list[tuple],
    events: list[tuple[UUID, UUID]],
    counters: dict[tuple[str, int], int] | None,
    say: Callable[[str], None],
) -> dict[str, float]:
    """Clone into one database; the seconds each table took."""
    conn = await _connect(database)
    took: dict[str, float] = {}
    try:
        await conn.execute("SET synchronous_commit = off; SET work_mem = '64MB'")
        await conn.execute(_MAP)
        await conn.copy_records_to_table("prefill_map", records=records, columns=_MAP_COLUMNS)
        await conn.execute(_EVENTS)
        await conn.copy_records_to_table("prefill_events", records=events, columns=("event_id", "t_demand"))
        await conn.execute("ANALYZE prefill_map; ANALYZE prefill_events")
        columns: dict[str, list[Column]] = {}
        for r in await conn.fetch(_COLUMNS):
            columns.setdefault(r["table_name"], []).append(
                Column(r["column_name"], r["data_type"], r["udt_name"], r["column_default"], r["generated"])
            )
        edges = [(r["child"], r["parent"]) for r in await conn.fetch(_FOREIGN_KEYS)]
        n = len(records)
        for table in parents_first(columns, edges):
            sql = clone_sql(table, columns[table])
            if sql is None or not await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {table})"):
                continue
            t0 = time.monotonic()
            added = 0
            for lo in range(0, n, CHUNK):
                added += int((await conn.execute(sql, lo, lo + CHUNK)).split()[-1])
            took[table] = round(time.monotonic() - t0, 1)
            say(f"prefill: {service}.{table}: {added:,} rows in {took[table]:.1f} s")
        if counters:
            table = "tracking_counters" if service == "intake" else "archive_counters"
            keys = sorted(counters)
            await conn.execute(
                _SET_COUNTER.format(table=table),
                [k[0] for k in keys],
                [k[1] for k in keys],
                [counters[k] for k in keys],
            )
        # What autovacuum would long have done to a real history (it is off on the bench's server): hint bits and
        # the visibility map set, statistics fresh; then the fill's dirty pages written out, so that neither the
        # first reads nor a checkpoint pay for the fill inside the measured window.
        t0 = time.monotonic()
        await conn.execute("VACUUM (ANALYZE)")
        await conn.execute("CHECKPOINT")
        took["VACUUM ANALYZE, CHECKPOINT"] = round(time.monotonic() - t0, 1)
    finally:
        await conn.close()
    return took


async def fill(driver: load.Driver, databases: Mapping[str, str], n: int, say: Callable[[str], None]) -> dict:
    """Drive the templates, clone them N times into every database, ANALYZE; the report for the results JSON."""
    await _templates(driver, say)
    templates = await _settle(databases)
    started = time.monotonic()
    before = {s: await _counts(db) for s, db in databases.items()}
    size_before = {s: await _size_mb(db) for s, db in databases.items()}
    now = datetime.now(UTC)
    copies, tracking, archive = plan(
        templates,
        n,
        now,
        await _counters(databases["intake"], "tracking_counters"),
        await _counters(databases["archive"], "archive_counters"),
    )
    records = [c.record() for c in copies]
    events = await _events(databases, templates)
    say(f"prefill: {n:,} demands cloned from {len(templates)} sealed lifecycles, {PARALLEL} databases at a time")
    gate = asyncio.Semaphore(PARALLEL)
    counters = {"intake": tracking, "archive": archive}

    async def one(service: str) -> dict[str, float]:
        async with gate:
            return await _fill_one(service, databases[service], records, events, counters.get(service), say)

    took = dict(zip(databases, await asyncio.gather(*(one(s) for s in databases)), strict=True))
    seconds = time.monotonic() - started
    after = {s: await _counts(db) for s, db in databases.items()}
    report = {
        "demands": n,
        "templates": len(templates),
        "seconds": round(seconds, 1),
        "seconds_per_table": took,
        "business_span_days": SPAN_DAYS,
        "message_span_days": MESSAGE_SPAN.total_seconds() / 86400,
        "rows": {
            s: {
                t: {"before": before[s][t], "after": after[s][t], "added": after[s][t] - before[s][t]}
                for t in after[s]
                if after[s][t]
            }
            for s in databases
        },
        "size_mb_before": size_before,
        "size_mb_after": {s: await _size_mb(db) for s, db in databases.items()},
        "cutoff": (now - NEWEST / 2).isoformat(timespec="seconds"),
        "messaging_rows_at_fill": await _messaging(databases, now - NEWEST / 2),
    }
    say(render(report))
    return report


_MESSAGING_OLD = {
    "outbox": "SELECT count(*) FROM outbox WHERE published_at < $1",
    "inbox": "SELECT count(*) FROM inbox WHERE received_at < $1",
    "idempotent_requests": "SELECT count(*) FROM idempotent_requests WHERE created_at < $1",
}


async def _messaging(databases: Mapping[str, str], cutoff: datetime) -> dict[str, dict[str, int]]:
    """The clones' outbox, inbox and Idempotency-Key rows (all older than `cutoff`), per database."""
    out = {}
    for service, database in databases.items():
        conn = await _connect(database)
        try:
            out[service] = {t: await conn.fetchval(sql, cutoff) for t, sql in _MESSAGING_OLD.items()}
        finally:
            await conn.close()
    return out


async def recount(databases: Mapping[str, str], report: dict) -> dict:
    """After the runs: how many of the clones' outbox, inbox and Idempotency-Key rows the services' pruners deleted
    meanwhile (they should not have: all lie inside the retention), so a pruning pass never goes unnoticed."""
    now = await _messaging(databases, datetime.fromisoformat(report["cutoff"]))
    return {
        "pruned_during_run": {
            s: {t: report["messaging_rows_at_fill"][s][t] - now[s][t] for t in now[s]} for s in databases
        }
    }
