"""A station's own work that is not one demand's: visits to enterprises (主动进企业走访, 004 §5.3) and the special
tasks (专项工作, 002 §9.6) supervisors give it. The weekly report (004 §5.5.1) counts both, so the archive keeps them.

Intake owns visits and publishes VisitRecorded once per visit. Tracking owns special tasks and publishes
SpecialTaskAssigned once per task (with every station it went to) and SpecialTaskReported once per station report
(progress, any number; completion, once and last). Each carries what a consumer that saw nothing else needs.
"""

from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from pydantic import Field

from .envelope import Envelope, StationId
from .events import Name, Text


class VisitRecorded(Envelope):
    """主动进企业: station staff visited an enterprise and recorded what they found."""

    routing_key = "visit.recorded"

    visit_id: UUID
    station_id: StationId
    credit_code: str = Field(min_length=1, max_length=18)
    enterprise_name: Name
    staff: list[Name] = Field(min_length=1, max_length=20)
    visited_on: date  # China date
    findings: Text
    recorded_by: Name

    @property
    def lock_key(self) -> str:
        return f"visit:{self.visit_id}"


class SpecialTaskAssigned(Envelope):
    """A city or district supervisor gave a special task to the stations of its subtree."""

    routing_key = "special_task.assigned"

    task_id: UUID
    issuer_scope: str  # the supervisor's scope, e.g. "210100" (city) or "210100/210112" (district)
    issued_by: Name
    title: Name
    description: Text
    due_on: date  # China date as set; the deadline moves past a day off
    issued_at: datetime
    stations: list[StationId] = Field(min_length=1)

    @property
    def lock_key(self) -> str:
        return f"special_task:{self.task_id}"


class TaskReportKind(StrEnum):
    progress = "progress"  # 进度填报
    completion = "completion"  # 完成报告

    @property
    def label(self) -> str:
        return {TaskReportKind.progress: "进度填报", TaskReportKind.completion: "完成报告"}[self]


class SpecialTaskReported(Envelope):
    """A station reported on its part of a special task."""

    routing_key = "special_task.reported"

    task_id: UUID
    report_id: UUID
    station_id: StationId
    title: Name
    due_on: date
    kind: TaskReportKind
    text: Text
    reported_by: Name
    reported_at: datetime

    @property
    def lock_key(self) -> str:
        return f"special_task:{self.task_id}"


STATION_WORK: tuple[type[Envelope], ...] = (VisitRecorded, SpecialTaskAssigned, SpecialTaskReported)
