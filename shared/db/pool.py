"""asyncpg pool with the json/jsonb codecs registered once (asyncpg decodes neither by default)."""

import json
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import structlog

log = structlog.get_logger(__name__)


def _dumps(value) -> str:
    # Chinese text stays readable in the database rather than \u-escaped.
    return json.dumps(value, ensure_ascii=False, default=str)


async def _init_connection(conn: asyncpg.Connection) -> None:
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(typename, encoder=_dumps, decoder=json.loads, schema="pg_catalog")


async def _release_as_is(conn: asyncpg.Connection) -> None:
    """The pool's reset: nothing to send, because no pooled connection keeps session state.

    asyncpg's default reset (`pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`) is one more round trip
    and one more transaction on every release, about half of a service's commits. Before calling this asyncpg still
    rolls back a transaction left open. Everything else the default would undo, this code base never leaves behind
    (tests/unit/test_session_state.py keeps it so, tests/integration/test_pool_reset.py proves it on PostgreSQL):
    - the station scope and organization are set with `set_config(..., true)`: transaction-local, gone at COMMIT or
      ROLLBACK, and every transaction sets them again first (shared.db.uow);
    - advisory locks are `pg_advisory_xact_lock` (released at the transaction's end), except the pruner's session
      lock, which it releases itself or drops the connection with it (shared.messaging.outbox.prune);
    - LISTEN happens on the relay's own connection, never a pooled one; no cursor outlives its transaction; no
      session-level SET.
    """


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection, reset=_release_as_is
    )


def database_name(dsn: str) -> str:
    name = urlsplit(dsn).path.lstrip("/")
    if not name or '"' in name:
        raise ValueError(f"database URL must name a database: {dsn!r}")
    return name


def with_database(dsn: str, database: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path="/" + database))


async def ensure_database(dsn: str) -> None:
    """Create the service's own database when missing; replicas starting together may race."""
    try:
        conn = await asyncpg.connect(dsn)
    except asyncpg.InvalidCatalogNameError:
        pass
    else:
        await conn.close()
        return
    name = database_name(dsn)
    admin = await asyncpg.connect(with_database(dsn, "postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        log.info("database created", database=name)
    except (asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
        pass  # another replica won the race
    finally:
        await admin.close()
