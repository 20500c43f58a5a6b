"""Rounds in tracking (issue 10): a 不满意 rating verified (核实) by the head or the first responder; founded, the
demand reopened (重办) as round 2 with its re-handling deadline, assigned, resolved and rated again; late events of an
older round change nothing; a voided rating needs no verification. Pure rules and use cases on a fake unit of work.

The calendar: 2026-09-30 is a Wednesday, 1–7 October the National Day holiday, Saturday 10 October a make-up
working day. A rating or a reopening on 30 September (China) is verified by 9 October (2 working days: 8 and 9) and
re-handled by 13 October (5 working days: 8, 9, 10, 12, 13).
"""

from dataclasses import replace
from datetime import UTC, date, datetime
from uuid import uuid4

import pytest

from services.tracking import domain as cases
from services.tracking import usecases
from services.tracking.clock import domain as clock
from services.tracking.clock.domain import ClockSettings, Pause
from services.tracking.clock.usecases import clock_of
from services.tracking.followups.sheet import TrackingSheet, round_text, verification_text, view
from services.tracking.rounds import domain as rounds
from services.tracking.rounds import usecases as verifying
from shared.auth import Principal, Role
from shared.contracts import (
    DemandReopened,
    Finding,
    Outcome,
    Overall,
    RatingVerified,
    Resolved,
)
from shared.errors import Forbidden, InvalidTransition, NotFound
from tests.support import events as ev
from tests.support import rehandling_events as rh
from tests.support.fake_uow import FakeUnitOfWork
from tests.unit import factories as f
from tests.unit.test_tracking_usecases import FakeStore

FIRST_RESPONDER = "clerk-1"
HEAD = Principal(subject="head-1", name="周站长", role=Role.head, station=f.STATION)
CLERK = Principal(subject=FIRST_RESPONDER, name="张晓燕", role=Role.clerk, station=f.STATION)
OTHER_CLERK = Principal(subject="clerk-2", name="王文", role=Role.clerk, station=f.STATION)
OTHER_HEAD = Principal(subject="head-2", name="梁站长", role=Role.head, station="440100/440113/panyu-01")
SUPERVISOR = Principal(subject="sup-1", name="沈阳市市场监管局", role=Role.supervisor, station="210100")
ORG = Principal(subject="org-user", name="市计量测试院", role=Role.org, org="assignee-1")
DEFAULTS = ClockSettings()  # verify within 2 working days, re-handle within 5
EVENING = datetime(2026, 9, 30, 10, 0, tzinfo=UTC)  # 18:00 on Wednesday 30 September in China
VERIFY_BY = date(2026, 10, 9)
REHANDLE_BY = date(2026, 10, 13)
REASON = "企业反映检测报告出具时间晚于约定，经核实属实"


@pytest.fixture
def uow():
    return FakeUnitOfWork(FakeStore())


async def _record(uow, *events):
    for event in events:
        await uow.handle(event, usecases.record_event)


async def _rated(uow, overall: Overall = Overall.dissatisfied):
    """A demand assigned to assignee-1, resolved and rated `overall` (round 1) at 18:00 on 30 September."""
    s = f.submitted(first_responder_id=FIRST_RESPONDER)
    rated = f.rated(s, overall=overall, occurred_at=EVENING)
    await _record(uow, s, f.assigned(s), f.resolved(s), rated)
    return s, rated


async def _verify(uow, s, who=HEAD, finding=Finding.founded, **kw):
    return await verifying.verify(
        uow, who, s.demand_id, finding=finding, reason=REASON, evidence="电话回访记录", defaults=DEFAULTS, **kw
    )


@pytest.fixture
def at_evening(time_machine):
    time_machine.move_to(EVENING, tick=False)


# --------------------------------------------------------------------------- who verifies


@pytest.mark.parametrize(
    "who, allowed",
    [(HEAD, True), (CLERK, True), (OTHER_CLERK, False), (SUPERVISOR, False), (ORG, False)],
)
def test_the_head_or_the_first_responder_verifies_no_one_else(who, allowed):
    case = cases.Case(uuid4(), f.STATION, f.TRACKING_NO, uuid4(), first_responder_id=FIRST_RESPONDER)
    assert rounds.may_verify(case, who.role, who.subject) is allowed
    if not allowed:
        with pytest.raises(Forbidden) as info:
            rounds.check_verifier(case, who.role, who.subject)
        assert info.value.status == 403 and "首问负责人" in info.value.zh


def test_a_clerk_is_never_the_first_responder_of_a_demand_named_for_someone_else():
    case = cases.Case(uuid4(), f.STATION, f.TRACKING_NO, uuid4(), first_responder_id=None)
    assert not rounds.may_verify(case, Role.clerk, "")


# --------------------------------------------------------------------------- what may be verified


def _case(**facts) -> cases.Case:
    base = dict(
        demand_id=uuid4(),
        station_id=f.STATION,
        tracking_no=f.TRACKING_NO,
        correlation_id=uuid4(),
        assignment_no=1,
        resolved_at=EVENING,
        rated_at=EVENING,
        overall="dissatisfied",
        rated_event_id=uuid4(),
    )
    return cases.Case(**(base | facts))


@pytest.mark.parametrize(
    "facts, says",
    [
        (dict(rated_at=None, overall=None), "尚无企业评价"),
        (dict(overall="average"), "「一般」"),
        (dict(round=2), "最终评价"),
        (dict(rating_voided_at=EVENING), "作废"),
        (dict(verified_at=EVENING, finding="unfounded"), "情况不属实"),
        (dict(closed_as="withdrawn"), "已终止（已撤回）"),
        (dict(archive_no="A2026-000001"), "已归档"),
    ],
)
def test_only_a_current_unverified_unvoided_dissatisfied_rating_before_the_final_round_is_verified(facts, says):
    case = _case(**facts)
    assert not case.awaiting_verification
    with pytest.raises(InvalidTransition) as info:
        rounds.check_verification(case)
    assert info.value.status == 409 and says in info.value.zh and info.value.en


def test_a_dissatisfied_rating_of_round_1_awaits_verification():
    case = _case()
    assert case.needs_verification and case.awaiting_verification
    rounds.check_verification(case)


# --------------------------------------------------------------------------- the deadlines, holidays counted


def test_the_verification_and_rehandling_deadlines_count_working_days_from_the_next_one():
    case = _case()
    assert clock.verification_due_on(case, DEFAULTS) == VERIFY_BY
    assert clock.rehandling_due_on(EVENING, DEFAULTS) == REHANDLE_BY
    # A station's own limits, and a correction (12 October made a holiday) counted first.
    own = replace(DEFAULTS, verify_days=1, rehandling_days=3)
    assert clock.verification_due_on(case, own) == date(2026, 10, 8)
    assert clock.rehandling_due_on(EVENING, own) == date(2026, 10, 10)  # the make-up Saturday counts
    assert clock.rehandling_due_on(EVENING, DEFAULTS, {date(2026, 10, 12): False}) == date(2026, 10, 14)
    # Late in the China evening is already the next day: 1 October, a holiday, so the same deadlines.
    assert clock.rehandling_due_on(datetime(2026, 9, 30, 17, 0, tzinfo=UTC), DEFAULTS) == REHANDLE_BY


def test_a_final_round_rating_has_no_verification_deadline():
    assert clock.verification_due_on(_case(round=2), DEFAULTS) is None
    assert clock.verification_due_on(_case(overall="satisfied"), DEFAULTS) is None


def test_the_service_settings_give_the_clock_its_new_defaults():
    from services.tracking.settings import Settings

    assert (ClockSettings.of(Settings()).verify_days, ClockSettings.of(Settings()).rehandling_days) == (2, 5)
    assert DEFAULTS.over({"verify_days": 3, "rehandling_days": None}).rehandling_days == 5


# --------------------------------------------------------------------------- the flow on a fake unit of work


async def test_a_dissatisfied_rating_gets_a_verification_deadline_on_the_clock(uow, at_evening):
    s, _ = await _rated(uow)
    case = uow.store.cases[s.demand_id]
    assert case.status == "rated" and case.awaiting_verification and case.verify_due_on == VERIFY_BY
    view_ = await clock_of(uow, HEAD, s.demand_id, DEFAULTS)
    [verification] = [d for d in view_.deadlines if d.kind == "verification"]
    assert (verification.due_on, verification.status, verification.detail["round"]) == (VERIFY_BY, "open", 1)


async def test_founded_publishes_the_verification_and_the_reopening_and_moves_the_case_to_round_2(uow, at_evening):
    s, rated = await _rated(uow)
    done = await _verify(uow, s, who=CLERK)
    [verification] = uow.events(RatingVerified)
    [reopening] = uow.events(DemandReopened)
    assert (verification.round, verification.rated_event_id, verification.causation_id) == (
        1,
        rated.event_id,
        rated.event_id,
    )
    assert (verification.finding, verification.verified_by, verification.evidence) == (
        Finding.founded,
        "张晓燕",
        "电话回访记录",
    )
    assert (reopening.round, reopening.verification_id, reopening.causation_id) == (2, *[verification.event_id] * 2)
    assert (reopening.due_on, reopening.assignment_count, reopening.reason) == (REHANDLE_BY, 1, REASON)
    assert (reopening.previous_assignee_kind, reopening.previous_assignee_id, reopening.previous_assignee_name) == (
        "organization",
        "assignee-1",
        "市计量测试院",
    )
    assert (done.verification_id, done.reopening_id) == (verification.event_id, reopening.event_id)

    case = uow.store.cases[s.demand_id]
    assert (case.round, case.status, case.status_label, case.is_open) == (2, "reopened", "重办待派", True)
    assert (case.due_on, case.handling_due_on, case.handling_deadline) == (REHANDLE_BY,) * 3
    assert case.resolved_at is None and case.rated_at is None and case.overall is None and case.outcome is None
    assert not case.awaiting_verification and case.verify_due_on is None and case.finding is None
    assert (case.first_resolved_at, case.first_outcome, case.first_handling_due_on) == (
        f.at(11),
        "met",
        date(2026, 10, 10),
    )
    assert not case.overdue(REHANDLE_BY) and case.overdue(date(2026, 10, 14))
    texts = [t for _, d, t in uow.store.entries if d == s.demand_id]
    assert "企业评价：不满意" in texts  # round 1's rating stays on the sheet
    assert any("核实第 1 轮「不满意」评价：情况属实，重新办理" in t and "依据：电话回访记录" in t for t in texts)
    assert any("启动重办（第 2 轮），重办期限 2026-10-13，上一轮承办：市计量测试院" in t for t in texts)

    # A reopened case is not resolved before its round's assignment.
    with pytest.raises(InvalidTransition) as info:
        await usecases.resolve(uow, HEAD, s.demand_id, outcome=Outcome.met, summary="未派单即办结")
    assert "重办待派" in info.value.zh


async def test_round_2_is_assigned_resolved_and_rated_again_and_that_rating_is_final(uow, at_evening):
    s, _ = await _rated(uow)
    await _verify(uow, s)
    rematch = f.assigned(s, no=2, round=2, assignee_name="省特检院", due_on=REHANDLE_BY, occurred_at=EVENING)
    await _record(uow, rematch)
    case = uow.store.cases[s.demand_id]
    assert (case.status, case.status_label, case.assigned_round, case.handling_due_on) == (
        "assigned",
        "重办中",
        2,
        REHANDLE_BY,
    )
    with pytest.raises(InvalidTransition) as info:
        await usecases.resolve(uow, HEAD, s.demand_id, outcome=Outcome.met, summary="旧页面", round_=1)
    assert "第 2 轮" in info.value.zh and info.value.field == "round"
    case, _ = await usecases.resolve(uow, HEAD, s.demand_id, outcome=Outcome.met, summary="重新检定", round_=2)
    [resolution] = uow.events(Resolved)
    assert (resolution.round, resolution.assignment_no, resolution.causation_id) == (2, 2, rematch.event_id)
    assert case.status_label == "重办已办结" and case.first_resolved_at == f.at(11)

    await _record(uow, f.rated(s, round=2, overall=Overall.dissatisfied, occurred_at=EVENING))
    case = uow.store.cases[s.demand_id]
    assert case.status == "rated" and case.needs_verification is False and not case.awaiting_verification
    with pytest.raises(InvalidTransition) as info:
        await _verify(uow, s)
    assert "最终评价" in info.value.zh
    texts = [t for _, d, t in uow.store.entries if d == s.demand_id]
    assert any("重办派单（第 2 轮）给 省特检院" in t for t in texts)
    assert any("重办办结（第 2 轮）" in t for t in texts) and "企业评价（第 2 轮）：不满意" in texts


async def test_an_older_rounds_events_arriving_late_change_nothing(uow, at_evening):
    s, rated = await _rated(uow)
    await _verify(uow, s)
    before = uow.store.cases[s.demand_id]
    late = [
        f.assigned(s, no=2, round=1, assignee_name="迟到的改派"),  # a round-1 rematch, numbered after the last
        ev.returned(s, 1, at=f.at(12)),  # round 1's return of assignment 1
        f.rated(s, round=1, overall=Overall.satisfied, occurred_at=f.at(17)),
        rh.voided(rated),
    ]
    await _record(uow, *late)
    assert uow.store.cases[s.demand_id] == before
    texts = [t for _, d, t in uow.store.entries if d == s.demand_id]
    assert any("申诉复核：第 1 轮企业评价作废" in t for t in texts)  # on the sheet all the same


async def test_unfounded_or_unreachable_publishes_the_verification_only(uow, at_evening):
    for finding in (Finding.unfounded, Finding.unreachable):
        s, _ = await _rated(uow)
        done = await _verify(uow, s, finding=finding)
        assert done.reopening_id is None
        case = uow.store.cases[s.demand_id]
        assert (case.round, case.status, case.finding, case.awaiting_verification) == (1, "rated", finding.value, False)
        assert case.verify_due_on == VERIFY_BY  # kept once verified
        view_ = await clock_of(uow, HEAD, s.demand_id, DEFAULTS)
        [verification] = [d for d in view_.deadlines if d.kind == "verification"]
        assert (verification.status, verification.on_time, verification.detail["finding"]) == (
            "met",
            True,
            finding.value,
        )
        with pytest.raises(InvalidTransition) as info:
            await _verify(uow, s, who=CLERK)
        assert "已核实" in info.value.zh
    assert len(uow.events(RatingVerified)) == 2 and uow.events(DemandReopened) == []


async def test_a_voided_dissatisfied_rating_needs_no_verification(uow, at_evening):
    s, rated = await _rated(uow)
    await _record(uow, rh.voided(rated))
    case = uow.store.cases[s.demand_id]
    assert case.rating_voided_at is not None and not case.awaiting_verification
    with pytest.raises(InvalidTransition) as info:
        await _verify(uow, s)
    assert "作废" in info.value.zh and info.value.status == 409
    view_ = await clock_of(uow, HEAD, s.demand_id, DEFAULTS)
    [verification] = [d for d in view_.deadlines if d.kind == "verification"]
    assert (verification.status, verification.detail["voided"]) == ("ended", True)
    assert uow.events(RatingVerified) == []


async def test_who_may_verify_through_the_use_case(uow, at_evening):
    s, _ = await _rated(uow)
    for who, error in ((OTHER_HEAD, NotFound), (OTHER_CLERK, Forbidden), (ORG, Forbidden)):
        with pytest.raises(error):
            await _verify(uow, s, who=who)
    assert uow.events(RatingVerified) == []
    await _verify(uow, s, who=CLERK, finding=Finding.unfounded)
    assert len(uow.events(RatingVerified)) == 1


async def test_a_retry_with_the_same_key_publishes_nothing_more_and_answers_the_same(uow, at_evening):
    s, _ = await _rated(uow)
    first = await _verify(uow, s, idempotency_key="k-1")
    again = await _verify(uow, s, idempotency_key="k-1")
    assert (again.verification_id, again.reopening_id) == (first.verification_id, first.reopening_id)
    assert len(uow.events(RatingVerified)) == 1 and len(uow.events(DemandReopened)) == 1
    assert again.case.round == 2


# --------------------------------------------------------------------------- the clock of round 2


def test_round_2s_deadline_ignores_round_1s_pauses_and_counts_its_own():
    s = f.submitted()
    reopened = replace(
        _case(round=2, assigned_round=1, due_on=REHANDLE_BY, resolved_at=None, rated_at=None, overall=None),
        first_resolved_at=f.at(11),
        submitted_at=s.submitted_at,
    )
    # Round 1's pause never resumed (the case was resolved while paused): ended by that resolution.
    old = Pause(uuid4(), 1, "sample", "等待样品", "市计量测试院", f.at(5))
    assert clock.pause_ended_at(reopened, old) == f.at(11)
    answers = clock.clock(reopened, DEFAULTS, [old], [])
    assert (answers.handling_due_on, answers.paused_since) == (REHANDLE_BY, None)

    # Assigned in round 2 (assignment 2): its own pause of 12 October (a working day) to the 13th moves it by one.
    handled = replace(reopened, assigned_round=2, assignment_no=2, assigned_at=datetime(2026, 10, 8, 1, tzinfo=UTC))
    mine = Pause(
        uuid4(),
        2,
        "materials",
        "等待企业补充材料",
        "省特检院",
        datetime(2026, 10, 12, 1, tzinfo=UTC),
        resumed_at=datetime(2026, 10, 13, 1, tzinfo=UTC),
    )
    answers = clock.clock(handled, DEFAULTS, [old, mine], [])
    assert answers.handling_due_on == date(2026, 10, 14) and answers.paused_working_days == 1


async def test_the_printed_sheet_shows_the_round_and_the_verification(uow, at_evening):
    s, _ = await _rated(uow)
    case = uow.store.cases[s.demand_id]
    assert round_text(case) == "第 1 轮（首次办理）"
    assert verification_text(case) == "待核实，核实时限 2026-10-09"
    await _verify(uow, s)
    case = uow.store.cases[s.demand_id]
    shown = view(TrackingSheet(case, [], "浑南站", EVENING, date(2026, 10, 8)))
    assert shown["round"].startswith("第 2 轮（核实属实后重办")
    assert ("重办期限（现行）", "2026-10-13") in shown["deadlines"]
    assert "第 2 轮办理（重办）" in shown["row"]["remarks"] and "重办待派" in shown["row"]["remarks"]


async def test_a_station_setting_its_verification_limit_moves_the_deadlines_awaiting_and_not_the_verified(
    uow, at_evening
):
    from services.tracking.clock import usecases as clock_usecases

    waiting, _ = await _rated(uow)
    verified, _ = await _rated(uow)
    await _verify(uow, verified, finding=Finding.unfounded)
    own = {"verify_days": 1, "rehandling_days": 3}
    station = await clock_usecases.set_station_clock(uow, HEAD, f.STATION, own, DEFAULTS)
    assert (station.settings.verify_days, station.settings.rehandling_days) == (1, 3)
    assert uow.store.cases[waiting.demand_id].verify_due_on == date(2026, 10, 8)
    assert uow.store.cases[verified.demand_id].verify_due_on == VERIFY_BY  # kept: verified under the old limit
    await _verify(uow, waiting)
    [reopening] = uow.events(DemandReopened)
    assert reopening.due_on == date(2026, 10, 10)  # the station's 3 working days: 8, 9 and the make-up Saturday


async def test_a_rating_awaiting_verification_from_before_the_upgrade_gets_its_deadline_at_start(uow):
    from services.tracking.clock import usecases as clock_usecases
    from services.tracking.settings import Settings

    older = _case(submitted_at=f.T0, due_on=date(2026, 10, 10), handling_due_on=date(2026, 10, 10))
    await uow.store.save(older)  # rated 不满意 before migration 0013: no verification deadline yet
    await clock_usecases.fill_in_clocks(uow, Settings())
    assert uow.store.cases[older.demand_id].verify_due_on == VERIFY_BY
