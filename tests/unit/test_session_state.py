"""The pool sends no reset on release (shared.db.pool), which is correct only while no code leaves session state on a
pooled connection. This guard reads every SQL string and migration of the code base for what would outlive a
transaction; tests/integration/test_pool_reset.py proves the release on PostgreSQL itself.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# What outlives COMMIT on a session, and why none of it may appear outside the few places that own a connection.
SESSION_STATE = {
    "set_config(…, false): a session-level setting": re.compile(r"set_config\s*\([^;]*?,\s*false\s*\)", re.I | re.S),
    "a session-level advisory lock": re.compile(r"pg_(try_)?advisory_lock(_shared)?\s*\(", re.I),
    "LISTEN": re.compile(r"\bLISTEN\s+\w+\s*(;|[\"']|$)|add_listener\s*\(", re.M),
    "a cursor WITH HOLD": re.compile(r"\bWITH\s+HOLD\b", re.I),
    "a temporary table": re.compile(r"\bCREATE\s+(GLOBAL\s+|LOCAL\s+)?TEMP(ORARY)?\s+TABLE\b", re.I),
    "a named prepared statement": re.compile(r"""["';]\s*PREPARE\s+\w+""", re.I),
    # SET at the start of a statement (a string's start or after ';'), not UPDATE … SET and not SET LOCAL; SQL is
    # written in capitals here, which keeps prose ("set AUTH_…") out
    "a session-level SET": re.compile(r"""(["']|;)\s*SET\s+(?!LOCAL\b|TRANSACTION\b|CONSTRAINTS\b)(SESSION\s+)?\w"""),
}

# Where session state is allowed, and why: each on a connection nothing else gets.
ALLOWED = {
    # migrations run on their own connection, closed at the end (shared/db/migrate.py)
    ("shared/db/migrate.py", "a session-level advisory lock"),
    # the pruner's lock: released by itself, or the connection is dropped with it (shared.messaging.outbox.prune);
    # LISTEN on the relay's own connection, never a pooled one
    ("shared/messaging/outbox.py", "a session-level advisory lock"),
    ("shared/messaging/outbox.py", "LISTEN"),
}


def _sources() -> list[Path]:
    files = []
    for top in ("shared", "services"):
        files += [p for p in (ROOT / top).rglob("*") if p.suffix in (".py", ".sql") and "__pycache__" not in p.parts]
    return sorted(files)


def _findings(text: str) -> set[str]:
    return {what for what, pattern in SESSION_STATE.items() if pattern.search(text)}


def test_no_code_leaves_session_state_on_a_pooled_connection():
    found = {}
    for path in _sources():
        relative = path.relative_to(ROOT).as_posix()
        for what in _findings(path.read_text(encoding="utf-8")):
            if (relative, what) not in ALLOWED:
                found.setdefault(relative, []).append(what)
    assert found == {}, "session state outlives the transaction; the pool does not reset it (shared/db/pool.py)"


def test_the_allowed_places_still_need_their_exception():
    """An exception nobody needs any more is a hole waiting for the next change: drop it from ALLOWED."""
    for relative, what in ALLOWED:
        assert what in _findings((ROOT / relative).read_text(encoding="utf-8")), (relative, what)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT set_config('qs.scope', $1, false)",
        "SELECT set_config('qs.scope', $1,\n false), set_config('qs.org', $2, true)",
        "SELECT pg_advisory_lock($1)",
        "SELECT pg_try_advisory_lock(hashtext($1))",
        "LISTEN outbox",
        "await conn.add_listener('outbox', cb)",
        "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
        "CREATE TEMP TABLE t (x int)",
        '"PREPARE q AS SELECT 1"',
        '"SET statement_timeout = 0"',
        '"""\n    SET search_path TO other\n"""',
        "'SET SESSION work_mem = 1'",
        "SELECT 1; SET role other",
    ],
)
def test_the_guard_sees_session_state(sql):
    assert _findings(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT set_config('qs.scope', $1, true), set_config('qs.org', $2, true)",
        "SELECT pg_advisory_xact_lock(hashtext($1::text))",
        '"""\nUPDATE outbox\nSET published_at = now()\n"""',
        '"UPDATE cases SET status = $2 WHERE demand_id = $1"',
        "'SET LOCAL statement_timeout = 0'",
        "ALTER TABLE outbox SET (fillfactor = 90)",
        "INSERT INTO inbox VALUES ($1, $2) ON CONFLICT DO NOTHING",
    ],
)
def test_the_guard_passes_transaction_local_sql(sql):
    assert not _findings(sql)
