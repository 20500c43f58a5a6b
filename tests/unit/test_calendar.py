"""Working days across the 2026 National Day holiday (Oct 1–7 off; Sun Sept 20 and Sat Oct 10 worked)."""

from datetime import UTC, date, datetime

import pytest

from shared.calendar import add_working_days, china_today, is_workday


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (date(2026, 9, 30), 1, date(2026, 10, 8)),
        (date(2026, 9, 30), 2, date(2026, 10, 9)),
        (date(2026, 9, 30), 3, date(2026, 10, 10)),  # Saturday make-up workday
        (date(2026, 9, 30), 4, date(2026, 10, 12)),  # Sunday Oct 11 is off
        (date(2026, 9, 19), 1, date(2026, 9, 20)),  # Sat → Sun make-up workday
        (date(2026, 9, 18), 1, date(2026, 9, 20)),  # Fri → skips Sat, lands on make-up Sunday
        (date(2026, 9, 29), 1, date(2026, 9, 30)),
        (date(2026, 10, 1), 1, date(2026, 10, 8)),  # accepted during the holiday
        (date(2026, 9, 25), 5, date(2026, 10, 9)),  # Sept 28, 29, 30, Oct 8, 9
    ],
)
def test_national_day_2026(start, days, expected):
    assert add_working_days(start, days) == expected


@pytest.mark.parametrize("day", [date(2026, 10, d) for d in range(1, 8)])
def test_golden_week_days_are_off(day):
    assert not is_workday(day)


def test_make_up_days_are_workdays():
    assert is_workday(date(2026, 9, 20))  # Sunday
    assert is_workday(date(2026, 10, 10))  # Saturday
    assert not is_workday(date(2026, 9, 19))  # an ordinary Saturday
    assert not is_workday(date(2026, 10, 11))  # an ordinary Sunday


def test_day_of_acceptance_does_not_count():
    # Monday + 1 is Tuesday, not Monday itself
    assert add_working_days(date(2026, 9, 14), 1) == date(2026, 9, 15)


def test_overrides_win_over_the_package():
    # declare Oct 8 a day off and Oct 3 (in the holiday) a workday
    overrides = {date(2026, 10, 8): False, date(2026, 10, 3): True}
    assert add_working_days(date(2026, 9, 30), 1, overrides) == date(2026, 10, 3)
    assert add_working_days(date(2026, 9, 30), 2, overrides) == date(2026, 10, 9)
    assert is_workday(date(2026, 10, 8), overrides) is False
    assert is_workday(date(2026, 10, 3), overrides) is True
    # without overrides the package decides
    assert add_working_days(date(2026, 9, 30), 1) == date(2026, 10, 8)


def test_empty_overrides_change_nothing():
    assert add_working_days(date(2026, 9, 30), 3, {}) == date(2026, 10, 10)


def test_unknown_year_falls_back_to_monday_to_friday():
    # 2031 is beyond the package's data: Jan 1 (a Wednesday) counts as a workday,
    # weekends do not.
    assert is_workday(date(2031, 1, 1)) is True
    assert is_workday(date(2031, 1, 4)) is False  # Saturday
    assert add_working_days(date(2030, 12, 31), 1) == date(2031, 1, 1)
    assert add_working_days(date(2031, 1, 3), 1) == date(2031, 1, 6)  # Fri → Mon
    assert add_working_days(date(2031, 1, 3), 5) == date(2031, 1, 10)


def test_overrides_cover_an_unknown_year():
    overrides = {date(2031, 1, 1): False, date(2031, 1, 4): True}
    assert add_working_days(date(2030, 12, 31), 1, overrides) == date(2031, 1, 2)
    assert add_working_days(date(2031, 1, 3), 1, overrides) == date(2031, 1, 4)


@pytest.mark.parametrize("days", [0, -1])
def test_days_below_one_is_refused(days):
    with pytest.raises(ValueError):
        add_working_days(date(2026, 9, 30), days)


def test_china_today_uses_shanghai_time():
    # 17:00 UTC on Sept 30 is already Oct 1 in Shenyang
    assert china_today(datetime(2026, 9, 30, 17, 0, tzinfo=UTC)) == date(2026, 10, 1)
    assert china_today(datetime(2026, 9, 30, 15, 59, tzinfo=UTC)) == date(2026, 9, 30)
