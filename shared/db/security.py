"""The second wall behind the SQL filters: PostgreSQL row-level security and a least-privilege role.

Every table with a `station_id` column gets RLS enabled and forced with a policy
on `qs_in_scope(station_id)`, so a query that forgets its station filter still
returns nothing outside the caller's scope. The outbox and inbox are the relay's
and handlers' bookkeeping, never read on a request path, and stay outside it.
The service connects as a role that neither owns the tables nor bypasses RLS.
"""

import re

import asyncpg
import structlog

log = structlog.get_logger(__name__)

# station_tree is the registry every caller may read, and the scope predicate reads it.
UNSCOPED = ("outbox", "inbox", "schema_migrations", "station_tree")

_STATION_TABLES = """
SELECT c.table_name FROM information_schema.columns c
JOIN information_schema.tables t USING (table_schema, table_name)
WHERE c.table_schema = 'public' AND c.column_name = 'station_id' AND t.table_type = 'BASE TABLE'
ORDER BY c.table_name
"""


# Whether the app role already has everything secure() gives it: its grants on every table (none on the migration
# ledger) and sequence, and row-level security forced with the station policy on every station table. A restart
# (the usual case: no migration ran) then changes nothing and locks nothing.
_SECURED = f"""
SELECT has_schema_privilege($1, 'public', 'USAGE')
    AND NOT EXISTS (
        SELECT 1 FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND CASE
            WHEN c.relkind NOT IN ('r', 'p', 'S') THEN false
            WHEN c.relkind = 'S' THEN NOT has_sequence_privilege($1, c.oid, 'USAGE, SELECT')
            WHEN c.relname = 'schema_migrations' THEN has_table_privilege($1, c.oid, 'SELECT')
            ELSE NOT has_table_privilege($1, c.oid, 'SELECT, INSERT, UPDATE, DELETE') END)
    AND NOT EXISTS (
        SELECT 1 FROM ({_STATION_TABLES}) st
        JOIN pg_class c ON c.relname = st.table_name AND c.relnamespace = 'public'::regnamespace
        WHERE st.table_name NOT IN ({", ".join(repr(t) for t in UNSCOPED)})
            AND NOT (c.relrowsecurity AND c.relforcerowsecurity AND EXISTS (
                SELECT 1 FROM pg_policies p WHERE p.tablename = st.table_name AND p.policyname = 'station_scope')))
"""


def _ident(name: str) -> str:
    # Identifiers cannot be bound as parameters; allow only plain lower-case names.
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise ValueError(f"unsafe SQL identifier: {name!r}")
    return f'"{name}"'


async def station_tables(conn: asyncpg.Connection) -> list[str]:
    return [r["table_name"] for r in await conn.fetch(_STATION_TABLES) if r["table_name"] not in UNSCOPED]


async def secure(conn: asyncpg.Connection, app_role: str) -> None:
    """Idempotent: run after every migration pass, as the database owner, under the migration lock."""
    role = _ident(app_role)
    exists = await conn.fetchval("SELECT true FROM pg_roles WHERE rolname = $1", app_role)
    if not exists:
        try:
            await conn.execute(f"CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE")
            log.info("database role created", role=app_role)
        except asyncpg.DuplicateObjectError:
            pass  # created by a replica starting at the same time
    database = await conn.fetchval("SELECT current_database()")
    if await conn.fetchval(_SECURED, app_role):
        return  # nothing to change: take no lock that would queue behind the running replicas' transactions
    async with conn.transaction():
        await conn.execute(f"GRANT CONNECT ON DATABASE {_ident(database)} TO {role}")
        await conn.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
        await conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")
        await conn.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")
        await conn.execute(f"REVOKE ALL ON schema_migrations FROM {role}")
        for table in await station_tables(conn):
            ident = _ident(table)
            # ALTER TABLE takes an exclusive lock, so only where row-level security is not yet on.
            await conn.execute(f"ALTER TABLE {ident} ENABLE ROW LEVEL SECURITY")
            await conn.execute(f"ALTER TABLE {ident} FORCE ROW LEVEL SECURITY")
            has_policy = await conn.fetchval(
                "SELECT true FROM pg_policies WHERE tablename = $1 AND policyname = 'station_scope'", table
            )
            if not has_policy:
                await conn.execute(
                    f"CREATE POLICY station_scope ON {ident} "
                    "USING (qs_in_scope(station_id)) WITH CHECK (qs_in_scope(station_id))"
                )
