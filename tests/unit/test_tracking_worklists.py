"""The ledger's search and work lists (services/tracking/worklists.py): China days, "due soon", late."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest

from services.tracking import usecases
from services.tracking.domain import Case
from services.tracking.worklists import Search, Worklist, submitted_between, warn_before
from shared.auth import Principal, Role
from shared.calendar import add_working_days, china_today
from shared.errors import Invalid
from tests.support.fake_uow import FakeUnitOfWork

TODAY = date(2026, 11, 18)


def case(**fields) -> Case:
    base = Case(
        demand_id=uuid4(), station_id="210100/210112/hunnan-01", tracking_no="2026-000001", correlation_id=uuid4()
    )
    return replace(base, **fields)


def test_a_date_range_is_whole_china_days_as_instants():
    start, end = submitted_between(Search(submitted_from=date(2026, 12, 31), submitted_to=date(2026, 12, 31)))
    # 00:00 in China is 16:00 UTC the day before; the last day is included up to (not including) the next midnight.
    assert start == datetime(2026, 12, 30, 16, tzinfo=UTC)
    assert end == datetime(2026, 12, 31, 16, tzinfo=UTC)
    late_on_new_years_eve = datetime(2026, 12, 31, 15, 59, tzinfo=UTC)  # 23:59 in China, still the 31st
    assert start <= late_on_new_years_eve < end and china_today(late_on_new_years_eve) == date(2026, 12, 31)
    assert submitted_between(Search()) == (None, None)
    assert submitted_between(Search(submitted_to=date(2027, 1, 1)))[0] is None


def test_from_after_to_is_refused_in_both_languages():
    with pytest.raises(Invalid) as refused:
        Search(submitted_from=date(2026, 11, 19), submitted_to=date(2026, 11, 18))
    assert "晚于" in refused.value.zh and "after" in refused.value.en and refused.value.field == "from"
    Search(submitted_from=TODAY, submitted_to=TODAY)  # one day is a range


def test_due_soon_reaches_warn_days_working_days_ahead_across_holidays():
    # 春节 2026: Saturday 14 February is a make-up working day, the holiday runs to Monday 23 February.
    # warn_before(today)[w]: the first day beyond "due soon" with w warning days
    assert warn_before(date(2026, 2, 13))[1] == date(2026, 2, 24)  # Fri 13th, make-up Sat 14th, then the holiday
    assert warn_before(date(2026, 2, 14))[1] == date(2026, 2, 25)
    assert warn_before(date(2026, 2, 14))[2] == add_working_days(date(2026, 2, 14), 3)
    assert warn_before(TODAY)[0] == add_working_days(TODAY, 1)  # no warning days: due today only
    # a station's correction (an extra day off) counts
    friday = date(2026, 11, 20)
    assert warn_before(friday - timedelta(days=1), {friday: False})[1] == date(2026, 11, 24)


def test_late_means_open_not_paused_and_past_the_deadline_in_force():
    assigned = case(assignment_no=1, assignee_kind="organization", first_assigned_at=datetime(2026, 11, 1, tzinfo=UTC))
    # the clock's handling deadline (a pause or an extension moved it) wins over the committed due date
    assert replace(assigned, due_on=TODAY - timedelta(days=1)).overdue(TODAY)
    assert not replace(assigned, due_on=TODAY - timedelta(days=1), handling_due_on=TODAY).overdue(TODAY)
    assert replace(assigned, due_on=TODAY, handling_due_on=TODAY - timedelta(days=1)).overdue(TODAY)
    late = replace(assigned, due_on=TODAY - timedelta(days=3))
    assert not replace(late, paused_since=datetime(2026, 11, 10, tzinfo=UTC)).overdue(TODAY)  # paused: the clock stops
    assert not replace(late, resolved_at=datetime(2026, 11, 17, tzinfo=UTC)).overdue(TODAY)  # done
    assert not replace(late, closed_as="withdrawn").overdue(TODAY)
    assert not replace(assigned, due_on=TODAY).overdue(TODAY)  # due today is not late yet


def test_an_unassigned_demand_is_late_once_its_response_deadline_passed():
    waiting = case(response_due_on=TODAY - timedelta(days=1))
    assert waiting.overdue(TODAY)
    assert not replace(waiting, response_due_on=TODAY).overdue(TODAY)
    assigned = replace(waiting, assignment_no=1, first_assigned_at=datetime(2026, 11, 17, tzinfo=UTC))
    assert not assigned.overdue(TODAY)  # the response deadline was met (late or not) by the first assignment


def test_the_work_lists_are_named_as_the_api_takes_them():
    assert [w.value for w in Worklist] == ["mine", "due_soon", "overdue", "paused", "awaiting_reply", "to_verify"]


class LedgerStore:
    """Just enough of the tracking store to see what the ledger use case asks of it."""

    def __init__(self, overrides=None) -> None:
        self.overrides = {} if overrides is None else overrides
        self.asked: list[tuple] = []

    async def calendar_overrides(self):
        return self.overrides

    async def ledger(self, scope, org, status, limit, offset, query):
        self.asked.append((scope, org, status, limit, offset, query))
        return []


async def test_the_ledger_asks_in_the_callers_scope_with_today_and_the_reach_of_due_soon():
    head = Principal(subject="head-1", name="周站长", role=Role.head, station="210100/210112/hunnan-01")
    org = Principal(subject="org-user", name="市计量测试院", role=Role.org, org="org-01")
    day_off = {}
    uow = FakeUnitOfWork(LedgerStore(day_off))
    _, today = await usecases.ledger(uow, head, None, None, 50, 0, Search(worklist=Worklist.due_soon), warn_days=2)
    scope, who, _, _, _, query = uow.store.asked[-1]
    assert (scope, who, query.today, query.subject) == ("210100/210112/hunnan-01", "", today, "head-1")
    assert (query.due_soon_before[2], query.warn_days) == (add_working_days(today, 3), 2)
    # a correction the store knows moves the reach
    day_off[add_working_days(today, 1)] = False
    await usecases.ledger(uow, head, None, None, 50, 0, Search(worklist=Worklist.due_soon), warn_days=1)
    assert uow.store.asked[-1][-1].due_soon_before[1] == add_working_days(today, 3)
    # an organization's ledger is what is assigned to it, wherever; other lists need no calendar
    await usecases.ledger(uow, org, None, "assigned", 50, 0, Search(q="精密", worklist=Worklist.mine))
    scope, who, status, _, _, query = uow.store.asked[-1]
    assert (scope, who, status, query.search.q, query.due_soon_before) == ("", "org-01", "assigned", "精密", None)
