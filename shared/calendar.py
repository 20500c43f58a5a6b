"""Working days in mainland China: statutory holidays and 调休 make-up workdays count correctly.

`chinesecalendar` knows the State Council's schedule for the years it was released
for; `overrides` (date -> is it a workday) decides first, so a station can enter a
year the package does not know yet. Outside both, Monday to Friday are workdays.
"""

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

CHINA = ZoneInfo("Asia/Shanghai")


def china_today(now: datetime) -> date:
    return now.astimezone(CHINA).date()


def is_workday(day: date, overrides: Mapping[date, bool] | None = None) -> bool:
    if overrides and day in overrides:
        return overrides[day]
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return day.weekday() < 5


def add_working_days(start: date, days: int, overrides: Mapping[date, bool] | None = None) -> date:
    """The `days`-th working day after `start` (the day of acceptance does not count)."""
    if days < 1:
        raise ValueError("days must be at least 1")
    day, counted = start, 0
    while counted < days:
        day += timedelta(days=1)
        if is_workday(day, overrides):
            counted += 1
    return day


def working_days_between(start: date, end: date, overrides: Mapping[date, bool] | None = None) -> int:
    """How many working days lie after `start` up to and including `end`; 0 when `end` is not after `start`.

    `working_days_between(today, due_on)` is how many working days are left; `(due_on, today)` how many late.
    """
    day, counted = start, 0
    while day < end:
        day += timedelta(days=1)
        if is_workday(day, overrides):
            counted += 1
    return counted
