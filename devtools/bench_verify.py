"""The correctness check at the end of `make bench` (devtools/bench.py): no event lost, none handled twice — with one
replica of each service or several (`--replicas`, issue 14: "a second replica of the busiest service changes nothing
in correctness").

For every demand the bench submitted (devtools/bench_load.Driver.begun), read as the superuser from each service's
own database, once the system has settled (every outbox row published and every published event in each of its
consumers' inboxes, polled with a deadline):

- per demand, what one lifecycle leaves in each service, counted: a sealed lifecycle leaves exactly that (fewer is a
  loss), any other — failed, or cut off at the end of the open loop — at most that (more is a duplicate). The counts
  are chosen where a twice-handled event would show: tracking's timeline appends one entry per event handled (no
  key on the event, the inbox alone keeps a redelivery out), dispatch and tracking count assignments, evaluation
  makes a new rating link per Resolved, the archive adds a supplement for anything that reaches a sealed dossier;
- the archive number the same in intake, tracking and archive for every sealed demand;
- the number counters (tracking numbers, archive numbers) equal to the numbers issued: none burnt, none twice;
- no demand in intake the bench did not submit (a request carried out twice), beyond the submits it never saw
  answered;
- every outbox row published; every published event of a bench demand in the inbox of every consumer whose queue
  is bound to it (the queues of the vhost are the topology, shared.contracts.topology.queue_name); the inbox's key
  (consumer, event_id) makes "exactly once" the same as "at least once" there;
- every dead-letter queue empty (counted exactly, by a passive declare, not from the management API's sampled
  figures).

Beside the checks, not one of them: how many redelivered events each service's inbox absorbed ("duplicate event
ignored" in its logs) — the duplicates that did arrive and changed nothing.

The evaluation is pure (`judge`, `inbox_losses`, `mismatched`, `counter_gaps`), tested in
tests/unit/test_bench_verify.py; `verify` reads and polls.
"""

import asyncio
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import aio_pika
import asyncpg

from devtools import bench_system as system
from devtools.bench_load import Lifecycle
from shared.contracts.topology import LIFECYCLE, SERVICES

KINDS = tuple(e.routing_key for e in LIFECYCLE)  # demand.submitted … demand.archived
SETTLE_POLL = 0.5


@dataclass(frozen=True)
class Fact:
    """A column of a service's per-demand query: what one sealed lifecycle leaves there (`sealed` of it)."""

    column: str
    says: str
    sealed: int = 1


@dataclass(frozen=True)
class Check:
    name: str
    wrong: int
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.wrong == 0

    def as_dict(self) -> dict:
        return {"check": self.name, "ok": self.ok, "wrong": self.wrong, "detail": self.detail}


# --------------------------------------------------------------------------- what one lifecycle leaves, per service

# $1: the bench's demand ids; $2…: routing keys where a query counts per event kind.
_INTAKE = """
SELECT d.demand_id::text,
    (SELECT count(*) FROM demands x WHERE x.demand_id = d.demand_id) AS demand,
    (SELECT count(*) FROM demands x WHERE x.demand_id = d.demand_id AND x.status = 'archived') AS archived,
    (SELECT count(*) FROM status_steps s WHERE s.demand_id = d.demand_id AND s.first_assigned_at IS NOT NULL
        AND s.resolved_round = 1 AND s.rated_round = 1) AS steps,
    (SELECT count(*) FROM status_rating_links l WHERE l.demand_id = d.demand_id) AS rating_links,
    (SELECT x.archive_no FROM demands x WHERE x.demand_id = d.demand_id) AS archive_no
FROM unnest($1::uuid[]) AS d (demand_id)
"""
_DISPATCH = """
SELECT d.demand_id::text,
    (SELECT count(*) FROM queue q WHERE q.demand_id = d.demand_id) AS queued,
    (SELECT count(*) FROM assignments a WHERE a.demand_id = d.demand_id) AS assignments,
    (SELECT coalesce(sum(q.assignment_count), 0) FROM queue q WHERE q.demand_id = d.demand_id) AS assignment_count,
    (SELECT count(*) FROM queue q WHERE q.demand_id = d.demand_id AND q.status = 'resolved') AS resolved,
    (SELECT count(*) FROM resolution_outcomes r WHERE r.demand_id = d.demand_id AND r.rated_event_id IS NOT NULL)
        AS rated
FROM unnest($1::uuid[]) AS d (demand_id)
"""
_TRACKING = """
SELECT d.demand_id::text,
    (SELECT count(*) FROM cases c WHERE c.demand_id = d.demand_id) AS cases,
    (SELECT coalesce(sum(c.assignment_no), 0) FROM cases c WHERE c.demand_id = d.demand_id) AS assignment_no,
    (SELECT count(*) FROM cases c WHERE c.demand_id = d.demand_id AND c.resolved_at IS NOT NULL) AS resolved,
    (SELECT count(*) FROM cases c WHERE c.demand_id = d.demand_id AND c.rated_at IS NOT NULL) AS rated,
    (SELECT count(*) FROM cases c WHERE c.demand_id = d.demand_id AND c.archive_no IS NOT NULL) AS archived,
    (SELECT count(*) FROM timeline t WHERE t.demand_id = d.demand_id AND t.kind = $2) AS "timeline:demand.submitted",
    (SELECT count(*) FROM timeline t WHERE t.demand_id = d.demand_id AND t.kind = $3) AS "timeline:demand.assigned",
    (SELECT count(*) FROM timeline t WHERE t.demand_id = d.demand_id AND t.kind = $4) AS "timeline:demand.resolved",
    (SELECT count(*) FROM timeline t WHERE t.demand_id = d.demand_id AND t.kind = $5) AS "timeline:demand.rated",
    (SELECT count(*) FROM timeline t WHERE t.demand_id = d.demand_id AND t.kind = $6) AS "timeline:demand.archived",
    (SELECT count(t.event_id) - count(DISTINCT t.event_id) FROM timeline t WHERE t.demand_id = d.demand_id)
        AS timeline_repeats,
    (SELECT c.archive_no FROM cases c WHERE c.demand_id = d.demand_id) AS archive_no
FROM unnest($1::uuid[]) AS d (demand_id)
"""
_EVALUATION = """
SELECT d.demand_id::text,
    (SELECT count(*) FROM demand_forms f WHERE f.demand_id = d.demand_id) AS forms,
    (SELECT count(*) FROM assignments a WHERE a.demand_id = d.demand_id) AS assignments,
    (SELECT count(*) FROM resolutions r WHERE r.demand_id = d.demand_id) AS resolutions,
    (SELECT count(*) FROM rating_links l WHERE l.demand_id = d.demand_id) AS rating_links,
    (SELECT count(*) FROM surveys s WHERE s.demand_id = d.demand_id AND s.status = 'rated') AS surveys_rated,
    (SELECT count(*) FROM ratings r WHERE r.demand_id = d.demand_id) AS ratings
FROM unnest($1::uuid[]) AS d (demand_id)
"""
_ARCHIVE = """
SELECT d.demand_id::text,
    (SELECT count(*) FROM dossiers x WHERE x.demand_id = d.demand_id) AS dossiers,
    (SELECT count(*) FROM event_log e WHERE e.demand_id = d.demand_id AND e.routing_key = $2)
        AS "event_log:demand.submitted",
    (SELECT count(*) FROM event_log e WHERE e.demand_id = d.demand_id AND e.routing_key = $3)
        AS "event_log:demand.assigned",
    (SELECT count(*) FROM event_log e WHERE e.demand_id = d.demand_id AND e.routing_key = $4)
        AS "event_log:demand.resolved",
    (SELECT count(*) FROM event_log e WHERE e.demand_id = d.demand_id AND e.routing_key = $5)
        AS "event_log:demand.rated",
    (SELECT count(*) FROM dossier_supplements s WHERE s.demand_id = d.demand_id) AS supplements,
    (SELECT x.archive_no FROM dossiers x WHERE x.demand_id = d.demand_id) AS archive_no
FROM unnest($1::uuid[]) AS d (demand_id)
"""

PER_DEMAND: dict[str, tuple[str, tuple[str, ...], tuple[Fact, ...]]] = {
    "intake": (
        _INTAKE,
        (),
        (
            Fact("demand", "demand row"),
            Fact("archived", "demand marked archived (Archived seen)"),
            Fact("steps", "status page saw Assigned, Resolved and Rated of round 1"),
            Fact("rating_links", "status page rating link (RatingLinkIssued)"),
        ),
    ),
    "dispatch": (
        _DISPATCH,
        (),
        (
            Fact("queued", "queue item (DemandSubmitted)"),
            Fact("assignments", "assignment rows"),
            Fact("assignment_count", "queue's assignment counter"),
            Fact("resolved", "queue item resolved (Resolved seen)"),
            Fact("rated", "resolution outcome rated (Rated seen)"),
        ),
    ),
    "tracking": (
        _TRACKING,
        KINDS,
        (
            Fact("cases", "case row"),
            Fact("assignment_no", "case's assignment number"),
            Fact("resolved", "case resolved"),
            Fact("rated", "case rated (Rated seen)"),
            Fact("archived", "case archived (Archived seen)"),
            *(Fact(f"timeline:{k}", f"timeline entries for {k}") for k in KINDS),
            Fact("timeline_repeats", "timeline entries repeating an event", sealed=0),
        ),
    ),
    "evaluation": (
        _EVALUATION,
        (),
        (
            Fact("forms", "demand form (DemandSubmitted)"),
            Fact("assignments", "assignment (Assigned)"),
            Fact("resolutions", "resolution (Resolved)"),
            Fact("rating_links", "rating links made (one per Resolved)"),
            Fact("surveys_rated", "survey rated"),
            Fact("ratings", "ratings"),
        ),
    ),
    "archive": (
        _ARCHIVE,
        KINDS[:4],
        (
            Fact("dossiers", "sealed dossier"),
            *(Fact(f"event_log:{k}", f"event log entries for {k}") for k in KINDS[:4]),
            Fact("supplements", "supplements to a sealed dossier", sealed=0),
        ),
    ),
}

# Number counters against the numbers issued, per station and year.
_TRACKING_NUMBERS = """
SELECT c.station_id, c.year, c.last_serial,
    (SELECT count(*) FROM demands d WHERE d.station_id = c.station_id AND left(d.tracking_no, 4) = c.year::text)
        AS issued
FROM tracking_counters c
"""
_ARCHIVE_NUMBERS = """
SELECT c.station_id, c.year, c.last_serial,
    (SELECT count(*) FROM dossiers d WHERE d.station_id = c.station_id AND substr(d.archive_no, 2, 4) = c.year::text)
        AS issued
FROM archive_counters c
"""
# Demands in intake since the bench began that it did not submit.
_STRANGERS = "SELECT count(*) FROM demands WHERE submitted_at >= to_timestamp($2) AND NOT demand_id = ANY($1::uuid[])"
_PENDING = "SELECT count(*) FROM outbox WHERE published_at IS NULL"
_PUBLISHED = (
    "SELECT routing_key, event_id::text FROM outbox WHERE published_at IS NOT NULL AND demand_id = ANY($1::uuid[])"
)
_INBOX = "SELECT consumer, event_id::text FROM inbox WHERE received_at >= to_timestamp($1)"
# Where each sealed demand's archive number is kept (the `archive_no` column of their per-demand query).
ARCHIVE_NUMBERS = ("intake", "tracking", "archive")


# --------------------------------------------------------------------------- the pure evaluation


def judge(label: str, fact: Fact, values: Mapping[str, int], sealed: set[str]) -> Check:
    """One fact over the bench's demands: a sealed one must have exactly `fact.sealed`, any other at most that."""
    short = sum(1 for d, v in values.items() if d in sealed and v < fact.sealed)
    over = sum(1 for v in values.values() if v > fact.sealed)
    parts = []
    if short:
        parts.append(f"{short} sealed demand(s) with fewer than {fact.sealed}")
    if over:
        parts.append(f"{over} demand(s) with more than {fact.sealed}")
    return Check(f"{label}: {fact.says}", short + over, "; ".join(parts))


def subscriptions(queues: Iterable[str]) -> dict[str, set[str]]:
    """consumer → routing keys, from the vhost's queue names (`tracking.demand.resolved`); DLQs left out."""
    out: dict[str, set[str]] = {}
    for queue in queues:
        consumer, _, key = queue.partition(".")
        if consumer in SERVICES and key and not queue.endswith(".dlq"):
            out.setdefault(consumer, set()).add(key)
    return out


def inbox_losses(
    subs: Mapping[str, set[str]], published: Mapping[str, set[str]], inbox: Mapping[str, set[str]]
) -> dict[str, dict[str, int]]:
    """Per consumer and routing key it subscribes to: published events missing from its inbox (only keys with one)."""
    out: dict[str, dict[str, int]] = {}
    for consumer, keys in subs.items():
        seen = inbox.get(consumer, set())
        for key in sorted(keys):
            missing = len(published.get(key, set()) - seen)
            if missing:
                out.setdefault(consumer, {})[key] = missing
    return out


def mismatched(sealed: Iterable[str], *numbers: Mapping[str, str | None]) -> int:
    """Sealed demands whose archive number is missing somewhere, or not the same everywhere."""
    bad = 0
    for demand in sealed:
        seen = {n.get(demand) for n in numbers}
        if None in seen or len(seen) != 1:
            bad += 1
    return bad


def counter_gaps(rows: Iterable[Mapping]) -> int:
    """Numbers burnt or issued twice: |last serial − numbers issued| summed over the counters."""
    return sum(abs(int(r["last_serial"]) - int(r["issued"])) for r in rows)


# --------------------------------------------------------------------------- reading and polling


async def _fetch(database: str, sql: str, *args) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(system.database_url(database))
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def _events(
    databases: Mapping[str, str], ids: list[str], since: float
) -> tuple[int, dict[str, set[str]], dict[str, set[str]]]:
    """Outbox rows not yet published (all services), published events of the bench's demands by routing key, and
    the inboxes since the bench began by consumer."""
    pending = 0
    published: dict[str, set[str]] = {}
    inbox: dict[str, set[str]] = {}
    for database in databases.values():
        pending += (await _fetch(database, _PENDING))[0][0]
        for r in await _fetch(database, _PUBLISHED, ids):
            published.setdefault(r["routing_key"], set()).add(r["event_id"])
        for r in await _fetch(database, _INBOX, since):
            inbox.setdefault(r["consumer"], set()).add(r["event_id"])
    return pending, published, inbox


async def _dead_letters(vhost: str, queues: list[str]) -> dict[str, int]:
    """Messages in each DLQ, exactly (a passive declare), not the management API's sampled figure."""
    out = {}
    connection = await aio_pika.connect(system.amqp_url(vhost))
    try:
        channel = await connection.channel()
        for name in queues:
            declared = await channel.declare_queue(name, passive=True)
            out[name] = declared.declaration_result.message_count
    finally:
        await connection.close()
    return out


def absorbed(logs: Mapping[str, Iterable[Path]]) -> dict[str, int]:
    """Per service: redelivered events its inbox turned away ("duplicate event ignored" log lines)."""
    out = {}
    for service, paths in logs.items():
        n = 0
        for path in paths:
            with path.open("rb") as f:
                n += sum(1 for line in f if b"duplicate event ignored" in line)
        out[service] = n
    return out


async def verify(
    *,
    vhost: str,
    queues: list[str],
    databases: Mapping[str, str],
    begun: list[Lifecycle],
    since: float,
    logs: Mapping[str, Iterable[Path]],
    settle_seconds: float,
) -> dict:
    """Wait up to `settle_seconds` for the events under way, then check. `since`: the UNIX time the bench began
    submitting; `queues`: the vhost's queue names; `logs`: each service's replicas' log files."""
    known = {lc.demand_id: lc for lc in begun if lc.demand_id is not None}
    ids = list(known)
    sealed = {d for d, lc in known.items() if lc.sealed}
    subs = subscriptions(queues)

    started = time.monotonic()
    while True:
        pending, published, inbox = await _events(databases, ids, since)
        losses = inbox_losses(subs, published, inbox)
        if (pending == 0 and not losses) or time.monotonic() - started > settle_seconds:
            break
        await asyncio.sleep(SETTLE_POLL)
    settled = round(time.monotonic() - started, 1)

    checks = []
    numbers: dict[str, dict[str, str | None]] = {}
    for service, (sql, keys, facts) in PER_DEMAND.items():
        rows = await _fetch(databases[service], sql, ids, *keys)
        for fact in facts:
            checks.append(judge(service, fact, {r["demand_id"]: int(r[fact.column]) for r in rows}, sealed))
        if service in ARCHIVE_NUMBERS:
            numbers[service] = {r["demand_id"]: r["archive_no"] for r in rows}
    bad = mismatched(sealed, *numbers.values())
    checks.append(
        Check("archive number the same in " + ", ".join(numbers), bad, f"{bad} sealed demand(s)" if bad else "")
    )

    for label, database, sql in (
        ("intake: tracking numbers = counter", databases["intake"], _TRACKING_NUMBERS),
        ("archive: archive numbers = counter", databases["archive"], _ARCHIVE_NUMBERS),
    ):
        gaps = counter_gaps(await _fetch(database, sql))
        checks.append(Check(label, gaps, f"{gaps} number(s) burnt or doubled" if gaps else ""))

    unanswered = len(begun) - len(known)
    strangers = (await _fetch(databases["intake"], _STRANGERS, ids, since))[0][0]
    # A submit the bench never saw answered (cut off, or its reply lost) may have made a demand it cannot know.
    extra = max(strangers - unanswered, 0)
    checks.append(
        Check(
            "intake: no demand the bench did not submit",
            extra,
            f"{strangers} unknown, {unanswered} submit(s) unanswered" if extra else "",
        )
    )

    checks.append(Check("outbox: every event published", pending, f"{pending} pending" if pending else ""))
    for consumer in sorted(subs):
        lost = losses.get(consumer, {})
        n = sum(lost.values())
        detail = ", ".join(f"{k} {v}" for k, v in lost.items())
        checks.append(Check(f"inbox: {consumer} received every event it subscribes to", n, detail))

    dead = await _dead_letters(vhost, [q for q in queues if q.endswith(".dlq")])
    total = sum(dead.values())
    detail = ", ".join(f"{q} {n}" for q, n in dead.items() if n)
    checks.append(Check("dead-letter queues empty", total, detail))

    return {
        "ok": all(c.ok for c in checks),
        "demands": len(known),
        "sealed": len(sealed),
        "unanswered_submits": unanswered,
        "settled_after_s": settled,
        "events_checked": sum(len(v) for v in published.values()),
        "checks": [c.as_dict() for c in checks],
        "duplicates_absorbed": absorbed(logs),
    }


def render(result: Mapping) -> str:
    """The correctness block of the report."""
    width = max(len(c["check"]) for c in result["checks"])
    lines = [
        f"CORRECTNESS: {'all ok' if result['ok'] else 'FAILED'} — {result['demands']:,} demands submitted by the"
        f" bench ({result['sealed']:,} sealed), {result['events_checked']:,} events, settled after"
        f" {result['settled_after_s']:g} s",
        f"{'check'.ljust(width)}  result",
        f"{'-' * width}  ------",
    ]
    for c in result["checks"]:
        lines.append(f"{c['check'].ljust(width)}  " + ("ok" if c["ok"] else f"WRONG {c['wrong']:,}: {c['detail']}"))
    lines.append(
        "redeliveries absorbed by the inbox (not errors): "
        + ", ".join(f"{s} {n}" for s, n in result["duplicates_absorbed"].items())
    )
    return "\n".join(lines)
