"""Enterprise SQL: the dossiers (一企一册).

The store is bound to one transaction's connection; the unit of work owns the transaction.
"""

import asyncpg

from shared.contracts import EnterpriseProfile
from shared.validation import like_pattern

from ..demands.domain import Demand
from .domain import EnterpriseDossier

_ENTERPRISE_FIELDS = (
    "station_id",
    "credit_code",
    "name",
    "credit_code_flag",
    "legal_representative",
    "industry",
    "size",
    "employees",
    "output_value_wan",
    "main_products",
    "address",
    "in_park",
    "park_name",
    "town",
    "chain",
    "chain_leader",
    "own_labs",
    "labs_cover_own_testing",
    "contacts",
    "products",
    "instruments",
    "special_equipment",
    "operator_exams",
)
_ENTERPRISE_COLUMNS = ", ".join(_ENTERPRISE_FIELDS)
_UPSERT_ENTERPRISE = f"""
INSERT INTO enterprises ({_ENTERPRISE_COLUMNS})
VALUES ({", ".join(f"${n}" for n in range(1, len(_ENTERPRISE_FIELDS) + 1))})
ON CONFLICT (station_id, credit_code) DO UPDATE SET
    {", ".join(f"{c} = EXCLUDED.{c}" for c in _ENTERPRISE_FIELDS[2:])}, updated_at = now()
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

_ADDRESS = "SELECT address FROM enterprises WHERE station_id = $1 AND credit_code = $2"
_PROFILE = """
SELECT chain, chain_leader, town, in_park, park_name FROM enterprises WHERE station_id = $1 AND credit_code = $2
"""


def _dossier(row: asyncpg.Record) -> EnterpriseDossier:
    data = dict(row)
    for table in ("contacts", "products", "instruments", "special_equipment", "operator_exams"):
        data[table] = tuple(data[table])
    if data["output_value_wan"] is not None:
        data["output_value_wan"] = float(data["output_value_wan"])
    return EnterpriseDossier(**data)


class EnterpriseStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def save_enterprise(self, e: EnterpriseDossier) -> None:
        await self.conn.execute(
            _UPSERT_ENTERPRISE,
            *(list(v) if isinstance(v, tuple) else v for v in (getattr(e, f) for f in _ENTERPRISE_FIELDS)),
        )

    async def ensure_enterprise(self, d: Demand) -> None:
        """A demand from an enterprise the station has no dossier for starts one (一企一册)."""
        contact = [{"name": d.contact_name, "phone": d.contact_phone}]
        await self.conn.execute(
            _ENSURE_ENTERPRISE, d.station_id, d.credit_code, d.enterprise_name, d.credit_code_flag, contact
        )

    async def enterprise_address(self, station_id: str, credit_code: str) -> str | None:
        """The address in this station's own dossier of the enterprise, if it has one."""
        return await self.conn.fetchval(_ADDRESS, station_id, credit_code)

    async def enterprise_profile(self, station_id: str, credit_code: str) -> EnterpriseProfile:
        """Where this station's dossier places the enterprise now (chain, town, park); all blank without a dossier."""
        row = await self.conn.fetchrow(_PROFILE, station_id, credit_code)
        return EnterpriseProfile(**dict(row)) if row else EnterpriseProfile()

    async def enterprise(self, scope: str, credit_code: str) -> EnterpriseDossier | None:
        row = await self.conn.fetchrow(_GET_ENTERPRISE, scope, credit_code)
        return _dossier(row) if row else None

    async def search_enterprises(
        self, scope: str, q: str | None, park: str | None, chain: str | None, town: str | None, limit: int, offset: int
    ) -> list[EnterpriseDossier]:
        pattern = like_pattern(q) if q is not None else None
        rows = await self.conn.fetch(_SEARCH_ENTERPRISES, scope, q, park, chain, town, limit, offset, pattern)
        return [_dossier(r) for r in rows]
