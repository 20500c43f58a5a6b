"""Re-visits (回访, issue 10) in tracking: the pure rules. Which resolutions and ratings make a task, the task's dates
by the working-day calendar (weekends, 春节, 国庆, corrections, the China date of awkward instants), the sample drawn
the same way everywhere, what a re-visit must say, which tasks it completes, and the figures' sums.

The calendar (chinesecalendar, checked in tests/unit/test_calendar.py): 1–7 October 2026 are the National Day holiday
and Saturday 10 October a make-up working day; 15–23 February 2026 are the 春节 holiday and Saturday 14 February a
make-up working day; the package does not know 2027 yet, so 1 January 2027 counts as a Friday at work unless a
correction says otherwise.
"""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4, uuid5

import pytest

from services.tracking import domain as cases
from services.tracking.clock.domain import ClockSettings
from services.tracking.kpis import RevisitReport, Revisits
from services.tracking.revisits import domain
from services.tracking.revisits.domain import Revisit, Task, TaskKind
from services.tracking.revisits.store import COUNTERS, DONE, DUE, OVERDUE, RECORDED, RECORDED_KPIS, TASK_KPIS
from shared.calendar import CHINA
from shared.contracts import (
    DemandWithdrawn,
    Outcome,
    Overall,
    RevisitMethod,
    RevisitRecorded,
    utcnow,
)
from shared.errors import Invalid, InvalidTransition
from tests.support import aftercare_events as ae
from tests.support import clock as test_clock
from tests.unit import factories as f

DEFAULTS = ClockSettings()  # revisit within 2 working days, sample rate 0
EVENING_30_SEPT = datetime(2026, 9, 30, 10, 0, tzinfo=UTC)  # 18:00 on Wednesday 30 September in China
ONE = UUID("00000000-0000-0000-0000-000000000001")  # its draw: 0.31938016346391024


def _china(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CHINA)


def resolved(outcome: Outcome = Outcome.met, at: datetime = EVENING_30_SEPT, demand_id: UUID | None = None, round=1):
    s = f.submitted(demand_id)
    r = f.resolved(s, round=round, occurred_at=at)
    return s, r.model_copy(update={"outcome": outcome})


def rated(overall: Overall, at: datetime = EVENING_30_SEPT, round=1):
    s = f.submitted()
    return s, f.rated(s, round=round, overall=overall, occurred_at=at)


# --- which demands get a task ---------------------------------------------------------------------------------


def test_a_need_not_met_always_gets_a_task_whatever_the_sample_rate():
    _, r = resolved(Outcome.not_met)
    task = domain.resolution_task(r, DEFAULTS)
    assert task is not None
    assert (task.kind, task.round, task.trigger_event_id, task.triggered_at) == (
        TaskKind.not_met,
        1,
        r.event_id,
        r.resolved_at,
    )
    assert (task.demand_id, task.station_id, task.sample_rate) == (r.demand_id, r.station_id, None)
    assert domain.resolution_task(r, replace(DEFAULTS, revisit_sample_rate=1.0)).kind is TaskKind.not_met


def test_a_need_met_gets_a_task_only_when_drawn_in_the_sample():
    _, r = resolved(Outcome.met)
    assert domain.resolution_task(r, DEFAULTS) is None  # default rate 0: no sample
    every = domain.resolution_task(r, replace(DEFAULTS, revisit_sample_rate=1.0))
    assert every is not None and (every.kind, every.sample_rate) == (TaskKind.sample, 1.0)


def test_the_sample_is_drawn_by_the_demand_id_the_same_everywhere():
    # The draw of a fixed id is written out: another replica, a re-run, a later version draw the same.
    assert domain.sample_draw(ONE) == 0.31938016346391024
    _, r = resolved(Outcome.met, demand_id=ONE)
    assert domain.resolution_task(r, replace(DEFAULTS, revisit_sample_rate=0.3)) is None
    drawn = domain.resolution_task(r, replace(DEFAULTS, revisit_sample_rate=0.32))
    assert drawn is not None and drawn.kind is TaskKind.sample and drawn.sample_rate == 0.32
    # Round 2's resolution of the same demand is drawn the same way.
    _, again = resolved(Outcome.met, demand_id=ONE, round=2)
    assert domain.resolution_task(again, replace(DEFAULTS, revisit_sample_rate=0.32)).round == 2


def test_the_sample_takes_about_its_share_and_a_higher_rate_keeps_every_demand_drawn_before():
    ids = [uuid5(ONE, f"demand-{i}") for i in range(4000)]
    for rate, drawn in ((0.1, 382), (0.2, 760), (0.5, 1947)):  # counted once, fixed since: deterministic
        assert sum(domain.sampled(i, rate) for i in ids) == drawn
    low = {i for i in ids if domain.sampled(i, 0.1)}
    high = {i for i in ids if domain.sampled(i, 0.2)}
    assert low < high
    assert not any(domain.sampled(i, 0.0) for i in ids) and all(domain.sampled(i, 1.0) for i in ids)


@pytest.mark.parametrize("overall", [Overall.very_satisfied, Overall.satisfied, Overall.average])
def test_only_a_dissatisfied_rating_makes_a_task(overall):
    _, rating = rated(overall)
    assert domain.rating_task(rating, DEFAULTS) is None


@pytest.mark.parametrize("round_", [1, 2])
def test_a_dissatisfied_rating_of_any_round_makes_a_dissatisfied_task_from_the_rating(round_):
    _, rating = rated(Overall.dissatisfied, round=round_)
    task = domain.rating_task(rating, replace(DEFAULTS, revisit_sample_rate=0.0))
    assert task is not None
    assert (task.kind, task.round, task.trigger_event_id, task.triggered_at) == (
        TaskKind.dissatisfied,
        round_,
        rating.event_id,
        rating.rated_at,
    )
    assert task.kind.label == "差评回访"


# --- when a task appears and is due ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "appears_on", "due_on"),
    [
        # 国庆: resolved on Wednesday 30 September, the holiday runs to 7 October.
        (EVENING_30_SEPT, date(2026, 10, 8), date(2026, 10, 9)),
        # Friday 9 October: Saturday 10 October is a make-up working day.
        (_china("2026-10-09T16:00"), date(2026, 10, 10), date(2026, 10, 12)),
        # A weekend: Friday 20 November 2026.
        (_china("2026-11-20T09:00"), date(2026, 11, 23), date(2026, 11, 24)),
        # Resolved on a Sunday: the next working day is Monday.
        (_china("2026-11-22T11:00"), date(2026, 11, 23), date(2026, 11, 24)),
        # 春节: Friday 13 February 2026; Saturday 14 is a make-up working day, 15–23 the holiday.
        (_china("2026-02-13T17:00"), date(2026, 2, 14), date(2026, 2, 24)),
        # The last half hour of the make-up Saturday, and the first of the holiday (both the 14th in UTC).
        (_china("2026-02-14T23:30"), date(2026, 2, 24), date(2026, 2, 25)),
        (_china("2026-02-15T00:30"), date(2026, 2, 24), date(2026, 2, 25)),
    ],
)
def test_a_task_appears_the_working_day_after_and_is_due_revisit_days_working_days_after(at, appears_on, due_on):
    _, r = resolved(Outcome.not_met, at=at)
    task = domain.resolution_task(r, DEFAULTS)
    assert (task.appears_on, task.due_on) == (appears_on, due_on)


def test_the_stations_revisit_days_and_the_calendar_corrections_decide_the_dates():
    _, r = resolved(Outcome.not_met, at=EVENING_30_SEPT)
    one_day = domain.resolution_task(r, replace(DEFAULTS, revisit_days=1))
    assert (one_day.appears_on, one_day.due_on) == (date(2026, 10, 8), date(2026, 10, 8))
    five = domain.resolution_task(r, replace(DEFAULTS, revisit_days=5))
    assert five.due_on == date(2026, 10, 13)  # 8, 9, 10 (the make-up Saturday), 12, 13
    # A correction (intake's, e.g. a local day off) decides before the package does.
    corrected = domain.resolution_task(r, DEFAULTS, {date(2026, 10, 8): False})
    assert (corrected.appears_on, corrected.due_on) == (date(2026, 10, 9), date(2026, 10, 10))


EXPECTED_BY_INSTANT = {
    # instant: (appears_on, due_on) of a task made at that instant, written out by hand
    test_clock.WEEKDAY_LATE: (date(2026, 11, 19), date(2026, 11, 20)),
    test_clock.WEEKDAY_EARLY: (date(2026, 11, 20), date(2026, 11, 23)),
    test_clock.NEW_YEARS_EVE_LATE: (date(2027, 1, 4), date(2027, 1, 5)),  # with the correction below
    test_clock.NEW_YEAR_EARLY: (date(2027, 1, 4), date(2027, 1, 5)),
    test_clock.SPRING_FESTIVAL_EVE_LATE: (date(2026, 2, 24), date(2026, 2, 25)),
    test_clock.SPRING_FESTIVAL_EARLY: (date(2026, 2, 24), date(2026, 2, 25)),
}
NEW_YEAR_2027 = {date(2027, 1, 1): False}  # not in chinesecalendar yet: intake's correction


def test_a_rating_made_now_is_dated_by_the_china_date_of_the_frozen_clock(frozen_clock):
    _, rating = rated(Overall.dissatisfied, at=utcnow())
    task = domain.rating_task(rating, DEFAULTS, NEW_YEAR_2027)
    assert (task.appears_on, task.due_on) == EXPECTED_BY_INSTANT[frozen_clock]
    today = test_clock.CHINA_DATES[frozen_clock]
    assert task.status(today) == "upcoming"
    assert task.status(task.appears_on) == "due" and task.status(task.due_on) == "due"
    assert task.status(task.due_on + timedelta(days=1)) == "overdue"
    assert replace(task, done_at=utcnow()).status(today) == "done"


def test_without_the_correction_1_january_2027_counts_as_a_working_day():
    _, rating = rated(Overall.dissatisfied, at=test_clock.NEW_YEARS_EVE_LATE)
    task = domain.rating_task(rating, DEFAULTS)
    assert (task.appears_on, task.due_on) == (date(2027, 1, 1), date(2027, 1, 4))


# --- what a re-visit must say ---------------------------------------------------------------------------------

NOW = datetime(2026, 11, 19, 2, 0, tzinfo=UTC)
GOOD = dict(revisited_at=NOW, reached=True, contact="王建国", enterprise_said="证书已收到", need_met=True, now=NOW)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"revisited_at": NOW + timedelta(minutes=6)}, "revisited_at"),
        ({"contact": None}, "contact"),
        ({"enterprise_said": None}, "enterprise_said"),
        ({"reached": False, "need_met": False}, "need_met"),
    ],
)
def test_a_re_visit_is_refused_with_the_field_at_fault(change, field):
    with pytest.raises(Invalid) as refused:
        domain.check_record(**GOOD | change)
    assert refused.value.field == field and refused.value.zh and refused.value.en


def test_an_attempt_that_did_not_reach_the_enterprise_needs_neither_contact_nor_what_it_said():
    domain.check_record(**GOOD | {"reached": False, "contact": None, "enterprise_said": None, "need_met": None})
    domain.check_record(**GOOD | {"revisited_at": NOW + timedelta(minutes=4)})  # a clerk's clock a little ahead


def _case(**fields) -> cases.Case:
    s = f.submitted()
    return replace(cases.apply(None, s), **fields)


def test_a_re_visit_follows_the_latest_resolution():
    first = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    assert domain.followed_resolution(_case(resolved_at=first)) == (1, first)
    again = first + timedelta(days=10)
    assert domain.followed_resolution(_case(round=2, resolved_at=again, first_resolved_at=first)) == (2, again)
    # Being re-handled (重办): the round before.
    assert domain.followed_resolution(_case(round=2, first_resolved_at=first)) == (1, first)


def test_a_demand_never_resolved_has_nothing_to_re_visit():
    with pytest.raises(InvalidTransition) as open_:
        domain.followed_resolution(_case())
    assert "尚未办结" in open_.value.zh
    s = f.submitted()
    [withdrawal] = [e for e in f.dispositions(s) if isinstance(e, DemandWithdrawn)]
    withdrawn = cases.apply(cases.apply(None, s), withdrawal)
    assert withdrawn.closed_as == "withdrawn"
    with pytest.raises(InvalidTransition) as ended:
        domain.followed_resolution(withdrawn)
    assert "已终止" in ended.value.zh


def test_a_re_visit_is_not_before_its_resolution_to_the_minute():
    resolved_at = datetime(2026, 11, 19, 2, 30, 40, tzinfo=UTC)  # 10:30:40 in China
    domain.check_after_resolution(resolved_at.replace(second=0), 1, resolved_at)  # typed as 10:30
    with pytest.raises(Invalid) as early:
        domain.check_after_resolution(resolved_at - timedelta(minutes=1), 1, resolved_at)
    assert early.value.field == "revisited_at" and "2026-11-19 10:30" in early.value.zh


# --- which tasks a re-visit completes -------------------------------------------------------------------------

MADE = datetime(2026, 11, 19, 2, 30, 40, tzinfo=UTC)


def _task(round_=1, kind=TaskKind.dissatisfied, at=MADE) -> Task:
    return Task(uuid4(), f.STATION, round_, kind, uuid4(), at, date(2026, 11, 20), date(2026, 11, 23))


def _revisit(round_=1, at=MADE, reached=True, voluntary=False) -> Revisit:
    event = ae.revisited(f.resolved(f.submitted()), at=at).model_copy(update={"round": round_, "reached": reached})
    return Revisit.of(event, voluntary=voluntary)


def test_a_reached_re_visit_after_the_task_was_made_completes_it():
    task = _task()
    assert domain.completes(task, _revisit(at=MADE.replace(second=0)))  # the same minute, as typed
    assert not domain.completes(task, _revisit(at=MADE - timedelta(minutes=1)))  # before the rating
    assert not domain.completes(task, _revisit(reached=False))  # an attempt
    # A later round's re-visit answers an earlier round's 差评回访; not the other way round.
    assert domain.completes(task, _revisit(round_=2, at=MADE + timedelta(days=9)))
    assert not domain.completes(_task(round_=2), _revisit(round_=1, at=MADE + timedelta(days=9)))


def test_a_re_visit_is_voluntary_without_a_task_of_its_round_or_an_earlier_one():
    assert domain.is_voluntary([], 1)
    assert not domain.is_voluntary([_task(round_=1)], 1)
    assert not domain.is_voluntary([_task(round_=1)], 2)
    assert domain.is_voluntary([_task(round_=2)], 1)


def test_the_timeline_says_in_chinese_how_when_whom_and_what():
    s = f.submitted()
    event = ae.revisited(f.resolved(s), at=datetime(2026, 11, 19, 2, 30, tzinfo=UTC))
    text = domain.timeline_text(event, [_task(), _task(kind=TaskKind.not_met)], voluntary=False, still_open=False)
    assert text == (
        "张晓燕 电话回访（2026-11-19 10:30）：回访对象 王建国（企业质量负责人），企业反映：证书已收到，问题已解决；"
        "企业确认需求已满足；完成差评回访、未满足需求回访任务"
    )
    on_own = domain.timeline_text(event, [], voluntary=True, still_open=False)
    assert on_own.endswith("企业确认需求已满足（主动回访）")
    missed = event.model_copy(
        update={"reached": False, "need_met": None, "enterprise_said": "电话无人接听", "method": RevisitMethod.visit}
    )
    assert domain.timeline_text(missed, [], voluntary=False, still_open=True) == (
        "张晓燕 上门回访（2026-11-19 10:30）：未联系上企业（王建国（企业质量负责人）），电话无人接听；"
        "回访任务待再次回访"
    )
    later = event.model_copy(update={"round": 2})
    assert "（2026-11-19 10:30，第 2 轮办结后）" in domain.timeline_text(later, [], voluntary=False, still_open=False)


def test_the_event_is_the_case_s_prompted_by_a_person():
    s = f.submitted()
    case = replace(cases.apply(None, s), resolved_at=MADE)
    event = domain.recorded(
        case,
        1,
        revisit_id=uuid4(),
        method=RevisitMethod.message,
        revisited_at=MADE,
        reached=True,
        contact="王建国",
        enterprise_said="满意",
        need_met=None,
        by="张晓燕",
        now=MADE,
    )
    assert isinstance(event, RevisitRecorded) and event.causation_id is None
    assert (event.correlation_id, event.demand_id, event.station_id, event.tracking_no) == (
        s.correlation_id,
        s.demand_id,
        s.station_id,
        s.tracking_no,
    )
    assert RevisitRecorded.from_json(event.model_dump_json()) == event


# --- the figures ----------------------------------------------------------------------------------------------


def test_the_rates_are_those_of_the_sums_and_null_when_nothing_is_due():
    a = Revisits(due=4, done=3, dissatisfied_due=2, dissatisfied_done=2, overdue=1, voluntary=1)
    b = Revisits(due=6, done=2, dissatisfied_due=0, dissatisfied_done=0, overdue=0, voluntary=2)
    report = RevisitReport({"a": a, "b": b})
    assert report.total == Revisits(10, 5, 2, 2, 1, 3)
    assert (report.total.revisit_rate, report.total.dissatisfied_revisit_rate) == (0.5, 1.0)
    assert (b.dissatisfied_revisit_rate, Revisits().revisit_rate) == (None, None)
    assert report.of("c") == Revisits()


def test_one_query_per_table_feeds_every_family_with_a_value_per_column():
    assert COUNTERS == (TASK_KPIS, RECORDED_KPIS)
    for query in COUNTERS:
        assert query.sql.count("count(*) FILTER") == len(query.columns)
    families = [(c.name, further) for c, further in TASK_KPIS.columns]
    assert families == [(family.name, (kind.value,)) for kind in TaskKind for family in (DUE, DONE, OVERDUE)]
    assert {further for c, further in RECORDED_KPIS.columns if c is RECORDED} == {
        ("true", "true"),
        ("true", "false"),
        ("false", "true"),
        ("false", "false"),
    }
    assert (DUE.kind, DONE.kind, OVERDUE.kind, RECORDED.kind) == ("counter", "counter", "gauge", "counter")
