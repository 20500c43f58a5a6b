"""Special tasks (专项工作, 002 §9.6): the rules, pure (no I/O).

A city or district supervisor assigns a task to the stations of its subtree; each station registers it,
reports progress and, once, completion (002 §9.6.1 实时填报办理进度); the supervisor follows every station's
part and pushes what is overdue (§9.6.2 对超期未办结任务发起督办).

The deadline is the task's due date, moved to the next working day when it falls on a holiday or weekend
(民法典 §203, as for demands). For a station's part not completed, by the station's own clock settings
(`ClockSettings`: the service's defaults, or what the station's head set), meaning what they mean for demands
(supervision/domain.py):
- 预警 (warning): the deadline is not passed and at most `warn_days` working days away (0 = on the due day itself);
- 催办 (chase): once the deadline has passed;
- 督办 (supervision) to the issuer's scope: once the part is `escalate_after_days` working days overdue.
Each is raised once per part; a scan after downtime raises what is due now (a part already past its deadline
gets no warning any more, only the chase and, if due, the 督办).

What others hear (shared.contracts.stationwork, through the outbox): SpecialTaskAssigned once per task, naming every
station it went to, and SpecialTaskReported once per station report (progress, any number; completion, once and
last). A person prompts both, so no event is their cause; the task's id is their correlation id, so that every event
of one task shares it. The alerts are not published: they are the task's rows (tasks/usecases.py).
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit
from uuid import UUID

from shared.calendar import add_working_days, is_workday, working_days_between
from shared.contracts import SpecialTaskAssigned, SpecialTaskReported, TaskReportKind
from shared.errors import Invalid, InvalidTransition

from ..worklists import WARN_DAYS_MAX

Overrides = Mapping[date, bool] | None


# progress 进度 / completion 完成: the contract's own words (task_reports.kind holds the same values).
ReportKind = TaskReportKind


class AlertKind(StrEnum):
    """What the scan raises on a part (task_alerts.kind); the same words as for demands."""

    warning = "warning"  # 预警
    chase = "chase"  # 催办
    supervision = "supervision"  # 督办


class PartState(StrEnum):
    open = "open"  # 办理中
    overdue = "overdue"  # 已逾期
    done = "done"  # 已完成


REPORT_LABELS = {kind: kind.label for kind in ReportKind}
ALERT_LABELS = {AlertKind.warning: "预警", AlertKind.chase: "催办", AlertKind.supervision: "督办"}
STATE_LABELS = {PartState.open: "办理中", PartState.overdue: "已逾期", PartState.done: "已完成"}


@dataclass(frozen=True)
class Attachment:
    """By reference only (no upload): a web address or a document number (文号), e.g. 沈市监发〔2026〕12号."""

    name: str
    ref: str


@dataclass(frozen=True)
class Task:
    task_id: UUID
    issuer_scope: str  # the issuing supervisor's scope: "210100" (city) or "210100/210112" (district)
    issued_by: str
    issued_by_name: str
    title: str
    description: str
    due_on: date
    attachments: tuple[Attachment, ...]
    issued_at: datetime


@dataclass(frozen=True)
class Report:
    report_id: UUID
    task_id: UUID
    station_id: str
    kind: ReportKind
    text: str
    attachments: tuple[Attachment, ...]
    reported_by: str
    reported_by_name: str
    reported_at: datetime


@dataclass(frozen=True)
class TaskAlert:
    """A warning, chase or 督办 raised on one station's part (a row of task_alerts)."""

    task_id: UUID
    station_id: str
    kind: AlertKind
    deadline: date
    to_scope: str  # who is told: the station itself; for a 督办 the issuer's scope
    raised_at: datetime


@dataclass(frozen=True)
class Part:
    """One station's share of a task."""

    task_id: UUID
    station_id: str
    station_name: str | None = None
    completed_at: datetime | None = None
    completed_by: str | None = None
    reports: tuple[Report, ...] = field(default=())
    alerts: tuple[TaskAlert, ...] = field(default=())

    @property
    def done(self) -> bool:
        return self.completed_at is not None


@dataclass(frozen=True)
class Progress:
    """A task as one caller sees it in a list: counts over the parts in the caller's scope."""

    task: Task
    total: int
    done: int
    overdue: int
    own: Part | None = None  # a station's own part, for its clerk or head


# --- input -------------------------------------------------------------------------------------------------

# A document number: letters, digits, CJK and the brackets and marks of 文号 (〔〕, 第…号); at least one digit.
# No colon, so that no scheme ("javascript:") passes as a number.
_DOCUMENT_NO = re.compile(r"^[0-9A-Za-z\u4e00-\u9fff〔〕（）()【】\[\]\-—_./#· ]{2,100}$")


def attachment_ref(value: str) -> str:
    """An attachment's reference: an http(s) address with a host, or a document number (文号)."""
    text = value.strip()
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme.lower() in ("http", "https") and parts.hostname and not re.search(r"\s", text):
            return text
        raise Invalid(
            "附件地址应为以 http:// 或 https:// 开头的完整网址",
            "an attachment address must be a full http:// or https:// URL",
        )
    if _DOCUMENT_NO.match(text) and re.search(r"[0-9]", text):
        return text
    raise Invalid(
        "附件应为网址（http/https）或文件编号（文号，如 沈市监发〔2026〕12号）",
        "an attachment must be an http(s) URL or a document number (e.g. 沈市监发〔2026〕12号)",
    )


def check_due_on(due_on: date, today: date) -> None:
    if due_on < today:
        raise Invalid(
            f"截止日期不能早于今天（{today.isoformat()}）",
            f"the due date may not be in the past (today is {today.isoformat()} in China)",
            field="due_on",
        )


def choose_stations(requested: list[str] | None, subtree: list[str]) -> list[str]:
    """The stations a task goes to: those named (each within the supervisor's subtree), else all of it."""
    if requested is None:
        if not subtree:
            raise Invalid(
                "您的辖区内没有已登记的服务站，无法分派专项工作",
                "no registered station lies within your scope to assign the task to",
                field="station_ids",
            )
        return list(subtree)
    known = set(subtree)
    outside = [s for s in dict.fromkeys(requested) if s not in known]
    if outside:
        raise Invalid(
            f"服务站不在您的辖区内或未登记：{'、'.join(outside[:5])}",
            f"stations not registered within your scope: {', '.join(outside[:5])}",
            field="station_ids",
        )
    return list(dict.fromkeys(requested))


def check_report(part: Part) -> None:
    """Reports are appended until the station reports completion; after that the part is closed."""
    if part.done:
        raise InvalidTransition(
            "本站已报告完成该专项工作，不能再填报",
            "this station already reported the task complete; no further reports",
        )


# --- what others hear ---------------------------------------------------------------------------------------


def assigned(task: Task, stations: list[str]) -> SpecialTaskAssigned:
    """SpecialTaskAssigned: the task as issued and every station it went to."""
    return SpecialTaskAssigned(
        correlation_id=task.task_id,
        occurred_at=task.issued_at,
        task_id=task.task_id,
        issuer_scope=task.issuer_scope,
        issued_by=task.issued_by_name,
        title=task.title,
        description=task.description,
        due_on=task.due_on,
        issued_at=task.issued_at,
        stations=list(stations),
    )


def reported(task: Task, report: Report) -> SpecialTaskReported:
    """SpecialTaskReported: one station's report on its part, with the task's title and due date for a consumer
    that saw nothing else."""
    return SpecialTaskReported(
        correlation_id=task.task_id,
        occurred_at=report.reported_at,
        task_id=task.task_id,
        report_id=report.report_id,
        station_id=report.station_id,
        title=task.title,
        due_on=task.due_on,
        kind=report.kind,
        text=report.text,
        reported_by=report.reported_by_name,
        reported_at=report.reported_at,
    )


# --- the clock ---------------------------------------------------------------------------------------------


def deadline(due_on: date, overrides: Overrides = None) -> date:
    """The due date, or the next working day when it falls on a day off (民法典 §203)."""
    day = due_on
    while not is_workday(day, overrides):
        day += timedelta(days=1)
    return day


def overdue_cutoff(today: date, overrides: Overrides = None) -> date:
    """The latest due date already missed today: the last working day before today.

    A part is overdue exactly when its due date is on or before this day (its deadline, the first working day
    on or after the due date, then lies before today) — so SQL can count overdue parts with `due_on <= $cutoff`.
    """
    day = today - timedelta(days=1)
    while not is_workday(day, overrides):
        day -= timedelta(days=1)
    return day


def is_overdue(due_on: date, today: date, overrides: Overrides = None) -> bool:
    return deadline(due_on, overrides) < today


def state(part: Part, due_on: date, today: date, overrides: Overrides = None) -> PartState:
    if part.done:
        return PartState.done
    return PartState.overdue if is_overdue(due_on, today, overrides) else PartState.open


@dataclass(frozen=True)
class Clock:
    """Today in China and the working-day corrections in force: what a task's page is judged by."""

    today: date
    overrides: Mapping[date, bool] = field(default_factory=dict)

    def deadline(self, due_on: date) -> date:
        return deadline(due_on, self.overrides)

    def state(self, part: Part, due_on: date) -> PartState:
        return state(part, due_on, self.today, self.overrides)


def scan_horizon(today: date, overrides: Overrides = None) -> date:
    """No part due after this day has anything due today, whatever its station's `warn_days` (at most
    WARN_DAYS_MAX): a warning needs the deadline within `warn_days` working days, and a deadline (a working day)
    within them is on or before this day."""
    return add_working_days(today, WARN_DAYS_MAX, overrides)


def alerts_due(
    due_on: date, today: date, *, warn_days: int, escalate_after_days: int, overrides: Overrides = None
) -> tuple[AlertKind, ...]:
    """What an open part should have had by `today` (the scan raises those not raised yet).

    A warning while at most `warn_days` working days are left (0: on the deadline day itself, as for demands)."""
    end = deadline(due_on, overrides)
    if today <= end:
        left = working_days_between(today, end, overrides)
        return (AlertKind.warning,) if left <= warn_days else ()
    late = working_days_between(end, today, overrides)
    return (AlertKind.chase, AlertKind.supervision) if late >= escalate_after_days else (AlertKind.chase,)


def to_scope(kind: AlertKind, issuer_scope: str, station_id: str) -> str:
    """A warning or chase goes to the station; a 督办 to the scope that issued the task."""
    return issuer_scope if kind is AlertKind.supervision else station_id
