"""Use cases: special tasks (专项工作, 002 §9.6), one transaction each.

Who may do what: a supervisor assigns a task to registered stations of its own subtree (operations do not
direct stations); a station's clerk or head reports on its own station's part; supervisors and station staff
read the parts their scope covers (a district supervisor sees the city's tasks for its district's stations
only; a station only its own part). A task none of whose parts the caller sees is 404, like any object.

Others hear of a task through the outbox, in the transaction that writes its rows: SpecialTaskAssigned once per
task (with every station it went to) and SpecialTaskReported once per report (the weekly report counts both, so the
archive keeps them). A retry with the same Idempotency-Key answers the first result and publishes nothing again.

The scan raises warnings (预警), chases (催办) and supervisions (督办) as rows of task_alerts, not as events: they
are the tracking service's own follow-up of the parts, shown on the task and counted in metrics.
"""

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid4

import structlog

from shared.auth import Principal, Role
from shared.calendar import china_today
from shared.contracts import utcnow
from shared.db.uow import Tx, UnitOfWork
from shared.errors import NotFound
from shared.idempotency import Idempotent

from ..clock.domain import ClockSettings
from ..settings import Settings
from ..store import Store
from . import domain
from .domain import AlertKind, Attachment, Clock, Part, Progress, Report, ReportKind, Task, TaskAlert

log = structlog.get_logger(__name__)

_NOT_FOUND = NotFound("未找到该专项工作", "special task not found")
BATCH = 20  # parts per transaction: short locks
_FIRST = (UUID(int=0), "")  # before every (task_id, station_id)


async def assign(
    uow: UnitOfWork,
    principal: Principal,
    *,
    title: str,
    description: str,
    due_on: date,
    attachments: list[Attachment],
    station_ids: list[str] | None,
    idempotency_key: str | None = None,
) -> tuple[Task, list[Part], Clock]:
    """The supervisor's new task, with one part per station (all of its subtree unless named), announced once
    (SpecialTaskAssigned)."""
    retry = Idempotent.of(
        idempotency_key,
        principal.subject,
        "special-task",
        title,
        description,
        due_on.isoformat(),
        [[a.name, a.ref] for a in attachments],
        station_ids,
    )
    now = utcnow()
    today = china_today(now)
    scope = principal.db_scope
    async with uow.begin(principal) as tx:
        if (earlier := await tx.recall(retry)) is not None:
            return await _detail(tx, UUID(earlier["task_id"]), scope, today)
        domain.check_due_on(due_on, today)
        chosen = domain.choose_stations(station_ids, await tx.store.subtree_stations(scope))
        task = Task(
            task_id=uuid4(),
            issuer_scope=scope,
            issued_by=principal.subject,
            issued_by_name=principal.name,
            title=title,
            description=description,
            due_on=due_on,
            attachments=tuple(attachments),
            issued_at=now,
        )
        await tx.store.add_task(task, chosen)
        await tx.publish(domain.assigned(task, chosen))
        await tx.remember(retry, {"task_id": str(task.task_id)})
        log.info("special task assigned", task_id=str(task.task_id), stations=len(chosen), due_on=str(due_on))
        return await _detail(tx, task.task_id, scope, today)


async def tasks(
    uow: UnitOfWork, principal: Principal, station_id: str | None, state: str | None, limit: int, offset: int
) -> tuple[list[Progress], Clock]:
    """The tasks with a part in the caller's scope (or in one station of it), with completion across those."""
    now = utcnow()
    today = china_today(now)
    async with uow.begin(principal) as tx:
        scope = await tx.scope(station_id)
        clock = Clock(today, await tx.store.calendar_overrides())
        cutoff = domain.overdue_cutoff(today, clock.overrides)
        own = principal.station if principal.role in (Role.clerk, Role.head) else None
        return await tx.store.tasks(scope, own, cutoff, state, limit, offset), clock


async def task(uow: UnitOfWork, principal: Principal, task_id: UUID) -> tuple[Task, list[Part], Clock]:
    today = china_today(utcnow())
    async with uow.begin(principal) as tx:
        return await _detail(tx, task_id, principal.db_scope, today)


async def report(
    uow: UnitOfWork,
    principal: Principal,
    task_id: UUID,
    *,
    kind: ReportKind,
    text: str,
    attachments: list[Attachment],
    idempotency_key: str | None = None,
) -> tuple[Task, Part, Clock]:
    """A station's progress or completion report on its own part, announced (SpecialTaskReported); after
    completion, 409."""
    retry = Idempotent.of(
        idempotency_key, principal.subject, "task-report", str(task_id), kind.value, text,
        [[a.name, a.ref] for a in attachments],
    )  # fmt: skip
    now = utcnow()
    today = china_today(now)
    station = principal.station or ""
    async with uow.begin(principal) as tx:
        if await tx.recall(retry) is None:
            part = await tx.store.own_part(task_id, station)
            if part is None:
                raise _NOT_FOUND
            domain.check_report(part)
            given = await tx.store.task(task_id, station)
            if given is None:  # pragma: no cover - the station's part was just read
                raise _NOT_FOUND
            made = Report(
                report_id=uuid4(),
                task_id=task_id,
                station_id=station,
                kind=kind,
                text=text,
                attachments=tuple(attachments),
                reported_by=principal.subject,
                reported_by_name=principal.name,
                reported_at=now,
            )
            await tx.store.add_report(made, principal.role.value)
            await tx.publish(domain.reported(given, made))
            if kind is ReportKind.completion:
                await tx.store.complete_part(task_id, station, now, principal.name)
            await tx.remember(retry, {"task_id": str(task_id)})
        found, parts, clock = await _detail(tx, task_id, station, today)
        own = next((p for p in parts if p.station_id == station), None)
        if own is None:  # pragma: no cover - the part was just read or reported on
            raise _NOT_FOUND
        return found, own, clock


async def _detail(tx: Tx, task_id: UUID, scope: str, today: date) -> tuple[Task, list[Part], Clock]:
    found = await tx.store.task(task_id, scope)
    if found is None:
        raise _NOT_FOUND
    return found, await tx.store.parts(task_id, scope), Clock(today, await tx.store.calendar_overrides())


class _Round:
    """One scan's today, now, calendar and stations' clock settings (each read once), and what it raised."""

    def __init__(self, today: date, now: datetime, overrides: dict[date, bool], defaults: ClockSettings) -> None:
        self.today, self.now, self.overrides, self.defaults = today, now, overrides, defaults
        self._settings: dict[str, ClockSettings] = {}
        self.raised: dict[str, int] = {k.value: 0 for k in AlertKind}

    async def settings(self, tx: Tx[Store], station_id: str) -> ClockSettings:
        if station_id not in self._settings:
            self._settings[station_id] = await tx.store.clock_settings(station_id, self.defaults)
        return self._settings[station_id]


async def scan(uow: UnitOfWork[Store], settings: Settings) -> None:
    """The scheduler's round (every replica, every `scan_every_seconds`): raise the warnings, chases and
    督办 open parts are due for today, each once, by each station's own clock settings.

    Parts are taken in batches of BATCH per transaction, locked FOR UPDATE SKIP LOCKED: two replicas scanning
    together split them, and no lock is held for the whole run. The alert's key (INSERT … ON CONFLICT DO NOTHING)
    makes a late or repeated scan raise nothing twice, and a scan after downtime raises all that fell due meanwhile
    (state-based: what is due today, not since the last run). Each part is handled in a savepoint: one that fails
    is logged and retried next round, and never holds up the others.
    """
    now = utcnow()
    async with uow.begin() as tx:
        overrides = await tx.store.calendar_overrides()
    run = _Round(china_today(now), now, overrides, ClockSettings.of(settings))
    horizon = domain.scan_horizon(run.today, overrides)
    after = _FIRST
    while True:
        async with uow.begin() as tx:
            rows = await tx.store.parts_to_scan(horizon, after, BATCH)
            for row in rows:
                try:
                    async with tx.store.savepoint():
                        await _part(tx, run, row)
                except Exception as exc:
                    log.error(
                        "special task scan failed for a part",
                        task_id=str(row["task_id"]),
                        station_id=row["station_id"],
                        error=repr(exc),
                    )
        if len(rows) < BATCH:
            break
        after = (rows[-1]["task_id"], rows[-1]["station_id"])
    if any(run.raised.values()):
        log.info("special task alerts raised", today=run.today.isoformat(), **run.raised)


async def _part(tx: Tx[Store], run: _Round, row: Mapping[str, Any]) -> None:
    """Raise what one part is due today and has not had yet."""
    clock = await run.settings(tx, row["station_id"])
    due = domain.alerts_due(
        row["due_on"],
        run.today,
        warn_days=clock.warn_days,
        escalate_after_days=clock.escalate_after_days,
        overrides=run.overrides,
    )
    for kind in due:
        if kind.value in row["raised"]:
            continue
        alert = TaskAlert(
            task_id=row["task_id"],
            station_id=row["station_id"],
            kind=kind,
            deadline=domain.deadline(row["due_on"], run.overrides),
            to_scope=domain.to_scope(kind, row["issuer_scope"], row["station_id"]),
            raised_at=run.now,
        )
        if await tx.store.raise_alert(alert):
            run.raised[kind.value] += 1
