"""The clock of a case (services/tracking/clock): the pure rules, then its use cases on a fake unit of work.

Dates cross 春节 2026 (15–23 February a holiday; Saturday 14 and Saturday 28 February make-up working days) and
New Year 2027 (a year `chinesecalendar` 1.11 does not know: the calendar corrections decide). Every expectation is
a China date written out by hand and checked against shared.calendar first.
"""

from dataclasses import replace
from datetime import date, datetime, timedelta
from uuid import uuid4

import pytest

from services.tracking import usecases as core
from services.tracking.clock import domain
from services.tracking.clock import usecases as clock
from services.tracking.clock.domain import Clock, ClockSettings, Extension, Pause
from services.tracking.domain import Case
from services.tracking.settings import Settings
from services.tracking.supervision.domain import Supervision
from shared.auth import Principal, Role
from shared.calendar import CHINA, add_working_days, china_today, is_workday
from shared.contracts import (
    CalendarCorrected,
    CasePaused,
    CaseResumed,
    ExtensionDecided,
    ExtensionRequested,
    Outcome,
    PauseReason,
    SupervisionLevel,
)
from shared.errors import Invalid, InvalidTransition, NotFound
from tests.support import events as ev
from tests.support.fake_uow import FakeUnitOfWork
from tests.unit import factories as f
from tests.unit.test_tracking_usecases import FakeStore

HEAD = Principal(subject="head-1", name="周站长", role=Role.head, station=f.STATION)
CLERK = Principal(subject="clerk-1", name="张晓燕", role=Role.clerk, station=f.STATION)
ORG = Principal(subject="org-user", name="市计量测试院", role=Role.org, org="assignee-1")
OTHER_ORG = Principal(subject="org-2", name="另一机构", role=Role.org, org="assignee-9")
DEFAULTS = ClockSettings()


def china(y: int, m: int, d: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(y, m, d, hour, minute, tzinfo=CHINA)


def test_the_calendar_is_what_these_tests_assume():
    # 春节 2026: 14 Feb (Sat) works, 15–23 Feb rest, 24 Feb back, 28 Feb (Sat) works; 2027 unknown to the package.
    assert is_workday(date(2026, 2, 14)) and is_workday(date(2026, 2, 28))
    assert not any(is_workday(date(2026, 2, d)) for d in range(15, 24))
    assert is_workday(date(2026, 2, 24))
    assert is_workday(date(2027, 1, 1))  # Friday: a working day unless a correction says otherwise
    assert not is_workday(date(2027, 1, 1), {date(2027, 1, 1): False})


def _case(**fields) -> Case:
    base = dict(
        demand_id=uuid4(),
        station_id=f.STATION,
        tracking_no=f.TRACKING_NO,
        correlation_id=uuid4(),
        submitted_at=china(2026, 2, 12),
    )
    return Case(**(base | fields))


def _assigned(due_on: date, at: datetime, no: int = 1, **fields) -> Case:
    return _case(
        assignment_no=no,
        assignee_kind="organization",
        assignee_id=f"assignee-{no}",
        due_on=due_on,
        assigned_at=at,
        first_assigned_at=at,
        **fields,
    )


def _pause(start: datetime, end: datetime | None = None, no: int = 1) -> Pause:
    return Pause(uuid4(), no, "materials", "等待企业补充材料", "张晓燕", start, "张晓燕" if end else None, end)


def _extension(new_due_on: date, *, approved: bool | None, decided_at: datetime | None, no: int = 1) -> Extension:
    return Extension(
        uuid4(), no, "张晓燕", china(2026, 2, 12), "等待检测报告", date(2026, 2, 13), new_due_on,
        approved, "周站长" if approved is not None else None, decided_at,
    )  # fmt: skip


# --- the response deadline -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("submitted", "days", "expected"),
    [
        (china(2026, 2, 13), 1, date(2026, 2, 14)),  # Friday → the make-up Saturday
        (china(2026, 2, 14), 1, date(2026, 2, 24)),  # the make-up Saturday → after the whole holiday
        (china(2026, 2, 13), 2, date(2026, 2, 24)),
        (china(2026, 2, 14, 23, 30), 1, date(2026, 2, 24)),  # late evening in China, still 14 February
        (china(2026, 2, 15, 0, 30), 1, date(2026, 2, 24)),  # just after midnight: 15 February, a holiday
        (china(2026, 2, 27), 1, date(2026, 2, 28)),  # Friday → the second make-up Saturday
    ],
)
def test_the_response_deadline_counts_working_days_from_the_day_after_acceptance(submitted, days, expected):
    case = _case(submitted_at=submitted)
    assert domain.response_due_on(case, ClockSettings(response_days=days)) == expected
    assert expected == add_working_days(submitted.astimezone(CHINA).date(), days)


def test_the_response_deadline_across_new_year_2027_follows_the_corrections():
    new_years_eve = _case(submitted_at=china(2026, 12, 31, 23, 30))  # 15:30 UTC, still 31 December in China
    assert domain.response_due_on(new_years_eve, DEFAULTS) == date(2027, 1, 1)
    holiday = {date(2027, 1, 1): False}
    assert domain.response_due_on(new_years_eve, DEFAULTS, holiday) == date(2027, 1, 4)
    after_midnight = _case(submitted_at=china(2027, 1, 1, 0, 30))  # 16:30 UTC on 31 December
    assert domain.response_due_on(after_midnight, DEFAULTS, holiday) == date(2027, 1, 4)


def test_a_correction_wins_over_the_package():
    case = _case(submitted_at=china(2026, 2, 13))
    assert domain.response_due_on(case, DEFAULTS, {date(2026, 2, 14): False}) == date(2026, 2, 24)
    assert domain.response_due_on(case, DEFAULTS, {date(2026, 2, 14): False, date(2026, 2, 16): True}) == date(
        2026, 2, 16
    )


# --- pauses --------------------------------------------------------------------------------------------------


def test_a_pause_counts_its_working_days_from_its_start_day_to_the_day_before_it_ended():
    # Fri 13 and Sat 14 (make-up) count, the holiday does not, resumed on 24 February: 2 working days.
    assert domain.pause_working_days(china(2026, 2, 13), china(2026, 2, 24, 9)) == 2
    assert domain.pause_working_days(china(2026, 2, 13, 9), china(2026, 2, 13, 17)) == 0  # same day
    # 00:30 and 23:00 in China are one China day although they are two UTC days.
    assert domain.pause_working_days(china(2026, 2, 13, 0, 30), china(2026, 2, 13, 23)) == 0
    # Across New Year 2027: 31 Dec counts, 1 Jan only if the corrections say it works.
    assert domain.pause_working_days(china(2026, 12, 31), china(2027, 1, 4)) == 2
    assert domain.pause_working_days(china(2026, 12, 31), china(2027, 1, 4), {date(2027, 1, 1): False}) == 1


def test_resuming_moves_the_handling_deadline_by_the_paused_working_days():
    case = _assigned(date(2026, 2, 13), china(2026, 2, 10))
    pause = _pause(china(2026, 2, 12), china(2026, 2, 25))  # 12, 13, 14, 24 February: 4 working days
    answers = domain.clock(case, DEFAULTS, [pause], [])
    assert answers.paused_working_days == 4
    assert answers.handling_due_on == date(2026, 2, 26) == add_working_days(date(2026, 2, 13), 4)
    assert answers.paused_since is None


def test_while_paused_the_deadline_waits_and_the_case_is_paused_not_overdue():
    case = _assigned(date(2026, 2, 13), china(2026, 2, 10))
    open_pause = _pause(china(2026, 2, 12))
    answers = domain.clock(case, DEFAULTS, [open_pause], [])
    assert answers.handling_due_on == date(2026, 2, 13)
    assert answers.paused_since == open_pause.paused_at
    case = domain.applied(case, answers)
    handling = domain.deadlines(case, answers, date(2026, 3, 2))[1]
    assert (handling.kind, handling.status) == ("handling", "paused")


def test_a_rematch_starts_afresh():
    first = _pause(china(2026, 2, 11), china(2026, 2, 13))
    extension = _extension(date(2026, 3, 2), approved=True, decided_at=china(2026, 2, 12))
    rematched = _assigned(date(2026, 3, 5), china(2026, 2, 26), no=2)
    answers = domain.clock(rematched, DEFAULTS, [first, _pause(china(2026, 2, 20), no=1)], [extension])
    assert answers == Clock(
        response_due_on=date(2026, 2, 13), handling_base_on=date(2026, 3, 5), handling_due_on=date(2026, 3, 5)
    )
    # The old assignment's open pause ended when the new assignment came.
    assert domain.pause_ended_at(rematched, _pause(china(2026, 2, 20), no=1)) == rematched.assigned_at


def test_an_approved_extension_replaces_the_base_and_later_pauses_move_it():
    case = _assigned(date(2026, 2, 13), china(2026, 2, 10))
    before = _pause(china(2026, 2, 11), china(2026, 2, 12))  # weighed by the head when approving
    approved = _extension(date(2026, 3, 2), approved=True, decided_at=china(2026, 2, 12, 15))
    refused = _extension(date(2026, 3, 20), approved=False, decided_at=china(2026, 2, 12, 16))
    after = _pause(china(2026, 2, 27), china(2026, 3, 3))  # 27, 28 Feb, 2 Mar: 3 working days
    answers = domain.clock(case, DEFAULTS, [before, after], [approved, refused])
    assert (answers.handling_base_on, answers.extension_id) == (date(2026, 3, 2), approved.extension_id)
    assert answers.paused_working_days == 3
    assert answers.handling_due_on == add_working_days(date(2026, 3, 2), 3) == date(2026, 3, 5)


def test_an_approval_after_a_pause_keeps_the_pause_and_never_moves_the_deadline_earlier():
    # Committed 6 March; on 3 March the handler asks for 10 March; paused 4–11 March (4, 5, 6, 9, 10: 5 working
    # days) the deadline moved to 13 March; the head approves on 12 March. The request's date is the base as of
    # the request, so the pause still counts: 17 March, not 10 March (past, overdue at once).
    case = _assigned(date(2026, 3, 6), china(2026, 3, 2))
    pause = _pause(china(2026, 3, 4), china(2026, 3, 11))
    asked = replace(
        _extension(date(2026, 3, 10), approved=None, decided_at=None),
        requested_at=china(2026, 3, 3),
        due_on=date(2026, 3, 6),
    )
    before = domain.clock(case, DEFAULTS, [pause], [asked])
    assert (before.handling_due_on, before.paused_working_days) == (date(2026, 3, 13), 5)
    assert before.handling_due_on == add_working_days(date(2026, 3, 6), 5)
    approved = replace(asked, approved=True, decided_by="周站长", decided_at=china(2026, 3, 12))
    answers = domain.clock(case, DEFAULTS, [pause], [approved])
    assert (answers.handling_base_on, answers.extension_id) == (date(2026, 3, 10), approved.extension_id)
    assert answers.paused_working_days == 5
    assert answers.handling_due_on == add_working_days(date(2026, 3, 10), 5) == date(2026, 3, 17)
    # An approved date that would end before the deadline in force (the check bypassed, a late correction…)
    # leaves the deadline where it was.
    short = replace(approved, new_due_on=date(2026, 3, 5))
    kept = domain.clock(case, DEFAULTS, [pause], [short])
    assert (kept.handling_due_on, kept.extension_id, kept.handling_base_on) == (
        date(2026, 3, 13),
        None,
        date(2026, 3, 6),
    )


def test_an_approval_during_a_pause_counts_the_pause_from_the_request():
    case = _assigned(date(2026, 2, 13), china(2026, 2, 10))
    approved = _extension(date(2026, 3, 2), approved=True, decided_at=china(2026, 2, 26))  # asked 12 February
    pause = _pause(china(2026, 2, 13), china(2026, 2, 27))  # 13, 14, 24, 25, 26 February
    answers = domain.clock(case, DEFAULTS, [pause], [approved])
    assert answers.paused_working_days == 5
    assert answers.handling_due_on == add_working_days(date(2026, 3, 2), 5) == date(2026, 3, 9)


def test_resolving_a_paused_case_ends_the_pause_and_keeps_the_deadline_after_that():
    case = _assigned(date(2026, 2, 13), china(2026, 2, 10))
    pause = _pause(china(2026, 2, 12))
    paused = domain.applied(case, domain.clock(case, DEFAULTS, [pause], []))
    resolved = replace(paused, resolved_at=china(2026, 2, 24, 15))
    answers = domain.clock(resolved, DEFAULTS, [pause], [])
    assert domain.pause_ended_at(resolved, pause) == resolved.resolved_at
    closed = domain.applied(resolved, answers)
    assert closed.paused_since is None
    assert closed.handling_due_on == add_working_days(date(2026, 2, 13), 3)  # 12, 13, 14 February
    handling = domain.deadlines(closed, answers, date(2026, 3, 2))[1]
    assert (handling.status, handling.on_time) == ("met", True)
    # Once closed, a calendar correction no longer rewrites its deadlines.
    later = domain.clock(closed, DEFAULTS, [pause], [], {date(2026, 2, 24): False})
    assert domain.applied(closed, later) == closed


def test_each_deadline_says_where_it_stands():
    case = _assigned(date(2026, 2, 13), china(2026, 2, 12))
    answers = domain.clock(case, DEFAULTS, [], [])
    case = domain.applied(case, answers)
    response, handling = domain.deadlines(case, answers, date(2026, 2, 24))
    assert (response.due_on, response.status, response.on_time) == (date(2026, 2, 13), "met", True)
    assert (handling.due_on, handling.status) == (date(2026, 2, 13), "overdue")
    assert domain.deadlines(case, answers, date(2026, 2, 13))[1].status == "open"
    waiting = domain.applied(_case(submitted_at=china(2026, 2, 13)), domain.clock(_case(), DEFAULTS, [], []))
    assert [d.status for d in domain.deadlines(waiting, Clock(), date(2026, 2, 24))] == ["overdue"]


# --- the rules of a request ----------------------------------------------------------------------------------


def _handled() -> Case:
    case = _assigned(date(2026, 2, 24), china(2026, 2, 10))
    return domain.applied(case, domain.clock(case, DEFAULTS, [], []))


def test_an_extension_must_be_asked_before_the_deadline_has_passed():
    case = _handled()
    domain.check_extension(case, date(2026, 3, 2), date(2026, 2, 24), None)  # on the last day: still in time
    with pytest.raises(InvalidTransition) as late:
        domain.check_extension(case, date(2026, 3, 2), date(2026, 2, 25), None)
    assert "延期申请须在办结期限届满前提出" in late.value.zh and late.value.status == 409


@pytest.mark.parametrize(
    ("change", "new_due_on", "message"),
    [
        ({}, date(2026, 2, 24), "须晚于当前办结期限"),
        ({"paused_since": china(2026, 2, 12)}, date(2026, 3, 2), "挂起期间"),
        ({"resolved_at": china(2026, 2, 12)}, date(2026, 3, 2), "只有办理中的需求"),
        ({"returned_no": 1}, date(2026, 3, 2), "只有办理中的需求"),
    ],
)
def test_an_extension_is_refused_when_the_case_does_not_allow_it(change, new_due_on, message):
    with pytest.raises(InvalidTransition) as refused:
        domain.check_extension(replace(_handled(), **change), new_due_on, date(2026, 2, 12), None)
    assert message in refused.value.zh


def test_the_new_date_of_an_extension_must_be_a_working_day_by_the_corrected_calendar():
    case = _handled()  # due 24 February
    domain.check_extension(case, date(2026, 2, 28), date(2026, 2, 12), None)  # the make-up Saturday works
    for holiday, overrides in ((date(2026, 3, 1), None), (date(2026, 3, 2), {date(2026, 3, 2): False})):
        with pytest.raises(Invalid) as refused:  # a Sunday; a Monday a correction made a holiday
            domain.check_extension(case, holiday, date(2026, 2, 12), None, overrides)
        assert refused.value.status == 422 and refused.value.field == "new_due_on"
        assert "延期后的办结期限须为工作日" in refused.value.zh and "working day" in refused.value.en
    domain.check_extension(case, date(2026, 3, 1), date(2026, 2, 12), None, {date(2026, 3, 1): True})


def test_one_extension_waits_at_a_time_and_is_decided_once():
    pending = _extension(date(2026, 3, 2), approved=None, decided_at=None)
    with pytest.raises(InvalidTransition, match="already waiting"):
        domain.check_extension(_handled(), date(2026, 3, 5), date(2026, 2, 12), pending)
    domain.check_decision(_handled(), pending)
    decided = replace(pending, approved=False, decided_at=china(2026, 2, 13))
    with pytest.raises(InvalidTransition, match="already decided"):
        domain.check_decision(_handled(), decided)
    with pytest.raises(InvalidTransition, match="no longer handled"):
        domain.check_decision(replace(_handled(), assignment_no=2), pending)


def test_a_pause_needs_a_case_being_handled_and_not_paused():
    domain.check_pause(_handled())
    with pytest.raises(InvalidTransition, match="already paused"):
        domain.check_pause(replace(_handled(), paused_since=china(2026, 2, 12)))
    with pytest.raises(InvalidTransition, match="only a demand being handled"):
        domain.check_pause(_case())
    with pytest.raises(InvalidTransition, match="not paused"):
        domain.check_resume(_handled(), None)


def test_settings_come_from_the_service_and_a_station_row_overrides_them():
    defaults = ClockSettings.of(Settings(response_days=2, warn_days=3, escalate_after_days=4, reply_days=5))
    assert defaults == ClockSettings(2, 3, 4, 5)
    assert defaults.over({"response_days": 1, "warn_days": None}) == ClockSettings(1, 3, 4, 5)
    assert defaults.over(None) == defaults


# --- the use cases, on a fake unit of work -------------------------------------------------------------------


@pytest.fixture
def uow():
    return FakeUnitOfWork(FakeStore())  # the core fake with the clock's (tests/support/fake_clock_store.py)


async def _assigned_case(uow, *, submitted_at: datetime, assigned_at: datetime, due_on: date):
    s = f.submitted(submitted_at=submitted_at, occurred_at=submitted_at)
    a = f.assigned(s, due_on=due_on, occurred_at=assigned_at)
    for event in (s, a):
        await uow.handle(event, core.record_event)
    return s, a


async def test_pause_then_resume_moves_the_deadline_and_publishes_both(uow, time_machine):
    time_machine.move_to(china(2026, 2, 12, 9), tick=False)
    s, a = await _assigned_case(
        uow, submitted_at=china(2026, 2, 9), assigned_at=china(2026, 2, 10), due_on=date(2026, 2, 13)
    )
    view = await clock.pause(
        uow, ORG, s.demand_id, reason_kind=PauseReason.sample, reason="等待企业送样", defaults=DEFAULTS
    )
    assert view.case.paused_since == china(2026, 2, 12, 9) and view.case.handling_due_on == date(2026, 2, 13)
    [paused] = uow.events(CasePaused)
    assert (paused.causation_id, paused.assignment_no, paused.paused_by) == (a.event_id, 1, "市计量测试院")
    with pytest.raises(InvalidTransition):
        await clock.pause(uow, CLERK, s.demand_id, reason_kind=PauseReason.other, reason="再次", defaults=DEFAULTS)

    time_machine.move_to(china(2026, 2, 25, 9), tick=False)
    view = await clock.resume(uow, CLERK, s.demand_id, note="样品已送达", defaults=DEFAULTS)
    [resumed] = uow.events(CaseResumed)
    assert (resumed.causation_id, resumed.pause_id) == (paused.event_id, paused.pause_id)
    assert resumed.paused_working_days == 4  # 12, 13, 14, 24 February
    assert resumed.handling_due_on == view.case.handling_due_on == date(2026, 2, 26)
    assert view.case.paused_since is None
    [(pause, ended, days)] = view.pauses
    assert (pause.resumed_by, ended, days) == ("张晓燕", china(2026, 2, 25, 9), 4)
    texts = [t for _, d, t in uow.store.entries if d == s.demand_id]
    assert any("挂起（等待样品）" in t for t in texts) and any("顺延至 2026-02-26" in t for t in texts)


async def test_another_organization_cannot_pause_and_a_retry_pauses_once(uow, time_machine):
    time_machine.move_to(china(2026, 2, 12, 9), tick=False)
    s, _ = await _assigned_case(
        uow, submitted_at=china(2026, 2, 9), assigned_at=china(2026, 2, 10), due_on=date(2026, 2, 13)
    )
    with pytest.raises(NotFound):
        await clock.pause(uow, OTHER_ORG, s.demand_id, reason_kind=PauseReason.sample, reason="x", defaults=DEFAULTS)
    for _ in range(2):
        await clock.pause(
            uow,
            ORG,
            s.demand_id,
            reason_kind=PauseReason.sample,
            reason="等待企业送样",
            defaults=DEFAULTS,
            idempotency_key="pause-0001",
        )
    assert len(uow.events(CasePaused)) == 1


async def test_an_extension_approved_by_the_head_becomes_the_deadline(uow, time_machine):
    time_machine.move_to(china(2026, 2, 13, 16), tick=False)
    s, _ = await _assigned_case(
        uow, submitted_at=china(2026, 2, 9), assigned_at=china(2026, 2, 10), due_on=date(2026, 2, 13)
    )
    view, extension_id = await clock.request_extension(
        uow, ORG, s.demand_id, new_due_on=date(2026, 2, 27), reason="检测周期较长", defaults=DEFAULTS
    )
    [asked] = uow.events(ExtensionRequested)
    assert (asked.due_on, asked.new_due_on, asked.extension_id) == (date(2026, 2, 13), date(2026, 2, 27), extension_id)
    with pytest.raises(InvalidTransition, match="already waiting"):
        await clock.request_extension(
            uow, ORG, s.demand_id, new_due_on=date(2026, 3, 2), reason="再延", defaults=DEFAULTS
        )
    [(listed, _)] = await clock.extension_list(uow, HEAD, None, "pending", 10, 0)
    assert listed.extension_id == extension_id

    time_machine.move_to(china(2026, 2, 24, 9), tick=False)  # after the old deadline: the decision may still come
    view = await clock.decide_extension(
        uow, HEAD, s.demand_id, extension_id, approved=True, comment="同意", defaults=DEFAULTS
    )
    [decided] = uow.events(ExtensionDecided)
    assert (decided.causation_id, decided.approved, decided.reason) == (asked.event_id, True, "检测周期较长")
    assert (decided.assignment_no, decided.due_on, decided.new_due_on) == (1, date(2026, 2, 13), date(2026, 2, 27))
    assert view.case.handling_due_on == date(2026, 2, 27)
    assert [e.status for e in view.extensions] == ["approved"]
    assert await clock.extension_list(uow, HEAD, None, "pending", 10, 0) == []


async def test_a_refused_extension_leaves_the_deadline_and_a_late_request_is_409(uow, time_machine):
    time_machine.move_to(china(2026, 2, 13, 16), tick=False)
    s, _ = await _assigned_case(
        uow, submitted_at=china(2026, 2, 9), assigned_at=china(2026, 2, 10), due_on=date(2026, 2, 13)
    )
    _, extension_id = await clock.request_extension(
        uow, CLERK, s.demand_id, new_due_on=date(2026, 2, 27), reason="检测周期较长", defaults=DEFAULTS
    )
    view = await clock.decide_extension(
        uow, HEAD, s.demand_id, extension_id, approved=False, comment="请按期办结", defaults=DEFAULTS
    )
    assert view.case.handling_due_on == date(2026, 2, 13)
    assert uow.events(ExtensionDecided)[0].approved is False

    time_machine.move_to(china(2026, 2, 14, 0, 30), tick=False)  # 16:30 UTC on the 13th, but the 14th in China
    with pytest.raises(InvalidTransition) as late:
        await clock.request_extension(
            uow, CLERK, s.demand_id, new_due_on=date(2026, 2, 27), reason="再次申请", defaults=DEFAULTS
        )
    assert "延期申请须在办结期限届满前提出" in late.value.zh
    assert len(uow.events(ExtensionRequested)) == 1


async def test_a_late_calendar_correction_moves_the_open_cases_deadlines(uow, time_machine):
    time_machine.move_to(china(2026, 12, 30, 9), tick=False)
    s = f.submitted(submitted_at=china(2026, 12, 31, 23, 30), occurred_at=china(2026, 12, 31, 23, 30))
    await uow.handle(s, core.record_event)
    closed = f.submitted(submitted_at=china(2026, 12, 31, 10), occurred_at=china(2026, 12, 31, 10))
    for event in (closed, ev.refused(closed, at=china(2026, 12, 31, 11))):
        await uow.handle(event, core.record_event)
    assert uow.store.cases[s.demand_id].response_due_on == date(2027, 1, 1)
    kept = uow.store.cases[closed.demand_id].response_due_on

    new_year = CalendarCorrected(day=date(2027, 1, 1), is_workday=False, note="元旦", correlation_id=uuid4())
    await uow.handle(new_year, clock.record_calendar_correction)
    assert uow.store.cases[s.demand_id].response_due_on == date(2027, 1, 4)
    assert uow.store.cases[closed.demand_id].response_due_on == kept

    older = CalendarCorrected(
        day=date(2027, 1, 1), is_workday=True, correlation_id=uuid4(), occurred_at=new_year.occurred_at - timedelta(1)
    )
    await uow.handle(older, clock.record_calendar_correction)  # arrives late: the newer correction stands
    assert uow.store.cases[s.demand_id].response_due_on == date(2027, 1, 4)


async def test_a_station_clock_sets_the_response_deadline_of_its_open_cases(uow, time_machine):
    time_machine.move_to(china(2026, 2, 12, 9), tick=False)
    s = f.submitted(submitted_at=china(2026, 2, 12), occurred_at=china(2026, 2, 12))
    await uow.handle(s, core.record_event)
    assert uow.store.cases[s.demand_id].response_due_on == date(2026, 2, 13)
    sc = await clock.set_station_clock(uow, HEAD, f.STATION, {"response_days": 2}, DEFAULTS)
    assert sc.settings == replace(DEFAULTS, response_days=2)
    assert uow.store.cases[s.demand_id].response_due_on == date(2026, 2, 14)
    assert (await clock.station_clock(uow, CLERK, f.STATION, DEFAULTS)).settings.response_days == 2
    with pytest.raises(NotFound):
        await clock.set_station_clock(uow, HEAD, "440100/440113/panyu-01", {"response_days": 2}, DEFAULTS)


async def test_an_extension_to_a_day_off_is_a_422_on_new_due_on(uow, time_machine):
    time_machine.move_to(china(2026, 2, 12, 9), tick=False)
    s, _ = await _assigned_case(
        uow, submitted_at=china(2026, 2, 9), assigned_at=china(2026, 2, 10), due_on=date(2026, 2, 13)
    )
    await uow.handle(
        CalendarCorrected(day=date(2026, 2, 27), is_workday=False, note="测试调整", correlation_id=uuid4()),
        clock.record_calendar_correction,
    )
    for day_off in (date(2026, 2, 16), date(2026, 2, 27)):  # 春节; a Friday the stations' correction took off
        with pytest.raises(Invalid) as refused:
            await clock.request_extension(
                uow, ORG, s.demand_id, new_due_on=day_off, reason="检测周期较长", defaults=DEFAULTS
            )
        assert refused.value.field == "new_due_on" and "须为工作日" in refused.value.zh
    assert uow.events(ExtensionRequested) == []


async def test_an_extension_approved_after_a_pause_keeps_the_pause(uow, time_machine):
    time_machine.move_to(china(2026, 3, 3, 9), tick=False)
    s, _ = await _assigned_case(
        uow, submitted_at=china(2026, 2, 27), assigned_at=china(2026, 3, 2), due_on=date(2026, 3, 6)
    )
    _, extension_id = await clock.request_extension(
        uow, ORG, s.demand_id, new_due_on=date(2026, 3, 10), reason="检测周期较长", defaults=DEFAULTS
    )
    time_machine.move_to(china(2026, 3, 4, 9), tick=False)
    await clock.pause(uow, ORG, s.demand_id, reason_kind=PauseReason.materials, reason="等材料", defaults=DEFAULTS)
    time_machine.move_to(china(2026, 3, 11, 9), tick=False)
    view = await clock.resume(uow, CLERK, s.demand_id, note=None, defaults=DEFAULTS)
    assert view.case.handling_due_on == date(2026, 3, 13)  # 6 March + 4, 5, 6, 9, 10 March
    time_machine.move_to(china(2026, 3, 12, 9), tick=False)
    view = await clock.decide_extension(
        uow, HEAD, s.demand_id, extension_id, approved=True, comment="同意", defaults=DEFAULTS
    )
    assert view.case.handling_due_on == date(2026, 3, 17)  # 10 March + the same five paused working days
    handling = next(d for d in view.deadlines if d.kind == "handling")
    assert (handling.status, handling.detail["base_on"], handling.detail["paused_working_days"]) == (
        "open",
        date(2026, 3, 10),
        5,
    )
    [decided] = uow.events(ExtensionDecided)
    assert (decided.assignment_no, decided.due_on) == (1, date(2026, 3, 13))


def _supervision(demand_id, level, issued_at, reply_due_on, **fields) -> Supervision:
    return Supervision(
        supervision_id=uuid4(),
        demand_id=demand_id,
        station_id=f.STATION,
        level=level,
        supervisor_scope="210100/210112",
        issued_by="区督办员",
        issued_at=issued_at,
        comment="请尽快办结",
        reply_due_on=reply_due_on,
        event_id=uuid4(),
        **fields,
    )


async def test_each_reply_deadline_of_a_case_says_where_it_stands(uow, time_machine):
    time_machine.move_to(china(2026, 3, 12, 9), tick=False)
    s, _ = await _assigned_case(
        uow, submitted_at=china(2026, 2, 27), assigned_at=china(2026, 3, 2), due_on=date(2026, 3, 6)
    )
    answered = _supervision(
        s.demand_id, SupervisionLevel.district, china(2026, 3, 2), date(2026, 3, 4),
        answered_by="周站长", answered_at=china(2026, 3, 3), answer="已安排",
    )  # fmt: skip
    escalated = _supervision(
        s.demand_id, SupervisionLevel.district, china(2026, 3, 6), date(2026, 3, 10), escalated_at=china(2026, 3, 11)
    )
    overdue = _supervision(s.demand_id, SupervisionLevel.city, china(2026, 3, 9), date(2026, 3, 11))
    waiting = _supervision(s.demand_id, SupervisionLevel.city, china(2026, 3, 11), date(2026, 3, 13))
    elsewhere = _supervision(uuid4(), SupervisionLevel.city, china(2026, 3, 9), date(2026, 3, 11))
    uow.store.supervisions.extend([waiting, overdue, escalated, answered, elsewhere])
    view = await clock.clock_of(uow, CLERK, s.demand_id, DEFAULTS)
    replies = [d for d in view.deadlines if d.kind == "reply"]
    assert [(d.detail["supervision_id"], d.status) for d in replies] == [
        (answered.supervision_id, "met"),
        (escalated.supervision_id, "ended"),
        (overdue.supervision_id, "overdue"),
        (waiting.supervision_id, "open"),
    ]
    assert (replies[0].met_on, replies[0].on_time) == (date(2026, 3, 3), True)
    assert [d.detail["level"] for d in replies] == ["district", "district", "city", "city"]


async def test_a_recompute_reads_the_facts_once_and_writes_only_what_moved(uow, time_machine):
    time_machine.move_to(china(2026, 2, 12, 9), tick=False)
    other_station = "210100/210112/hunnan-02"
    moving = f.submitted(submitted_at=china(2026, 2, 12), occurred_at=china(2026, 2, 12))
    elsewhere = f.submitted(submitted_at=china(2026, 2, 12), occurred_at=china(2026, 2, 12), station_id=other_station)
    for event in (moving, elsewhere):
        await uow.handle(event, core.record_event)
    calls = {"overrides": 0, "settings": 0}
    store = uow.store
    overrides, settings = store.calendar_overrides, store.station_clocks

    async def counted_overrides():
        calls["overrides"] += 1
        return await overrides()

    async def counted_settings(*args):
        calls["settings"] += 1
        return await settings(*args)

    store.calendar_overrides, store.station_clocks = counted_overrides, counted_settings
    await clock.set_station_clock(uow, HEAD, f.STATION, {"response_days": 2}, DEFAULTS)
    assert store.cases[moving.demand_id].response_due_on == date(2026, 2, 14)
    assert store.cases[elsewhere.demand_id].response_due_on == date(2026, 2, 13)  # another station's: untouched
    assert store.clock_saves == 1 and calls == {"overrides": 1, "settings": 1}
    await clock.set_station_clock(uow, HEAD, f.STATION, {"response_days": 2}, DEFAULTS)  # the same again
    assert store.clock_saves == 1


async def test_open_cases_from_before_the_clock_get_their_columns_in_batches_at_start(uow, time_machine, monkeypatch):
    time_machine.move_to(china(2026, 2, 12, 9), tick=False)
    monkeypatch.setattr(clock, "BATCH", 2)
    cases = []
    for day in (9, 10, 11, 12, 13):
        s, _ = await _assigned_case(
            uow, submitted_at=china(2026, 2, day), assigned_at=china(2026, 2, day, 15), due_on=date(2026, 2, 27)
        )
        cases.append(s.demand_id)
    resolved = cases[0]
    await core.resolve(uow, HEAD, resolved, outcome=Outcome.met, summary="办结")
    # As if they came before migration 0006: no clock columns yet.
    for demand_id in cases:
        uow.store.cases[demand_id] = replace(
            uow.store.cases[demand_id], response_due_on=None, handling_due_on=None, paused_since=None
        )
    busy = sorted(cases[1:])[0]
    uow.store.locked = {busy}  # held by another replica's batch or an event handler: skipped
    await clock.fill_in_clocks(uow, Settings())
    for demand_id in cases[1:]:
        case = uow.store.cases[demand_id]
        if demand_id == busy:
            assert case.response_due_on is None
        else:
            assert case.response_due_on == add_working_days(china_today(case.submitted_at), 1)
            assert case.handling_due_on == date(2026, 2, 27)
    assert uow.store.cases[resolved].handling_due_on is None  # a closed case is not "open": left alone
    uow.store.locked = set()
    await clock.fill_in_clocks(uow, Settings())  # the next round (or another replica) does the one skipped
    assert uow.store.cases[busy].handling_due_on == date(2026, 2, 27)
    saves = uow.store.clock_saves
    await clock.fill_in_clocks(uow, Settings())  # nothing left: nothing written
    assert uow.store.clock_saves == saves
