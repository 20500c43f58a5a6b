"""Intake's list of working-day corrections (GET /calendar?year=) with the fake unit of work: which span of days the
use case asks for. What the SQL leaves out (other years, removed corrections) and its order are tested on PostgreSQL
(tests/integration/test_intake_calendar.py)."""

from datetime import date

import pytest

from services.intake.calendar import usecases as working_days
from services.intake.calendar.domain import WorkdayCorrection, year_span
from shared.errors import Invalid
from tests.support.fake_uow import FakeUnitOfWork


class CalendarOnly:
    """The calendar part of intake's store: hands back every correction it holds, whatever span it is asked for
    (the span and the tombstones are the SQL's to leave out, tests/integration/test_intake_calendar.py), and records
    the spans asked for."""

    def __init__(self, *corrections: WorkdayCorrection) -> None:
        self.corrections = list(corrections)
        self.asked: list[tuple[date, date]] = []

    async def workday_corrections_between(self, start: date, end: date) -> list[WorkdayCorrection]:
        self.asked.append((start, end))
        return list(self.corrections)


def test_a_year_spans_its_own_days_only_and_a_wild_year_is_refused_at_its_field():
    assert year_span(2027) == (date(2027, 1, 1), date(2028, 1, 1))
    for wild in (1999, 2101):
        with pytest.raises(Invalid) as refused:
            year_span(wild)
        assert refused.value.field == "year" and "年份" in refused.value.zh


async def test_the_list_asks_the_store_for_one_china_years_days_and_hands_back_what_it_found():
    spring = WorkdayCorrection(date(2027, 2, 8), False, "春节")
    makeup = WorkdayCorrection(date(2027, 10, 9), True, "调休上班")
    store = CalendarOnly(spring, makeup)
    uow = FakeUnitOfWork(store)
    assert await working_days.list_workdays(uow, 2027) == [spring, makeup]
    assert store.asked == [(date(2027, 1, 1), date(2028, 1, 1))]  # 1 January up to, not including, the next
    assert uow.published == []  # reading announces nothing


async def test_a_wild_year_is_refused_before_the_store_is_asked():
    store = CalendarOnly()
    with pytest.raises(Invalid) as refused:
        await working_days.list_workdays(FakeUnitOfWork(store), 2101)
    assert refused.value.field == "year" and store.asked == []
