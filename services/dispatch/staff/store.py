"""Staff and department SQL: the roster of each station, its audit, and the look-ups an assignment needs.

A mixin on the dispatch store (`self.conn` is the transaction's connection). Both tables carry station_id,
so row-level security guards them as well; lists ask `qs_covers(scope, station_id)` in SQL all the same.
"""

from datetime import datetime

import asyncpg

from .domain import Action, Department, StaffMember

_DEPARTMENT_COLUMNS = "station_id, department_id, name, categories, active, updated_by, updated_at"
_STAFF_COLUMNS = "station_id, staff_id, name, department_id, categories, phone, active, updated_by, updated_at"

_DEPARTMENTS = f"""
SELECT {_DEPARTMENT_COLUMNS} FROM departments
WHERE station_id = $1 AND qs_covers($2, station_id) AND ($3::boolean IS NULL OR active = $3)
ORDER BY name, department_id
LIMIT $4 OFFSET $5
"""
_DEPARTMENT = f"SELECT {_DEPARTMENT_COLUMNS} FROM departments WHERE station_id = $1 AND department_id = $2"
_DEPARTMENTS_BY_ID = f"""
SELECT {_DEPARTMENT_COLUMNS} FROM departments WHERE station_id = $1 AND department_id = ANY ($2::text[])
"""
_DEPARTMENT_NAMED = "SELECT department_id FROM departments WHERE station_id = $1 AND name = $2 AND department_id <> $3"
_SAVE_DEPARTMENT = f"""
INSERT INTO departments ({_DEPARTMENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (station_id, department_id) DO UPDATE SET name = EXCLUDED.name, categories = EXCLUDED.categories,
    active = EXCLUDED.active, updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at
"""

_STAFF = f"""
SELECT {_STAFF_COLUMNS} FROM staff
WHERE station_id = $1 AND qs_covers($2, station_id) AND ($3::boolean IS NULL OR active = $3)
  AND ($4::text IS NULL OR department_id = $4)
ORDER BY name, staff_id
LIMIT $5 OFFSET $6
"""
_STAFF_MEMBER = f"SELECT {_STAFF_COLUMNS} FROM staff WHERE station_id = $1 AND staff_id = $2"
_STAFF_BY_ID = f"SELECT {_STAFF_COLUMNS} FROM staff WHERE station_id = $1 AND staff_id = ANY ($2::text[])"
_SAVE_STAFF = f"""
INSERT INTO staff ({_STAFF_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (station_id, staff_id) DO UPDATE SET name = EXCLUDED.name, department_id = EXCLUDED.department_id,
    categories = EXCLUDED.categories, phone = EXCLUDED.phone, active = EXCLUDED.active,
    updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at
"""
_ACTIVE_STAFF_IN = "SELECT count(*) FROM staff WHERE station_id = $1 AND department_id = $2 AND active"

_AUDIT = """
INSERT INTO staff_audit (station_id, record, record_id, action, actor, actor_name, actor_role, at, before, after)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
"""

# The departments that handle any of the categories, each with its active staff: what a head is offered.
_HANDLING = """
SELECT d.department_id, d.name,
       coalesce((SELECT jsonb_agg(jsonb_build_object('staff_id', s.staff_id, 'name', s.name)
                                  ORDER BY s.name, s.staff_id)
                 FROM staff s
                 WHERE s.station_id = d.station_id AND s.department_id = d.department_id AND s.active),
                '[]'::jsonb) AS staff
FROM departments d
WHERE d.station_id = $1 AND d.active AND d.categories && $2::text[]
ORDER BY d.name, d.department_id
"""

_STATION_KNOWN = "SELECT EXISTS (SELECT 1 FROM station_tree WHERE station_id = $1)"


def _department(row: asyncpg.Record) -> Department:
    return Department(**{**row, "categories": tuple(row["categories"])})


def _member(row: asyncpg.Record) -> StaffMember:
    return StaffMember(**{**row, "categories": tuple(row["categories"])})


class StaffStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def station_known(self, station_id: str) -> bool:
        """Registered with intake, as dispatch's copy of the station tree has it."""
        return await self.conn.fetchval(_STATION_KNOWN, station_id)

    # --- departments

    async def departments(
        self, station_id: str, scope: str, active: bool | None, limit: int, offset: int
    ) -> list[Department]:
        return [_department(r) for r in await self.conn.fetch(_DEPARTMENTS, station_id, scope, active, limit, offset)]

    async def department(self, station_id: str, department_id: str) -> Department | None:
        row = await self.conn.fetchrow(_DEPARTMENT, station_id, department_id)
        return _department(row) if row else None

    async def departments_by_id(self, station_id: str, ids: list[str]) -> dict[str, Department]:
        rows = await self.conn.fetch(_DEPARTMENTS_BY_ID, station_id, ids) if ids else []
        return {r["department_id"]: _department(r) for r in rows}

    async def department_named(self, station_id: str, name: str, other_than: str) -> str | None:
        return await self.conn.fetchval(_DEPARTMENT_NAMED, station_id, name, other_than)

    async def save_department(self, d: Department) -> None:
        await self.conn.execute(
            _SAVE_DEPARTMENT, d.station_id, d.department_id, d.name, list(d.categories), d.active, d.updated_by,
            d.updated_at,
        )  # fmt: skip

    async def active_staff_in(self, station_id: str, department_id: str) -> int:
        return await self.conn.fetchval(_ACTIVE_STAFF_IN, station_id, department_id)

    # --- staff

    async def staff_members(
        self, station_id: str, scope: str, active: bool | None, department_id: str | None, limit: int, offset: int
    ) -> list[StaffMember]:
        rows = await self.conn.fetch(_STAFF, station_id, scope, active, department_id, limit, offset)
        return [_member(r) for r in rows]

    async def staff_member(self, station_id: str, staff_id: str) -> StaffMember | None:
        row = await self.conn.fetchrow(_STAFF_MEMBER, station_id, staff_id)
        return _member(row) if row else None

    async def staff_by_id(self, station_id: str, ids: list[str]) -> dict[str, StaffMember]:
        rows = await self.conn.fetch(_STAFF_BY_ID, station_id, ids) if ids else []
        return {r["staff_id"]: _member(r) for r in rows}

    async def save_staff_member(self, m: StaffMember) -> None:
        await self.conn.execute(
            _SAVE_STAFF, m.station_id, m.staff_id, m.name, m.department_id, list(m.categories), m.phone, m.active,
            m.updated_by, m.updated_at,
        )  # fmt: skip

    # --- audit and look-ups for others

    async def add_staff_audit(
        self,
        station_id: str,
        record: str,
        record_id: str,
        action: Action,
        actor: tuple[str, str, str],
        at: datetime,
        before: dict | None,
        after: dict,
    ) -> None:
        """`actor`: (account, name, role) of who made the change."""
        await self.conn.execute(_AUDIT, station_id, record, record_id, action.value, *actor, at, before, after)

    async def handling_departments(self, station_id: str, categories: list[str]) -> list[dict]:
        rows = await self.conn.fetch(_HANDLING, station_id, categories)
        return [{"department_id": r["department_id"], "name": r["name"], "staff": r["staff"]} for r in rows]
