"""The archive in tests: a dossier put into the database as if the archive had sealed it then (a sealing date in the
past, or a dossier sealed short on purpose), which the service itself never writes that way."""

import json
from uuid import UUID

import asyncpg

from services.archive.domain import Dossier

_INSERT_SEALED = """
INSERT INTO dossiers (demand_id, station_id, tracking_no, archive_no, sealed_at, retain_until, content, content_sha256,
                      outcome)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9)
"""


async def insert_sealed(db: str, d: Dossier) -> UUID:
    """Inserts `d` as the database's owner (every station's rows); the database links it into its station's chain
    (trigger dossiers_chain) as it does the archive's own sealings. Returns its demand id."""
    conn = await asyncpg.connect(db)
    try:
        await conn.execute(
            _INSERT_SEALED,
            d.demand_id,
            d.station_id,
            d.tracking_no,
            d.archive_no,
            d.sealed_at,
            d.retain_until,
            json.dumps(d.content, ensure_ascii=False, default=str),  # as domain._sha256 reads it
            d.content_sha256,
            d.outcome,
        )
    finally:
        await conn.close()
    return d.demand_id
