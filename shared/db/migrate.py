"""Forward-only SQL migrations, applied at start under an advisory lock so replicas can start together.

The shared tables (outbox, inbox) come first under the namespace "shared", then the
service's own under its name; each file runs in its own transaction.
"""

from pathlib import Path

import asyncpg
import structlog

from .security import secure

log = structlog.get_logger(__name__)

SHARED_MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_KEY = 0x5153_4D49_4752  # arbitrary, constant per database

_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    namespace  text NOT NULL,
    version    text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (namespace, version)
)
"""


async def migrate(dsn: str, namespace: str, directory: Path, app_role: str | None = None) -> list[str]:
    """Apply pending migrations, then (with `app_role`) grants and row-level security; returns what was applied.

    Everything happens under one advisory lock, so replicas starting together take turns.
    """
    applied_now: list[str] = []
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        try:
            await conn.execute(_CREATE_LEDGER)
            for ns, folder in (("shared", SHARED_MIGRATIONS), (namespace, directory)):
                done = {
                    r["version"]
                    for r in await conn.fetch("SELECT version FROM schema_migrations WHERE namespace = $1", ns)
                }
                for path in sorted(folder.glob("*.sql")):
                    version = path.stem
                    if version in done:
                        continue
                    async with conn.transaction():
                        await conn.execute(path.read_text(encoding="utf-8"))
                        await conn.execute(
                            "INSERT INTO schema_migrations (namespace, version) VALUES ($1, $2)", ns, version
                        )
                    log.info("migration applied", namespace=ns, version=version)
                    applied_now.append(f"{ns}/{version}")
            if app_role:
                await secure(conn, app_role)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    finally:
        await conn.close()
    return applied_now
