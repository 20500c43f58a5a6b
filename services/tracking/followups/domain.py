"""Follow-ups (跟进记录) on the tracking sheet (跟踪单, 004 附录C) and the appointments among them. Pure: no I/O.

Whoever handles a case writes down every contact with the enterprise, every appointment (date, time, place,
who), every problem found, every coordination and every explanation given, each timestamped and signed.

When a follow-up may be recorded:

- while the case is being handled (submitted, returned, assigned, referred): any kind;
- once it is resolved or rated: only an explanation (解释说明). Telling the enterprise why a need cannot be met,
  or answering its questions about the result, is still part of handling (004 §6.4.2), but there is nothing
  left to contact, meet, find or coordinate about: that would be re-handling, which starts with a reopening;
- once it ended otherwise (refused, merged, withdrawn) or is archived: nothing; the archived record is sealed.

An appointment names its date, which may not be in the past (China's today), and at most a year ahead.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from uuid import UUID, uuid4

from shared.contracts import Appointment, FollowUpKind, FollowUpRecorded
from shared.errors import Invalid, InvalidTransition

from ..domain import OPEN_STATUSES, STATUS_LABELS, Case

# After resolution the case is no longer handled, but the enterprise may still be told why (004 §6.4.2).
AFTER_RESOLUTION = ("resolved", "rated")
KINDS_AFTER_RESOLUTION = (FollowUpKind.explanation,)
# How far ahead an appointment may be made: a plausible date, not a typo of the year.
APPOINTMENT_HORIZON = timedelta(days=366)
# The appointments list's window (GET /appointments): from China's today, two weeks, at most a year.
DEFAULT_WINDOW = timedelta(days=14)
MAX_WINDOW = timedelta(days=366)


@dataclass(frozen=True)
class FollowUp:
    """One follow-up as kept (table follow_ups): the event's facts."""

    follow_up_id: UUID
    demand_id: UUID
    station_id: str
    kind: FollowUpKind
    text: str
    appointment: Appointment | None
    recorded_by: str
    recorded_by_org: str | None
    recorded_at: datetime

    @classmethod
    def of(cls, event: FollowUpRecorded) -> "FollowUp":
        return cls(
            follow_up_id=event.follow_up_id,
            demand_id=event.demand_id,
            station_id=event.station_id,
            kind=event.kind,
            text=event.text,
            appointment=event.appointment,
            recorded_by=event.recorded_by,
            recorded_by_org=event.recorded_by_org,
            recorded_at=event.recorded_at,
        )


@dataclass(frozen=True)
class UpcomingAppointment:
    """A row of the appointments list: the appointment and the case it is for."""

    follow_up_id: UUID
    demand_id: UUID
    station_id: str
    tracking_no: str
    enterprise_name: str | None
    on: date
    at: time | None
    place: str
    attendees: str
    text: str
    recorded_by: str
    recorded_by_org: str | None
    recorded_at: datetime


def check_appointment(kind: FollowUpKind, appointment: Appointment | None, today: date) -> None:
    """An appointment comes with its date, place and people, and only with kind appointment; never in the past."""
    if kind is FollowUpKind.appointment and appointment is None:
        raise Invalid(
            "跟进类型为「预约」时须填写预约信息（日期、地点、人员）",
            "appointment (date, place, attendees) is required when kind is appointment",
            field="appointment",
        )
    if kind is not FollowUpKind.appointment and appointment is not None:
        raise Invalid(
            f"只有跟进类型为「预约」时才填写预约信息，本条为「{kind.label}」",
            f"appointment is only given when kind is appointment, not {kind.value}",
            field="appointment",
        )
    if appointment is None:
        return
    if appointment.on < today:
        raise Invalid(
            f"预约日期 {appointment.on.isoformat()} 已过（今天是 {today.isoformat()}），不能预约过去的日期",
            f"the appointment date {appointment.on.isoformat()} is in the past (today is {today.isoformat()} in China)",
            field="appointment.on",
        )
    if appointment.on > today + APPOINTMENT_HORIZON:
        latest = (today + APPOINTMENT_HORIZON).isoformat()
        raise Invalid(
            f"预约日期不能晚于 {latest}（一年以内）",
            f"the appointment date must be within a year, by {latest}",
            field="appointment.on",
        )
    if appointment.at is not None and appointment.at.tzinfo is not None:
        raise Invalid(
            "预约时间按北京时间填写，不带时区，如 09:30",
            "the appointment time is China local time without an offset, e.g. 09:30",
            field="appointment.at",
        )


def check_may_follow(case: Case, kind: FollowUpKind) -> None:
    status = case.status
    if status in OPEN_STATUSES:
        return
    if status in AFTER_RESOLUTION:
        if kind in KINDS_AFTER_RESOLUTION:
            return
        raise InvalidTransition(
            f"需求已{STATUS_LABELS[status]}，只能补记「解释说明」（向企业说明处理意见），不能再记「{kind.label}」",
            f"the demand is {status}: only an explanation to the enterprise may still be recorded, not {kind.value}",
        )
    raise InvalidTransition(
        f"需求已终止（{STATUS_LABELS[status]}），不能再记录跟进",
        f"the demand is {status}; no follow-up can be recorded any more",
    )


def record(
    case: Case,
    *,
    kind: FollowUpKind,
    text: str,
    appointment: Appointment | None,
    recorded_by: str,
    recorded_by_org: str | None,
    now: datetime,
    today: date,
) -> FollowUpRecorded:
    """A follow-up on the case's tracking sheet, as the event tracking publishes and records."""
    check_appointment(kind, appointment, today)
    check_may_follow(case, kind)
    # Same conversation as the demand (its correlation); the cause is the assignment being followed, if any: a
    # follow-up before dispatch is caused by the person recording it, not by an event.
    return case.caused_by(case.assigned_event_id).caused(
        FollowUpRecorded,
        follow_up_id=uuid4(),
        kind=kind,
        text=text,
        appointment=appointment,
        recorded_by=recorded_by,
        recorded_by_org=recorded_by_org,
        recorded_at=now,
        occurred_at=now,
    )


def window(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    """The appointments list's days, both included: from today for two weeks unless asked otherwise."""
    start = start or today
    end = end or start + DEFAULT_WINDOW
    if end < start:
        raise Invalid("结束日期不能早于开始日期", "`to` must not be before `from`", field="to")
    if end - start > MAX_WINDOW:
        raise Invalid("查询范围最长一年", "the window may span at most a year", field="to")
    return start, end
