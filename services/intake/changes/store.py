"""Changes SQL: the corrections' audit (append-only: the database refuses UPDATE and DELETE).

The store is bound to one transaction's connection; the unit of work owns the transaction. The
demand's own rows are written through the demands' store (save_form, save_progress).
"""

from uuid import UUID

import asyncpg

from ..demands.domain import Correction

_CORRECTION_FIELDS = (
    "correction_id",
    "corrected_by",
    "corrected_by_id",
    "corrected_at",
    "reason",
    "changed",
    "before",
    "after",
)
_ADD_CORRECTION = f"""
INSERT INTO demand_corrections (demand_id, station_id, {", ".join(_CORRECTION_FIELDS)})
VALUES ($1, $2, {", ".join(f"${n}" for n in range(3, len(_CORRECTION_FIELDS) + 3))})
"""
_CORRECTIONS = f"""
SELECT {", ".join(_CORRECTION_FIELDS)} FROM demand_corrections WHERE demand_id = $1 ORDER BY corrected_at
"""


def _correction(row: asyncpg.Record) -> Correction:
    return Correction(**{**row, "changed": tuple(row["changed"])})


class ChangeStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def add_correction(self, demand_id: UUID, station_id: str, c: Correction) -> None:
        values = {**c.__dict__, "changed": list(c.changed)}
        await self.conn.execute(_ADD_CORRECTION, demand_id, station_id, *(values[f] for f in _CORRECTION_FIELDS))

    async def corrections(self, demand_id: UUID) -> list[Correction]:
        return [_correction(r) for r in await self.conn.fetch(_CORRECTIONS, demand_id)]
