"""A round's survey opens only once evaluation knows who served it: a Resolved naming an assignment evaluation has not
seen leaves the round resolved but waiting (nothing rates it, no link, no RatingLinkIssued), and that Assigned opens
it with the form it keeps (items 6–9 when an organization served). The pure rules, then the use cases on a fake unit
of work with the status page's link wired as handlers.py wires it."""

from dataclasses import replace
from functools import partial

import pytest

from services.evaluation import domain, usecases
from services.evaluation.api import SurveyOut
from services.evaluation.domain import Survey
from shared.contracts import Answers, AssigneeKind, Overall, Rated, RatingLinkIssued, RatingSource
from shared.errors import InvalidTransition
from tests.support import rehandling_events as rh
from tests.support.fake_uow import FakeUnitOfWork
from tests.unit import factories as f
from tests.unit.test_evaluation_status_link import LINKS, FakeStore, _token
from tests.unit.test_evaluation_usecases import CLERK, SATISFIED, _answering

NOW = f.at(15)
ORG, STAFF = AssigneeKind.organization, AssigneeKind.staff
# Items 6–9 filled in: refused unless an organization served the round.
TECHNICIAN = Answers(overall=Overall.satisfied, technician_professionalism=5, facilities=4)
DISSATISFIED = Answers(overall=Overall.dissatisfied)
NOT_OPEN_YET = "评价表尚未开放"


def _refused_not_open_yet(survey: Survey) -> None:
    for attempt in (
        lambda: domain.rate(survey, TECHNICIAN, source=RatingSource.online, recorded_by=None, now=NOW),
        lambda: domain.rate(survey, SATISFIED, source=RatingSource.paper, recorded_by="张晓燕", now=NOW),
        lambda: domain.issue_link(survey, token_sha256="0" * 64, created_by="张晓燕", now=NOW, days=30),
    ):
        with pytest.raises(InvalidTransition) as info:
            attempt()
        assert info.value.status == 409 and NOT_OPEN_YET in info.value.zh and "opens only once" in info.value.en


# --------------------------------------------------------------------------- the pure rules


def test_a_resolution_before_its_assignment_leaves_the_round_resolved_but_not_open():
    s = f.submitted()
    a1 = f.assigned(s, no=1, kind=ORG)
    r1 = _answering(a1)
    survey = domain.on_resolved(None, r1)
    assert (survey.status, survey.opened_at, survey.awaiting_assignment) == ("waiting", None, True)
    assert (survey.resolved_event_id, survey.resolved_assignment_no, survey.round) == (r1.event_id, 1, 1)
    _refused_not_open_yet(survey)
    assert SurveyOut.model_validate(survey).awaiting_assignment

    opened = domain.on_assigned(survey, a1, now=NOW)
    assert (opened.status, opened.opened_at, opened.awaiting_assignment) == ("open", NOW, False)
    assert opened.served_by_org and opened.technician_items_apply and opened.assignment_no == 1
    rated, event = domain.rate(opened, TECHNICIAN, source=RatingSource.online, recorded_by=None, now=NOW)
    assert rated.status == "rated" and event.causation_id == r1.event_id and event.answers == TECHNICIAN


def test_the_assignment_first_opens_the_round_on_its_resolution_as_before():
    s = f.submitted()
    a1 = f.assigned(s, no=1, kind=ORG)
    r1 = _answering(a1)
    survey = domain.on_resolved(domain.on_assigned(None, a1, now=NOW), r1)
    assert (survey.status, survey.opened_at, survey.served_by_org, survey.awaiting_assignment) == (
        "open",
        r1.occurred_at,
        True,
        False,
    )
    assert domain.on_assigned(survey, a1, now=f.at(16)) == survey  # a repeated assignment moves nothing


def test_a_resolution_that_names_no_assignment_opens_at_once_as_before():
    s = f.submitted()
    old_style = f.resolved(s)
    assert old_style.assignment_no is None
    survey = domain.on_resolved(None, old_style)
    assert (survey.status, survey.opened_at, survey.served_by_org) == ("open", old_style.occurred_at, False)
    later = domain.on_assigned(survey, f.assigned(s, kind=ORG), now=NOW)
    assert (later.status, later.opened_at, later.served_by_org) == ("open", old_style.occurred_at, True)


def test_only_the_assignment_the_resolution_names_opens_the_round():
    s = f.submitted()
    a1, a2 = f.assigned(s, no=1, kind=ORG), f.assigned(s, no=2, kind=STAFF)
    survey = domain.on_resolved(domain.on_assigned(None, a1, now=NOW), _answering(a2))
    assert survey.awaiting_assignment and not survey.served_by_org  # assignment 1's organization does not count
    again = domain.on_resolved(survey, _answering(a2))  # the round's resolution recorded again: still waiting
    assert again.awaiting_assignment
    opened = domain.on_assigned(again, a2, now=NOW)
    assert (opened.status, opened.served_by_org, opened.assignment_no) == ("open", False, 2)


def test_a_repeated_resolution_keeps_an_open_round_open():
    s = f.submitted()
    a1 = f.assigned(s, no=1, kind=ORG)
    survey = domain.on_resolved(domain.on_assigned(None, a1, now=NOW), _answering(a1))
    assert domain.on_resolved(survey, _answering(f.assigned(s, no=2))).status == "open"


def test_a_closing_while_the_round_waits_closes_it_and_the_assignment_opens_nothing():
    s = f.submitted()
    a1 = f.assigned(s, no=1, kind=ORG)
    waiting = domain.on_resolved(None, _answering(a1))
    closed = domain.on_closed(waiting, f.dispositions(s)[-1])
    assert closed.status == "closed" and not closed.awaiting_assignment
    assert domain.on_assigned(closed, a1, now=NOW).status == "closed"


def test_a_survey_kept_before_assignments_were_recorded_does_not_wait_for_one():
    """Its assignment was seen before evaluation kept assignments by number (0004): it will not come again."""
    s = f.submitted()
    kept = Survey(s.demand_id, s.station_id, s.tracking_no, s.correlation_id, served_by_org=True)
    survey = domain.on_resolved(kept, _answering(f.assigned(s, no=1)))
    assert (survey.status, survey.served_by_org) == ("open", True)


def test_round_2_resolved_before_its_assignment_waits_then_opens():
    s = f.submitted()
    a1 = f.assigned(s, no=1, kind=STAFF)
    survey = domain.on_resolved(domain.on_assigned(None, a1, now=NOW), _answering(a1))
    survey, rated = domain.rate(survey, DISSATISFIED, source=RatingSource.online, recorded_by=None, now=NOW)
    survey = domain.on_reopened(survey, rh.reopened(rh.verified(rated), at=f.at(18)))
    a2 = f.assigned(s, no=2, round=2, kind=ORG)
    r2 = _answering(a2, round=2)
    waiting = domain.on_resolved(survey, r2)
    assert (waiting.round, waiting.status, waiting.awaiting_assignment, waiting.served_by_org) == (
        2,
        "waiting",
        True,
        False,
    )
    _refused_not_open_yet(waiting)
    opened = domain.on_assigned(waiting, a2, now=f.at(21))
    assert (opened.round, opened.status, opened.opened_at, opened.served_by_org) == (2, "open", f.at(21), True)
    _, second = domain.rate(opened, TECHNICIAN, source=RatingSource.online, recorded_by=None, now=f.at(22))
    assert (second.round, second.causation_id) == (2, r2.event_id)


# --------------------------------------------------------------------------- the use cases


@pytest.fixture
def uow():
    return FakeUnitOfWork(FakeStore(), consumer="evaluation")


open_survey = partial(usecases.open_survey, status_page=LINKS)
record_assigned = partial(usecases.record_assigned, status_page=LINKS)


async def test_the_round_waits_with_no_link_and_its_assignment_opens_it_with_one(uow):
    s = f.submitted()
    a1 = f.assigned(s, no=1, kind=ORG)
    r1 = _answering(a1)
    assert await uow.handle(r1, open_survey)
    assert uow.store.surveys[s.demand_id].awaiting_assignment
    assert uow.store.resolutions[(s.demand_id, 1)] == 1  # the round's resolution is kept, with what it answers
    assert uow.published == [] and uow.store.links == {}
    with pytest.raises(InvalidTransition) as info:
        await usecases.record_paper_rating(uow, CLERK, s.demand_id, TECHNICIAN)
    assert NOT_OPEN_YET in info.value.zh
    with pytest.raises(InvalidTransition):
        await usecases.issue_link(uow, CLERK, s.demand_id, days=30)
    # Neither open nor missing its rating: the station's list of open surveys leaves it out.
    assert await usecases.list_surveys(uow, CLERK, None, "open", 100, 0) == []
    assert [w.demand_id for w in await usecases.list_surveys(uow, CLERK, None, "waiting", 100, 0)] == [s.demand_id]

    assert await uow.handle(a1, record_assigned)
    [issued] = uow.events(RatingLinkIssued)
    assert (issued.round, issued.causation_id, issued.correlation_id) == (1, r1.event_id, s.correlation_id)
    shown = await usecases.survey_by_link(uow, _token(issued))
    assert (shown.status, shown.technician_items_apply) == ("open", True)
    # A redelivered or repeated assignment makes no second link.
    assert not await uow.handle(a1, record_assigned)
    assert await uow.handle(a1.model_copy(update={"event_id": f.submitted().event_id}), record_assigned)
    assert len(uow.events(RatingLinkIssued)) == 1
    # Items 6–9 accepted: the organization served.
    survey = await usecases.rate_by_link(uow, _token(issued), TECHNICIAN)
    assert survey.status == "rated" and uow.events(Rated)[0].causation_id == r1.event_id


async def test_assignments_never_make_a_link_for_a_round_opened_by_its_resolution(uow):
    s = f.submitted()
    a1 = f.assigned(s, no=1, kind=ORG)
    for event, usecase in (
        (a1, record_assigned),
        (_answering(a1), open_survey),
        (f.assigned(s, no=2), record_assigned),
    ):
        assert await uow.handle(event, usecase)
    assert len(uow.events(RatingLinkIssued)) == 1 and uow.store.surveys[s.demand_id].status == "open"


async def test_round_2_s_link_is_made_once_by_the_assignment_that_opens_it(uow):
    s = f.submitted()
    a1 = f.assigned(s, no=1, kind=STAFF)
    await uow.handle(a1, record_assigned)
    await uow.handle(_answering(a1), open_survey)
    await usecases.record_paper_rating(uow, CLERK, s.demand_id, DISSATISFIED)
    [rated] = uow.events(Rated)
    await uow.handle(rh.reopened(rh.verified(rated), at=f.at(18)), usecases.reopen_survey)
    a2 = f.assigned(s, no=2, round=2, kind=ORG)
    r2 = _answering(a2, round=2)
    await uow.handle(r2, open_survey)
    assert [e.round for e in uow.events(RatingLinkIssued)] == [1]  # round 2 waits for assignment 2
    assert uow.store.surveys[s.demand_id].awaiting_assignment
    await uow.handle(a2, record_assigned)
    issued = uow.events(RatingLinkIssued)
    assert [(e.round, e.causation_id) for e in issued] == [(1, issued[0].causation_id), (2, r2.event_id)]
    survey = await usecases.record_paper_rating(uow, CLERK, s.demand_id, TECHNICIAN)
    assert (survey.round, survey.status, survey.served_by_org) == (2, "rated", True)


def test_a_waiting_survey_is_shown_as_waiting_for_its_assignment_only_once_resolved():
    s = f.submitted()
    assigned_only = domain.on_assigned(None, f.assigned(s), now=NOW)
    assert not SurveyOut.model_validate(assigned_only).awaiting_assignment
    reopened = replace(assigned_only, round=2)
    assert not SurveyOut.model_validate(reopened).awaiting_assignment
