"""Evaluation after a 不满意 rating (issue 10): rounds, the appeal (申诉复核), the 好差评 mapping and the rating links
rule; the pure rules of services/evaluation/domain.py and the use cases on a fake unit of work."""

import itertools
from dataclasses import replace
from datetime import timedelta
from uuid import uuid4

import pytest

from services.evaluation import domain, usecases
from services.evaluation.api import RatingOut, SurveyOut
from services.evaluation.domain import Rating, Survey
from shared.auth import Principal, Role
from shared.contracts import (
    FINAL_ROUND,
    Answers,
    DemandReopened,
    NationalLevel,
    Overall,
    Rated,
    RatingSource,
    RatingVoided,
    Resolved,
    utcnow,
)
from shared.errors import InvalidTransition, NotFound
from shared.idempotency import IdempotencyConflict
from tests.support import rehandling_events as rh
from tests.support.fake_uow import FakeUnitOfWork
from tests.unit import factories as f
from tests.unit.test_evaluation_usecases import CLERK, SATISFIED, FakeStore

DISSATISFIED = Answers(problem_solved=False, overall=Overall.dissatisfied)
CITY_SUPERVISOR = Principal("sup-sy", "沈阳市市场监管局", Role.supervisor, station="210100")
DISTRICT_SUPERVISOR = Principal("sup-hn", "浑南区市场监管局", Role.supervisor, station="210100/210112")
OTHER_DISTRICT = Principal("sup-tx", "铁西区市场监管局", Role.supervisor, station="210100/210106")
OTHER_CITY = Principal("sup-gz", "广州市市场监督管理局", Role.supervisor, station="440100")


@pytest.fixture
def uow():
    return FakeUnitOfWork(FakeStore(), consumer="evaluation")


def _rated(submitted, overall: Overall = Overall.dissatisfied, round_: int = 1) -> Rated:
    """A Rated as evaluation publishes it (for the rehandling factories, which build from it)."""
    return f.rated(submitted, round=round_, overall=overall)


def _reopened(submitted, round_: int = 2) -> DemandReopened:
    event = rh.reopened(rh.verified(_rated(submitted, round_=round_ - 1)), at=f.at(17 + round_))
    return event.model_copy(update={"round": round_})


def _usecase(event):
    return {
        Resolved: usecases.open_survey,
        DemandReopened: usecases.reopen_survey,
    }.get(type(event), usecases.record_assigned)


async def _apply(uow, *events) -> Survey:
    for event in events:
        assert await uow.handle(event, _usecase(event))
    return uow.store.surveys[events[0].demand_id]


async def _first_round_dissatisfied(uow):
    """Assigned to an organization, resolved, rated 不满意 on paper: (submitted, its Rated)."""
    submitted = f.submitted()
    await _apply(uow, f.assigned(submitted), f.resolved(submitted))
    await usecases.record_paper_rating(uow, CLERK, submitted.demand_id, DISSATISFIED)
    [rated] = uow.events(Rated)
    return submitted, rated


def _links_of(uow, demand_id):
    return [link for link in uow.store.links.values() if link.demand_id == demand_id]


# --------------------------------------------------------------------------- rounds: the pure fold


def _survey(**fields) -> Survey:
    s = f.submitted()
    return replace(Survey(s.demand_id, s.station_id, s.tracking_no, s.correlation_id), **fields)


def test_a_reopening_moves_the_survey_to_the_next_round_waiting():
    rated = _survey(status="rated", opened_at=f.at(11), rated_at=f.at(16), resolved_event_id=f.submitted().event_id,
                    resolved_assignment_no=1, assignments={"1": "organization"})  # fmt: skip
    reopening = _reopened(f.submitted(rated.demand_id))
    moved = domain.on_reopened(rated, reopening)
    assert (moved.round, moved.status, moved.opened_at, moved.rated_at) == (2, "waiting", None, None)
    assert moved.resolved_event_id is None and moved.resolved_assignment_no is None
    assert moved.assignments == rated.assignments  # who served round 1 is still known
    assert not moved.final


@pytest.mark.parametrize("kept", ["same round", "older round", "closed", "final"])
def test_a_reopening_never_moves_a_survey_back_or_past_its_end(kept):
    survey = {
        "same round": _survey(round=2, status="open"),  # round 2's Resolved came first
        "older round": _survey(round=2, status="rated"),
        "closed": _survey(status="closed", closed_as="withdrawn"),
        "final": _survey(round=FINAL_ROUND, status="rated"),
    }[kept]
    reopening = _reopened(f.submitted(survey.demand_id), round_=3 if kept == "final" else 2)
    assert domain.on_reopened(survey, reopening) == survey
    assert survey.final is (kept in ("final", "older round"))


def test_a_reopening_seen_first_starts_the_survey_at_its_round():
    s = f.submitted()
    survey = domain.on_reopened(None, _reopened(s))
    assert (survey.demand_id, survey.round, survey.status) == (s.demand_id, 2, "waiting")


# --------------------------------------------------------------------------- rounds: the use cases


@pytest.mark.parametrize(
    "order", list(itertools.permutations(range(3))), ids=lambda o: "-".join(("O", "A2", "R2")[i] for i in o)
)
async def test_round_2_opens_in_any_order_and_its_rating_is_caused_by_its_own_resolution(uow, order):
    submitted, first = await _first_round_dissatisfied(uow)
    a2 = f.assigned(submitted, no=2, round=2)
    r2 = a2.caused(Resolved, round=2, assignment_no=2, outcome="met", summary="已重新检定", resolved_by="市计量测试院",
                   resolved_at=f.at(20))  # fmt: skip
    events = [_reopened(submitted), a2, r2]
    survey = await _apply(uow, *(events[i] for i in order))
    assert (survey.round, survey.status, survey.assignment_no, survey.resolved_event_id) == (2, "open", 2, r2.event_id)
    assert survey.served_by_org

    survey = await usecases.record_paper_rating(uow, CLERK, submitted.demand_id, SATISFIED)
    assert survey.final
    first_again, second = uow.events(Rated)
    assert first_again == first and first.round == 1
    assert (second.round, second.causation_id, second.correlation_id) == (2, r2.event_id, submitted.correlation_id)
    _, ratings = await usecases.get_survey(uow, CLERK, submitted.demand_id)
    assert [(r.round, r.overall, r.final) for r in ratings] == [
        (1, Overall.dissatisfied, False),
        (2, Overall.satisfied, True),
    ]


async def test_older_rounds_arriving_late_change_nothing(uow):
    submitted, _ = await _first_round_dissatisfied(uow)
    reopening, r2 = _reopened(submitted), f.resolved(submitted, round=2)
    await _apply(uow, reopening, r2)
    before = uow.store.surveys[submitted.demand_id]
    late = [f.resolved(submitted, round=1), _reopened(submitted)]  # another round-1 resolution, another reopening
    survey = await _apply(uow, *late)
    assert survey == before
    assert not await uow.handle(reopening, usecases.reopen_survey)  # a redelivery: the inbox
    await usecases.record_paper_rating(uow, CLERK, submitted.demand_id, SATISFIED)
    rated = uow.store.surveys[submitted.demand_id]
    assert await _apply(uow, _reopened(submitted, round_=3)) == rated  # the final rating stays final
    with pytest.raises(InvalidTransition) as refused:
        await usecases.record_paper_rating(uow, CLERK, submitted.demand_id, SATISFIED)
    assert "第 2 轮已评价" in refused.value.zh and "round 2" in refused.value.en


async def test_round_2_waits_for_its_resolution_before_it_is_rated(uow):
    submitted, _ = await _first_round_dissatisfied(uow)
    await _apply(uow, _reopened(submitted))
    with pytest.raises(InvalidTransition):
        await usecases.record_paper_rating(uow, CLERK, submitted.demand_id, SATISFIED)
    with pytest.raises(InvalidTransition):
        await usecases.issue_link(uow, CLERK, submitted.demand_id, days=30)
    assert len(uow.events(Rated)) == 1


# --------------------------------------------------------------------------- rating links


async def test_earlier_links_stay_valid_until_one_of_them_is_used(uow):
    submitted, _ = await _apply_resolved(uow)
    first = await usecases.issue_link(uow, CLERK, submitted.demand_id, days=30)
    second = await usecases.issue_link(uow, CLERK, submitted.demand_id, days=30)
    third = await usecases.issue_link(uow, CLERK, submitted.demand_id, days=30)
    assert (first.also_valid, second.also_valid, third.also_valid) == (0, 1, 2)  # the clerk is told
    for issued in (first, second, third):  # an SMS already sent keeps working
        assert (await usecases.survey_by_link(uow, issued.token)).status == "open"

    await usecases.rate_by_link(uow, second.token, SATISFIED)
    for issued in (first, second, third):
        with pytest.raises(NotFound):
            await usecases.survey_by_link(uow, issued.token)
    assert len(uow.events(Rated)) == 1
    used = [link for link in _links_of(uow, submitted.demand_id) if link.used_at]
    assert len(used) == 1 and all(link.expires_at <= utcnow() for link in _links_of(uow, submitted.demand_id)
                                  if not link.used_at)  # fmt: skip


async def test_a_paper_rating_retires_the_rounds_links(uow):
    submitted, _ = await _apply_resolved(uow)
    token = (await usecases.issue_link(uow, CLERK, submitted.demand_id, days=30)).token
    await usecases.record_paper_rating(uow, CLERK, submitted.demand_id, SATISFIED)
    for use in (usecases.survey_by_link(uow, token), usecases.rate_by_link(uow, token, SATISFIED)):
        with pytest.raises(NotFound):
            await use
    assert len(uow.events(Rated)) == 1


async def test_a_new_round_retires_the_earlier_rounds_links_and_issues_its_own(uow):
    submitted = f.submitted()
    await _apply(uow, f.assigned(submitted), f.resolved(submitted))
    old = (await usecases.issue_link(uow, CLERK, submitted.demand_id, days=30)).token
    await usecases.record_paper_rating(uow, CLERK, submitted.demand_id, DISSATISFIED)
    # A link the store did not retire (say, issued in a race) is still refused: its round is rated, then over.
    [link] = _links_of(uow, submitted.demand_id)
    uow.store.links[link.token_sha256] = replace(link, expires_at=utcnow() + timedelta(days=1))
    await _apply(uow, _reopened(submitted))
    assert uow.store.links[link.token_sha256].expires_at <= utcnow()  # the reopening retired it
    await _apply(uow, f.resolved(submitted, round=2))
    with pytest.raises(NotFound):
        await usecases.rate_by_link(uow, old, SATISFIED)
    issued = await usecases.issue_link(uow, CLERK, submitted.demand_id, days=30)
    assert issued.also_valid == 0  # round 1's link does not count
    opened = await usecases.survey_by_link(uow, issued.token)
    assert (opened.round, opened.status) == (2, "open")
    await usecases.rate_by_link(uow, issued.token, SATISFIED)
    assert [(e.round, e.source) for e in uow.events(Rated)] == [(1, RatingSource.paper), (2, RatingSource.online)]


async def test_a_round_2_link_issued_before_a_late_reopening_keeps_working(uow):
    """Round 2's Resolved overtook its DemandReopened: the late reopening changes nothing, the link still rates."""
    submitted, _ = await _first_round_dissatisfied(uow)
    await _apply(uow, f.resolved(submitted, round=2))
    token = (await usecases.issue_link(uow, CLERK, submitted.demand_id, days=30)).token
    await _apply(uow, _reopened(submitted))
    assert (await usecases.rate_by_link(uow, token, SATISFIED)).round == 2


def test_a_link_is_valid_only_unused_unexpired_and_for_the_open_round():
    survey = _survey(status="open")
    link = domain.issue_link(survey, token_sha256="0" * 64, created_by="张晓燕", now=f.at(12), days=30)
    assert domain.valid(link, survey, f.at(13))
    assert not domain.valid(replace(link, used_at=f.at(13)), survey, f.at(14))
    assert not domain.valid(link, survey, link.expires_at)
    assert not domain.valid(link, replace(survey, status="rated"), f.at(13))
    assert not domain.valid(link, replace(survey, round=2, status="open"), f.at(13))
    assert not domain.valid(link, replace(survey, status="closed", closed_as="merged"), f.at(13))


async def _apply_resolved(uow):
    """Assigned and resolved: the survey is open. Returns (submitted, resolved)."""
    submitted = f.submitted()
    resolved = f.resolved(submitted)
    await _apply(uow, f.assigned(submitted), resolved)
    return submitted, resolved


# --------------------------------------------------------------------------- the appeal (申诉复核)


async def test_a_supervisor_voids_a_rating_it_is_kept_marked_and_announced(uow):
    submitted, rated = await _first_round_dissatisfied(uow)
    rating = await usecases.void_rating(uow, DISTRICT_SUPERVISOR, submitted.demand_id, 1, "经申诉复核，系误评")
    assert rating.voided and rating.voided_by == "浑南区市场监管局" and rating.void_reason == "经申诉复核，系误评"
    assert rating.answers["overall"] == "dissatisfied" and rating.event_id == rated.event_id  # kept as it was
    [event] = uow.events(RatingVoided)
    assert (event.round, event.rated_event_id, event.causation_id) == (1, rated.event_id, rated.event_id)
    assert (event.correlation_id, event.station_id, event.demand_id, event.tracking_no) == (
        submitted.correlation_id, submitted.station_id, submitted.demand_id, submitted.tracking_no,
    )  # fmt: skip
    assert (event.voided_by, event.voided_at, event.reason) == (rating.voided_by, rating.voided_at, rating.void_reason)
    survey, [kept] = await usecases.get_survey(uow, CLERK, submitted.demand_id)
    assert kept == rating and survey.voided_rounds == (1,) and survey.status == "rated"


async def test_voiding_twice_is_refused_in_both_languages_and_a_retry_with_its_key_is_not(uow):
    submitted, _ = await _first_round_dissatisfied(uow)
    first = await usecases.void_rating(
        uow, CITY_SUPERVISOR, submitted.demand_id, 1, "恶意评价", idempotency_key="void-0001"
    )
    again = await usecases.void_rating(
        uow, CITY_SUPERVISOR, submitted.demand_id, 1, "恶意评价", idempotency_key="void-0001"
    )
    assert again == first and len(uow.events(RatingVoided)) == 1
    with pytest.raises(IdempotencyConflict):  # the same key for another request
        await usecases.void_rating(
            uow, CITY_SUPERVISOR, submitted.demand_id, 1, "另一理由", idempotency_key="void-0001"
        )
    with pytest.raises(InvalidTransition) as refused:
        await usecases.void_rating(uow, DISTRICT_SUPERVISOR, submitted.demand_id, 1, "再次作废")
    assert refused.value.status == 409 and refused.value.code == "already_voided"
    assert "已于" in refused.value.zh and "不能重复作废" in refused.value.zh and "沈阳市市场监管局" in refused.value.zh
    assert "already voided" in refused.value.en
    assert len(uow.events(RatingVoided)) == 1 and uow.store.surveys[submitted.demand_id].voided_rounds == (1,)


async def test_only_a_rating_in_the_supervisors_scope_is_voided(uow):
    submitted, _ = await _first_round_dissatisfied(uow)
    for outside in (OTHER_DISTRICT, OTHER_CITY):
        with pytest.raises(NotFound):
            await usecases.void_rating(uow, outside, submitted.demand_id, 1, "误评")
    with pytest.raises(NotFound) as missing:  # no rating of that round
        await usecases.void_rating(uow, CITY_SUPERVISOR, submitted.demand_id, 2, "误评")
    assert "第 2 轮" in missing.value.zh
    assert uow.events(RatingVoided) == [] and not uow.store.kept[0][1].voided


async def test_each_round_is_voided_on_its_own(uow):
    submitted, _ = await _first_round_dissatisfied(uow)
    await _apply(uow, _reopened(submitted), f.resolved(submitted, round=2))
    await usecases.record_paper_rating(uow, CLERK, submitted.demand_id, SATISFIED)
    second = await usecases.void_rating(uow, CITY_SUPERVISOR, submitted.demand_id, 2, "误评")
    assert second.round == 2 and second.final
    _, ratings = await usecases.get_survey(uow, CLERK, submitted.demand_id)
    assert [r.voided for r in ratings] == [False, True]
    assert uow.store.surveys[submitted.demand_id].voided_rounds == (2,)
    assert [e.round for e in uow.events(RatingVoided)] == [2]


async def test_a_rating_verified_founded_and_reopened_is_no_longer_voided_on_appeal(uow):
    """The station itself found the 不满意 justified and re-handles the demand: the appeal cannot take it back."""
    submitted, _ = await _first_round_dissatisfied(uow)
    await _apply(uow, _reopened(submitted))  # the survey waits for round 2's resolution
    with pytest.raises(InvalidTransition) as refused:
        await usecases.void_rating(uow, CITY_SUPERVISOR, submitted.demand_id, 1, "恶意评价")
    assert refused.value.status == 409 and refused.value.code == "reopened"
    assert refused.value.zh == "第 1 轮评价经核实属实，需求已重办，不能再申诉作废"
    assert refused.value.en == (
        "the round 1 rating was verified founded and the demand reopened; it can no longer be voided on appeal"
    )
    assert uow.events(RatingVoided) == [] and not uow.store.kept[0][1].voided
    assert uow.store.surveys[submitted.demand_id].voided_rounds == ()

    # Nor once round 2 is resolved and rated; round 2's own rating stays voidable.
    await _apply(uow, f.resolved(submitted, round=2))
    await usecases.record_paper_rating(uow, CLERK, submitted.demand_id, SATISFIED)
    with pytest.raises(InvalidTransition) as again:
        await usecases.void_rating(uow, CITY_SUPERVISOR, submitted.demand_id, 1, "恶意评价")
    assert again.value.code == "reopened"
    assert (await usecases.void_rating(uow, CITY_SUPERVISOR, submitted.demand_id, 2, "误评")).voided
    assert [e.round for e in uow.events(RatingVoided)] == [2]


def test_only_the_current_rounds_rating_is_voidable_in_the_pure_rule():
    rating = Rating(1, {"overall": "dissatisfied"}, "paper", "张晓燕", f.at(16), event_id=uuid4())
    survey, voided, event = domain.void(
        _survey(status="rated"), rating, reason="误评", voided_by="沈阳市市场监管局", now=f.at(18)
    )
    assert voided.voided and event.round == 1 and survey.voided_rounds == (1,)
    with pytest.raises(InvalidTransition) as refused:
        domain.void(_survey(round=2), rating, reason="误评", voided_by="沈阳市市场监管局", now=f.at(18))
    assert refused.value.code == "reopened" and "第 1 轮" in refused.value.zh


def test_a_rating_whose_event_is_unknown_cannot_be_voided():
    """Kept before ratings named their Rated, and pruned from the outbox since: the void would name nothing."""
    old = Rating(1, {"overall": "dissatisfied"}, "paper", "张晓燕", f.at(16))
    with pytest.raises(InvalidTransition) as refused:
        domain.void(_survey(status="rated"), old, reason="误评", voided_by="沈阳市市场监管局", now=f.at(18))
    assert refused.value.code == "rating_event_unknown" and refused.value.zh and refused.value.en


# --------------------------------------------------------------------------- what the API shows


@pytest.mark.parametrize(
    ("overall", "national", "label"),
    [
        (Overall.very_satisfied, NationalLevel.very_satisfied, "非常满意"),
        (Overall.satisfied, NationalLevel.satisfied, "满意"),
        (Overall.average, NationalLevel.basically_satisfied, "基本满意"),
        (Overall.dissatisfied, NationalLevel.dissatisfied, "不满意"),
    ],
)
def test_every_rating_shows_its_national_level_and_void_status(overall, national, label):
    rating = Rating(2, {"overall": overall.value}, "online", None, f.at(16), event_id=f.submitted().event_id)
    shown = RatingOut.model_validate(rating).model_dump(mode="json")
    assert (shown["national_level"], shown["national_level_label"]) == (national.value, label)
    assert (shown["overall"], shown["overall_label"]) == (overall.value, overall.label)
    assert (shown["final"], shown["voided"], shown["voided_at"]) == (True, False, None)
    voided = replace(rating, voided_at=f.at(18), voided_by="沈阳市市场监管局", void_reason="误评")
    shown = RatingOut.model_validate(voided).model_dump(mode="json")
    assert shown["voided"] is True and (shown["voided_by"], shown["void_reason"]) == ("沈阳市市场监管局", "误评")


def test_a_survey_shows_its_voided_rounds():
    shown = SurveyOut.model_validate(_survey(status="rated", voided_rounds=(1,))).model_dump(mode="json")
    assert shown["voided_rounds"] == [1]
