"""Warnings (预警), chases (催办) and 督办: what is due on which China date, across New Year 2027 and 春节 2026,
and the scheduler's round on a fake unit of work (fires once, catches up after downtime, escalates)."""

import contextlib
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import pytest
import time_machine

from services.tracking.clock.domain import ClockSettings
from services.tracking.domain import Case
from services.tracking.settings import Settings
from services.tracking.supervision import domain, usecases
from services.tracking.supervision.domain import Alert, Due, Supervision
from services.tracking.worklists import WARN_DAYS_MAX
from shared.auth import Principal, Role, in_scope
from shared.calendar import CHINA, working_days_between
from shared.contracts import (
    CaseChased,
    CaseSupervised,
    DeadlineKind,
    DeadlineWarned,
    SupervisionAnswered,
    SupervisionLevel,
)
from shared.errors import Invalid, InvalidTransition, NotFound
from shared.idempotency import IdempotencyConflict
from tests.support.fake_uow import FakeUnitOfWork

STATION = "210100/210112/hunnan-01"
DEFAULTS = ClockSettings()  # warn 1, escalate after 2, reply within 2 working days
# 2027 is beyond chinesecalendar: the station enters New Year's Day as a holiday (the override decides).
NEW_YEAR_2027 = {date(2027, 1, 1): False}
HANDLING = DeadlineKind.handling


def case(*, handling_due_on: date | None = None, **fields) -> Case:
    values = dict(
        demand_id=uuid4(),
        station_id=STATION,
        tracking_no="2026-000001",
        correlation_id=uuid4(),
        submitted_at=datetime(2026, 12, 1, 2, tzinfo=UTC),
        first_responder_id="clerk-1",
        assignment_no=1,
        assignee_kind="organization",
        assignee_id="org-01",
        assignee_name="市计量测试院",
        assigned_event_id=uuid4(),
        due_on=handling_due_on,
        handling_due_on=handling_due_on,
        first_assigned_at=datetime(2026, 12, 1, 3, tzinfo=UTC),
    )
    return Case(**(values | fields))


def kinds(due: list[Due]) -> list[tuple[str, str, int]]:
    return [(d.alert.value, d.deadline.value, d.working_days) for d in due]


# --------------------------------------------------------------------------- what is due: New Year 2027


def test_new_year_holiday_brings_the_warning_forward_to_new_years_eve():
    c = case(handling_due_on=date(2027, 1, 4))  # Monday after New Year
    # With 1 January a holiday, Thursday 31 December is one working day before Monday 4 January.
    assert kinds(domain.due_today(c, date(2026, 12, 30), DEFAULTS, NEW_YEAR_2027)) == []
    assert kinds(domain.due_today(c, date(2026, 12, 31), DEFAULTS, NEW_YEAR_2027)) == [("warning", "handling", 1)]
    # Without the correction Friday 1 January counts, and the warning waits for it.
    assert kinds(domain.due_today(c, date(2026, 12, 31), DEFAULTS, {})) == []
    assert kinds(domain.due_today(c, date(2027, 1, 1), DEFAULTS, {})) == [("warning", "handling", 1)]
    # On the day itself it is still a warning (0 left), never a chase.
    assert kinds(domain.due_today(c, date(2027, 1, 4), DEFAULTS, NEW_YEAR_2027)) == [("warning", "handling", 0)]


def test_a_deadline_on_new_years_eve_is_chased_on_the_holiday_and_supervised_two_working_days_late():
    c = case(handling_due_on=date(2026, 12, 31))
    # Passed: chased the day after, holiday or not; the holiday and the weekend are not working days late.
    for today in (date(2027, 1, 1), date(2027, 1, 2), date(2027, 1, 3)):
        assert kinds(domain.due_today(c, today, DEFAULTS, NEW_YEAR_2027)) == [("chase", "handling", 0)]
    assert kinds(domain.due_today(c, date(2027, 1, 4), DEFAULTS, NEW_YEAR_2027)) == [("chase", "handling", 1)]
    due = domain.due_today(c, date(2027, 1, 5), DEFAULTS, NEW_YEAR_2027)
    assert kinds(due) == [("chase", "handling", 2), ("supervision", "handling", 2)]
    assert due[1].level is SupervisionLevel.district


# --------------------------------------------------------------------------- what is due: 春节 2026


def test_spring_festival_2026_a_deadline_on_the_make_up_saturday():
    # Saturday 14 February 2026 is a 调休 working day; the holiday runs Sunday 15 to Monday 23 February.
    c = case(handling_due_on=date(2026, 2, 14))
    assert kinds(domain.due_today(c, date(2026, 2, 12), DEFAULTS, {})) == []
    assert kinds(domain.due_today(c, date(2026, 2, 13), DEFAULTS, {})) == [("warning", "handling", 1)]
    # Nine days of holiday: chased, but not a single working day late, so no 督办 yet.
    for day in range(15, 24):
        assert kinds(domain.due_today(c, date(2026, 2, day), DEFAULTS, {})) == [("chase", "handling", 0)]
    assert kinds(domain.due_today(c, date(2026, 2, 24), DEFAULTS, {})) == [("chase", "handling", 1)]
    assert [d.alert for d in domain.due_today(c, date(2026, 2, 25), DEFAULTS, {})] == [Alert.chase, Alert.supervision]


def test_a_deadline_after_the_holiday_is_warned_before_it_starts():
    c = case(handling_due_on=date(2026, 2, 24))  # the first working day after 春节
    assert kinds(domain.due_today(c, date(2026, 2, 14), DEFAULTS, {})) == [("warning", "handling", 1)]
    assert kinds(domain.due_today(c, date(2026, 2, 13), DEFAULTS, {})) == []
    wider = replace(DEFAULTS, warn_days=2)
    assert kinds(domain.due_today(c, date(2026, 2, 13), wider, {})) == [("warning", "handling", 2)]


def test_after_three_working_days_down_what_is_due_is_a_chase_and_a_supervision_never_a_warning():
    c = case(handling_due_on=date(2026, 2, 24))
    due = domain.due_today(c, date(2026, 2, 27), DEFAULTS, {})
    assert kinds(due) == [("chase", "handling", 3), ("supervision", "handling", 3)]


# --------------------------------------------------------------------------- which deadlines count


def test_deadlines_in_force():
    due = date(2026, 11, 20)
    # Before the first assignment: the response deadline, and the handling one once the clock has it.
    waiting = case(response_due_on=due, first_assigned_at=None, assignment_no=0, assignee_kind=None, assignee_id=None)
    assert [d.kind for d in domain.deadlines(waiting)] == [DeadlineKind.response]
    # Assigned: the response deadline is met.
    assert [d.kind for d in domain.deadlines(case(handling_due_on=due, response_due_on=due))] == [HANDLING]
    # Paused: the handling clock stands still.
    assert domain.deadlines(case(handling_due_on=due, paused_since=datetime(2026, 11, 18, tzinfo=UTC))) == []
    # No longer being handled: nothing.
    resolved = case(handling_due_on=due, resolved_at=datetime(2026, 11, 19, tzinfo=UTC))
    assert domain.deadlines(resolved) == []
    assert domain.deadlines(case(handling_due_on=due, closed_as="withdrawn")) == []
    # Until the clock has computed it, the assignment's due date is the handling deadline.
    assert domain.deadlines(case(handling_due_on=None, due_on=due)) == [domain.Deadline(HANDLING, due)]


def test_warn_days_zero_warns_on_the_day_only():
    c = case(handling_due_on=date(2026, 11, 20))
    never_early = replace(DEFAULTS, warn_days=0)
    assert kinds(domain.due_today(c, date(2026, 11, 19), never_early, {})) == []
    assert kinds(domain.due_today(c, date(2026, 11, 20), never_early, {})) == [("warning", "handling", 0)]


def test_the_warning_goes_to_the_handler_and_the_head():
    c = case(handling_due_on=date(2026, 11, 20))
    due = domain.due_today(c, date(2026, 11, 19), DEFAULTS, {})[0]
    event = domain.warned(c, due, today=date(2026, 11, 19), cause=c.assigned_event_id)
    assert (event.notify, event.working_days_left, event.causation_id) == (["org-01", "head"], 1, c.assigned_event_id)
    # Before dispatch the one to act is the clerk who received it.
    waiting = case(response_due_on=date(2026, 11, 20), first_assigned_at=None, assignment_no=0, assignee_id=None)
    response = domain.due_today(waiting, date(2026, 11, 19), DEFAULTS, {})[0]
    assert domain.warned(waiting, response, today=date(2026, 11, 19), cause=None).notify == ["clerk-1", "head"]


def test_scopes_of_a_station():
    assert domain.district_of(STATION) == "210100/210112"
    assert domain.city_of(STATION) == "210100"
    assert domain.district_of("210100/hunnan-01") is None  # directly under its city: no district between
    assert domain.first_level(STATION) == (SupervisionLevel.district, "210100/210112")
    assert domain.first_level("210100/hunnan-01") == (SupervisionLevel.city, "210100")
    assert domain.level_of("210100") is SupervisionLevel.city
    assert domain.level_of("210100/210112") is SupervisionLevel.district


def test_the_scans_date_thresholds_say_what_due_today_says():
    """The scan's SQL picks cases by domain.thresholds; it must pick exactly those due_today would fire for."""
    calendars = ((date(2026, 12, 20), NEW_YEAR_2027), (date(2026, 2, 5), {}), (date(2026, 9, 25), {}))
    for start, overrides in calendars:
        for offset in range(0, 30, 3):
            today = start + timedelta(days=offset)
            t = domain.thresholds(today, overrides)
            for delta in range(-50, 20):
                d = today + timedelta(days=delta)
                left, late = working_days_between(today, d, overrides), working_days_between(d, today, overrides)
                for w in range(WARN_DAYS_MAX + 1):
                    assert (today <= d < t.warn_before[w]) == (d >= today and left <= w), (today, d, w)
                for m in range(1, domain.ESCALATE_AFTER_MAX + 1):
                    assert (d <= t.late_by[m - 1]) == (d < today and late >= m), (today, d, m)


def test_a_returned_case_is_warned_to_the_head_alone_and_still_chased_and_supervised():
    # 退单: the organization gave the assignment back; the deadline still runs for the enterprise.
    returned = case(
        handling_due_on=date(2026, 11, 20), returned_no=1, returned_by="市计量测试院", returned_at=datetime.now(UTC)
    )
    assert returned.status == "returned"
    due = domain.due_today(returned, date(2026, 11, 19), DEFAULTS, {})
    assert kinds(due) == [("warning", "handling", 1)]
    assert domain.warned(returned, due[0], today=date(2026, 11, 19), cause=None).notify == ["head"]
    late = domain.due_today(returned, date(2026, 11, 24), DEFAULTS, {})
    assert kinds(late) == [("chase", "handling", 2), ("supervision", "handling", 2)]
    event = domain.supervised(
        returned, late[1], today=date(2026, 11, 24), now=datetime(2026, 11, 24, 2, tzinfo=UTC), reply_days=2,
        overrides={}, cause=None,
    )  # fmt: skip
    assert "已退单，待站长改派" in event.comment and event.supervisor_scope == "210100/210112"
    # Rematched: the new organization is the handler again.
    rematched = replace(returned, assignment_no=2, assignee_id="org-02")
    assert domain.warned(rematched, due[0], today=date(2026, 11, 19), cause=None).notify == ["org-02", "head"]


def test_a_station_directly_under_its_city_is_supervised_by_the_city_at_once():
    c = case(handling_due_on=date(2026, 11, 20), station_id="210100/hunnan-01")
    due = domain.due_today(c, date(2026, 11, 24), DEFAULTS, {})
    assert [(d.alert, d.level) for d in due] == [(Alert.chase, None), (Alert.supervision, SupervisionLevel.city)]
    event = domain.supervised(
        c, due[1], today=date(2026, 11, 24), now=datetime(2026, 11, 24, 2, tzinfo=UTC), reply_days=2, overrides={},
        cause=None,
    )  # fmt: skip
    assert (event.level, event.supervisor_scope, event.escalated_from) == ("city", "210100", None)
    # Unanswered, it has nowhere higher to go: chased, never escalated to the same city again.
    unanswered = domain.reply_due(c, domain.of_event(event), date(2026, 11, 27), {})
    assert (unanswered.alert, unanswered.level) == (Alert.chase, SupervisionLevel.city)


# --------------------------------------------------------------------------- 督办 unanswered, by hand, answered


def supervision(c: Case, level=SupervisionLevel.district, reply_due_on=date(2026, 11, 20), **fields) -> Supervision:
    values = dict(
        supervision_id=uuid4(),
        demand_id=c.demand_id,
        station_id=c.station_id,
        level=level,
        supervisor_scope="210100/210112",
        issued_by="system",
        issued_at=datetime(2026, 11, 18, 2, tzinfo=UTC),
        comment="办结时限已超期",
        reply_due_on=reply_due_on,
        event_id=uuid4(),
        deadline=HANDLING,
    )
    return Supervision(**(values | fields))


def test_an_unanswered_district_supervision_escalates_to_the_city_and_a_city_one_is_chased():
    c = case(handling_due_on=date(2026, 11, 13))
    district = supervision(c)
    assert domain.reply_due(c, district, date(2026, 11, 20), {}) is None  # the reply date itself is still in time
    up = domain.reply_due(c, district, date(2026, 11, 21), {})
    assert (up.alert, up.level, up.deadline, up.supervision_id) == (
        Alert.supervision,
        SupervisionLevel.city,
        DeadlineKind.reply,
        district.supervision_id,
    )
    event = domain.supervised(
        c, up, today=date(2026, 11, 23), now=datetime(2026, 11, 23, 2, tzinfo=UTC), reply_days=2, overrides={},
        cause=district.event_id, escalating=district,
    )  # fmt: skip
    assert (event.level, event.supervisor_scope, event.escalated_from) == ("city", "210100", district.supervision_id)
    assert event.reply_due_on == date(2026, 11, 25)
    city = supervision(c, level=SupervisionLevel.city)
    assert domain.reply_due(c, city, date(2026, 11, 21), {}).alert is Alert.chase
    answered = replace(district, answered_at=datetime(2026, 11, 19, tzinfo=UTC), answered_by="周站长", answer="已办")
    assert domain.reply_due(c, answered, date(2026, 11, 30), {}) is None
    assert domain.reply_due(replace(c, closed_as="withdrawn"), district, date(2026, 11, 30), {}) is None


def test_a_supervisor_supervises_an_open_case_with_a_reply_date_after_today():
    c = case(handling_due_on=date(2026, 11, 30))
    now, today = datetime(2026, 11, 18, 2, tzinfo=UTC), date(2026, 11, 18)
    kw = dict(supervisor="沈阳市市场监管局", comment="请加快办理", today=today, now=now, cause=None)
    event = domain.supervise_by_hand(c, supervisor_scope="210100", reply_due_on=date(2026, 11, 20), **kw)
    assert (event.level, event.issued_by, event.deadline) == ("city", "沈阳市市场监管局", None)
    district = domain.supervise_by_hand(c, supervisor_scope="210100/210112", reply_due_on=date(2026, 11, 20), **kw)
    assert district.level is SupervisionLevel.district
    with pytest.raises(Invalid) as refused:
        domain.supervise_by_hand(c, supervisor_scope="210100", reply_due_on=today, **kw)
    assert refused.value.field == "reply_due_on"
    with pytest.raises(InvalidTransition):
        domain.supervise_by_hand(
            replace(c, resolved_at=now), supervisor_scope="210100", reply_due_on=date(2026, 11, 20), **kw
        )


def test_a_supervision_is_answered_once_and_not_after_escalation():
    c = case(handling_due_on=date(2026, 11, 13))
    s = supervision(c)
    now = datetime(2026, 11, 19, 2, tzinfo=UTC)
    event = domain.answer(c, s, by="周站长", text="已协调机构本周出具报告", now=now)
    assert (event.supervision_id, event.causation_id) == (s.supervision_id, s.event_id)
    with pytest.raises(InvalidTransition):
        domain.answer(c, replace(s, answered_at=now, answered_by="周站长", answer="x"), by="x", text="x", now=now)
    with pytest.raises(InvalidTransition):
        domain.answer(c, replace(s, escalated_at=now), by="x", text="x", now=now)


# --------------------------------------------------------------------------- the scheduler on a fake unit of work


class FakeStore:
    """The scheduler's and the 督办 routes' store, in memory; `fire` keeps the alerts' unique key."""

    def __init__(self, settings: dict[str, ClockSettings] | None = None) -> None:
        self.cases: dict[UUID, Case] = {}
        self.alerts: dict[tuple, UUID] = {}
        self.rows: dict[UUID, Supervision] = {}
        self.entries: list[tuple] = []
        self.settings = settings or {}
        self.poison: set[UUID] = set()  # cases whose firing fails (a bug), to show they hold nothing up
        self.tries = 0  # claims attempted (fire), fired or not: a round with nothing new attempts none

    async def calendar_overrides(self):
        return dict(NEW_YEAR_2027)

    async def clock_settings(self, station_id, defaults):
        return self.settings.get(station_id, defaults)

    def fired(self, c: Case) -> set[tuple]:
        return {(k[1], k[2], k[3]) for k in self.alerts if k[0] == c.demand_id and k[5] is None}

    async def cases_due(self, due, defaults, after, limit):
        """As the SQL: by the date thresholds, something due and not fired yet."""

        def pending(c: Case) -> bool:
            clock, fired = self.settings.get(c.station_id, defaults), self.fired(c)
            return any(
                (
                    due.today <= d.due_on < due.warn_before[clock.warn_days]
                    and (Alert.warning, d.kind, d.due_on) not in fired
                )
                or (d.due_on < due.today and (Alert.chase, d.kind, d.due_on) not in fired)
                or (
                    d.due_on <= due.late_by[clock.escalate_after_days - 1]
                    and (Alert.supervision, d.kind, d.due_on) not in fired
                )
                for d in domain.deadlines(c)
            )

        found = sorted(
            (c for c in self.cases.values() if c.demand_id > after and pending(c)), key=lambda c: c.demand_id
        )
        return [(c, self.fired(c)) for c in found[:limit]]

    async def late_replies(self, today, after, limit):
        settled = {k[5] for k in self.alerts if k[5] is not None}  # escalated or chased already
        found = sorted(
            (
                s
                for s in self.rows.values()
                if s.overdue(today) and s.supervision_id > after and s.supervision_id not in settled
            ),
            key=lambda s: s.supervision_id,
        )
        return [(s, self.cases[s.demand_id]) for s in found if self.cases[s.demand_id].is_open][:limit]

    async def fire(self, case, due, *, event_id, today, now):
        self.tries += 1
        if case.demand_id in self.poison:
            raise RuntimeError("a bug")
        key = (case.demand_id, due.alert, due.deadline, due.due_on, due.level, due.supervision_id)
        if key in self.alerts:
            return False
        self.alerts[key] = event_id
        return True

    def savepoint(self):
        return contextlib.nullcontext()  # nothing to undo in memory: a failing case raises before it writes

    async def submitted_event_id(self, demand_id):
        return None

    async def add_supervision(self, s):
        self.rows[s.supervision_id] = s

    async def mark_escalated(self, supervision_id, at):
        self.rows[supervision_id] = replace(self.rows[supervision_id], escalated_at=at)
        return True

    async def mark_answered(self, supervision_id, by, by_id, at, answer):
        self.rows[supervision_id] = replace(self.rows[supervision_id], answered_by=by, answered_at=at, answer=answer)
        return True

    async def get_supervision(self, supervision_id, scope, *, for_update=False):
        s = self.rows.get(supervision_id)
        return s if s and scope and in_scope(s.station_id, scope) else None

    async def get_visible(self, demand_id, scope, org, *, for_update=False):
        c = self.cases.get(demand_id)
        return c if c and scope and in_scope(c.station_id, scope) else None

    async def add_entry(self, event, text):
        self.entries.append((event.demand_id, text))


SETTINGS = Settings()


def at_china(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=CHINA)


async def scan_on(uow: FakeUnitOfWork, day: date, hour: int = 10) -> list:
    before = len(uow.published)
    with time_machine.travel(at_china(day, hour), tick=False):
        await usecases.scan(uow, SETTINGS)
    return uow.published[before:]


async def test_the_scheduler_fires_each_thing_once_across_new_year_and_escalates_unanswered():
    store = FakeStore()
    uow = FakeUnitOfWork(store)
    c = case(handling_due_on=date(2027, 1, 4))
    store.cases[c.demand_id] = c

    fired = await scan_on(uow, date(2026, 12, 31), hour=23)  # late on New Year's Eve
    assert [type(e) for e in fired] == [DeadlineWarned]
    assert (fired[0].due_on, fired[0].warned_on) == (date(2027, 1, 4), date(2026, 12, 31))
    assert await scan_on(uow, date(2027, 1, 1), hour=0) == []  # just after midnight: the same warning, not again
    assert await scan_on(uow, date(2027, 1, 4)) == []  # due today: warned already

    chase = await scan_on(uow, date(2027, 1, 5))
    assert [type(e) for e in chase] == [CaseChased] and chase[0].chased_by == "system"
    supervised = await scan_on(uow, date(2027, 1, 6))
    assert [type(e) for e in supervised] == [CaseSupervised]
    district = supervised[0]
    assert (district.level, district.supervisor_scope, district.issued_by) == ("district", "210100/210112", "system")
    assert district.reply_due_on == date(2027, 1, 8) and "办结时限 2027-01-04" in district.comment
    assert await scan_on(uow, date(2027, 1, 8)) == []  # the reply date: still in time

    escalated = await scan_on(uow, date(2027, 1, 9))  # Saturday, past the reply date
    assert [type(e) for e in escalated] == [CaseSupervised]
    city = escalated[0]
    assert (city.level, city.supervisor_scope, city.escalated_from) == ("city", "210100", district.supervision_id)
    assert city.reply_due_on == date(2027, 1, 12)
    assert store.rows[district.supervision_id].escalated_at is not None

    chased_again = await scan_on(uow, date(2027, 1, 13))
    assert [(type(e), e.deadline, e.due_on) for e in chased_again] == [
        (CaseChased, DeadlineKind.reply, date(2027, 1, 12))
    ]
    assert await scan_on(uow, date(2027, 1, 20)) == []  # a city 督办 is chased once
    assert len(store.entries) == len(uow.published) == 5  # each on the tracking sheet


async def test_after_downtime_one_scan_catches_up_without_a_warning_and_a_second_fires_nothing():
    store = FakeStore()
    uow = FakeUnitOfWork(store)
    c = case(handling_due_on=date(2026, 2, 13))
    store.cases[c.demand_id] = c
    # Down from before the warning until three working days after the deadline (春节 in between counts nothing).
    fired = await scan_on(uow, date(2026, 2, 25))
    assert [(type(e), getattr(e, "level", None)) for e in fired] == [(CaseChased, None), (CaseSupervised, "district")]
    assert await scan_on(uow, date(2026, 2, 25), hour=15) == []


async def test_a_moved_deadline_is_warned_again_and_a_stations_settings_count():
    store = FakeStore({STATION: replace(DEFAULTS, warn_days=2)})
    uow = FakeUnitOfWork(store)
    c = case(handling_due_on=date(2026, 11, 20))  # Friday
    store.cases[c.demand_id] = c
    assert [type(e) for e in await scan_on(uow, date(2026, 11, 18))] == [DeadlineWarned]  # two working days ahead
    store.cases[c.demand_id] = replace(c, handling_due_on=date(2026, 11, 24))  # an approved extension
    assert await scan_on(uow, date(2026, 11, 19)) == []  # 3 working days away
    moved = await scan_on(uow, date(2026, 11, 20))
    assert [(type(e), e.due_on) for e in moved] == [(DeadlineWarned, date(2026, 11, 24))]


async def test_a_case_that_fails_holds_up_no_other():
    store = FakeStore()
    uow = FakeUnitOfWork(store)
    failing, fine = sorted((case(handling_due_on=date(2026, 11, 20)) for _ in range(2)), key=lambda c: c.demand_id)
    store.cases |= {failing.demand_id: failing, fine.demand_id: fine}
    store.poison.add(failing.demand_id)
    assert [e.demand_id for e in await scan_on(uow, date(2026, 11, 19))] == [fine.demand_id]
    store.poison.clear()  # fixed: the next round fires what is still due
    assert [e.demand_id for e in await scan_on(uow, date(2026, 11, 19), hour=15)] == [failing.demand_id]


SUPERVISOR = Principal(subject="sup-1", name="沈阳市市场监管局", role=Role.supervisor, station="210100")
OTHER_SUPERVISOR = Principal(subject="sup-2", name="广州市市场监管局", role=Role.supervisor, station="440100")
HEAD = Principal(subject="head-1", name="周站长", role=Role.head, station=STATION)
OTHER_HEAD = Principal(subject="head-2", name="铁西站长", role=Role.head, station="210100/210106/tiexi-01")


async def test_supervision_by_hand_then_answered_once():
    store = FakeStore()
    uow = FakeUnitOfWork(store)
    c = case(handling_due_on=date(2026, 11, 30))
    store.cases[c.demand_id] = c
    with time_machine.travel(at_china(date(2026, 11, 18)), tick=False):
        with pytest.raises(NotFound):
            await usecases.supervise(uow, OTHER_SUPERVISOR, SETTINGS, c.demand_id, comment="x", reply_due_on=None)
        s, tracking_no, _, _ = await usecases.supervise(
            uow, SUPERVISOR, SETTINGS, c.demand_id, comment="请说明进展", reply_due_on=None
        )
        assert (s.level, s.reply_due_on, tracking_no) == (SupervisionLevel.city, date(2026, 11, 20), c.tracking_no)
        with pytest.raises(NotFound):
            await usecases.answer(uow, OTHER_HEAD, s.supervision_id, text="x")
        answered, *_ = await usecases.answer(uow, HEAD, s.supervision_id, text="已办理完毕，待企业确认")
        assert (answered.status, answered.answered_by) == ("answered", "周站长")
        with pytest.raises(InvalidTransition):
            await usecases.answer(uow, HEAD, s.supervision_id, text="再次回复")
    assert [type(e) for e in uow.published] == [CaseSupervised, SupervisionAnswered]


async def test_a_round_with_nothing_new_to_fire_tries_nothing():
    store = FakeStore()
    uow = FakeUnitOfWork(store)
    c = case(handling_due_on=date(2026, 11, 20))  # Friday
    store.cases[c.demand_id] = c

    async def round_on(day: date, hour: int = 10) -> tuple[list, int]:
        before = store.tries
        fired = await scan_on(uow, day, hour)
        return [type(e) for e in fired], store.tries - before

    assert await round_on(date(2026, 11, 19)) == ([DeadlineWarned], 1)
    assert await round_on(date(2026, 11, 19), hour=15) == ([], 0)
    assert await round_on(date(2026, 11, 21)) == ([CaseChased], 1)  # Saturday
    assert await round_on(date(2026, 11, 23)) == ([], 0)  # one working day late: chased already, no 督办 yet
    assert await round_on(date(2026, 11, 24)) == ([CaseSupervised], 1)  # the chase is not tried again
    assert await round_on(date(2026, 11, 26)) == ([], 0)  # the reply date
    assert await round_on(date(2026, 11, 27)) == ([CaseSupervised], 1)  # escalated to the city
    assert await round_on(date(2026, 11, 30)) == ([], 0)
    assert await round_on(date(2026, 12, 2)) == ([CaseChased], 1)  # the city's reply date (1 December) passed
    for day in (date(2026, 12, 3), date(2026, 12, 10), date(2027, 1, 5)):  # an unanswered city 督办 is left alone
        assert await round_on(day) == ([], 0)


async def test_the_scheduler_supervises_a_station_without_a_district_at_city_level_once():
    store = FakeStore()
    uow = FakeUnitOfWork(store)
    c = case(handling_due_on=date(2026, 11, 20), station_id="210100/hunnan-01")
    store.cases[c.demand_id] = c
    fired = await scan_on(uow, date(2026, 11, 24))
    assert [(type(e), getattr(e, "level", None)) for e in fired] == [(CaseChased, None), (CaseSupervised, "city")]
    assert fired[1].supervisor_scope == "210100" and fired[1].reply_due_on == date(2026, 11, 26)
    # Unanswered past its reply date: chased once, never escalated to the same city again.
    late = await scan_on(uow, date(2026, 11, 27))
    assert [(type(e), e.deadline) for e in late] == [(CaseChased, DeadlineKind.reply)]
    assert await scan_on(uow, date(2026, 12, 4)) == []
    assert [s.level for s in store.rows.values()] == [SupervisionLevel.city]


async def test_a_retried_supervision_by_hand_makes_one():
    store = FakeStore()
    uow = FakeUnitOfWork(store)
    c = case(handling_due_on=date(2026, 11, 30))
    store.cases[c.demand_id] = c
    with time_machine.travel(at_china(date(2026, 11, 18)), tick=False):
        ask = dict(comment="请说明进展", reply_due_on=None, idempotency_key="k-1")
        first, *_ = await usecases.supervise(uow, SUPERVISOR, SETTINGS, c.demand_id, **ask)
        again, tracking_no, *_ = await usecases.supervise(uow, SUPERVISOR, SETTINGS, c.demand_id, **ask)
        assert (again, tracking_no) == (first, c.tracking_no)
        with pytest.raises(IdempotencyConflict):
            await usecases.supervise(uow, SUPERVISOR, SETTINGS, c.demand_id, **(ask | {"comment": "另一件事"}))
        # Another key is another 督办.
        other, *_ = await usecases.supervise(
            uow, SUPERVISOR, SETTINGS, c.demand_id, **(ask | {"idempotency_key": "k-2"})
        )
        assert other.supervision_id != first.supervision_id
    assert [type(e) for e in uow.published] == [CaseSupervised, CaseSupervised]
    assert len(store.rows) == 2
