"""办结用时 (issue 12): the working days from acceptance to resolution, pure, then on a fake unit of work.

Counted as deadlines count: from the working day after the acceptance's China date up to the resolution's, so a
demand resolved the day it was accepted took 0. Dates cross 国庆 2026 (中秋 Friday 25 September and 1–7 October at
rest; Sunday 20 September and Saturday 10 October make-up working days) and 春节 2026 (15–23 February at rest;
Saturday 14 and Saturday 28 February make-up working days); every expectation is written out by hand and the
calendar checked first. Pauses are not deducted.
"""

from dataclasses import replace
from datetime import date, datetime

import pytest

from services.tracking import domain as cases
from services.tracking import usecases as core
from services.tracking.clock import domain
from services.tracking.clock import usecases as clock
from services.tracking.clock.domain import Clock, ClockSettings
from services.tracking.settings import Settings
from shared.auth import Principal, Role
from shared.calendar import CHINA, is_workday
from shared.contracts import Outcome, PauseReason
from tests.support.fake_uow import FakeUnitOfWork
from tests.unit import factories as f
from tests.unit.test_tracking_usecases import FakeStore

HEAD = Principal(subject="head-1", name="周站长", role=Role.head, station=f.STATION)


def china(y: int, m: int, d: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(y, m, d, hour, minute, tzinfo=CHINA)


def took(accepted: datetime, resolved: datetime, overrides: dict[date, bool] | None = None) -> int | None:
    return domain.resolution_working_days(accepted, resolved, overrides)


def test_the_calendar_is_what_these_tests_assume():
    assert is_workday(date(2026, 9, 20)) and not is_workday(date(2026, 9, 25))  # Sunday works, 中秋 Friday rests
    assert not any(is_workday(date(2026, 10, d)) for d in range(1, 8))
    assert is_workday(date(2026, 10, 8)) and is_workday(date(2026, 10, 10)) and not is_workday(date(2026, 10, 11))
    assert is_workday(date(2026, 2, 14)) and is_workday(date(2026, 2, 28))
    assert not any(is_workday(date(2026, 2, d)) for d in range(15, 24))


def test_resolved_the_day_it_was_accepted_took_none_and_the_next_working_day_one():
    accepted = china(2026, 11, 18, 9)  # Wednesday
    assert took(accepted, china(2026, 11, 18, 17)) == 0
    assert took(accepted, china(2026, 11, 19, 9)) == 1
    assert took(accepted, china(2026, 11, 20)) == 2
    assert took(accepted, china(2026, 11, 21)) == 2  # Saturday: not a working day
    assert took(accepted, china(2026, 11, 23)) == 3  # Monday
    # Accepted on a Saturday: counting starts on the working day after it, Monday, as a deadline's does.
    assert took(china(2026, 11, 21), china(2026, 11, 23)) == 1


def test_national_day_counts_neither_holidays_nor_misses_the_make_up_saturday():
    accepted = china(2026, 9, 30, 9)  # Wednesday, the last working day before 国庆
    assert took(accepted, china(2026, 10, 5)) == 0  # resolved during the holiday
    assert took(accepted, china(2026, 10, 8)) == 1  # Thursday, the first working day after it
    assert took(accepted, china(2026, 10, 10)) == 3  # Saturday 10 October is a make-up working day
    assert took(accepted, china(2026, 10, 11)) == 3  # Sunday rests
    assert took(accepted, china(2026, 10, 12)) == 4
    # Across 中秋 and the make-up Sunday before it: from Friday 18 September, 20 (Sunday), 21–24, then 28.
    assert took(china(2026, 9, 18), china(2026, 9, 20)) == 1
    assert took(china(2026, 9, 18), china(2026, 9, 27)) == 5
    assert took(china(2026, 9, 18), china(2026, 9, 28)) == 6


def test_spring_festival_counts_the_make_up_saturdays_and_not_the_holiday():
    accepted = china(2026, 2, 13, 9)  # Friday
    assert took(accepted, china(2026, 2, 14)) == 1  # Saturday 14 February works
    assert took(accepted, china(2026, 2, 20)) == 1  # in the holiday
    assert took(accepted, china(2026, 2, 24)) == 2  # Tuesday, back at work
    assert took(accepted, china(2026, 2, 28)) == 6  # 14, 24, 25, 26, 27 and the make-up Saturday 28
    assert took(accepted, china(2026, 3, 1)) == 6  # Sunday
    assert took(accepted, china(2026, 3, 2)) == 7


def test_china_dates_decide_not_utc_ones():
    # 23:30 and 00:30 in China are the same UTC day (15:30 and 16:30 UTC): one working day apart in China.
    assert took(china(2026, 11, 18, 23, 30), china(2026, 11, 19, 0, 30)) == 1
    # 00:30 and 23:30 on one China day: 0, though they are on two UTC days.
    assert took(china(2026, 11, 19, 0, 30), china(2026, 11, 19, 23, 30)) == 0


def test_the_calendar_corrections_decide_first():
    accepted = china(2026, 11, 18, 9)
    assert took(accepted, china(2026, 11, 20), {date(2026, 11, 19): False}) == 1  # a day declared a rest day
    assert took(accepted, china(2026, 11, 21), {date(2026, 11, 21): True}) == 3  # a Saturday declared a workday
    # 2027 is a year the package does not know: weekdays work unless a correction says otherwise.
    new_year = {date(2027, 1, 1): False}
    assert took(china(2026, 12, 31), china(2027, 1, 4)) == 2  # Friday 1 and Monday 4 January
    assert took(china(2026, 12, 31), china(2027, 1, 4), new_year) == 1


def test_nothing_to_measure_until_both_instants_are_known_and_never_below_zero():
    assert took(None, china(2026, 11, 18)) is None
    assert took(china(2026, 11, 18), None) is None
    assert took(china(2026, 11, 19), china(2026, 11, 18)) == 0  # a resolution stamped before acceptance


def _resolved_case(**fields) -> cases.Case:
    s = f.submitted(submitted_at=china(2026, 9, 30, 9), occurred_at=china(2026, 9, 30, 9))
    case = cases.apply(None, s)
    case = cases.apply(case, f.assigned(s, due_on=date(2026, 10, 16), occurred_at=china(2026, 9, 30, 10)))
    return replace(cases.apply(case, f.resolved(s, occurred_at=china(2026, 10, 12))), **fields)


def test_the_clock_measures_a_resolution_once_and_keeps_it():
    case = _resolved_case()
    assert case.resolution_working_days is None  # the clock measures it, knowing the calendar
    answers = domain.clock(case, ClockSettings(), [], [])
    assert answers.resolution_working_days == 4
    measured = domain.applied(case, answers)
    assert measured.resolution_working_days == 4
    # Kept: a later reckoning (a calendar correction, another event of the case) does not rewrite it.
    assert domain.applied(measured, Clock(resolution_working_days=9)).resolution_working_days == 4
    # Not resolved: nothing to keep.
    open_case = replace(case, resolved_at=None, outcome=None)
    assert domain.applied(open_case, domain.clock(open_case, ClockSettings(), [], [])).resolution_working_days is None


def test_a_resolution_at_another_instant_is_measured_afresh_and_the_same_one_again_is_kept():
    case = _resolved_case(resolution_working_days=4)
    s = f.submitted(demand_id=case.demand_id)
    again = f.resolved(s, occurred_at=case.resolved_at)
    assert cases.apply(case, again).resolution_working_days == 4
    later = f.resolved(s, round=2, occurred_at=china(2026, 10, 14))
    assert cases.apply(case, later).resolution_working_days is None


@pytest.fixture
def uow():
    return FakeUnitOfWork(FakeStore())


async def test_resolving_records_the_working_days_in_the_same_transaction_pauses_not_deducted(uow, time_machine):
    s = f.submitted(submitted_at=china(2026, 9, 30, 9), occurred_at=china(2026, 9, 30, 9))
    a = f.assigned(s, due_on=date(2026, 10, 14), occurred_at=china(2026, 9, 30, 10))
    for event in (s, a):
        await uow.handle(event, core.record_event)
    # Paused from Thursday 8 to Monday 12 October (8, 9, 10 are working days), then resumed.
    time_machine.move_to(china(2026, 10, 8, 9), tick=False)
    await clock.pause(
        uow, HEAD, s.demand_id, reason_kind=PauseReason.materials, reason="等待企业补充材料", defaults=ClockSettings()
    )
    time_machine.move_to(china(2026, 10, 12, 9), tick=False)
    await clock.resume(uow, HEAD, s.demand_id, note=None, defaults=ClockSettings())
    assert uow.store.cases[s.demand_id].handling_due_on == date(2026, 10, 19)  # the deadline moved by 3
    time_machine.move_to(china(2026, 10, 13, 16), tick=False)
    case, _ = await core.resolve(uow, HEAD, s.demand_id, outcome=Outcome.met, summary="办结")
    # 8, 9, 10 (make-up Saturday), 12, 13 October: 5 working days, the 3 paused ones included.
    assert case.resolution_working_days == 5
    assert uow.store.cases[s.demand_id].resolution_working_days == 5
    # A rating afterwards changes nothing of it.
    await uow.handle(f.rated(s, occurred_at=china(2026, 10, 20)), core.record_event)
    assert uow.store.cases[s.demand_id].resolution_working_days == 5


class FillInStore(FakeStore):
    """The fake store, counting what the start-up fill-in saves; `locked` cases are skipped as if held by a replica."""

    locked: set = set()

    async def save_resolution_days(self, measured) -> None:
        self.saved = getattr(self, "saved", 0) + len(measured)
        await super().save_resolution_days(measured)


async def test_cases_resolved_before_the_column_are_measured_at_start_in_batches(monkeypatch):
    monkeypatch.setattr(clock, "BATCH", 2)
    store = FillInStore()
    uow = FakeUnitOfWork(store)
    # Five resolved cases from before migration 0012 (no figure yet), one not yet resolved, one whose submission
    # is unknown (it cannot be measured and is left alone).
    resolved_on = [china(2026, 10, d) for d in (8, 9, 10, 11, 12)]
    ids = []
    for day in resolved_on:
        case = replace(_resolved_case(), resolved_at=day)
        store.cases[case.demand_id] = case
        ids.append(case.demand_id)
    unresolved = replace(_resolved_case(), resolved_at=None, outcome=None)
    unknown = replace(_resolved_case(), submitted_at=None)
    store.cases |= {unresolved.demand_id: unresolved, unknown.demand_id: unknown}
    busy = sorted(ids)[1]
    store.locked = {busy}  # held by another replica's batch or an event handler: skipped this round
    # A correction tracking keeps: Friday 9 October 2026 declared a rest day.
    store._clock()["calendar"][date(2026, 10, 9)] = (False, None, china(2026, 9, 1))
    await clock.fill_in_clocks(uow, Settings())
    expected = dict(zip(ids, (1, 1, 2, 2, 3), strict=True))  # 8, (9 rests), 10 (make-up Saturday), 12
    for demand_id in ids:
        got = store.cases[demand_id].resolution_working_days
        assert got == (None if demand_id == busy else expected[demand_id]), demand_id
    assert store.cases[unresolved.demand_id].resolution_working_days is None
    assert store.cases[unknown.demand_id].resolution_working_days is None
    assert store.cases[ids[0]].handling_due_on is None  # only the figure is written: a closed case keeps the rest
    store.locked = set()
    await clock.fill_in_clocks(uow, Settings())  # the next round (or another replica) measures the one skipped
    assert store.cases[busy].resolution_working_days == expected[busy]
    saved = store.saved
    await clock.fill_in_clocks(uow, Settings())  # nothing left: nothing written
    assert store.saved == saved
