"""SQL: special tasks (专项工作, 002 §9.6), their stations' parts, reports and alerts (预警, 催办, 督办).

A mixin on the tracking store (`self.conn` is the transaction's connection). Parts, reports and alerts carry
station_id, so row-level security guards them; special_tasks has its own policy (migration 0010: visible
through a visible part). Every read asks `qs_covers(scope, station_id)` in SQL all the same.
"""

from datetime import date, datetime
from uuid import UUID

import asyncpg

from shared.observability.metrics import StoreCounter

from .domain import AlertKind, Attachment, Part, Progress, Report, ReportKind, Task, TaskAlert

COUNTERS: tuple[StoreCounter, ...] = (
    # Overdue here is "chased and not completed": the scan raises a chase exactly when a part's deadline (in
    # working days, which SQL cannot count) has passed, so the metric agrees with the task's page.
    StoreCounter(
        "qs_special_task_parts",
        "Stations' parts of special tasks (专项工作) by station and state (open, overdue, done)",
        ("station_id", "state"),
        """
        SELECT s.station_id,
               CASE WHEN s.completed_at IS NOT NULL THEN 'done'
                    WHEN EXISTS (SELECT 1 FROM task_alerts a WHERE a.task_id = s.task_id
                                 AND a.station_id = s.station_id AND a.kind = 'chase') THEN 'overdue'
                    ELSE 'open' END,
               count(*)
        FROM task_stations s GROUP BY 1, 2
        """,
        kind="gauge",
    ),
    StoreCounter(
        "qs_special_task_alerts_total",
        "Warnings (预警), chases (催办) and supervisions (督办) of special tasks, by station and kind "
        "(warning, chase, supervision)",
        ("station_id", "kind"),
        "SELECT station_id, kind, count(*) FROM task_alerts GROUP BY 1, 2",
    ),
)

_TASK_COLUMNS = "t.task_id, t.issuer_scope, t.issued_by, t.issued_by_name, t.title, t.description, t.due_on, " \
    "t.attachments, t.issued_at"  # fmt: skip

_ADD_TASK = """
INSERT INTO special_tasks (task_id, issuer_scope, issued_by, issued_by_name, title, description, due_on,
    attachments, issued_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
"""
_ADD_PARTS = "INSERT INTO task_stations (task_id, station_id) SELECT $1, unnest($2::text[])"
_SUBTREE = "SELECT station_id FROM station_tree WHERE qs_covers($1, station_id) ORDER BY station_id"

# A task is the caller's to see when one of its parts is; counts are over the parts in the caller's scope.
# $2 is the overdue cutoff (domain.overdue_cutoff); $3 the caller's own station, for its own part.
_LIST = f"""
SELECT {_TASK_COLUMNS},
       count(*) AS total,
       count(*) FILTER (WHERE s.completed_at IS NOT NULL) AS done,
       count(*) FILTER (WHERE s.completed_at IS NULL AND t.due_on <= $2) AS overdue,
       bool_or(s.station_id = $3) AS own_assigned,
       max(s.completed_at) FILTER (WHERE s.station_id = $3) AS own_completed_at,
       max(s.completed_by) FILTER (WHERE s.station_id = $3) AS own_completed_by
FROM special_tasks t JOIN task_stations s ON s.task_id = t.task_id
WHERE qs_covers($1, s.station_id)
GROUP BY t.task_id
HAVING $4::text IS NULL
    OR ($4 = 'done' AND count(*) FILTER (WHERE s.completed_at IS NULL) = 0)
    OR ($4 = 'open' AND count(*) FILTER (WHERE s.completed_at IS NULL) > 0)
    OR ($4 = 'overdue' AND count(*) FILTER (WHERE s.completed_at IS NULL AND t.due_on <= $2) > 0)
ORDER BY t.due_on DESC, t.issued_at DESC, t.task_id
LIMIT $5 OFFSET $6
"""
_TASK = f"""
SELECT {_TASK_COLUMNS} FROM special_tasks t
WHERE t.task_id = $1
  AND EXISTS (SELECT 1 FROM task_stations s WHERE s.task_id = t.task_id AND qs_covers($2, s.station_id))
"""
_PARTS = """
SELECT s.task_id, s.station_id, st.name AS station_name, s.completed_at, s.completed_by
FROM task_stations s LEFT JOIN station_tree st ON st.station_id = s.station_id
WHERE s.task_id = $1 AND qs_covers($2, s.station_id)
ORDER BY s.station_id
"""
_REPORT_COLUMNS = """report_id, task_id, station_id, kind, text, attachments, reported_by, reported_by_name,
    reported_at"""
_REPORTS = f"""
SELECT {_REPORT_COLUMNS} FROM task_reports
WHERE task_id = $1 AND qs_covers($2, station_id)
ORDER BY reported_at, report_id
"""
_ALERT_COLUMNS = "task_id, station_id, kind, deadline, to_scope, raised_at"
_ALERTS = f"""
SELECT {_ALERT_COLUMNS} FROM task_alerts
WHERE task_id = $1 AND qs_covers($2, station_id)
ORDER BY raised_at, station_id, kind
"""
# One station's own part, locked: its reports take turns, and the scan skips it meanwhile.
_OWN_PART = """
SELECT s.task_id, s.station_id, st.name AS station_name, s.completed_at, s.completed_by
FROM task_stations s LEFT JOIN station_tree st ON st.station_id = s.station_id
WHERE s.task_id = $1 AND s.station_id = $2
FOR UPDATE OF s
"""
_ADD_REPORT = f"""
INSERT INTO task_reports ({_REPORT_COLUMNS}, reported_role)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
"""
_COMPLETE = """
UPDATE task_stations SET completed_at = $3, completed_by = $4
WHERE task_id = $1 AND station_id = $2 AND completed_at IS NULL
"""

# The scan, one batch: open parts whose due date is near enough to have something due and that have no 督办
# yet, after ($2, $3) in key order, locked so that a scan on another replica skips them (it finds nothing left to
# raise if it runs after). LIMIT counts only the rows locked here.
_SCAN = """
SELECT s.task_id, s.station_id, t.due_on, t.issuer_scope,
       array(SELECT a.kind FROM task_alerts a WHERE a.task_id = s.task_id AND a.station_id = s.station_id) AS raised
FROM task_stations s JOIN special_tasks t ON t.task_id = s.task_id
WHERE s.completed_at IS NULL AND t.due_on <= $1 AND (s.task_id, s.station_id) > ($2, $3)
  AND NOT EXISTS (SELECT 1 FROM task_alerts a
                  WHERE a.task_id = s.task_id AND a.station_id = s.station_id AND a.kind = 'supervision')
ORDER BY s.task_id, s.station_id
LIMIT $4
FOR UPDATE OF s SKIP LOCKED
"""
_RAISE = f"""
INSERT INTO task_alerts ({_ALERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (task_id, station_id, kind) DO NOTHING
"""


def _attachments(items: list | None) -> tuple[Attachment, ...]:
    return tuple(Attachment(name=a["name"], ref=a["ref"]) for a in items or [])


def _plain(items: tuple[Attachment, ...]) -> list[dict]:
    return [{"name": a.name, "ref": a.ref} for a in items]


def _task(row: asyncpg.Record) -> Task:
    return Task(
        task_id=row["task_id"],
        issuer_scope=row["issuer_scope"],
        issued_by=row["issued_by"],
        issued_by_name=row["issued_by_name"],
        title=row["title"],
        description=row["description"],
        due_on=row["due_on"],
        attachments=_attachments(row["attachments"]),
        issued_at=row["issued_at"],
    )


def _report(row: asyncpg.Record) -> Report:
    return Report(**{**row, "kind": ReportKind(row["kind"]), "attachments": _attachments(row["attachments"])})


def _alert(row: asyncpg.Record) -> TaskAlert:
    return TaskAlert(**{**row, "kind": AlertKind(row["kind"])})


class TaskStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def subtree_stations(self, scope: str) -> list[str]:
        """The registered stations `scope` covers, as this service's copy of the registry's tree has them."""
        return [r["station_id"] for r in await self.conn.fetch(_SUBTREE, scope)]

    async def add_task(self, task: Task, station_ids: list[str]) -> None:
        await self.conn.execute(
            _ADD_TASK, task.task_id, task.issuer_scope, task.issued_by, task.issued_by_name, task.title,
            task.description, task.due_on, _plain(task.attachments), task.issued_at,
        )  # fmt: skip
        await self.conn.execute(_ADD_PARTS, task.task_id, station_ids)

    async def tasks(
        self, scope: str, own_station: str | None, cutoff: date, state: str | None, limit: int, offset: int
    ) -> list[Progress]:
        rows = await self.conn.fetch(_LIST, scope, cutoff, own_station, state, limit, offset)
        return [
            Progress(
                task=_task(r),
                total=r["total"],
                done=r["done"],
                overdue=r["overdue"],
                own=Part(
                    task_id=r["task_id"],
                    station_id=own_station,
                    completed_at=r["own_completed_at"],
                    completed_by=r["own_completed_by"],
                )
                if own_station and r["own_assigned"]
                else None,
            )
            for r in rows
        ]

    async def task(self, task_id: UUID, scope: str) -> Task | None:
        row = await self.conn.fetchrow(_TASK, task_id, scope)
        return _task(row) if row else None

    async def parts(self, task_id: UUID, scope: str) -> list[Part]:
        """The parts in `scope`, each with its reports and alerts."""
        reports: dict[str, list[Report]] = {}
        for r in await self.conn.fetch(_REPORTS, task_id, scope):
            reports.setdefault(r["station_id"], []).append(_report(r))
        alerts: dict[str, list[TaskAlert]] = {}
        for r in await self.conn.fetch(_ALERTS, task_id, scope):
            alerts.setdefault(r["station_id"], []).append(_alert(r))
        return [
            Part(
                **r,
                reports=tuple(reports.get(r["station_id"], ())),
                alerts=tuple(alerts.get(r["station_id"], ())),
            )
            for r in await self.conn.fetch(_PARTS, task_id, scope)
        ]

    async def own_part(self, task_id: UUID, station_id: str) -> Part | None:
        """The station's own part of the task, locked for its report; None when the task is not the station's."""
        row = await self.conn.fetchrow(_OWN_PART, task_id, station_id)
        return Part(**row) if row else None

    async def add_report(self, report: Report, role: str) -> None:
        await self.conn.execute(
            _ADD_REPORT, report.report_id, report.task_id, report.station_id, report.kind.value, report.text,
            _plain(report.attachments), report.reported_by, report.reported_by_name, report.reported_at, role,
        )  # fmt: skip

    async def complete_part(self, task_id: UUID, station_id: str, at: datetime, by: str) -> None:
        await self.conn.execute(_COMPLETE, task_id, station_id, at, by)

    async def parts_to_scan(self, horizon: date, after: tuple[UUID, str], limit: int) -> list[asyncpg.Record]:
        """Up to `limit` open parts due by `horizon` with no 督办 yet, after `after` (task_id, station_id) in key
        order, locked (others' locked ones skipped): task_id, station_id, due_on, issuer_scope, raised (kinds
        already raised)."""
        return await self.conn.fetch(_SCAN, horizon, after[0], after[1], limit)

    async def raise_alert(self, alert: TaskAlert) -> bool:
        """False when the part already had this alert."""
        status = await self.conn.execute(
            _RAISE, alert.task_id, alert.station_id, alert.kind.value, alert.deadline, alert.to_scope, alert.raised_at
        )
        return status.split()[-1] != "0"
