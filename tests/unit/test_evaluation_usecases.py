"""Evaluation's use cases on a fake unit of work: no PostgreSQL, the same rules."""

import hashlib
import itertools
import json
from dataclasses import replace
from datetime import timedelta
from uuid import uuid4

import pytest

from services.evaluation import kpis, usecases
from services.evaluation.domain import Rating, RatingLink, Survey
from shared.auth import Principal, Role, in_scope
from shared.contracts import (
    Answers,
    Assigned,
    AssigneeKind,
    Outcome,
    Overall,
    Rated,
    RatingSource,
    Resolved,
    utcnow,
)
from shared.errors import Invalid, InvalidTransition, NotFound
from shared.idempotency import IdempotencyConflict
from tests.support import events as ev
from tests.support.fake_uow import FakeUnitOfWork
from tests.unit import factories as f

CLERK = Principal(subject="clerk-1", name="张晓燕", role=Role.clerk, station=f.STATION)
OTHER_HEAD = Principal(subject="head-2", name="梁站长", role=Role.head, station="440100/440113/panyu-01")
SATISFIED = Answers(station_service=5, problem_solved=True, overall=Overall.satisfied)


class FakeStore:
    def __init__(self) -> None:
        self.surveys: dict = {}
        self.links: dict[str, RatingLink] = {}
        self.link_ids: dict = {}  # link id -> its token's digest now, as the table's id column
        self.kept: list[tuple] = []  # (demand_id, Rating)
        self.forms: dict = {}
        self.assignments: dict = {}  # (demand_id, assignment_no) -> Assigned, the first seen
        self.resolutions: dict = {}  # (demand_id, round) -> assignment_no

    async def form(self, demand_id, *, for_update=False):
        return self.forms.get(demand_id)

    async def save_form(self, form) -> None:
        self.forms[form.demand_id] = form

    async def add_assignment(self, e) -> None:
        self.assignments.setdefault((e.demand_id, e.assignment_no), e)

    async def set_resolution(self, survey: Survey) -> None:
        self.resolutions[(survey.demand_id, survey.round)] = survey.resolved_assignment_no

    async def get(self, demand_id, *, for_update=False) -> Survey | None:
        return self.surveys.get(demand_id)

    async def save(self, survey: Survey) -> None:
        self.surveys[survey.demand_id] = survey

    # The store's one-statement writes, as their parts (services/evaluation/store.py).
    async def save_assigned(self, survey: Survey, e, *, status_page_link=None) -> bool:
        await self.add_assignment(e)
        await self.save(survey)
        return status_page_link is not None and await self.add_status_page_link(status_page_link)

    async def save_resolved(self, survey: Survey, *, resolution, retire_at, status_page_link) -> bool:
        await self.save(survey)
        if resolution:
            await self.set_resolution(survey)
        await self.retire_links(survey.demand_id, retire_at, before_round=survey.round)
        return status_page_link is not None and await self.add_status_page_link(status_page_link)

    async def save_rated(self, survey: Survey, e: Rated) -> None:
        await self.save(survey)
        await self.add_rating(e)
        await self.retire_links(survey.demand_id, e.rated_at)

    async def get_in_scope(self, demand_id, scope, *, for_update=False) -> Survey | None:
        survey = self.surveys.get(demand_id)
        return survey if survey and scope and in_scope(survey.station_id, scope) else None

    async def list_in_scope(self, scope, status, limit, offset) -> list[Survey]:
        found = [s for s in self.surveys.values() if scope and in_scope(s.station_id, scope)]
        return [s for s in found if status is None or s.status == status][offset : offset + limit]

    async def add_link(self, link: RatingLink):
        self.links[link.token_sha256] = link  # the earlier ones stay valid
        link_id = uuid4()
        self.link_ids[link_id] = link.token_sha256
        return link_id

    async def link_by_id(self, link_id) -> RatingLink | None:
        return self.links.get(self.link_ids.get(link_id, ""))

    async def rotate_link(self, link_id, token_sha256) -> None:
        old = self.links.pop(self.link_ids[link_id])
        self.links[token_sha256] = replace(old, token_sha256=token_sha256)
        self.link_ids[link_id] = token_sha256

    async def retire_links(self, demand_id, when, *, before_round=None) -> None:
        for token, old in self.links.items():
            earlier = before_round is None or old.round < before_round
            if old.demand_id == demand_id and old.used_at is None and old.expires_at > when and earlier:
                self.links[token] = replace(old, expires_at=when)

    async def valid_links(self, demand_id, round, when) -> int:
        return sum(
            1
            for link in self.links.values()
            if link.demand_id == demand_id and link.round == round and link.used_at is None and link.expires_at > when
        )

    async def get_link(self, token_sha256) -> RatingLink | None:
        return self.links.get(token_sha256)

    async def use_link(self, token_sha256, when) -> None:
        self.links[token_sha256] = replace(self.links[token_sha256], used_at=when)

    async def add_rating(self, e: Rated) -> None:
        if any(d == e.demand_id and r.round == e.round for d, r in self.kept):
            raise AssertionError("the database keeps one rating per demand and round")
        answers = e.answers.model_dump(mode="json")
        rating = Rating(e.round, answers, e.source.value, e.recorded_by, e.rated_at, event_id=e.event_id)
        self.kept.append((e.demand_id, rating))

    async def ratings(self, demand_id) -> list[Rating]:
        return [r for d, r in self.kept if d == demand_id]

    async def rating(self, demand_id, round, *, for_update=False) -> Rating | None:
        return next((r for d, r in self.kept if d == demand_id and r.round == round), None)

    async def void_rating(self, demand_id, rating: Rating) -> None:
        """As the table's trigger: only the void columns change, and a void rating no more."""
        [(i, kept)] = [(i, r) for i, (d, r) in enumerate(self.kept) if d == demand_id and r.round == rating.round]
        assert not kept.voided, "the database refuses changing a voided rating"
        unvoided = replace(rating, voided_at=None, voided_by=None, void_reason=None)
        assert unvoided == kept, "the database refuses rewriting a rating"
        self.kept[i] = (demand_id, rating)


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


async def test_rated_says_whether_the_rating_counts_as_satisfied_under_the_settings_definition(uow):
    """Evaluation owns what 满意 is (EVALUATION_SATISFIED_LEVELS); Rated carries it for dispatch and the archive."""
    only_very = kpis.Definition(satisfied_levels=(Overall.very_satisfied,))
    with_average = kpis.Definition(satisfied_levels=(Overall.very_satisfied, Overall.satisfied, Overall.average))
    for definition, overall in (
        (only_very, Overall.satisfied),
        (only_very, Overall.very_satisfied),
        (with_average, Overall.average),
        (kpis.Definition(), Overall.satisfied),
        (kpis.Definition(), Overall.average),
    ):
        submitted, _ = await _resolved(uow)
        answers = Answers(overall=overall)
        await usecases.record_paper_rating(uow, CLERK, submitted.demand_id, answers, definition=definition)
    assert [(e.answers.overall, e.counts_as_satisfied) for e in uow.events(Rated)] == [
        (Overall.satisfied, False),
        (Overall.very_satisfied, True),
        (Overall.average, True),
        (Overall.satisfied, True),
        (Overall.average, False),
    ]
    # By link too: the same definition decides.
    submitted, _ = await _resolved(uow)
    token = (await usecases.issue_link(uow, CLERK, submitted.demand_id, days=30)).token
    await usecases.rate_by_link(uow, token, SATISFIED, definition=only_very)
    assert uow.events(Rated)[-1].counts_as_satisfied is False


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


async def test_a_transcription_retried_with_its_key_answers_again_and_records_once(uow):
    submitted, _ = await _resolved(uow)
    first = await usecases.record_paper_rating(uow, CLERK, submitted.demand_id, SATISFIED, idempotency_key="paper-1")
    again = await usecases.record_paper_rating(uow, CLERK, submitted.demand_id, SATISFIED, idempotency_key="paper-1")
    assert again == first and first.status == "rated"
    assert len(uow.events(Rated)) == 1 and len(uow.store.kept) == 1
    other = Answers(overall=Overall.dissatisfied)
    with pytest.raises(IdempotencyConflict):  # the key was used for another request
        await usecases.record_paper_rating(uow, CLERK, submitted.demand_id, other, idempotency_key="paper-1")
    with pytest.raises(InvalidTransition):  # a new key is a new rating: the round is rated
        await usecases.record_paper_rating(uow, CLERK, submitted.demand_id, SATISFIED, idempotency_key="paper-2")
    with pytest.raises(NotFound):  # another caller's key is not this one
        await usecases.record_paper_rating(uow, OTHER_HEAD, submitted.demand_id, SATISFIED, idempotency_key="paper-1")
    assert len(uow.events(Rated)) == 1 and len(uow.store.kept) == 1


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _remembered(uow) -> str:
    """Every result the unit of work remembers (idempotent_requests), as stored: JSON."""
    return json.dumps([result for _, result in uow.remembered.values()], default=str)


async def test_a_link_retried_with_its_key_is_the_same_link_with_a_new_token(uow):
    submitted, _ = await _resolved(uow)
    first = await usecases.issue_link(uow, CLERK, submitted.demand_id, days=30, idempotency_key="link-1")
    again = await usecases.issue_link(uow, CLERK, submitted.demand_id, days=30, idempotency_key="link-1")
    assert again.token != first.token  # the first reply was lost: its token is replaced
    assert (again.expires_at, again.also_valid) == (first.expires_at, first.also_valid)
    [link] = _links_of(uow, submitted.demand_id)  # still one link, now answering to the new token only
    assert link.token_sha256 == _digest(again.token) and link.expires_at == first.expires_at
    with pytest.raises(NotFound):
        await usecases.survey_by_link(uow, first.token)
    assert (await usecases.survey_by_link(uow, again.token)).status == "open"
    kept = _remembered(uow)
    assert first.token not in kept and again.token not in kept  # idempotent_requests keeps no token

    second = await usecases.issue_link(uow, CLERK, submitted.demand_id, days=30, idempotency_key="link-2")
    assert second.token != again.token and second.also_valid == 1
    assert len(_links_of(uow, submitted.demand_id)) == 2
    third = await usecases.issue_link(uow, CLERK, submitted.demand_id, days=30, idempotency_key="link-1")
    assert third.also_valid == 0 and len(_links_of(uow, submitted.demand_id)) == 2  # link-1's link, rotated again
    with pytest.raises(NotFound):
        await usecases.survey_by_link(uow, again.token)
    for token in (third.token, second.token):
        assert (await usecases.survey_by_link(uow, token)).status == "open"
    with pytest.raises(NotFound):
        await usecases.issue_link(uow, OTHER_HEAD, submitted.demand_id, days=30, idempotency_key="link-1")
    assert second.token not in _remembered(uow) and third.token not in _remembered(uow)
    assert uow.published == []


@pytest.mark.parametrize("then", ["used", "rated on paper", "reopened", "expired"])
async def test_a_retried_link_no_longer_usable_is_not_shown_again(uow, then):
    submitted, _ = await _resolved(uow)
    first = await usecases.issue_link(uow, CLERK, submitted.demand_id, days=30, idempotency_key="link-1")
    if then == "used":
        await usecases.rate_by_link(uow, first.token, SATISFIED)
    elif then == "rated on paper":
        await usecases.record_paper_rating(uow, CLERK, submitted.demand_id, SATISFIED)
    elif then == "reopened":
        await uow.handle(f.resolved(submitted, round=2), usecases.open_survey)
    else:
        [link] = _links_of(uow, submitted.demand_id)
        uow.store.links[link.token_sha256] = replace(link, expires_at=utcnow() - timedelta(seconds=1))
    before = list(uow.store.links.values())
    with pytest.raises(InvalidTransition) as refused:
        await usecases.issue_link(uow, CLERK, submitted.demand_id, days=30, idempotency_key="link-1")
    assert refused.value.status == 409 and "不能再次显示" in refused.value.zh
    assert list(uow.store.links.values()) == before  # nothing rotated, nothing issued
    assert first.token not in _remembered(uow)


async def test_a_result_remembered_with_a_token_before_links_had_ids_is_not_answered(uow):
    submitted, _ = await _resolved(uow)
    await usecases.issue_link(uow, CLERK, submitted.demand_id, days=30, idempotency_key="link-1")
    [(caller_key, (digest, _))] = uow.remembered.items()
    uow.remembered[caller_key] = (digest, {"token": "t" * 43, "expires_at": utcnow().isoformat(), "also_valid": 0})
    with pytest.raises(InvalidTransition):
        await usecases.issue_link(uow, CLERK, submitted.demand_id, days=30, idempotency_key="link-1")
    assert len(_links_of(uow, submitted.demand_id)) == 1


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
    issued = await usecases.issue_link(uow, CLERK, submitted.demand_id, days=30)
    token = issued.token
    assert issued.expires_at - utcnow() > timedelta(days=29) and issued.also_valid == 0
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
    token = (await usecases.issue_link(uow, CLERK, submitted.demand_id, days=1)).token
    [link] = _links_of(uow, submitted.demand_id)
    uow.store.links[link.token_sha256] = replace(link, expires_at=utcnow() - timedelta(seconds=1))
    with pytest.raises(NotFound):
        await usecases.survey_by_link(uow, token)
    with pytest.raises(NotFound):
        await usecases.rate_by_link(uow, token, SATISFIED)
    assert uow.published == [] and uow.store.surveys[submitted.demand_id].status == "open"


async def test_a_link_for_an_earlier_round_is_refused(uow):
    submitted, _ = await _resolved(uow)
    token = (await usecases.issue_link(uow, CLERK, submitted.demand_id, days=30)).token
    await uow.handle(f.resolved(submitted, round=2), usecases.open_survey)  # reopened and resolved again
    with pytest.raises(NotFound):
        await usecases.rate_by_link(uow, token, SATISFIED)
    assert uow.published == []


async def test_an_unknown_token_looks_like_any_bad_link(uow):
    await _resolved(uow)
    with pytest.raises(NotFound):
        await usecases.rate_by_link(uow, "x" * 43, SATISFIED)
    assert uow.published == []


# --------------------------------------------------------------------------- closings (issue 8)

CLOSINGS = {"refused": ev.refused, "merged": ev.merged, "withdrawn": ev.withdrawn}
LABELS = {"refused": "否定备案", "merged": "已并单", "withdrawn": "已撤回"}


def _closing(kind: str, cause, **kw):
    return CLOSINGS[kind](cause, assignment_count=1, **kw)


def _usecase(event):
    if isinstance(event, Assigned):
        return usecases.record_assigned
    if isinstance(event, Resolved):
        return usecases.open_survey
    return usecases.close_survey


async def _apply(uow, *events) -> Survey:
    for event in events:
        assert await uow.handle(event, _usecase(event))
    return uow.store.surveys[events[0].demand_id]


async def _refused_everywhere(uow, demand_id, kind: str) -> None:
    """Nobody rates a closed survey or gets a link to it; the 409 says why, in both languages."""
    with pytest.raises(InvalidTransition) as info:
        await usecases.record_paper_rating(uow, CLERK, demand_id, SATISFIED)
    assert info.value.status == 409 and LABELS[kind] in info.value.zh and kind in info.value.en
    assert "已已" not in info.value.zh  # the label is the closing's own, not prefixed once more
    with pytest.raises(InvalidTransition) as info:
        await usecases.issue_link(uow, CLERK, demand_id, days=30)
    assert LABELS[kind] in info.value.zh and kind in info.value.en
    assert uow.published == [] and uow.store.kept == []


@pytest.mark.parametrize("closing_first", [False, True], ids=["assigned-first", "closing-first"])
@pytest.mark.parametrize("kind", list(CLOSINGS))
async def test_a_closing_closes_the_survey_in_any_order_with_the_assignment(uow, kind, closing_first):
    submitted = f.submitted()
    closing = _closing(kind, submitted)
    steps = [f.assigned(submitted), closing]
    survey = await _apply(uow, *(reversed(steps) if closing_first else steps))
    assert (survey.status, survey.closed_as) == ("closed", kind)
    assert survey.closed_at == closing.closed_at and survey.closing_id == closing.event_id
    assert survey.assignments == {"1": "organization"}  # the late assignment is kept, and changes nothing else
    await _refused_everywhere(uow, submitted.demand_id, kind)
    [listed] = await usecases.list_surveys(uow, CLERK, None, "closed", 100, 0)
    assert listed.demand_id == submitted.demand_id
    assert await usecases.list_surveys(uow, CLERK, None, "waiting", 100, 0) == []


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))), ids=lambda o: "-".join("ACR"[i] for i in o))
@pytest.mark.parametrize("kind", list(CLOSINGS))
async def test_a_resolution_does_not_reopen_a_closed_survey_whatever_the_order(uow, kind, order):
    """Assigned, Closing, Resolved in every order: the closing wins (they do not both happen in practice)."""
    submitted = f.submitted()
    events = [f.assigned(submitted), _closing(kind, submitted), f.resolved(submitted)]
    survey = await _apply(uow, *(events[i] for i in order))
    assert (survey.status, survey.closed_as) == ("closed", kind)
    await _refused_everywhere(uow, submitted.demand_id, kind)


async def test_closing_an_open_survey_retires_its_link(uow):
    submitted, _ = await _resolved(uow)
    token = (await usecases.issue_link(uow, CLERK, submitted.demand_id, days=30)).token
    await _apply(uow, ev.withdrawn(submitted, assignment_count=1))
    [link] = _links_of(uow, submitted.demand_id)
    assert link.expires_at <= utcnow() and link.used_at is None
    # Even a link the store had not retired (say, issued in a race) reaches nothing once the survey is closed.
    uow.store.links[link.token_sha256] = replace(link, expires_at=utcnow() + timedelta(days=1))
    for use in (usecases.survey_by_link(uow, token), usecases.rate_by_link(uow, token, SATISFIED)):
        with pytest.raises(NotFound) as info:
            await use
        assert info.value.zh and info.value.en
    survey, ratings = await usecases.get_survey(uow, CLERK, submitted.demand_id)
    assert survey.status == "closed" and ratings == []
    await _refused_everywhere(uow, submitted.demand_id, "withdrawn")


@pytest.mark.parametrize("later_first", [False, True])
async def test_of_two_closings_the_earlier_one_counts(uow, later_first):
    submitted = f.submitted()
    merge, withdrawal = ev.merged(submitted, at=f.at(8)), ev.withdrawn(submitted, at=f.at(9))
    survey = await _apply(uow, *((withdrawal, merge) if later_first else (merge, withdrawal)))
    assert (survey.closed_as, survey.closing_id) == ("merged", merge.event_id)


async def test_a_redelivered_closing_is_handled_once(uow):
    submitted = f.submitted()
    withdrawal = ev.withdrawn(submitted)
    await _apply(uow, withdrawal)
    assert not await uow.handle(withdrawal, usecases.close_survey)
    assert uow.store.surveys[submitted.demand_id].status == "closed"


# --------------------------------------------------------------------------- who served: the assignment resolved


def _answering(assigned: Assigned, *, round: int = 1) -> Resolved:
    """A resolution as tracking builds it: caused by the assignment it answers, naming its number."""
    return assigned.caused(
        Resolved,
        occurred_at=f.at(12),
        round=round,
        assignment_no=assigned.assignment_no,
        outcome=Outcome.met,
        summary="已完成检定并出具证书",
        resolved_by="张晓燕",
        resolved_at=f.at(12),
    )


TECHNICIAN = Answers(overall=Overall.satisfied, technician_professionalism=5)
ORG, STAFF, DEPT = AssigneeKind.organization, AssigneeKind.staff, AssigneeKind.department


@pytest.mark.parametrize(
    "order", list(itertools.permutations(range(3))), ids=lambda o: "-".join(("A1", "A2", "R2")[i] for i in o)
)
@pytest.mark.parametrize(
    ("first", "second", "org_served"),
    [(ORG, STAFF, False), (STAFF, ORG, True), (ORG, DEPT, False)],
    ids=["org-returned-then-staff", "staff-then-org", "org-then-referral"],
)
async def test_items_6_to_9_follow_the_assignment_the_resolution_answers(uow, first, second, org_served, order):
    """Assignment 1 returned and rematched as assignment 2, which the resolution answers: 2's assignee counts."""
    submitted = f.submitted()
    a2 = f.assigned(submitted, no=2, kind=second)
    events = [f.assigned(submitted, no=1, kind=first), a2, _answering(a2)]
    survey = await _apply(uow, *(events[i] for i in order))
    assert survey.status == "open" and survey.assignment_no == 2 and survey.served_by_org is org_served
    if org_served:
        assert (await usecases.record_paper_rating(uow, CLERK, submitted.demand_id, TECHNICIAN)).status == "rated"
    else:
        with pytest.raises(Invalid) as info:
            await usecases.record_paper_rating(uow, CLERK, submitted.demand_id, TECHNICIAN)
        assert info.value.field == "answers.technician_professionalism"


@pytest.mark.parametrize("resolved_first", [False, True], ids=["assigned-first", "resolved-first"])
@pytest.mark.parametrize(("first", "second", "org_served"), [(ORG, STAFF, False), (STAFF, ORG, True)])
async def test_a_resolution_without_its_number_follows_the_latest_assignment(
    uow, first, second, org_served, resolved_first
):
    submitted = f.submitted()
    assignments = [f.assigned(submitted, no=1, kind=first), f.assigned(submitted, no=2, kind=second)]
    old_style = f.resolved(submitted)  # published before Resolved named its assignment
    assert old_style.assignment_no is None
    survey = await _apply(uow, *([old_style, *assignments] if resolved_first else [*assignments, old_style]))
    assert survey.assignment_no == 2 and survey.served_by_org is org_served


async def test_a_resolution_naming_an_unseen_assignment_waits_for_it(uow):
    """Not the one before it: assignment 1's organization does not count for a resolution of assignment 2."""
    submitted = f.submitted()
    a2 = f.assigned(submitted, no=2, kind=ORG)
    survey = await _apply(uow, f.assigned(submitted, no=1, kind=ORG), _answering(a2))
    assert survey.assignment_no == 2 and not survey.served_by_org
    assert survey.status == "waiting" and survey.awaiting_assignment  # not open until who served is known
    survey = await _apply(uow, a2)
    assert survey.status == "open" and survey.served_by_org


async def test_a_new_round_follows_its_own_assignment(uow):
    """Rated on the organization; reopened, rematched to staff and resolved again: round 2 is rated on staff."""
    submitted = f.submitted()
    a1 = f.assigned(submitted, no=1, kind=ORG)
    await _apply(uow, a1, _answering(a1))
    await usecases.record_paper_rating(uow, CLERK, submitted.demand_id, TECHNICIAN)
    a2 = f.assigned(submitted, no=2, round=2, kind=STAFF)
    survey = await _apply(uow, a2, _answering(a2, round=2))
    assert (survey.round, survey.status, survey.served_by_org) == (2, "open", False)


async def test_a_survey_kept_before_assignments_were_recorded_keeps_its_organization(uow):
    submitted = f.submitted()
    kept = Survey(
        submitted.demand_id, submitted.station_id, submitted.tracking_no, submitted.correlation_id, served_by_org=True
    )
    await uow.store.save(kept)
    survey = await _apply(uow, f.resolved(submitted))
    assert survey.status == "open" and survey.served_by_org and survey.assignment_no is None
