"""What the scheduler owes a case today: warnings (预警), chases (催办) and supervision (督办). Pure: no I/O.

State-based, never window-based: `due_today` looks at the deadlines in force and today's China date and says
what is due *now*; the store's alerts table remembers what was fired, keyed by (demand, kind, deadline, due date,
level, the 督办 concerned), so a scan that runs late, twice or on two replicas fires each thing once, and a
moved deadline (pause, extension) is a new key that may be warned about again.

- Deadlines (in force while the case is being handled): 响应时限 `response_due_on` until the first assignment;
  办结时限 `handling_due_on` (the assignment's `due_on` until the clock has computed it) unless the case is paused.
- 预警 (warning): the deadline is not passed and at most `warn_days` working days away (0 = on the day itself).
  Never for a deadline already passed: after downtime the chase and 督办 cover it.
- 催办 (chase, by "system"): the deadline has passed (the day after it, working day or not).
- 督办 (district): `escalate_after_days` working days or more overdue; it goes to the supervisor of the station's
  district, who wants an answer within `reply_days` working days. A station directly under its city has no
  district: its 督办 goes straight to the city.
- A 督办 unanswered past its reply date: a district one escalates to the city (a new 督办, `escalated_from`);
  a city one, having nowhere higher to go, is chased once (催办 of the reply deadline). Only while the case is
  still being handled: a case resolved or closed meanwhile is no longer pushed upward.
- A returned case (退单) waits for the head to rematch it: its handling deadline still runs for the enterprise,
  but the organization that gave it back is no longer the one to act, so the warning goes to the head alone; so
  does a reopened one (重办待派) before its round's first assignment, due the re-handling deadline.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from uuid import UUID, uuid4

from shared.calendar import add_working_days, is_workday, working_days_between
from shared.contracts import CaseChased, CaseSupervised, DeadlineKind, DeadlineWarned, SupervisionAnswered
from shared.contracts import SupervisionLevel as Level
from shared.errors import Invalid, InvalidTransition

from ..clock.domain import ClockSettings
from ..domain import Case
from ..worklists import warn_before

SYSTEM = "system"  # who the scheduler writes as (chased_by, issued_by)
# The service's and a station's warn_days is at most 10, escalate_after_days at most 30 (settings.py, 0007_clock.sql).
ESCALATE_AFTER_MAX = 30


class Alert(StrEnum):
    """What the scheduler fires (the alerts table's `kind`)."""

    warning = "warning"  # 预警
    chase = "chase"  # 催办
    supervision = "supervision"  # 督办 (district), or its escalation to the city


@dataclass(frozen=True)
class Deadline:
    kind: DeadlineKind
    due_on: date


@dataclass(frozen=True)
class Due:
    """One thing to fire; (alert, deadline, due_on, level, supervision_id) is its key in the alerts table."""

    alert: Alert
    deadline: DeadlineKind
    due_on: date
    working_days: int  # left before a warned deadline; late for a chase or a 督办
    level: Level | None = None
    supervision_id: UUID | None = None  # the 督办 whose reply is late (escalation, city chase)


@dataclass(frozen=True)
class Supervision:
    """督办: one row of the supervisions table."""

    supervision_id: UUID
    demand_id: UUID
    station_id: str
    level: Level
    supervisor_scope: str
    issued_by: str
    issued_at: datetime
    comment: str
    reply_due_on: date
    event_id: UUID  # the CaseSupervised it was published as: the cause of its answer or escalation
    escalated_from: UUID | None = None
    deadline: DeadlineKind | None = None
    answered_by: str | None = None
    answered_at: datetime | None = None
    answer: str | None = None
    escalated_at: datetime | None = None

    @property
    def status(self) -> str:
        if self.answered_at is not None:
            return "answered"
        if self.escalated_at is not None:
            return "escalated"
        return "open"

    @property
    def awaiting_reply(self) -> bool:
        return self.answered_at is None and self.escalated_at is None

    def overdue(self, today: date) -> bool:
        return self.awaiting_reply and self.reply_due_on < today


STATUSES = ("open", "answered", "escalated")
STATUS_LABELS = {"open": "待回复", "answered": "已回复", "escalated": "已升级"}


# --------------------------------------------------------------------------- scopes


def city_of(station_id: str) -> str:
    """The city prefix of a station id: "210100" for "210100/210112/hunnan-01"."""
    return station_id.split("/", 1)[0]


def district_of(station_id: str) -> str | None:
    """The district prefix: "210100/210112" for "210100/210112/hunnan-01"; None for a station directly under its
    city ("210100/hunnan-01", see STATION_ID_PATTERN), which has no district between."""
    divisions = station_id.split("/")[:-1]
    return "/".join(divisions[:2]) if len(divisions) >= 2 else None


def first_level(station_id: str) -> tuple[Level, str]:
    """Where a missed deadline's 督办 goes: the station's district, or its city when it has no district."""
    district = district_of(station_id)
    return (Level.district, district) if district else (Level.city, city_of(station_id))


def level_of(supervisor_scope: str) -> Level:
    """A supervisor whose scope is a city (six digits) issues city 督办; any narrower scope, district ones."""
    return Level.city if supervisor_scope.isdigit() and len(supervisor_scope) == 6 else Level.district


# --------------------------------------------------------------------------- what is due


def deadlines(case: Case) -> list[Deadline]:
    """The deadlines the scheduler watches now; none once the case is no longer being handled."""
    if not case.is_open:
        return []
    found = []
    if case.response_due_on is not None and case.first_assigned_at is None:
        found.append(Deadline(DeadlineKind.response, case.response_due_on))
    handling = case.handling_deadline
    if handling is not None and case.paused_since is None:
        found.append(Deadline(DeadlineKind.handling, handling))
    return found


def due_today(case: Case, today: date, settings: ClockSettings, overrides: Mapping[date, bool] | None) -> list[Due]:
    """What is due for the case's deadlines on `today` (a China date), whether or not it was fired before."""
    due = []
    for d in deadlines(case):
        if d.due_on >= today:
            left = working_days_between(today, d.due_on, overrides)
            if left <= settings.warn_days:
                due.append(Due(Alert.warning, d.kind, d.due_on, left))
            continue
        late = working_days_between(d.due_on, today, overrides)
        due.append(Due(Alert.chase, d.kind, d.due_on, late))
        if late >= settings.escalate_after_days:
            due.append(Due(Alert.supervision, d.kind, d.due_on, late, first_level(case.station_id)[0]))
    return due


def reply_due(case: Case, supervision: Supervision, today: date, overrides: Mapping[date, bool] | None) -> Due | None:
    """An unanswered 督办 past its reply date: escalate a district one, chase a city one; None otherwise."""
    if not case.is_open or not supervision.overdue(today):
        return None
    late = working_days_between(supervision.reply_due_on, today, overrides)
    alert, level = (Alert.supervision, Level.city) if supervision.level is Level.district else (Alert.chase, Level.city)
    return Due(alert, DeadlineKind.reply, supervision.reply_due_on, late, level, supervision.supervision_id)


@dataclass(frozen=True)
class Thresholds:
    """`due_today`'s date rules as dates, for the scan's SQL, which cannot count working days:

    - warn_before[w]: a deadline on or after today is warned with warn_days = w iff it falls before this day
      (the (w+1)-th working day after today), w = 0..WARN_DAYS_MAX;
    - late_by[m - 1]: a deadline is m or more working days late iff it falls on or before this day,
      m = 1..ESCALATE_AFTER_MAX.
    """

    today: date
    warn_before: list[date]
    late_by: list[date]


def thresholds(today: date, overrides: Mapping[date, bool] | None) -> Thresholds:
    late_by: list[date] = []
    day, late = today, 0  # `late`: working days in [day, today], i.e. how late a deadline on day - 1 is
    while len(late_by) < ESCALATE_AFTER_MAX:
        if is_workday(day, overrides):
            late += 1
            late_by.append(day - timedelta(days=1))
        day -= timedelta(days=1)
    return Thresholds(today, warn_before(today, overrides), late_by)


# --------------------------------------------------------------------------- the events


def warned(case: Case, due: Due, *, today: date, cause: UUID | None) -> DeadlineWarned:
    """预警 to the one who must act (the handler; before dispatch, the clerk who received it) and the head; while
    the case is returned (退单) the head alone, who must rematch it."""
    if due.deadline is DeadlineKind.response:
        handler = case.first_responder_id
    else:
        handler = None if case.status in ("returned", "reopened") else case.assignee_id
    return case.caused_by(cause).caused(
        DeadlineWarned,
        deadline=due.deadline,
        due_on=due.due_on,
        working_days_left=due.working_days,
        notify=[who for who in (handler, "head") if who],
        warned_on=today,
    )


def chased(case: Case, due: Due, *, today: date, cause: UUID | None) -> CaseChased:
    return case.caused_by(cause).caused(
        CaseChased, deadline=due.deadline, due_on=due.due_on, chased_on=today, chased_by=SYSTEM
    )


def supervised(
    case: Case,
    due: Due,
    *,
    today: date,
    now: datetime,
    reply_days: int,
    overrides: Mapping[date, bool] | None,
    cause: UUID | None,
    escalating: Supervision | None = None,
) -> CaseSupervised:
    """The scheduler's 督办: to the district (the city when the station has none) for a missed deadline, to the city
    for an unanswered district one."""
    if escalating is None:
        scope = first_level(case.station_id)[1]
        comment = (
            f"{due.deadline.label} {due.due_on.isoformat()} 已超期 {due.working_days} 个工作日，请说明原因并尽快办理"
        )
        if case.status == "returned":
            comment += "（已退单，待站长改派）"
        elif case.status == "reopened":
            comment += "（重办，待站长派单）"
        deadline = due.deadline
    else:
        scope = city_of(case.station_id)
        comment = (
            f"区县督办（{escalating.issued_at.date().isoformat()}，{escalating.comment}）逾期未回复"
            f"（回复时限 {escalating.reply_due_on.isoformat()}），升级为市级督办"
        )
        deadline = escalating.deadline
    return case.caused_by(cause).caused(
        CaseSupervised,
        supervision_id=uuid4(),
        level=due.level,
        supervisor_scope=scope,
        issued_by=SYSTEM,
        issued_at=now,
        comment=comment[:4000],
        reply_due_on=add_working_days(today, reply_days, overrides),
        escalated_from=escalating.supervision_id if escalating else None,
        deadline=deadline,
    )


def supervise_by_hand(
    case: Case,
    *,
    supervisor: str,
    supervisor_scope: str,
    comment: str,
    reply_due_on: date,
    today: date,
    now: datetime,
    cause: UUID | None,
) -> CaseSupervised:
    """A supervisor's own 督办 on a case being handled, with a reply date after today."""
    if not case.is_open:
        raise InvalidTransition(
            "该需求已不在办理中，无需督办",
            f"the demand is {case.status}, no longer being handled; nothing to supervise",
        )
    if reply_due_on <= today:
        raise Invalid(
            f"回复时限应晚于今天（{today.isoformat()}）",
            f"reply_due_on must be after today ({today.isoformat()})",
            field="reply_due_on",
        )
    return case.caused_by(cause).caused(
        CaseSupervised,
        supervision_id=uuid4(),
        level=level_of(supervisor_scope),
        supervisor_scope=supervisor_scope,
        issued_by=supervisor,
        issued_at=now,
        comment=comment,
        reply_due_on=reply_due_on,
    )


def answer(case: Case, supervision: Supervision, *, by: str, text: str, now: datetime) -> SupervisionAnswered:
    """The station's answer; a 督办 is answered once, and not after it went up to the city."""
    if supervision.answered_at is not None:
        raise InvalidTransition("该督办已回复", "the supervision was already answered")
    if supervision.escalated_at is not None:
        raise InvalidTransition(
            "该督办已逾期升级为市级督办，请回复市级督办", "the supervision was escalated; answer the city's one"
        )
    return case.caused_by(supervision.event_id).caused(
        SupervisionAnswered, supervision_id=supervision.supervision_id, answered_by=by, answered_at=now, answer=text
    )


def of_event(event: CaseSupervised) -> Supervision:
    """The row a published 督办 is kept as."""
    return Supervision(
        supervision_id=event.supervision_id,
        demand_id=event.demand_id,
        station_id=event.station_id,
        level=event.level,
        supervisor_scope=event.supervisor_scope,
        issued_by=event.issued_by,
        issued_at=event.issued_at,
        comment=event.comment,
        reply_due_on=event.reply_due_on,
        event_id=event.event_id,
        escalated_from=event.escalated_from,
        deadline=event.deadline,
    )
