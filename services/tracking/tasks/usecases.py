"""Use cases: special tasks (专项工作, 002 §9.6), one transaction each.

Who may do what: a supervisor assigns a task to registered stations of its own subtree (operations do not
direct stations); a station's clerk or head reports on its own station's part; supervisors and station staff
read the parts their scope covers (a district supervisor sees the city's tasks for its district's stations
only; a station only its own part). A task none of whose parts the caller sees is 404, like any object.

The scan raises warnings, chases and escalations as rows of task_alerts, not as events: contracts' events are
events of a demand (each carries the demand it concerns, and the archive and the ledger fold them into a case),
and a task is no demand. What a task raised is shown on the task and counted in metrics.
"""

from datetime import date
from uuid import UUID, uuid4

import structlog

from shared.auth import Principal, Role
from shared.calendar import china_today
from shared.contracts import utcnow
from shared.db.uow import Tx, UnitOfWork
from shared.errors import NotFound
from shared.idempotency import Idempotent

from ..settings import Settings
from . import domain
from .domain import Alert, AlertKind, Attachment, Clock, Part, Progress, Report, ReportKind, Task

log = structlog.get_logger(__name__)

_NOT_FOUND = NotFound("未找到该专项工作", "special task not found")


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
    """The supervisor's new task, with one part per station (all of its subtree unless named)."""
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
    """A station's progress or completion report on its own part; after completion, 409."""
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
            await tx.store.add_report(
                Report(
                    report_id=uuid4(),
                    task_id=task_id,
                    station_id=station,
                    kind=kind,
                    text=text,
                    attachments=tuple(attachments),
                    reported_by=principal.subject,
                    reported_by_name=principal.name,
                    reported_at=now,
                ),
                principal.role.value,
            )
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


async def scan(uow: UnitOfWork, settings: Settings) -> None:
    """The scheduler's round (every replica, every `scan_every_seconds`): raise the warnings, chases and
    escalations open parts are due for today, each once.

    Parts are locked with SKIP LOCKED, so two replicas scanning together split them; the alert's key makes a
    late or repeated scan raise nothing twice, and a scan after downtime raises all that fell due meanwhile.
    """
    now = utcnow()
    today = china_today(now)
    raised: dict[AlertKind, int] = {}
    async with uow.begin() as tx:
        overrides = await tx.store.calendar_overrides()
        horizon = domain.scan_horizon(today, settings.warn_days, overrides)
        for row in await tx.store.parts_to_scan(horizon):
            due = domain.alerts_due(
                row["due_on"],
                today,
                warn_days=settings.warn_days,
                escalate_after_days=settings.escalate_after_days,
                overrides=overrides,
            )
            for kind in due:
                if kind.value in row["raised"]:
                    continue
                alert = Alert(
                    task_id=row["task_id"],
                    station_id=row["station_id"],
                    kind=kind,
                    deadline=domain.deadline(row["due_on"], overrides),
                    to_scope=domain.to_scope(kind, row["issuer_scope"], row["station_id"]),
                    raised_at=now,
                )
                if await tx.store.raise_alert(alert):
                    raised[kind] = raised.get(kind, 0) + 1
    if raised:
        log.info("special task alerts raised", **{k.value: n for k, n in raised.items()})
