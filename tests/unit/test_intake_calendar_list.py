"""Intake's list of working-day corrections (GET /calendar?year=): one year's corrections in force, in date order,
with the fake unit of work (the SQL is covered by tests/integration/test_console_station_pages.py)."""

from datetime import date

import pytest

from services.intake.calendar import usecases as working_days
from services.intake.calendar.domain import WorkdayCorrection, year_span
from shared.errors import Invalid
from tests.support.fake_uow import FakeUnitOfWork


class CalendarOnly:
    """The calendar part of intake's store, in memory; a removed correction stays as a tombstone, as in SQL."""

    def __init__(self, *corrections: WorkdayCorrection) -> None:
        self.calendar = {c.day: c for c in corrections}

    async def workday_corrections_between(self, start: date, end: date) -> list[WorkdayCorrection]:
        return [c for d, c in sorted(self.calendar.items()) if start <= d < end and c.is_workday is not None]


def test_a_year_spans_its_own_days_only_and_a_wild_year_is_refused_at_its_field():
    assert year_span(2027) == (date(2027, 1, 1), date(2028, 1, 1))
    for wild in (1999, 2101):
        with pytest.raises(Invalid) as refused:
            year_span(wild)
        assert refused.value.field == "year" and "年份" in refused.value.zh


async def test_the_list_holds_one_years_corrections_in_force_in_date_order():
    uow = FakeUnitOfWork(
        CalendarOnly(
            WorkdayCorrection(date(2027, 10, 9), True, "调休上班"),
            WorkdayCorrection(date(2027, 2, 8), False, "春节"),
            WorkdayCorrection(date(2027, 5, 6), None, ""),  # removed
            WorkdayCorrection(date(2026, 12, 31), False, "跨年"),
            WorkdayCorrection(date(2028, 1, 1), False, "元旦"),
        )
    )
    listed = await working_days.list_workdays(uow, 2027)
    assert [(c.day, c.is_workday, c.note) for c in listed] == [
        (date(2027, 2, 8), False, "春节"),
        (date(2027, 10, 9), True, "调休上班"),
    ]
    assert uow.published == []  # reading announces nothing
