"""Special tasks' pure rules (services/tracking/tasks/domain.py): the deadline past a day off, overdue, and when a
station's open part is warned (预警), chased (催办) and escalated (督办) — across New Year and 春节 2026, and 2027's
New Year, which the calendar package does not know yet (an override says so)."""

from datetime import date, datetime, timedelta
from uuid import uuid4

import pytest

from services.tracking.tasks import domain
from services.tracking.tasks.domain import AlertKind, Clock, Part, PartState
from shared.calendar import china_today, is_workday
from shared.contracts import utcnow
from shared.errors import Invalid, InvalidTransition
from tests.support.clock import CHINA_DATES

# 春节 2026: Sat 14 Feb is a make-up working day; Sun 15 – Mon 23 Feb off; Tue 24 Feb back at work.
# New Year 2026: Thu 1 – Sat 3 Jan off, Sun 4 Jan a make-up working day.
# New Year 2027: not in the package; the station's override table declares Fri 1 Jan 2027 off.
NEW_YEAR_2027 = {date(2027, 1, 1): False}

WARNING, CHASE, ESCALATION = AlertKind.warning, AlertKind.chase, AlertKind.escalation


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def test_the_calendar_is_what_these_tests_assume():
    assert is_workday(date(2026, 2, 14)) and is_workday(date(2026, 2, 24))
    assert not any(is_workday(d) for d in _days(date(2026, 2, 15), date(2026, 2, 23)))
    assert not any(is_workday(d) for d in _days(date(2026, 1, 1), date(2026, 1, 3)))
    assert is_workday(date(2026, 1, 4))
    assert is_workday(date(2027, 1, 1)) and not is_workday(date(2027, 1, 1), NEW_YEAR_2027)


@pytest.mark.parametrize(
    ("due_on", "overrides", "expected"),
    [
        (date(2026, 2, 17), None, date(2026, 2, 24)),  # 春节: moves past the holiday
        (date(2026, 2, 14), None, date(2026, 2, 14)),  # a make-up Saturday is a working day
        (date(2026, 2, 13), None, date(2026, 2, 13)),
        (date(2026, 1, 1), None, date(2026, 1, 4)),  # New Year: to the make-up Sunday
        (date(2027, 1, 1), None, date(2027, 1, 1)),  # unknown year: Monday to Friday
        (date(2027, 1, 1), NEW_YEAR_2027, date(2027, 1, 4)),  # the override decides first
        (date(2026, 11, 21), None, date(2026, 11, 23)),  # an ordinary Saturday
    ],
)
def test_a_deadline_on_a_day_off_moves_to_the_next_working_day(due_on, overrides, expected):
    assert domain.deadline(due_on, overrides) == expected


@pytest.mark.parametrize(
    ("start", "end", "overrides"),
    [
        (date(2025, 12, 20), date(2026, 1, 15), None),
        (date(2026, 2, 1), date(2026, 3, 5), None),
        (date(2026, 12, 20), date(2027, 1, 15), NEW_YEAR_2027),
    ],
)
def test_overdue_in_sql_agrees_with_overdue_by_the_deadline(start, end, overrides):
    """The list counts overdue parts with `due_on <= overdue_cutoff(today)`; the page judges by the deadline."""
    for today in _days(start, end):
        cutoff = domain.overdue_cutoff(today, overrides)
        assert cutoff < today and is_workday(cutoff, overrides)
        for due_on in _days(start - timedelta(days=10), end):
            assert domain.is_overdue(due_on, today, overrides) == (due_on <= cutoff), (due_on, today)


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 2, 12), ()),  # Thu: 13, 14, 24 Feb are left
        (date(2026, 2, 13), ()),  # Fri: 14 and 24 Feb left
        (date(2026, 2, 14), (WARNING,)),  # the make-up Saturday: one working day left
        (date(2026, 2, 18), (WARNING,)),  # in the holiday: still one left
        (date(2026, 2, 24), (WARNING,)),  # the deadline itself
        (date(2026, 2, 25), (CHASE,)),  # one working day late
        (date(2026, 2, 26), (CHASE, ESCALATION)),  # two working days late
        (date(2026, 3, 20), (CHASE, ESCALATION)),  # a scan after downtime: both, no warning
    ],
)
def test_a_task_due_in_the_spring_festival(today, expected):
    due = domain.alerts_due(date(2026, 2, 17), today, warn_days=1, escalate_after_days=2)
    assert due == expected


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2025, 12, 30), (WARNING,)),
        (date(2025, 12, 31), (WARNING,)),
        (date(2026, 1, 1), (CHASE,)),  # late, but no working day late yet
        (date(2026, 1, 3), (CHASE,)),
        (date(2026, 1, 4), (CHASE,)),  # the make-up Sunday: one working day late
        (date(2026, 1, 5), (CHASE, ESCALATION)),
    ],
)
def test_a_task_due_on_new_years_eve(today, expected):
    assert domain.alerts_due(date(2025, 12, 31), today, warn_days=1, escalate_after_days=2) == expected


@pytest.mark.parametrize(
    ("today", "overrides", "expected"),
    [
        (date(2026, 12, 31), NEW_YEAR_2027, (WARNING,)),  # deadline Mon 4 Jan: one working day left
        (date(2027, 1, 4), NEW_YEAR_2027, (WARNING,)),
        (date(2027, 1, 5), NEW_YEAR_2027, (CHASE,)),
        (date(2027, 1, 6), NEW_YEAR_2027, (CHASE, ESCALATION)),
        (date(2027, 1, 2), None, (CHASE,)),  # without the override 1 Jan is a working day, and the deadline
        (date(2027, 1, 5), None, (CHASE, ESCALATION)),
    ],
)
def test_a_task_due_on_new_years_day_2027(today, overrides, expected):
    assert domain.alerts_due(date(2027, 1, 1), today, warn_days=1, escalate_after_days=2, overrides=overrides) == (
        expected
    )


def test_warn_days_and_escalate_after_days_are_settings():
    due = date(2026, 11, 27)  # a Friday
    assert domain.alerts_due(due, date(2026, 11, 24), warn_days=3, escalate_after_days=2) == (WARNING,)
    assert domain.alerts_due(due, date(2026, 11, 24), warn_days=2, escalate_after_days=2) == ()
    assert domain.alerts_due(due, date(2026, 11, 27), warn_days=0, escalate_after_days=2) == ()
    assert domain.alerts_due(due, date(2026, 11, 30), warn_days=1, escalate_after_days=1) == (CHASE, ESCALATION)
    assert domain.alerts_due(due, date(2026, 12, 2), warn_days=1, escalate_after_days=4) == (CHASE,)


@pytest.mark.parametrize("warn_days", [1, 3])
def test_the_scan_horizon_never_leaves_a_warning_out(warn_days):
    overrides = NEW_YEAR_2027
    for today in _days(date(2026, 2, 5), date(2026, 2, 25)) + _days(date(2026, 12, 25), date(2027, 1, 5)):
        horizon = domain.scan_horizon(today, warn_days, overrides)
        for due_on in _days(today, today + timedelta(days=20)):
            if domain.alerts_due(due_on, today, warn_days=warn_days, escalate_after_days=2, overrides=overrides):
                assert due_on <= horizon, (today, due_on)


def test_an_escalation_goes_to_the_issuer_and_the_rest_to_the_station():
    station = "210100/210112/hunnan-01"
    assert domain.to_scope(ESCALATION, "210100", station) == "210100"
    assert domain.to_scope(CHASE, "210100", station) == station
    assert domain.to_scope(WARNING, "210100/210112", station) == station


def test_a_parts_state():
    part = Part(task_id=uuid4(), station_id="210100/210112/hunnan-01")
    clock = Clock(date(2026, 2, 24))
    assert clock.state(part, date(2026, 2, 17)) is PartState.open
    assert Clock(date(2026, 2, 25)).state(part, date(2026, 2, 17)) is PartState.overdue
    done = Part(task_id=part.task_id, station_id=part.station_id, completed_at=datetime(2026, 3, 1))
    assert Clock(date(2026, 3, 2)).state(done, date(2026, 2, 17)) is PartState.done
    assert clock.deadline(date(2026, 2, 17)) == date(2026, 2, 24)


def test_the_due_date_may_be_today_in_china_but_not_before(frozen_clock):
    today = china_today(utcnow())
    assert today == CHINA_DATES[frozen_clock]
    domain.check_due_on(today, today)
    with pytest.raises(Invalid) as refused:
        domain.check_due_on(today - timedelta(days=1), today)
    assert refused.value.field == "due_on" and "今天" in refused.value.zh


def test_stations_default_to_the_subtree_and_must_lie_in_it():
    subtree = ["210100/210106/tiexi-01", "210100/210112/hunnan-01", "210100/210112/hunnan-xinsong"]
    assert domain.choose_stations(None, subtree) == subtree
    chosen = domain.choose_stations(["210100/210112/hunnan-01", "210100/210112/hunnan-01"], subtree)
    assert chosen == ["210100/210112/hunnan-01"]
    with pytest.raises(Invalid) as outside:
        domain.choose_stations(["210100/210112/hunnan-01", "440100/440113/panyu-01"], subtree)
    assert outside.value.field == "station_ids" and "440100/440113/panyu-01" in outside.value.zh
    with pytest.raises(Invalid) as empty:
        domain.choose_stations(None, [])
    assert empty.value.field == "station_ids"


@pytest.mark.parametrize(
    "ref",
    [
        "https://scjg.shenyang.gov.cn/zwgk/2026/tz-12.html",
        "http://10.1.2.3:8080/docs/1",
        "沈市监发〔2026〕12号",
        "辽市监函[2026]第3号",
        "SYSCJG-2026-0012",
    ],
)
def test_an_attachment_is_a_web_address_or_a_document_number(ref):
    assert domain.attachment_ref(ref) == ref


@pytest.mark.parametrize(
    "ref",
    [
        "javascript:alert(1)",
        "ftp://files.example.cn/a.pdf",
        "https://",
        "https://exa mple.cn/a",
        "file:///etc/passwd",
        "通知",  # no number
        "<script>1</script>",
        "data:text/html,1",
    ],
)
def test_anything_else_is_refused_as_an_attachment(ref):
    with pytest.raises(Invalid):
        domain.attachment_ref(ref)


def test_no_report_after_completion():
    part = Part(task_id=uuid4(), station_id="210100/210112/hunnan-01")
    domain.check_report(part)
    done = Part(task_id=part.task_id, station_id=part.station_id, completed_at=datetime(2026, 3, 1))
    with pytest.raises(InvalidTransition) as refused:
        domain.check_report(done)
    assert refused.value.status == 409 and refused.value.zh
