"""The pool sends no reset on release (shared.db.pool): nothing a transaction did may reach the next checkout.

Every test runs on a pool of one connection, so each checkout is provably the same PostgreSQL session (same backend
pid): a scope or a lock that survived a release would be seen here.
"""

import asyncio
import contextlib
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from shared.auth import Principal, Role
from shared.db import create_pool, ensure_database, migrate
from shared.db.together import literal
from shared.db.uow import UnitOfWork, savepoint
from shared.messaging import outbox
from tests.support import events, infra

pytestmark = pytest.mark.integration

APP_ROLE = "qs_pool_test_app"
STATION, OTHER = events.STATION, events.OTHER_STATION
HEAD = Principal(subject="head-1", name="周站长", role=Role.head, station=STATION)
OTHER_HEAD = Principal(subject="head-2", name="陈站长", role=Role.head, station=OTHER)

_SESSION = """
SELECT pg_backend_pid() AS pid,
       coalesce(current_setting('qs.scope', true), '') AS scope,
       coalesce(current_setting('qs.org', true), '') AS org,
       (SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory') AS advisory_locks,
       (SELECT count(*) FROM notes) AS visible_notes
"""


def _as_app_role(dsn: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(netloc=f"{APP_ROLE}@{parts.hostname}:{parts.port or 5432}"))


@pytest.fixture
async def one_connection(databases, tmp_path):
    """A database with a station table under row-level security, and a unit of work on a one-connection pool that
    connects as the least-privilege role, as the services' pools do (a superuser would bypass the policy)."""
    db = databases("intake")
    (tmp_path / "0001_notes.sql").write_text("CREATE TABLE notes (note text NOT NULL, station_id text NOT NULL);")
    await ensure_database(db)
    await migrate(db, "pool-test", tmp_path, app_role=APP_ROLE)
    owner = await create_pool(db, max_size=1)
    async with owner.acquire() as conn, conn.transaction():
        await conn.execute("SELECT set_config('qs.scope', '*', true)")
        await conn.execute("INSERT INTO notes VALUES ('ours', $1), ('theirs', $2)", STATION, OTHER)
    await owner.close()
    pool = await create_pool(_as_app_role(db), min_size=1, max_size=1)
    uow = UnitOfWork("pool-test", lambda conn: conn)
    uow.bind(pool)
    yield pool, uow, db
    await pool.close()


async def _next_checkout(pool) -> dict:
    async with pool.acquire() as conn:
        return dict(await conn.fetchrow(_SESSION))


async def test_a_released_connection_carries_no_scope_and_no_lock_into_the_next_checkout(one_connection):
    pool, uow, _ = one_connection
    async with uow.begin(HEAD, lock="demand-1") as tx:
        inside = dict(await tx.conn.fetchrow(_SESSION))
    assert inside["scope"] == STATION and inside["advisory_locks"] == 1 and inside["visible_notes"] == 1

    after = await _next_checkout(pool)
    assert after == {"pid": inside["pid"], "scope": "", "org": "", "advisory_locks": 0, "visible_notes": 0}

    async with uow.begin(OTHER_HEAD) as tx:  # the next request, another station's head, on the same session
        assert await tx.conn.fetchval("SELECT pg_backend_pid()") == inside["pid"]
        assert [r["note"] for r in await tx.conn.fetch("SELECT note FROM notes")] == ["theirs"]


async def test_an_organization_scope_and_a_failed_transaction_leave_nothing_either(one_connection):
    pool, uow, _ = one_connection
    org = Principal(subject="org-1", name="市计量测试院", role=Role.org, org="org-1")
    with pytest.raises(RuntimeError):
        async with uow.begin(org, lock="demand-2") as tx:
            pid = await tx.conn.fetchval("SELECT pg_backend_pid()")
            assert await tx.conn.fetchval("SELECT current_setting('qs.org')") == "org-1"
            raise RuntimeError("the use case failed")
    assert await _next_checkout(pool) == {"pid": pid, "scope": "", "org": "", "advisory_locks": 0, "visible_notes": 0}


async def test_handling_an_event_leaves_the_system_scope_behind(one_connection):
    """Handlers run in the system scope ('*', every station): the widest scope must be the first to go."""
    pool, uow, _ = one_connection
    seen = {}

    async def usecase(tx, event):
        seen.update(await tx.conn.fetchrow(_SESSION))

    event = events.submitted()
    assert await uow.handle(event, usecase)
    assert seen["scope"] == "*" and seen["advisory_locks"] == 1 and seen["visible_notes"] == 2
    after = await _next_checkout(pool)
    assert after == {"pid": seen["pid"], "scope": "", "org": "", "advisory_locks": 0, "visible_notes": 0}
    assert not await uow.handle(event, usecase)  # the inbox claim committed with it: a duplicate does nothing


async def test_a_transaction_left_open_is_rolled_back_on_release(one_connection):
    pool, _, _ = one_connection
    async with pool.acquire() as conn:
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        await conn.execute("BEGIN")
        await conn.execute("SELECT set_config('qs.scope', '*', true)")
        await conn.execute("INSERT INTO notes VALUES ('never', $1)", STATION)
    assert await _next_checkout(pool) == {"pid": pid, "scope": "", "org": "", "advisory_locks": 0, "visible_notes": 0}
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT set_config('qs.scope', '*', true)")
        assert await conn.fetchval("SELECT count(*) FROM notes WHERE note = 'never'") == 0


async def test_a_pruner_stopped_while_holding_its_session_lock_does_not_keep_it(one_connection):
    """The pruner's lock is the one session-level state on a pooled connection: cancelled midway, it drops the
    connection rather than hand the lock to the next checkout (which would stop pruning on every replica)."""
    pool, _, db = one_connection
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO inbox (consumer, event_id, received_at) "
            "SELECT 'prune-test', gen_random_uuid(), now() - interval '40 days' FROM generate_series(1, 20000)"
        )
    days = timedelta(days=1)
    # One row per statement: 20,000 statements, seconds of work to be stopped in.
    pruning = asyncio.create_task(outbox.prune(pool, outbox_age=7 * days, inbox_age=30 * days, batch=1))
    await infra.eventually(lambda: _prune_lock_held(db), interval=0.01, what="the pruner to hold its lock")
    await infra.eventually(lambda: _inbox_left(db, below=20000), interval=0.01, what="the pruner to be deleting")
    pruning.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pruning
    await infra.eventually(lambda: _not(_prune_lock_held(db)), what="the lock to go with the dropped session")
    again = await outbox.prune(pool, outbox_age=7 * days, inbox_age=30 * days, batch=5000)
    assert again is not None and again.inbox > 0  # the next round is not locked out
    assert (await _next_checkout(pool))["advisory_locks"] == 0


async def _prune_lock_held(db: str) -> bool:
    held = """
        SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (
            SELECT oid FROM pg_database WHERE datname = current_database())
        AND ((classid::bigint << 32) | objid::bigint) = $1
    """
    return bool(await infra.fetch(db, held, outbox.PRUNE_LOCK))


async def _inbox_left(db: str, *, below: int) -> bool:
    [row] = await infra.fetch(db, "SELECT count(*) AS n FROM inbox WHERE consumer = 'prune-test'")
    return row["n"] < below


async def _not(check) -> bool:
    return not await check


@pytest.mark.parametrize("conforming", ["on", "off"])
async def test_the_opening_statements_literals_are_the_values_themselves(one_connection, conforming):
    """The scope, organization and lock key travel as literals with the BEGIN (shared.db.uow.transaction): quotes
    and backslashes must arrive as they are, whatever the server's string setting."""
    pool, _, _ = one_connection
    nasty = ["", "*", "o'rg", "a\\'; SELECT 1; --", "\\\\", "站'点\\n", "E'x'"]
    async with pool.acquire() as conn:
        await conn.execute(f"SET standard_conforming_strings = {conforming}")
        try:
            for value in nasty:
                assert await conn.fetchval(f"SELECT {literal(value)}") == value
        finally:
            await conn.execute("RESET standard_conforming_strings")
    with pytest.raises(ValueError):
        literal("a\x00b")


async def test_a_savepoint_undoes_its_own_part_and_the_transaction_commits_the_rest(one_connection):
    pool, uow, _ = one_connection
    async with uow.begin(HEAD) as tx:
        await tx.conn.execute("INSERT INTO notes VALUES ('kept', $1)", STATION)
        with pytest.raises(RuntimeError):
            async with savepoint(tx.conn):
                await tx.conn.execute("INSERT INTO notes VALUES ('undone', $1)", STATION)
                raise RuntimeError("one part failed")
        async with savepoint(tx.conn):
            await tx.conn.execute("INSERT INTO notes VALUES ('also kept', $1)", STATION)
    async with uow.begin(HEAD) as tx:
        notes = {r["note"] for r in await tx.conn.fetch("SELECT note FROM notes")}
    assert notes == {"ours", "kept", "also kept"}
    assert (await _next_checkout(pool))["scope"] == ""


async def test_a_request_cancelled_mid_statement_leaves_nothing_behind(one_connection):
    """A client gone while its transaction waits on PostgreSQL: the write is undone and the session is clean."""
    pool, uow, db = one_connection

    async def slow_request():
        async with uow.begin(HEAD, lock="demand-3") as tx:
            await tx.conn.execute("INSERT INTO notes VALUES ('cancelled', $1)", STATION)
            await tx.conn.execute("SELECT pg_sleep(30)")

    request = asyncio.create_task(slow_request())
    await infra.eventually(lambda: _sleeping(db), interval=0.01, what="the request to wait on PostgreSQL")
    request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await request
    after = await _next_checkout(pool)
    assert {k: after[k] for k in ("scope", "org", "advisory_locks", "visible_notes")} == {
        "scope": "",
        "org": "",
        "advisory_locks": 0,
        "visible_notes": 0,
    }
    async with uow.begin(HEAD) as tx:
        assert await tx.conn.fetchval("SELECT count(*) FROM notes WHERE note = 'cancelled'") == 0


async def _sleeping(db: str) -> bool:
    waiting = "SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query = 'SELECT pg_sleep(30)'"
    return bool(await infra.fetch(db, waiting))


async def test_a_transaction_a_caught_error_aborted_does_not_pass_for_committed(one_connection):
    """PostgreSQL answers ROLLBACK to the COMMIT of an aborted transaction: that is an error, not a silent loss."""
    _, uow, _ = one_connection
    with pytest.raises(RuntimeError, match="rolled back"):
        async with uow.begin(HEAD) as tx:
            await tx.conn.execute("INSERT INTO notes VALUES ('lost', $1)", STATION)
            with contextlib.suppress(asyncpg.DataError):
                await tx.conn.execute("SELECT 1 / $1::int", 0)
    async with uow.begin(HEAD) as tx:
        assert await tx.conn.fetchval("SELECT count(*) FROM notes WHERE note = 'lost'") == 0
