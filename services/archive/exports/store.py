"""SQL of the exports: sealed dossiers read for printing and books, station names, the export jobs.

Bound to one transaction's connection (the unit of work owns the transaction); built from `tx.conn` by the use
cases, beside the archive's own store. Dossiers are read with explicit columns of `dossiers` and
`dossier_supplements`, in the caller's scope (`qs_covers`, and row-level security behind it).
"""

from datetime import datetime
from uuid import UUID

import asyncpg

from shared.observability.metrics import StoreCounter

from .domain import Attached, BookKind, Job, JobState, Sealed

_DOSSIER = "demand_id, station_id, tracking_no, archive_no, sealed_at, retain_until, content, content_sha256, outcome"
_ONE = f"SELECT {_DOSSIER} FROM dossiers WHERE demand_id = $1 AND qs_covers($2, station_id)"
_SUPPLEMENTS = """
SELECT demand_id, supplement_no, added_at, content, content_sha256 FROM dossier_supplements
WHERE demand_id = ANY($1::uuid[]) ORDER BY demand_id, supplement_no
"""
# What a book's key is compared with, per kind (the expressions the migration indexes): constants, never input.
_BOOK_KEY = {
    BookKind.enterprise: "content #>> '{demand,enterprise,credit_code}'",
    BookKind.chain: "content #>> '{demand,enterprise_profile,chain}'",
    BookKind.town: "content #>> '{demand,enterprise_profile,town}'",
    BookKind.park: "content #>> '{demand,enterprise_profile,park_name}'",
}
_SUBMITTED = "(content #>> '{demand,submitted_at}')::timestamptz"
_BOOK_WHERE = {
    kind: f"""FROM dossiers WHERE qs_covers($1, station_id) AND {expr} = $2
    AND ($3::timestamptz IS NULL OR {_SUBMITTED} >= $3) AND ($4::timestamptz IS NULL OR {_SUBMITTED} < $4)"""
    for kind, expr in _BOOK_KEY.items()
}
_BOOK = {
    kind: f"SELECT {_DOSSIER} {where} ORDER BY {_SUBMITTED}, archive_no LIMIT $5 OFFSET $6"
    for kind, where in _BOOK_WHERE.items()
}
_BOOK_COUNT = {kind: f"SELECT count(*) {where}" for kind, where in _BOOK_WHERE.items()}
_STATION_NAMES = "SELECT station_id, name FROM station_tree WHERE station_id = ANY($1::text[])"

_JOB = """job_id, station_id, kind, parameters, requested_by, requester_name, requester_role, state, progress_done,
    progress_total, attempts, error, created_at, started_at, heartbeat_at, finished_at, expires_at, file_name,
    media_type, file_size, file_sha256, dossiers"""
_ADD_JOB = """
INSERT INTO export_jobs (job_id, station_id, kind, parameters, requested_by, requester_name, requester_role, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
"""
_GET_JOB = f"SELECT {_JOB} FROM export_jobs WHERE job_id = $1 AND requested_by = $2 AND qs_covers($3, station_id)"
_LIST_JOBS = f"""
SELECT {_JOB} FROM export_jobs WHERE requested_by = $1 AND qs_covers($2, station_id)
ORDER BY created_at DESC LIMIT $3 OFFSET $4
"""
# One replica takes one job: a queued one, or a running one whose replica stopped beating (its lease ran out).
# SKIP LOCKED: replicas polling together take different jobs, never wait on each other.
_CLAIM = f"""
UPDATE export_jobs SET state = 'running', attempts = attempts + 1, started_at = coalesce(started_at, $1),
    heartbeat_at = $1, error = NULL
WHERE job_id = (
    SELECT job_id FROM export_jobs
    WHERE state = 'queued' OR (state = 'running' AND heartbeat_at < $2)
    ORDER BY created_at FOR UPDATE SKIP LOCKED LIMIT 1)
RETURNING {_JOB}
"""
# Only while the job is still this claim's (a slower replica whose lease ran out finds it taken: 0 rows).
_BEAT = """
UPDATE export_jobs SET heartbeat_at = $2, progress_done = $3, progress_total = $4
WHERE job_id = $1 AND state = 'running' AND attempts = $5
"""
_FINISH = """
UPDATE export_jobs SET state = 'done', finished_at = $2, heartbeat_at = $2, expires_at = $3, file_name = $4,
    media_type = $5, file_size = $6, file_sha256 = $7, file_bytes = $8, file_path = $9, dossiers = $10,
    progress_done = progress_total
WHERE job_id = $1 AND state = 'running' AND attempts = $11
"""
_FAIL = """
UPDATE export_jobs SET state = CASE WHEN $3::boolean THEN 'failed' ELSE 'queued' END, error = $2, heartbeat_at = NULL,
    finished_at = CASE WHEN $3::boolean THEN $4::timestamptz ELSE NULL END
WHERE job_id = $1 AND state = 'running' AND attempts = $5
"""
_FILE = "SELECT file_bytes, file_path FROM export_jobs WHERE job_id = $1"
# Files past their expiry: the bytes (or the file's path, for the caller to delete) go, the job's record stays.
_EXPIRING_PATHS = """
SELECT job_id, file_path FROM export_jobs WHERE expires_at <= $1 AND (file_bytes IS NOT NULL OR file_path IS NOT NULL)
ORDER BY expires_at LIMIT 100 FOR UPDATE SKIP LOCKED
"""
_DROP_FILES = "UPDATE export_jobs SET file_bytes = NULL, file_path = NULL WHERE job_id = ANY($1::uuid[])"

COUNTERS = (
    StoreCounter(
        "qs_export_jobs",
        "Export jobs (books) by state",
        ("state",),
        "SELECT state, count(*) FROM export_jobs GROUP BY 1",
        kind="gauge",
    ),
)


def _sealed(row: asyncpg.Record) -> Sealed:
    return Sealed(**dict(row))


def _job(row: asyncpg.Record) -> Job:
    data = dict(row)
    data["state"] = JobState(data["state"])
    return Job(**data)


class ExportStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    # ------------------------------------------------------------------ dossiers

    async def dossier(self, demand_id: UUID, scope: str) -> Sealed | None:
        row = await self.conn.fetchrow(_ONE, demand_id, scope)
        return _sealed(row) if row else None

    async def supplements(self, demand_ids: list[UUID]) -> dict[UUID, list[Attached]]:
        found: dict[UUID, list[Attached]] = {}
        for r in await self.conn.fetch(_SUPPLEMENTS, demand_ids):
            found.setdefault(r["demand_id"], []).append(
                Attached(r["supplement_no"], r["added_at"], r["content"], r["content_sha256"])
            )
        return found

    async def book(
        self, kind: BookKind, key: str, scope: str, low: datetime | None, high: datetime | None, limit: int, offset: int
    ) -> list[Sealed]:
        rows = await self.conn.fetch(_BOOK[kind], scope, key, low, high, limit, offset)
        return [_sealed(r) for r in rows]

    async def book_count(
        self, kind: BookKind, key: str, scope: str, low: datetime | None, high: datetime | None
    ) -> int:
        return await self.conn.fetchval(_BOOK_COUNT[kind], scope, key, low, high)

    async def station_names(self, station_ids: list[str]) -> dict[str, str]:
        return {r["station_id"]: r["name"] for r in await self.conn.fetch(_STATION_NAMES, station_ids)}

    # ------------------------------------------------------------------ jobs

    async def add_job(self, job: Job) -> None:
        await self.conn.execute(
            _ADD_JOB,
            job.job_id,
            job.station_id,
            job.kind,
            job.parameters,
            job.requested_by,
            job.requester_name,
            job.requester_role,
            job.created_at,
        )

    async def job(self, job_id: UUID, requested_by: str, scope: str) -> Job | None:
        row = await self.conn.fetchrow(_GET_JOB, job_id, requested_by, scope)
        return _job(row) if row else None

    async def jobs(self, requested_by: str, scope: str, limit: int, offset: int) -> list[Job]:
        return [_job(r) for r in await self.conn.fetch(_LIST_JOBS, requested_by, scope, limit, offset)]

    async def claim_job(self, now: datetime, stale_before: datetime) -> Job | None:
        row = await self.conn.fetchrow(_CLAIM, now, stale_before)
        return _job(row) if row else None

    async def beat(self, job: Job, now: datetime, done: int, total: int | None) -> bool:
        """Progress and heartbeat; False when the job is no longer this claim's."""
        return await self.conn.execute(_BEAT, job.job_id, now, done, total, job.attempts) == "UPDATE 1"

    async def finish_job(
        self,
        job: Job,
        *,
        now: datetime,
        expires_at: datetime,
        file_name: str,
        media_type: str,
        size: int,
        sha256: str,
        data: bytes | None,
        path: str | None,
        dossiers: list[dict],
    ) -> bool:
        status = await self.conn.execute(
            _FINISH,
            job.job_id,
            now,
            expires_at,
            file_name,
            media_type,
            size,
            sha256,
            data,
            path,
            dossiers,
            job.attempts,
        )
        return status == "UPDATE 1"

    async def fail_job(self, job: Job, error: str, *, final: bool, now: datetime) -> None:
        await self.conn.execute(_FAIL, job.job_id, error, final, now, job.attempts)

    async def job_file(self, job_id: UUID) -> tuple[bytes | None, str | None]:
        row = await self.conn.fetchrow(_FILE, job_id)
        return (row["file_bytes"], row["file_path"]) if row else (None, None)

    async def expiring_files(self, now: datetime) -> list[tuple[UUID, str | None]]:
        return [(r["job_id"], r["file_path"]) for r in await self.conn.fetch(_EXPIRING_PATHS, now)]

    async def drop_files(self, job_ids: list[UUID]) -> None:
        await self.conn.execute(_DROP_FILES, job_ids)
