"""A station's own work the archive keeps (shared/contracts/stationwork.py): visits to enterprises (主动进企业走访) and
its parts of special tasks (专项工作) with their reports. Pure: no I/O.

Not a demand's: nothing here goes into a demand's dossier or waits for sealing. The rows are station records, kept
as received (append-only, no deletion path) and read by the weekly report (reports/domain.py).

Each record carries when the archive received it (`received_at`, the archive's own clock when its handler stored the
fact): the weekly report counts a visit or a task report in the week it arrived, so one that arrives after its week's
report was kept (entered late, or delayed on the way) is in the next report, never in none and never in two.
"""

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from shared.contracts import SpecialTaskAssigned, SpecialTaskReported, TaskReportKind, VisitRecorded


@dataclass(frozen=True)
class Visit:
    visit_id: UUID
    station_id: str
    credit_code: str
    enterprise_name: str
    staff: tuple[str, ...]
    visited_on: date  # China date
    findings: str
    recorded_by: str
    # When the archive received it: the weekly report counts a visit in that week (a visit dated before it is 补录).
    received_at: datetime


@dataclass(frozen=True)
class TaskPart:
    """One station's share of a special task. `issued_by`/`issued_at` are None for a part known only from its reports
    (its assignment not received): it then counts from its first report."""

    task_id: UUID
    station_id: str
    title: str
    due_on: date
    issued_by: str | None
    issued_at: datetime | None
    issuer_scope: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class TaskReport:
    report_id: UUID
    task_id: UUID
    station_id: str
    title: str
    due_on: date
    kind: TaskReportKind
    text: str
    reported_by: str
    reported_at: datetime
    # When the archive received it: the weekly report counts a report in that week (one made before it is 补录).
    received_at: datetime


def visit(event: VisitRecorded, received_at: datetime) -> Visit:
    return Visit(
        visit_id=event.visit_id,
        station_id=event.station_id,
        credit_code=event.credit_code,
        enterprise_name=event.enterprise_name,
        staff=tuple(event.staff),
        visited_on=event.visited_on,
        findings=event.findings,
        recorded_by=event.recorded_by,
        received_at=received_at,
    )


def parts(event: SpecialTaskAssigned) -> list[TaskPart]:
    """One part per station the task went to (a station named twice is one part)."""
    return [
        TaskPart(
            task_id=event.task_id,
            station_id=station_id,
            title=event.title,
            due_on=event.due_on,
            issued_by=event.issued_by,
            issued_at=event.issued_at,
            issuer_scope=event.issuer_scope,
            description=event.description,
        )
        for station_id in dict.fromkeys(event.stations)
    ]


def report(event: SpecialTaskReported, received_at: datetime) -> TaskReport:
    return TaskReport(
        report_id=event.report_id,
        task_id=event.task_id,
        station_id=event.station_id,
        title=event.title,
        due_on=event.due_on,
        kind=event.kind,
        text=event.text,
        reported_by=event.reported_by,
        reported_at=event.reported_at,
        received_at=received_at,
    )
