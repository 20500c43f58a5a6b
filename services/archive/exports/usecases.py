"""Use cases of the exports: the service record form, the dossier, books, and the jobs that make large books.

Request use cases open one transaction in the caller's scope: they read with the exports' own store (built on the
transaction's connection) and write the access-log line in the same transaction (the archive's `log_read`), so a read
is never without its line. A PDF is printed after the transaction, off the event loop (the api's thread pool).

Jobs (`run_jobs`, a scheduled step on every replica): one replica claims one job at a time (SKIP LOCKED); the job
reads its dossiers a page at a time in the requester's scope (row-level security included), beating its heartbeat
with its progress; prints off the loop while beating; stores the file (database or directory) with its expiry. A job
whose replica stopped is claimed again once its heartbeat is older than the lease, from the start: its
file is made whole or not at all. Downloading the file writes the access-log line, as reading the book would.
"""

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import structlog

from shared.auth import Principal, Role
from shared.contracts import utcnow
from shared.db.uow import Tx, UnitOfWork
from shared.errors import DomainError, NotFound

from .. import usecases as archive
from ..store import Store
from . import domain, render
from .domain import (
    DOSSIER_NOT_FOUND,
    BookQuery,
    ExportFormat,
    Gone,
    Job,
    JobState,
    Sealed,
    TooLarge,
)
from .settings import ExportSettings
from .store import ExportStore

log = structlog.get_logger(__name__)

PAGE = 50  # dossiers read per transaction by a job
JOB_NOT_FOUND = NotFound("未找到该任务", "job not found")


def _scope_name(scope: str, names: dict[str, str]) -> str:
    """A station by its name; a supervisor's district or city prefix as itself."""
    return names.get(scope) or f"{scope}（辖区）"


async def _sealed(tx: Tx[Store], demand_id: UUID) -> tuple[ExportStore, Sealed]:
    store = ExportStore(tx.conn)
    sealed = await store.dossier(demand_id, tx.principal.db_scope)
    if sealed is None:
        raise DOSSIER_NOT_FOUND
    if sealed.content is None:  # disposed of after retention: the number and hashes are kept, the content is not
        raise Gone("该档案已按规定销毁，内容不再保存", "this dossier has been disposed of after its retention")
    return store, sealed


# --------------------------------------------------------------------------- one dossier


async def service_record(
    uow: UnitOfWork[Store], principal: Principal, demand_id: UUID, purpose: str | None = None, *, pdf: bool
) -> dict:
    """The service record form's view (服务记录表) of a sealed dossier; the read is logged."""
    async with uow.begin(principal) as tx:
        store, sealed = await _sealed(tx, demand_id)
        names = await store.station_names([sealed.station_id])
        await archive.log_read(
            tx,
            action="export.service_record_pdf" if pdf else "export.service_record",
            scope=tx.principal.db_scope,
            what=f"服务记录表 {sealed.archive_no}",
            shown=[(sealed.station_id, sealed.demand_id)],
            purpose=purpose,
        )
    return domain.record_view(sealed, names.get(sealed.station_id), utcnow())


async def dossier(
    uow: UnitOfWork[Store], principal: Principal, demand_id: UUID, purpose: str | None = None, *, pdf: bool
) -> dict:
    """The whole sealed dossier's view, with its supplements; the read is logged."""
    async with uow.begin(principal) as tx:
        store, sealed = await _sealed(tx, demand_id)
        names = await store.station_names([sealed.station_id])
        supplements = (await store.supplements([demand_id])).get(demand_id, [])
        await archive.log_read(
            tx,
            action="export.dossier_pdf" if pdf else "export.dossier",
            scope=tx.principal.db_scope,
            what=f"档案全文 {sealed.archive_no}",
            shown=[(sealed.station_id, sealed.demand_id)],
            purpose=purpose,
        )
    return domain.dossier_view(sealed, supplements, names.get(sealed.station_id), utcnow())


# --------------------------------------------------------------------------- books


@dataclass(frozen=True)
class Book:
    """A book as read: which, in which scope, its dossiers (ordered by submission) and their supplements."""

    query: BookQuery
    scope: str
    dossiers: list[Sealed]
    supplements: dict
    names: dict[str, str]

    def view(self, printed_at: datetime) -> dict:
        return domain.book_view(
            self.query, self.dossiers, self.names, _scope_name(self.scope, self.names), printed_at, self.supplements
        )

    @property
    def shown(self) -> list[tuple[str, UUID]]:
        """(station, demand) of every dossier in it, as the access log records a read."""
        return [(d.station_id, d.demand_id) for d in self.dossiers]


async def _read_book(
    store: ExportStore, query: BookQuery, scope: str, on_page: Callable[[int], object] | None = None
) -> Book:
    low, high = query.bounds()
    dossiers: list[Sealed] = []
    while True:
        page = await store.book(query.kind, query.key, scope, low, high, PAGE, len(dossiers))
        dossiers.extend(page)
        if on_page is not None:
            await on_page(len(dossiers))  # type: ignore[misc]
        if len(page) < PAGE:
            break
    supplements = await store.supplements([d.demand_id for d in dossiers]) if dossiers else {}
    names = await store.station_names(sorted({d.station_id for d in dossiers} | {scope}))
    return Book(query, scope, dossiers, supplements, names)


def _book_what(query: BookQuery, fmt: str) -> str:
    return f"{query.kind.label}（{query.kind.key_label} {query.key}，{query.period_text()}，{fmt}）"


async def book(
    uow: UnitOfWork[Store],
    principal: Principal,
    query: BookQuery,
    station_id: str | None,
    settings: ExportSettings,
    *,
    fmt: str,
    purpose: str | None = None,
) -> Book:
    """A book answered in the request (JSON summary, PDF, XLSX): at most `book_sync_limit` dossiers for a file;
    larger ones are refused with 413 and made by a job (POST /jobs). The read is logged with every dossier in it."""
    async with uow.begin(principal) as tx:
        scope = await tx.scope(station_id)
        store = ExportStore(tx.conn)
        if fmt != "json":
            low, high = query.bounds()
            count = await store.book_count(query.kind, query.key, scope, low, high)
            if count > settings.book_sync_limit:
                raise TooLarge(
                    f"该档案册共 {count} 份档案，超过直接下载上限 {settings.book_sync_limit} 份，"
                    "请创建后台任务（POST /jobs）生成",
                    f"the book holds {count} dossiers, more than {settings.book_sync_limit}: create a job (POST /jobs)",
                )
        found = await _read_book(store, query, scope)
        await archive.log_read(
            tx,
            action=f"export.book_{fmt}",
            scope=scope,
            what=_book_what(query, fmt),
            shown=found.shown,
            purpose=purpose,
        )
    return found


def print_book(found: Book, fmt: ExportFormat, printed_at: datetime) -> bytes:
    """The file of a book (blocking: run it off the event loop)."""
    view = found.view(printed_at)
    return render.book_pdf(view) if fmt is ExportFormat.pdf else render.book_xlsx(view)


# --------------------------------------------------------------------------- jobs


async def create_job(
    uow: UnitOfWork[Store], principal: Principal, query: BookQuery, fmt: ExportFormat, station_id: str | None
) -> Job:
    """Queued; any replica's next poll claims it. The scope it reads in is fixed now: the caller's, or one station
    of it."""
    async with uow.begin(principal) as tx:
        scope = await tx.scope(station_id)
        job = Job(
            job_id=uuid4(),
            station_id=scope,
            kind="book",
            parameters=query.parameters() | {"format": fmt.value},
            requested_by=principal.subject,
            requester_name=principal.name,
            requester_role=principal.role.value,
            state=JobState.queued,
            progress_done=0,
            progress_total=None,
            attempts=0,
            error=None,
            created_at=utcnow(),
            started_at=None,
            heartbeat_at=None,
            finished_at=None,
            expires_at=None,
            file_name=None,
            media_type=None,
            file_size=None,
            file_sha256=None,
        )
        await ExportStore(tx.conn).add_job(job)
    log.info("export job queued", job_id=str(job.job_id), parameters=job.parameters)
    return job


async def get_job(uow: UnitOfWork[Store], principal: Principal, job_id: UUID) -> Job:
    """The caller's own job, in its scope; anyone else's answers 404."""
    async with uow.begin(principal) as tx:
        job = await ExportStore(tx.conn).job(job_id, principal.subject, principal.db_scope)
    if job is None:
        raise JOB_NOT_FOUND
    return job


async def list_jobs(uow: UnitOfWork[Store], principal: Principal, limit: int, offset: int) -> list[Job]:
    async with uow.begin(principal) as tx:
        return await ExportStore(tx.conn).jobs(principal.subject, principal.db_scope, limit, offset)


async def job_file(
    uow: UnitOfWork[Store], principal: Principal, job_id: UUID, purpose: str | None = None
) -> tuple[Job, bytes]:
    """The finished job's file; 409 while it is being made, 410 once expired or failed. Logged as a read of the book."""
    now = utcnow()
    async with uow.begin(principal) as tx:
        store = ExportStore(tx.conn)
        job = await store.job(job_id, principal.subject, principal.db_scope)
        if job is None:
            raise JOB_NOT_FOUND
        if job.state is JobState.failed:
            raise Gone("任务失败，没有可下载的文件", "the job failed: no file")
        if job.state is not JobState.done:
            raise DomainError("文件尚在生成中，请稍后再试", "the file is not ready yet", code="not_ready")
        data, path = await store.job_file(job_id)
        if job.expired(now) or (data is None and path is None):
            raise Gone("文件已过期，请重新创建任务", "the file has expired: create the job again")
        if data is None and path is not None:
            try:
                data = await asyncio.to_thread(Path(path).read_bytes)
            except FileNotFoundError:
                raise Gone("文件已不存在，请重新创建任务", "the file is gone: create the job again") from None
        await archive.log_read(
            tx,
            action=f"export.book_{job.format.value}",
            scope=job.station_id,
            what=_book_what(job.query, job.format.value) + f"，后台任务 {job.job_id}",
            shown=[(d["station_id"], UUID(d["demand_id"])) for d in job.dossiers],
            purpose=purpose,
        )
    return job, data


def _requester(job: Job) -> Principal:
    """The job reads as its requester did: same role and scope (row-level security included)."""
    role = Role(job.requester_role)
    return Principal(subject=job.requested_by, name=job.requester_name, role=role, station=job.station_id)


async def run_jobs(uow: UnitOfWork, settings) -> None:
    """The scheduled step: drop expired files, then take one queued job and make it (one per round, so a stopping
    service waits for at most one book)."""
    config = ExportSettings.of(settings)
    await expire_files(uow, config)
    if (job := await _claim(uow, config)) is not None:
        await _run(uow, job, config)


async def _claim(uow: UnitOfWork, config: ExportSettings) -> Job | None:
    now = utcnow()
    async with uow.begin() as tx:
        job = await ExportStore(tx.conn).claim_job(now, now - timedelta(seconds=config.jobs_lease_seconds))
    if job is not None:
        log.info("export job claimed", job_id=str(job.job_id), attempt=job.attempts)
    return job


async def _beat(uow: UnitOfWork, job: Job, done: int, total: int | None) -> None:
    async with uow.begin() as tx:
        if not await ExportStore(tx.conn).beat(job, utcnow(), done, total):
            raise _Lost()


class _Lost(Exception):
    """The job is no longer this claim's (the lease ran out and another replica took it): stop quietly."""


async def _run(uow: UnitOfWork, job: Job, config: ExportSettings) -> None:
    try:
        query, fmt = job.query, job.format
        principal = _requester(job)
        low, high = query.bounds()
        async with uow.begin(principal) as tx:
            total = await ExportStore(tx.conn).book_count(query.kind, query.key, job.station_id, low, high)
        # Steps: each dossier read, then the printing.
        await _beat(uow, job, 0, total + 1)
        async with uow.begin(principal) as tx:

            async def progress(done: int) -> None:
                await _beat(uow, job, min(done, total), total + 1)

            found = await _read_book(ExportStore(tx.conn), query, job.station_id, progress)
        data = await _while_beating(
            uow, job, len(found.dossiers), len(found.dossiers) + 1, config, print_book, found, fmt, utcnow()
        )
        await _finish(uow, job, found, data, config)
    except _Lost:
        log.warning("export job taken over by another replica", job_id=str(job.job_id))
    except Exception as exc:
        final = job.attempts >= config.jobs_max_attempts
        log.exception("export job failed", job_id=str(job.job_id), attempt=job.attempts, final=final)
        async with uow.begin() as tx:
            await ExportStore(tx.conn).fail_job(job, domain.job_failed_text(exc), final=final, now=utcnow())


async def _while_beating(uow: UnitOfWork, job: Job, done: int, total: int, config: ExportSettings, fn, *args):
    """Print in a thread while the heartbeat goes on: a long book is not mistaken for a stopped replica."""
    work = asyncio.create_task(asyncio.to_thread(fn, *args))
    every = config.jobs_lease_seconds / 3
    while True:
        finished, _ = await asyncio.wait({work}, timeout=every)
        if finished:
            return work.result()
        await _beat(uow, job, done, total)


async def _finish(uow: UnitOfWork, job: Job, found: Book, data: bytes, config: ExportSettings) -> None:
    now = utcnow()
    fmt = job.format
    name = domain.filename(job.query, fmt)
    path: str | None = None
    if config.jobs_file_dir is not None:
        target = Path(config.jobs_file_dir) / f"{job.job_id}.{fmt.value}"
        await asyncio.to_thread(_write, target, data)
        path = str(target)
    async with uow.begin() as tx:
        stored = await ExportStore(tx.conn).finish_job(
            job,
            now=now,
            expires_at=now + timedelta(hours=config.jobs_file_ttl_hours),
            file_name=name,
            media_type=fmt.media_type,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            data=None if path else data,
            path=path,
            dossiers=[{"station_id": station, "demand_id": str(i)} for station, i in found.shown],
        )
    if not stored:
        raise _Lost()
    log.info("export job done", job_id=str(job.job_id), dossiers=len(found.dossiers), size=len(data))


def _write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".part")
    partial.write_bytes(data)
    partial.replace(target)  # whole or absent, never half a file


async def expire_files(uow: UnitOfWork, config: ExportSettings) -> None:
    """Files past their expiry are deleted (database bytes, or the file in the directory); the job's record stays."""
    async with uow.begin() as tx:
        store = ExportStore(tx.conn)
        expiring = await store.expiring_files(utcnow())
        if not expiring:
            return
        for _, path in expiring:
            if path:
                await asyncio.to_thread(Path(path).unlink, True)
        await store.drop_files([job_id for job_id, _ in expiring])
    log.info("export files expired", jobs=len(expiring))
