"""The clock of a case, computed from its facts (the events it was told of), never kept as a counter. Pure: no I/O.

Every date is a China date (Asia/Shanghai) and every count is in working days (shared.calendar: statutory
holidays and 调休 make-up days from `chinesecalendar`, the calendar corrections intake announces deciding first).

- 响应时限 (response): add_working_days(China date of submitted_at, response_days) — counting starts the working day
  after acceptance (民法典 §201); met by the first assignment (`Case.first_assigned_at`), whichever came first.
- 办结时限 (handling): the base is the current assignment's `due_on` (dispatch computed it from the catalogue's
  committed limit), set when assigned, or, once the head approved an extension of that assignment, its new date,
  set when the handler *asked* for it (the handler chose the date knowing the pauses until then). Pauses (挂起) of
  the current assignment after the base was set move it: handling_due_on = add_working_days(base, paused working
  days) when they are > 0. A pause counts the working days from its start day up to the day before it ended (a
  same-day pause counts 0), and only from the day its base was set, so days already weighed are not counted twice;
  pauses between the request and the head's decision still count. Approvals are taken in the order they were
  decided, and an approval never makes the deadline earlier than the one in force without it.
- While paused, `paused_since` is the open pause's start and the deadline is not yet moved by it: lists show the
  case as paused, never overdue. Resuming moves the deadline by the pause's working days.
- A rematch (a new assignment_no) starts afresh: the new assignment's due date, no pauses, no extensions.
- A case no longer being handled (resolved, returned (退单), refused/merged/withdrawn, rematched away) keeps its last
  deadlines; an open pause ends with it: it is counted as ended when the case ended (resolved_at, returned_at,
  closed_at, or the next assignment), so a case resolved while paused is not late for the paused days.
- Extension (延期): asked by the handler while the case is being handled and not paused, before the handling deadline
  has passed (China today ≤ handling_due_on), one pending at a time, for a working day later than the current
  deadline; decided by the head; approved, its new date becomes the base (see the handling deadline).
- Time to resolve (办结用时, `resolution_working_days`): the working days from acceptance (submitted_at's China date)
  to resolution (resolved_at's China date), counted as deadlines count, from the working day after acceptance: a
  demand resolved on the day it was accepted took 0, one resolved on the next working day 1. Pauses are NOT deducted:
  the enterprise waited all the same, and the on-time rate already weighs them (the deadline moves by them). Set
  with the resolution and kept with it: a later calendar correction does not rewrite it, as it does not move a
  closed case's deadlines.
- Rounds (重办, issue 10): a founded verification of a 不满意 rating reopens the demand as round r+1 with a
  re-handling deadline, `rehandling_due_on`: add_working_days(China date of the reopening, rehandling_days) —
  counted from the working day after the reopening, as every deadline here. Until the round's first assignment
  (重办待派) that date is the handling deadline; the round's assignments commit to it (Assigned.due_on), and from
  the first of them the handling deadline is computed as in round 1: pauses and extensions of the round's own
  assignments (the assignment numbers run on, so an earlier round's pauses and extensions never count).
- 核实时限 (verification): a 不满意 rating of a round before the final one is verified by the head or the first
  responder within `verify_days` working days: add_working_days(China date of rated_at, verify_days). Met by the
  verification; ended when the rating is voided (申诉复核) or the demand ends. Kept once verified or voided, like a
  closed case's deadlines.
"""

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from shared.calendar import add_working_days, china_today, is_workday, working_days_between
from shared.errors import Invalid, InvalidTransition

from ..domain import RESOLVABLE, Case


class _ClockDefaults(Protocol):
    response_days: int
    warn_days: int
    escalate_after_days: int
    reply_days: int
    verify_days: int
    rehandling_days: int
    revisit_days: int
    revisit_sample_rate: float


@dataclass(frozen=True)
class ClockSettings:
    """A station's clock (domain.md §8, §9); the service's settings are the defaults, a head may set the station's."""

    response_days: int = 1  # 响应时限: working days from acceptance to the first assignment
    warn_days: int = 1  # 预警: working days before a deadline
    escalate_after_days: int = 2  # 督办: working days overdue before escalation to the district's supervisor
    reply_days: int = 2  # 督办回复时限: working days the station has to answer a 督办
    verify_days: int = 2  # 核实时限: working days to verify a 不满意 rating (issue 10)
    rehandling_days: int = 5  # 重办时限: working days to handle a reopened demand again (domain.md §8, default 5)
    # 回访 (services/tracking/revisits): working days a re-visit task has, and the share of the demands resolved with
    # their need met that get one (0..1, a deterministic sample; 不满意 ratings and needs not met always do).
    revisit_days: int = 2
    revisit_sample_rate: float = 0.0

    @classmethod
    def of(cls, settings: _ClockDefaults) -> "ClockSettings":
        """The service's settings (services/tracking/settings.py) as the defaults every station starts from."""
        return cls(
            response_days=settings.response_days,
            warn_days=settings.warn_days,
            escalate_after_days=settings.escalate_after_days,
            reply_days=settings.reply_days,
            verify_days=settings.verify_days,
            rehandling_days=settings.rehandling_days,
            revisit_days=settings.revisit_days,
            revisit_sample_rate=settings.revisit_sample_rate,
        )

    def over(self, row: dict[str, Any] | None) -> "ClockSettings":
        """A station's row over these defaults: a column left empty (NULL) keeps the default."""
        if not row:
            return self
        return replace(self, **{k: row[k] for k in CLOCK_FIELDS if row.get(k) is not None})


CLOCK_FIELDS = (
    "response_days",
    "warn_days",
    "escalate_after_days",
    "reply_days",
    "verify_days",
    "rehandling_days",
    "revisit_days",
    "revisit_sample_rate",
)


@dataclass(frozen=True)
class Pause:
    """挂起: one row of the case's pauses."""

    pause_id: UUID
    assignment_no: int
    reason_kind: str
    reason: str
    paused_by: str
    paused_at: datetime
    resumed_by: str | None = None
    resumed_at: datetime | None = None
    note: str | None = None
    event_id: UUID | None = None  # the CasePaused event, which CaseResumed names as its cause

    @property
    def is_open(self) -> bool:
        return self.resumed_at is None


@dataclass(frozen=True)
class Extension:
    """延期: one request and, once the head decided, its decision."""

    extension_id: UUID
    assignment_no: int
    requested_by: str
    requested_at: datetime
    reason: str
    due_on: date  # the handling deadline when asked
    new_due_on: date
    approved: bool | None = None  # None: pending
    decided_by: str | None = None
    decided_at: datetime | None = None
    comment: str | None = None
    event_id: UUID | None = None  # the ExtensionRequested event, which ExtensionDecided names as its cause

    @property
    def status(self) -> str:
        return "pending" if self.approved is None else ("approved" if self.approved else "refused")


EXTENSION_STATUSES = ("pending", "approved", "refused")
STATUS_LABELS = {"met": "已按期", "open": "计时中", "overdue": "已超期", "paused": "已挂起", "ended": "已终止"}


@dataclass(frozen=True)
class Clock:
    """The clock's answers for one case: what `with_clock` writes into the case's columns, and how it got there."""

    response_due_on: date | None = None
    handling_base_on: date | None = None  # the committed date or the approved extension's
    extension_id: UUID | None = None  # the approved extension the base comes from, if any
    paused_working_days: int = 0  # of the ended pauses that moved the base
    handling_due_on: date | None = None
    paused_since: datetime | None = None
    resolution_working_days: int | None = None  # once resolved
    verify_due_on: date | None = None  # 核实时限, for a 不满意 rating that needs verification


def resolution_working_days(
    submitted_at: datetime | None, resolved_at: datetime | None, overrides: dict[date, bool] | None = None
) -> int | None:
    """办结用时: working days after the acceptance's China day up to and including the resolution's (0 when resolved
    the day it was accepted, or before the next working day); None until both are known. Pauses are not deducted."""
    if submitted_at is None or resolved_at is None:
        return None
    return working_days_between(china_today(submitted_at), china_today(resolved_at), overrides)


def pause_working_days(start: datetime, end: datetime, overrides: dict[date, bool] | None = None) -> int:
    """Working days from the start's China day up to the day before the end's (a same-day pause is 0)."""
    first, after = china_today(start), china_today(end)
    return working_days_between(first - timedelta(days=1), after - timedelta(days=1), overrides)


def response_due_on(case: Case, settings: ClockSettings, overrides: dict[date, bool] | None = None) -> date | None:
    if case.submitted_at is None:
        return None
    return add_working_days(china_today(case.submitted_at), settings.response_days, overrides)


def verification_due_on(case: Case, settings: ClockSettings, overrides: dict[date, bool] | None = None) -> date | None:
    """核实时限 of a 不满意 rating that needs verification (Case.needs_verification); None otherwise."""
    if not case.needs_verification or case.rated_at is None:
        return None
    return add_working_days(china_today(case.rated_at), settings.verify_days, overrides)


def rehandling_due_on(
    reopened_at: datetime, settings: ClockSettings, overrides: dict[date, bool] | None = None
) -> date:
    """重办时限: `rehandling_days` working days counted from the working day after the reopening's China date."""
    return add_working_days(china_today(reopened_at), settings.rehandling_days, overrides)


def _handled(case: Case, assignment_no: int) -> bool:
    """Is this assignment the one the case is being handled under now?"""
    return case.assignment_no == assignment_no and case.status in RESOLVABLE


def pause_ended_at(case: Case, pause: Pause) -> datetime | None:
    """When the pause ended: resumed, or the case stopped being handled under its assignment (see the rules)."""
    if pause.resumed_at is not None:
        return pause.resumed_at
    if _handled(case, pause.assignment_no):
        return None
    if case.first_resolved_at is not None and pause.paused_at <= case.first_resolved_at:
        return case.first_resolved_at  # a pause of the round before a reopening: ended with it, by its resolution
    if case.assignment_no > pause.assignment_no and case.assigned_at is not None:
        return max(case.assigned_at, pause.paused_at)
    ends = [
        t
        for t in (
            case.resolved_at,
            case.closed_at,
            case.returned_at if case.returned_no >= pause.assignment_no else None,
        )
        if t is not None and t >= pause.paused_at
    ]
    return min(ends) if ends else pause.paused_at


def _handling_due(
    case: Case, base: date, base_set: datetime | None, pauses: list[Pause], overrides: dict[date, bool] | None
) -> tuple[date, int, datetime | None]:
    """The deadline from `base` set at `base_set`: moved by the working days of the current assignment's pauses
    that ended, counted from the day the base was set; with the open pause's start, if any."""
    paused_days, paused_since = 0, None
    for pause in pauses:
        if pause.assignment_no != case.assignment_no:
            continue
        ended = pause_ended_at(case, pause)
        if ended is None:
            paused_since = pause.paused_at
            continue
        if base_set is not None and ended < base_set:
            continue  # weighed by whoever set the base after it
        start = pause.paused_at if base_set is None else max(pause.paused_at, base_set)
        paused_days += pause_working_days(start, ended, overrides)
    due = add_working_days(base, paused_days, overrides) if paused_days > 0 else base
    return due, paused_days, paused_since


def clock(
    case: Case,
    settings: ClockSettings,
    pauses: list[Pause],
    extensions: list[Extension],
    overrides: dict[date, bool] | None = None,
) -> Clock:
    """The case's deadlines from its facts, its pauses and extensions, and the calendar corrections."""
    response = response_due_on(case, settings, overrides)
    took = resolution_working_days(case.submitted_at, case.resolved_at, overrides)
    verify = verification_due_on(case, settings, overrides)
    if not case.assignment_no or case.due_on is None:
        return Clock(response_due_on=response, resolution_working_days=took, verify_due_on=verify)
    if case.status == "reopened":  # 重办待派: the re-handling deadline, nothing of the round before counts
        return Clock(response_due_on=response, handling_base_on=case.due_on, handling_due_on=case.due_on)
    base, base_set, extension_id = case.due_on, case.assigned_at, None
    due, paused_days, paused_since = _handling_due(case, base, base_set, pauses, overrides)
    approved = [e for e in extensions if e.assignment_no == case.assignment_no and e.approved and e.decided_at]
    for e in sorted(approved, key=lambda e: (e.decided_at, str(e.extension_id))):
        if base_set is not None and e.requested_at < base_set:
            continue  # asked before the base in force was set (not under this assignment's clock)
        later = _handling_due(case, e.new_due_on, e.requested_at, pauses, overrides)
        if later[0] >= due:  # an approval never moves the deadline earlier than the one in force
            base, base_set, extension_id = e.new_due_on, e.requested_at, e.extension_id
            due, paused_days, paused_since = later
    return Clock(
        response_due_on=response,
        handling_base_on=base,
        extension_id=extension_id,
        paused_working_days=paused_days,
        handling_due_on=due,
        paused_since=paused_since,
        resolution_working_days=took,
        verify_due_on=verify,
    )


def applied(case: Case, answers: Clock) -> Case:
    """The case with the clock's columns set. A case no longer open keeps its last deadlines (a late calendar
    correction does not rewrite history), except that closing a paused case ends the pause once (see the rules);
    likewise a resolution keeps the time to resolve it was measured with (domain.apply clears it for a new one), and
    a verified or voided rating the verification deadline it had (a reopening clears it for the new round)."""
    took = case.resolution_working_days
    if took is None or case.resolved_at is None:
        took = answers.resolution_working_days
    verify = answers.verify_due_on
    if case.verify_due_on is not None and case.needs_verification and not case.awaiting_verification:
        verify = case.verify_due_on
    if not case.is_open and case.paused_since is None and case.handling_due_on is not None:
        return replace(
            case,
            response_due_on=case.response_due_on or answers.response_due_on,
            resolution_working_days=took,
            verify_due_on=verify,
        )
    return replace(
        case,
        response_due_on=answers.response_due_on,
        handling_due_on=answers.handling_due_on,
        paused_since=answers.paused_since,
        resolution_working_days=took,
        verify_due_on=verify,
    )


# --- the rules of a request -----------------------------------------------------------------------------------


def _being_handled(case: Case, doing: str, en: str) -> None:
    if case.status not in RESOLVABLE or case.handling_due_on is None:
        raise InvalidTransition(
            f"只有办理中的需求可以{doing}，该需求当前不在办理中",
            f"only a demand being handled can be {en}; this one is {case.status}",
        )


def check_pause(case: Case) -> None:
    _being_handled(case, "挂起", "paused")
    if case.paused_since is not None:
        raise InvalidTransition("该需求已挂起，请先恢复计时", "the demand is already paused")


def check_resume(case: Case, pause: Pause | None) -> Pause:
    if pause is None or case.paused_since is None:
        raise InvalidTransition("该需求未挂起，无需恢复计时", "the demand is not paused")
    return pause


def check_extension(
    case: Case,
    new_due_on: date,
    today: date,
    pending: Extension | None,
    overrides: dict[date, bool] | None = None,
) -> None:
    """延期申请: before the deadline, one at a time, for a later working day (行政许可法 §42 pattern); `overrides`
    are the calendar corrections, which decide what a working day is before the package does."""
    _being_handled(case, "申请延期", "extended")
    assert case.handling_due_on is not None
    if case.paused_since is not None:
        raise InvalidTransition(
            "挂起期间办结期限暂停计算，请恢复计时后再申请延期",
            "the demand is paused; resume it before asking for an extension",
        )
    if today > case.handling_due_on:
        raise InvalidTransition(
            f"延期申请须在办结期限届满前提出（办结期限 {case.handling_due_on.isoformat()} 已过）",
            f"an extension must be asked for before the handling deadline; {case.handling_due_on} has passed",
            code="deadline_passed",
        )
    if pending is not None:
        raise InvalidTransition(
            "已有一项延期申请待站长审批，请等待审批结果",
            "an extension request is already waiting for the head's decision",
        )
    if new_due_on <= case.handling_due_on:
        raise InvalidTransition(
            f"延期后的日期须晚于当前办结期限 {case.handling_due_on.isoformat()}",
            f"the new date must be later than the current handling deadline {case.handling_due_on}",
            field="new_due_on",
        )
    if not is_workday(new_due_on, overrides):
        raise Invalid(
            f"延期后的办结期限须为工作日（{new_due_on.isoformat()} 为休息日）",
            f"the new handling deadline must be a working day; {new_due_on} is not",
            field="new_due_on",
        )


def check_decision(case: Case, extension: Extension) -> None:
    if extension.approved is not None:
        verdict = "同意" if extension.approved else "不同意"
        raise InvalidTransition(
            f"该延期申请已审批（{verdict}）", f"the extension was already decided ({extension.status})"
        )
    if not _handled(case, extension.assignment_no):
        raise InvalidTransition(
            "需求已不在该次派单下办理（已办结、退单、改派或终止），延期申请已失效",
            "the demand is no longer handled under the assignment this extension was asked for",
        )


# --- every deadline of a case, for people ---------------------------------------------------------------------


@dataclass(frozen=True)
class Deadline:
    kind: str  # shared.contracts.DeadlineKind
    due_on: date | None
    status: str  # met / open / overdue / paused / ended
    met_on: date | None = None
    on_time: bool | None = None
    detail: dict[str, Any] | None = None


def _status(due: date | None, met: date | None, today: date, *, paused: bool, ended: bool) -> tuple[str, bool | None]:
    if met is not None:
        return "met", (due is None or met <= due)
    if ended:
        return "ended", None
    if paused:
        return "paused", None
    return ("overdue" if due is not None and today > due else "open"), None


def deadlines(case: Case, answers: Clock, today: date) -> list[Deadline]:
    """The response and handling deadlines of the case, each with where it stands today, and the verification
    deadline of a 不满意 rating that needs one. A case that ended without being resolved (否定备案/并单/撤回) shows its
    deadlines as ended; a returned one (退单) is still running. In a re-handling round the handling deadline is the
    round's (its `round` says which); before the round's first assignment its committed date is the reopening's."""
    ended = case.closed_as is not None or (case.archive_no is not None and case.resolved_at is None)
    met = china_today(case.first_assigned_at) if case.first_assigned_at else None
    status, on_time = _status(case.response_due_on, met, today, paused=False, ended=ended)
    out = [Deadline("response", case.response_due_on, status, met, on_time)]
    if case.assignment_no:
        done = china_today(case.resolved_at) if case.resolved_at else None
        paused = case.paused_since is not None
        status, on_time = _status(case.handling_due_on, done, today, paused=paused, ended=ended)
        detail = {
            "assignment_no": case.assignment_no,
            "committed_on": case.due_on,
            "base_on": answers.handling_base_on,
            "extension_id": answers.extension_id,
            "paused_working_days": answers.paused_working_days,
            "paused_since": case.paused_since,
            "round": case.round,
        }
        out.append(Deadline("handling", case.handling_due_on, status, done, on_time, detail))
    verify = case.verify_due_on or answers.verify_due_on
    if case.needs_verification and verify is not None:
        verified = china_today(case.verified_at) if case.verified_at else None
        ended = case.rating_voided_at is not None or case.closed_as is not None or case.archive_no is not None
        status, on_time = _status(verify, verified, today, paused=False, ended=ended)
        detail = {"round": case.round, "finding": case.finding, "voided": case.rating_voided_at is not None}
        out.append(Deadline("verification", verify, status, verified, on_time, detail))
    return out


def reply_deadline(supervision, today: date) -> Deadline:
    """A 督办's reply deadline (supervision.domain.Supervision): met once answered, ended once escalated."""
    answered = china_today(supervision.answered_at) if supervision.answered_at else None
    ended = supervision.escalated_at is not None
    status, on_time = _status(supervision.reply_due_on, answered, today, paused=False, ended=ended)
    detail = {"supervision_id": supervision.supervision_id, "level": supervision.level.value}
    return Deadline("reply", supervision.reply_due_on, status, answered, on_time, detail)
