"""The one-time rating link evaluation makes for the enterprise's status page when a round's survey opens, on a fake
unit of work: made as the station's links are (same expiry, kept hashed), announced to intake by RatingLinkIssued
in the same unit of work, once per round whatever arrives, and none of the station's links retired by it."""

import hashlib
from dataclasses import replace
from datetime import timedelta
from functools import partial
from uuid import uuid4

import pytest

from services.evaluation import domain, usecases
from services.evaluation.domain import RatingLink
from services.evaluation.settings import Settings
from shared.contracts import AssigneeKind, Overall, Rated, RatingLinkIssued, utcnow
from shared.errors import NotFound
from tests.support import rehandling_events as rh
from tests.support.fake_uow import FakeUnitOfWork
from tests.unit import factories as f
from tests.unit.test_evaluation_usecases import CLERK, SATISFIED
from tests.unit.test_evaluation_usecases import FakeStore as SurveyStore

PUBLIC_URL = "http://console.example:8000"
LINKS = usecases.StatusPageLinks(public_url=PUBLIC_URL, days=30)
# As handlers.py wires it.
open_survey = partial(usecases.open_survey, status_page=LINKS)


class FakeStore(SurveyStore):
    """The survey store with the status page's link kept as the table keeps it: one per demand and round, and not
    among the links the clerk is told were sent."""

    async def add_status_page_link(self, link: RatingLink) -> bool:
        if any(
            old.status_page and (old.demand_id, old.round) == (link.demand_id, link.round)
            for old in self.links.values()
        ):
            return False
        self.links[link.token_sha256] = link
        return True

    async def valid_links(self, demand_id, round, when) -> int:
        return sum(
            1
            for link in self.links.values()
            if link.demand_id == demand_id
            and link.round == round
            and link.used_at is None
            and link.expires_at > when
            and not link.status_page
        )


@pytest.fixture
def uow():
    return FakeUnitOfWork(FakeStore(), consumer="evaluation")


def _token(event: RatingLinkIssued) -> str:
    prefix = f"{PUBLIC_URL}/public/ratings/"
    assert event.url.startswith(prefix), event.url
    return event.url.removeprefix(prefix)


def _status_page_links(uow, demand_id) -> list[RatingLink]:
    return [k for k in uow.store.links.values() if k.demand_id == demand_id and k.status_page]


async def _resolved(uow, *, kind=AssigneeKind.organization):
    submitted = f.submitted()
    resolved = f.resolved(submitted)
    await uow.handle(f.assigned(submitted, kind=kind), usecases.record_assigned)
    assert await uow.handle(resolved, open_survey)
    return submitted, resolved


def test_the_settings_make_the_link_as_the_link_endpoint_does():
    settings = Settings(public_url="https://pj.example.gov.cn", rating_link_days=14)
    links = usecases.StatusPageLinks.of(settings)
    assert (links.days, links.url("abc")) == (14, "https://pj.example.gov.cn/public/ratings/abc")


async def test_a_resolution_opens_the_round_with_a_link_for_the_status_page(uow, frozen_clock):
    submitted, resolved = await _resolved(uow)
    [event] = uow.events(RatingLinkIssued)
    token = _token(event)
    assert len(token) >= 40  # as the station's: secrets.token_urlsafe(32)
    # Caused by the resolution, in the demand's correlation; this round; the link endpoint's expiry.
    assert (event.causation_id, event.correlation_id) == (resolved.event_id, submitted.correlation_id)
    assert (event.demand_id, event.station_id, event.tracking_no, event.round) == (
        submitted.demand_id,
        submitted.station_id,
        submitted.tracking_no,
        1,
    )
    assert event.expires_at == frozen_clock + timedelta(days=30) and event.occurred_at == frozen_clock
    # Kept as its digest only, marked as the status page's.
    [link] = _status_page_links(uow, submitted.demand_id)
    assert link.token_sha256 == hashlib.sha256(token.encode()).hexdigest() and token not in repr(link)
    assert (link.round, link.expires_at, link.created_by, link.used_at) == (
        1,
        event.expires_at,
        domain.STATUS_PAGE,
        None,
    )
    assert RatingLinkIssued.from_json(event.model_dump_json()) == event  # as intake reads it
    # It opens the survey like any link.
    opened = await usecases.survey_by_link(uow, token)
    assert (opened.status, opened.technician_items_apply) == ("open", True)


async def test_a_redelivered_or_repeated_resolution_makes_no_second_link(uow):
    submitted, resolved = await _resolved(uow)
    assert not await uow.handle(resolved, open_survey)  # the inbox
    # Another Resolved of the round already open (say, a resolution recorded again): the round is open already.
    again = f.resolved(submitted).model_copy(update={"resolved_at": f.at(12)})
    assert await uow.handle(again, open_survey)
    assert uow.store.surveys[submitted.demand_id].resolved_event_id == again.event_id
    assert len(uow.events(RatingLinkIssued)) == 1 and len(_status_page_links(uow, submitted.demand_id)) == 1


async def test_the_store_keeps_one_link_per_round_whatever_asks(uow):
    """Even were the inbox to forget (pruned) and the survey reopen the same round, no second link goes out."""
    submitted, _ = await _resolved(uow)
    waiting = replace(uow.store.surveys[submitted.demand_id], status="waiting")
    uow.store.surveys[submitted.demand_id] = waiting
    assert await uow.handle(f.resolved(submitted), open_survey)
    assert len(uow.events(RatingLinkIssued)) == 1 and len(_status_page_links(uow, submitted.demand_id)) == 1


async def test_the_station_still_sends_its_links_and_none_retires_another(uow):
    submitted, _ = await _resolved(uow)
    [event] = uow.events(RatingLinkIssued)
    sent = await usecases.issue_link(uow, CLERK, submitted.demand_id, days=30)
    assert sent.also_valid == 0  # the clerk is told of the links sent: the status page's is not one
    again = await usecases.issue_link(uow, CLERK, submitted.demand_id, days=30)
    assert again.also_valid == 1
    for token in (_token(event), sent.token, again.token):  # all three rate, until one of them does
        assert (await usecases.survey_by_link(uow, token)).status == "open"


async def test_rating_through_the_status_page_link_retires_the_sent_ones(uow):
    submitted, resolved = await _resolved(uow)
    sent = await usecases.issue_link(uow, CLERK, submitted.demand_id, days=30)
    token = _token(uow.events(RatingLinkIssued)[0])
    survey = await usecases.rate_by_link(uow, token, SATISFIED)
    assert survey.status == "rated"
    [rated] = uow.events(Rated)
    assert rated.causation_id == resolved.event_id and rated.source.value == "online"
    for used in (token, sent.token):
        with pytest.raises(NotFound):
            await usecases.survey_by_link(uow, used)


async def test_rating_on_paper_retires_the_status_page_link(uow):
    submitted, _ = await _resolved(uow)
    token = _token(uow.events(RatingLinkIssued)[0])
    await usecases.record_paper_rating(uow, CLERK, submitted.demand_id, SATISFIED)
    with pytest.raises(NotFound):
        await usecases.rate_by_link(uow, token, SATISFIED)
    assert len(uow.events(Rated)) == 1


async def test_round_two_gets_its_own_link_and_round_one_s_stops(uow):
    submitted, resolved = await _resolved(uow)
    first = _token(uow.events(RatingLinkIssued)[0])
    dissatisfied = SATISFIED.model_copy(update={"overall": Overall.dissatisfied})
    await usecases.record_paper_rating(uow, CLERK, submitted.demand_id, dissatisfied)
    [rated] = uow.events(Rated)
    await uow.handle(rh.reopened(rh.verified(rated), at=f.at(18)), usecases.reopen_survey)
    assert len(uow.events(RatingLinkIssued)) == 1  # a reopening opens nothing: round 2 waits for its resolution
    second = f.resolved(submitted, round=2)
    await uow.handle(second, open_survey)
    issued = uow.events(RatingLinkIssued)
    assert [(e.round, e.causation_id) for e in issued] == [(1, resolved.event_id), (2, second.event_id)]
    with pytest.raises(NotFound):
        await usecases.survey_by_link(uow, first)
    assert (await usecases.survey_by_link(uow, _token(issued[1]))).round == 2


@pytest.mark.parametrize("case", ["closed first", "rated round", "older round"])
async def test_no_link_when_the_resolution_opens_nothing(uow, case):
    submitted = f.submitted()
    if case == "closed first":
        await uow.handle(f.dispositions(submitted)[-1], usecases.close_survey)  # withdrawn before it was resolved
        late = f.resolved(submitted)
    elif case == "rated round":
        await uow.handle(f.resolved(submitted), open_survey)
        await usecases.record_paper_rating(uow, CLERK, submitted.demand_id, SATISFIED)
        late = f.resolved(submitted).model_copy(update={"event_id": uuid4()})  # another Resolved of the rated round
    else:
        await uow.handle(f.resolved(submitted, round=2), open_survey)  # round 2's came first
        late = f.resolved(submitted)
    uow.published.clear()
    assert await uow.handle(late, open_survey)
    assert uow.events(RatingLinkIssued) == []


async def test_without_the_status_page_settings_the_survey_opens_as_before(uow):
    submitted = f.submitted()
    await uow.handle(f.resolved(submitted), usecases.open_survey)
    assert uow.store.surveys[submitted.demand_id].status == "open"
    assert uow.published == [] and uow.store.links == {}


def test_the_link_is_made_only_when_a_round_opens():
    s = f.submitted()
    opened = domain.on_resolved(None, f.resolved(s))
    now = utcnow()

    def made(before, survey=opened):
        return domain.status_page_link(before, survey, token_sha256="0" * 64, url="u", now=now, days=7)

    link, event = made(None)
    assert (link.status_page, link.expires_at, link.round) == (True, now + timedelta(days=7), 1)
    assert (event.expires_at, event.url, event.round) == (link.expires_at, "u", 1)
    assert made(replace(opened, status="waiting", opened_at=None)) is not None  # waiting for this round: opens now
    assert made(opened) is None  # already open in this round
    assert made(None, replace(opened, status="closed", closed_as="withdrawn")) is None
    assert made(None, replace(opened, status="rated")) is None
