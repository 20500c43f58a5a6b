"""Scorecards' pure rules (issue 10): who may ask for which rows, the period, the rates; the registry's review flag."""

from datetime import date

import pytest

from services.dispatch.organizations.domain import Record, ReviewThresholds, review, window_start
from services.intake.scorecards import domain as intake
from services.tracking.scorecards import domain as tracking
from shared.auth import Role
from shared.errors import Forbidden, Invalid


@pytest.mark.parametrize("domain", [tracking, intake])
def test_an_organization_reads_only_the_rows_by_organization(domain):
    for role in (Role.clerk, Role.head, Role.supervisor):
        for by in domain.By:
            domain.check_dimension(role, by)
    domain.check_dimension(Role.org, domain.By.organization)
    for by in (domain.By.station, domain.By.staff, domain.By.category):
        with pytest.raises(Forbidden):
            domain.check_dimension(Role.org, by)


@pytest.mark.parametrize("domain", [tracking, intake])
def test_the_period_is_china_dates_both_ends_included_at_most_366_days(domain):
    today = date(2025, 4, 17)
    assert domain.period(None, None, today) == domain.Period(date(2025, 4, 1), today)  # this month so far
    assert domain.period(None, date(2025, 3, 10), today).start == date(2025, 3, 1)  # the month of `to`
    assert domain.period(date(2024, 1, 1), date(2024, 12, 31), today).days == 366  # a leap year fits
    with pytest.raises(Invalid) as too_long:
        domain.period(date(2024, 1, 1), date(2025, 1, 1), today)
    assert too_long.value.field == "to"
    with pytest.raises(Invalid) as backwards:
        domain.period(date(2025, 3, 31), date(2025, 3, 1), today)
    assert backwards.value.field == "to"


def test_tracking_rates_are_null_without_a_denominator_and_within_0_and_1():
    empty = tracking.Figures()
    assert (empty.response_rate, empty.on_time_rate, empty.reopen_rate, empty.revisit_rate) == (None,) * 4
    f = tracking.Figures(
        received=3,
        responded=2,
        response_due=4,
        responded_in_time=1,
        resolved=2,
        handling_due=2,
        resolved_on_time=2,
        reopened=1,
        revisits_due=1,
        revisits_done=0,
    )
    assert (f.response_rate, f.on_time_rate, f.reopen_rate, f.revisit_rate) == (0.25, 1.0, 0.5, 0.0)


def test_the_review_window_is_the_last_months_up_to_today():
    assert window_start(date(2026, 11, 26), 12) == date(2025, 11, 27)
    assert window_start(date(2024, 2, 29), 12) == date(2023, 3, 1)  # 28 February 2023, the day after
    assert window_start(date(2026, 3, 31), 1) == date(2026, 3, 1)  # February is shorter
    assert window_start(date(2026, 1, 15), 1) == date(2025, 12, 16)


def test_an_organization_is_flagged_with_each_reason_in_chinese():
    since = date(2025, 11, 27)
    limits = ReviewThresholds(
        window_months=12,
        min_ratings=5,
        min_satisfaction_rate=0.8,
        min_completed=5,
        min_on_time_rate=0.9,
        founded_complaints=2,
    )
    bad = Record(completed=10, on_time=7, rated=6, satisfied=3, complaints=3, complaints_founded=2)
    flagged = review(bad, limits, since)
    assert flagged.flagged and flagged.since == since
    assert flagged.reasons == (
        "近12个月满意率 50%（3/6），低于 80%",
        "近12个月按时办结率 70%（7/10），低于 90%",
        "近12个月属实投诉 2 件，达到 2 件",
    )
    # Too few ratings or resolutions to judge a rate; a complaint below the threshold; a rule turned off with 0.
    few = Record(completed=4, on_time=0, rated=4, satisfied=0, complaints_founded=1)
    assert review(few, limits, since).reasons == ()
    assert not review(bad, ReviewThresholds(0 + 12, 5, 0.0, 5, 0.0, 0), since).flagged
    assert review(Record(), limits, since).flagged is False
    # A rate exactly at its threshold is not below it; one decimal where the rate needs it.
    at_threshold = Record(completed=10, on_time=9, rated=5, satisfied=4)
    assert review(at_threshold, limits, since).reasons == ()
    third = Record(rated=6, satisfied=4)
    assert review(third, limits, since).reasons == ("近12个月满意率 66.7%（4/6），低于 80%",)
