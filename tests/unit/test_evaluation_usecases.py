"""Evaluation's use cases on a fake unit of work: no PostgreSQL, the same rules."""

from dataclasses import replace
from datetime import timedelta

import pytest

from services.evaluation import usecases
from services.evaluation.domain import Rating, RatingLink, Survey
from shared.auth import Principal, Role, in_scope
from shared.contracts import Answers, AssigneeKind, Overall, Rated, RatingSource, utcnow
from shared.errors import Invalid, InvalidTransition, NotFound
from tests.support.fake_uow import FakeUnitOfWork
from tests.unit import factories as f

CLERK = Principal(subject="clerk-1", name="张晓燕", role=Role.clerk, station=f.STATION)
OTHER_HEAD = Principal(subject="head-2", name="梁站长", role=Role.head, station="440100/440113/panyu-01")
SATISFIED = Answers(station_service=5, problem_solved=True, overall=Overall.satisfied)


class FakeStore:
    def __init__(self) -> None:
        self.surveys: dict = {}
        self.links: dict[str, RatingLink] = {}
        self.kept: list[tuple] = []  # (demand_id, Rating)

    async def get(self, demand_id, *, for_update=False) -> Survey | None:
        return self.surveys.get(demand_id)

    async def save(self, survey: Survey) -> None:
        self.surveys[survey.demand_id] = survey

    async def get_in_scope(self, demand_id, scope, *, for_update=False) -> Survey | None:
        survey = self.surveys.get(demand_id)
        return survey if survey and scope and in_scope(survey.station_id, scope) else None

    async def list_in_scope(self, scope, status, limit, offset) -> list[Survey]:
        found = [s for s in self.surveys.values() if scope and in_scope(s.station_id, scope)]
        return [s for s in found if status is None or s.status == status][offset : offset + limit]

    async def add_link(self, link: RatingLink) -> None:
        for token, old in self.links.items():  # a new link retires the demand's unused ones
            if old.demand_id == link.demand_id and old.used_at is None and old.expires_at > link.created_at:
                self.links[token] = replace(old, expires_at=link.created_at)
        self.links[link.token_sha256] = link

    async def get_link(self, token_sha256) -> RatingLink | None:
        return self.links.get(token_sha256)

    async def use_link(self, token_sha256, when) -> None:
        self.links[token_sha256] = replace(self.links[token_sha256], used_at=when)

    async def add_rating(self, e: Rated) -> None:
        if any(d == e.demand_id and r.round == e.round for d, r in self.kept):
            raise AssertionError("the database keeps one rating per demand and round")
        rating = Rating(e.round, e.answers.model_dump(mode="json"), e.source.value, e.recorded_by, e.rated_at)
        self.kept.append((e.demand_id, rating))

    async def ratings(self, demand_id) -> list[Rating]:
        return [r for d, r in self.kept if d == demand_id]


@pytest.fixture
def uow():
    return FakeUnitOfWork(FakeStore(), consumer="evaluation")


async def _resolved(uow, *, kind=AssigneeKind.staff):
    """A demand assigned and resolved: its survey is open. Returns (submitted, resolved)."""
    submitted = f.submitted()
    resolved = f.resolved(submitted)
    await uow.handle(f.assigned(submitted, kind=kind), usecases.record_assigned)
    await uow.handle(resolved, usecases.open_survey)
    return submitted, resolved


def _links_of(uow, demand_id) -> list[RatingLink]:
    return [link for link in uow.store.links.values() if link.demand_id == demand_id]


# --------------------------------------------------------------------------- events


@pytest.mark.parametrize("resolved_first", [False, True], ids=["assigned-first", "resolved-first"])
async def test_resolved_opens_the_survey_in_any_order_with_assigned(uow, resolved_first):
    submitted = f.submitted()
    assigned, resolved = f.assigned(submitted, kind=AssigneeKind.organization), f.resolved(submitted)
    steps = [(assigned, usecases.record_assigned), (resolved, usecases.open_survey)]
    for event, usecase in reversed(steps) if resolved_first else steps:
        await uow.handle(event, usecase)
    survey = uow.store.surveys[submitted.demand_id]
    assert survey.status == "open" and survey.round == 1
    assert survey.served_by_org  # whichever came first, the organization is known
    assert survey.resolved_event_id == resolved.event_id
    assert uow.published == []  # opening a survey announces nothing


async def test_assigned_alone_leaves_the_survey_waiting(uow):
    submitted = f.submitted()
    await uow.handle(f.assigned(submitted), usecases.record_assigned)
    assert uow.store.surveys[submitted.demand_id].status == "waiting"


async def test_a_redelivered_resolution_is_handled_once(uow):
    submitted, resolved = await _resolved(uow)
    await usecases.record_paper_rating(uow, CLERK, submitted.demand_id, SATISFIED)
    assert not await uow.handle(resolved, usecases.open_survey)
    assert uow.store.surveys[submitted.demand_id].status == "rated"


# --------------------------------------------------------------------------- rating by staff


async def test_staff_transcription_publishes_rated_caused_by_the_resolution(uow):
    submitted, resolved = await _resolved(uow)
    survey = await usecases.record_paper_rating(uow, CLERK, submitted.demand_id, SATISFIED)
    assert survey.status == "rated"
    [event] = uow.events(Rated)
    assert event.causation_id == resolved.event_id
    assert event.correlation_id == submitted.correlation_id
    assert (event.demand_id, event.station_id, event.tracking_no) == (
        submitted.demand_id,
        submitted.station_id,
        submitted.tracking_no,
    )
    assert event.source is RatingSource.paper and event.recorded_by == "张晓燕"
    assert event.round == 1 and event.answers == SATISFIED
    _, ratings = await usecases.get_survey(uow, CLERK, submitted.demand_id)
    assert [(r.round, r.source, r.answers["overall"]) for r in ratings] == [(1, "paper", "satisfied")]


async def test_a_new_round_is_rated_as_caused_by_its_own_resolution(uow):
    submitted, _first = await _resolved(uow)
    await usecases.record_paper_rating(uow, CLERK, submitted.demand_id, SATISFIED)
    second = f.resolved(submitted, round=2)
    await uow.handle(second, usecases.open_survey)
    await usecases.record_paper_rating(uow, CLERK, submitted.demand_id, SATISFIED)
    assert [(e.round, e.causation_id) for e in uow.events(Rated)][1] == (2, second.event_id)


async def test_rating_before_the_resolution_is_refused_with_409(uow):
    submitted = f.submitted()
    await uow.handle(f.assigned(submitted), usecases.record_assigned)
    with pytest.raises(InvalidTransition) as info:
        await usecases.record_paper_rating(uow, CLERK, submitted.demand_id, SATISFIED)
    assert info.value.status == 409
    with pytest.raises(InvalidTransition):
        await usecases.issue_link(uow, CLERK, submitted.demand_id, days=30)
    assert uow.published == [] and uow.store.kept == [] and uow.store.links == {}


async def test_refused_ratings_publish_nothing(uow):
    submitted, _ = await _resolved(uow, kind=AssigneeKind.staff)
    technician = Answers(overall=Overall.satisfied, technician_civility=5)  # items 6–9: no organization served
    with pytest.raises(Invalid):
        await usecases.record_paper_rating(uow, CLERK, submitted.demand_id, technician)
    assert uow.published == [] and uow.store.surveys[submitted.demand_id].status == "open"
    await usecases.record_paper_rating(uow, CLERK, submitted.demand_id, SATISFIED)
    with pytest.raises(InvalidTransition):
        await usecases.record_paper_rating(uow, CLERK, submitted.demand_id, SATISFIED)
    assert len(uow.events(Rated)) == 1 and len(uow.store.kept) == 1


async def test_another_station_sees_and_changes_nothing(uow):
    submitted, _ = await _resolved(uow)
    with pytest.raises(NotFound):
        await usecases.get_survey(uow, OTHER_HEAD, submitted.demand_id)
    with pytest.raises(NotFound):
        await usecases.record_paper_rating(uow, OTHER_HEAD, submitted.demand_id, SATISFIED)
    with pytest.raises(NotFound):
        await usecases.issue_link(uow, OTHER_HEAD, submitted.demand_id, days=30)
    with pytest.raises(NotFound):
        await usecases.list_surveys(uow, CLERK, "440100/440113/panyu-01", None, 100, 0)
    assert await usecases.list_surveys(uow, OTHER_HEAD, None, None, 100, 0) == []
    assert uow.published == [] and uow.store.links == {}
    assert uow.store.surveys[submitted.demand_id].status == "open"


async def test_the_list_filters_by_status(uow):
    rated, _ = await _resolved(uow)
    await usecases.record_paper_rating(uow, CLERK, rated.demand_id, SATISFIED)
    still_open, _ = await _resolved(uow)
    surveys = await usecases.list_surveys(uow, CLERK, f.STATION, "open", 100, 0)
    assert [s.demand_id for s in surveys] == [still_open.demand_id]
    assert len(await usecases.list_surveys(uow, CLERK, None, None, 100, 0)) == 2


# --------------------------------------------------------------------------- rating by one-time link


async def test_a_link_rates_once_and_publishes_rated_caused_by_the_resolution(uow):
    submitted, resolved = await _resolved(uow, kind=AssigneeKind.organization)
    token, expires_at = await usecases.issue_link(uow, CLERK, submitted.demand_id, days=30)
    assert expires_at - utcnow() > timedelta(days=29)
    [link] = _links_of(uow, submitted.demand_id)
    assert token not in link.token_sha256  # only the digest is kept
    opened = await usecases.survey_by_link(uow, token)
    assert opened.status == "open" and opened.technician_items_apply
    answers = Answers(overall=Overall.very_satisfied, technician_professionalism=5)
    survey = await usecases.rate_by_link(uow, token, answers)
    assert survey.status == "rated"
    [event] = uow.events(Rated)
    assert event.causation_id == resolved.event_id and event.correlation_id == submitted.correlation_id
    assert event.source is RatingSource.online and event.recorded_by is None
    with pytest.raises(NotFound):  # used
        await usecases.rate_by_link(uow, token, SATISFIED)
    with pytest.raises(NotFound):
        await usecases.survey_by_link(uow, token)
    assert len(uow.events(Rated)) == 1


async def test_an_expired_link_is_refused(uow):
    submitted, _ = await _resolved(uow)
    token, _ = await usecases.issue_link(uow, CLERK, submitted.demand_id, days=1)
    [link] = _links_of(uow, submitted.demand_id)
    uow.store.links[link.token_sha256] = replace(link, expires_at=utcnow() - timedelta(seconds=1))
    with pytest.raises(NotFound):
        await usecases.survey_by_link(uow, token)
    with pytest.raises(NotFound):
        await usecases.rate_by_link(uow, token, SATISFIED)
    assert uow.published == [] and uow.store.surveys[submitted.demand_id].status == "open"


async def test_a_link_for_an_earlier_round_is_refused(uow):
    submitted, _ = await _resolved(uow)
    token, _ = await usecases.issue_link(uow, CLERK, submitted.demand_id, days=30)
    await uow.handle(f.resolved(submitted, round=2), usecases.open_survey)  # reopened and resolved again
    with pytest.raises(NotFound):
        await usecases.rate_by_link(uow, token, SATISFIED)
    assert uow.published == []


async def test_an_unknown_token_looks_like_any_bad_link(uow):
    await _resolved(uow)
    with pytest.raises(NotFound):
        await usecases.rate_by_link(uow, "x" * 43, SATISFIED)
    assert uow.published == []
