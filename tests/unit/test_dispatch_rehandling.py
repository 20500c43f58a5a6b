"""Re-handling (重办, issue 10) in dispatch: a reopened demand goes back to the head's queue for the next round, and
every assignment of that round carries the round, the next assignment number and the re-handling deadline.

The pure rules (services/dispatch/domain.py) first, then the use cases on a fake unit of work.
"""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from services.dispatch import domain as dispatch
from services.dispatch import usecases
from services.dispatch.domain import QueueItem
from services.dispatch.usecases import AssignmentRequest
from shared.contracts import (
    Assigned,
    AssigneeKind,
    AssignmentReturned,
    DemandReopened,
    DemandSubmitted,
    HandlingMode,
    Overall,
)
from shared.errors import Forbidden, Invalid, InvalidTransition
from tests.support import events as ev
from tests.support import rehandling_events as rh
from tests.support.fake_uow import FakeUnitOfWork
from tests.unit import factories as f
from tests.unit.test_dispatch_usecases import CLERK, FORM, HEAD, ORG, OTHER_HEAD, REFERRAL, FakeStore, today

NOW = datetime(2026, 10, 12, 2, 0, tzinfo=UTC)  # a Monday in China
TODAY = date(2026, 10, 12)
DUE = date(2026, 10, 19)  # the re-handling deadline tracking fixed (5 working days from the day after)


def reopening(
    submitted: DemandSubmitted,
    *,
    round_: int = 2,
    due_on: date = DUE,
    at: datetime | None = None,
    assignment_count: int = 1,
    previous: tuple[str, str, str] | None = ("organization", "org-01", "市计量测试院"),
) -> DemandReopened:
    """The DemandReopened tracking publishes for a founded verification of round `round_ - 1`'s 不满意."""
    rating = f.rated(submitted, round=round_ - 1, overall=Overall.dissatisfied)
    event = rh.reopened(rh.verified(rating, at=at or NOW), at=at or NOW, due_on=due_on)
    kind, id_, name = previous or (None, None, None)
    return event.model_copy(
        update={
            "assignment_count": assignment_count,
            "previous_assignee_kind": kind,
            "previous_assignee_id": id_,
            "previous_assignee_name": name,
        }
    )


def _assign(item: QueueItem, *, due_on: date | None = None, kind=AssigneeKind.organization, org="org-02"):
    return dispatch.assign(
        item,
        kind=kind,
        assignee_id=org,
        assignee_name={"org-01": "市计量测试院", "org-02": "省特检院"}.get(org, org),
        mode=HandlingMode.independent,
        due_on=due_on,
        assigned_by="李站长",
        note=None,
        now=NOW,
        today=TODAY,
    )


def _resolved_in_round_1(submitted: DemandSubmitted | None = None) -> tuple[DemandSubmitted, QueueItem]:
    submitted = submitted or f.submitted(time_limit_days=3)
    item, _ = _assign(dispatch.receive(submitted), org="org-01")
    return submitted, dispatch.resolve(item, 1)


# --------------------------------------------------------------------------- the pure rules


class TestReopen:
    def test_a_resolved_demand_waits_again_as_round_2_with_its_deadline_and_previous_assignee(self):
        submitted, item = _resolved_in_round_1()
        event = reopening(submitted)
        item = dispatch.reopen(item, event)
        assert (item.status, item.round, item.assignment_count) == ("waiting", 2, 1)
        assert item.rehandling and item.status_label == "重办待派" and item.is_open
        assert (item.due_on, item.reopened_at, item.reopening_id) == (DUE, event.reopened_at, event.event_id)
        assert item.previous_assignee == {"kind": "organization", "id": "org-01", "name": "市计量测试院"}
        assert item.reopening == {
            "reason": event.reason,
            "reopened_by": event.reopened_by,
            "verification_id": str(event.verification_id),
            "assignment_count": 1,
        }
        assert not item.returned  # a new round, not a return

    def test_round_1_has_no_rehandling_facts(self):
        item = dispatch.receive(f.submitted())
        assert not item.rehandling and item.status_label == "待派单"
        assert (item.due_on, item.reopened_at, item.reopening_id, item.previous_assignee) == (None,) * 4

    def test_a_reopening_that_overtakes_its_round_1_resolution_reopens_and_the_late_resolution_changes_nothing(self):
        submitted = f.submitted()
        assigned, _ = _assign(dispatch.receive(submitted), org="org-01")  # dispatch has not seen Resolved(1) yet
        item = dispatch.reopen(assigned, reopening(submitted))
        assert (item.status, item.round) == ("waiting", 2)
        assert dispatch.resolve(item, 1) is item  # the late Resolved of round 1
        assert dispatch.resolve(item, 2).status == "resolved"

    def test_the_same_round_reopened_again_changes_nothing(self):
        submitted, item = _resolved_in_round_1()
        first = reopening(submitted)
        item = dispatch.reopen(item, first)
        assigned, _ = _assign(item)
        assert dispatch.reopen(assigned, first) is assigned  # a redelivery that passed the inbox somehow
        later = reopening(submitted, at=NOW + timedelta(hours=1), due_on=DUE + timedelta(days=3))
        assert dispatch.reopen(assigned, later) is assigned

    def test_of_two_reopenings_of_one_round_the_earlier_counts_whatever_the_order(self):
        submitted, resolved = _resolved_in_round_1()
        early = reopening(submitted, at=NOW)
        late = reopening(submitted, at=NOW + timedelta(hours=1), due_on=DUE + timedelta(days=3))
        one = dispatch.reopen(dispatch.reopen(resolved, early), late)
        other = dispatch.reopen(dispatch.reopen(resolved, late), early)
        assert one == other and one.reopening_id == early.event_id and one.due_on == DUE

    def test_a_resolution_of_round_2_before_its_reopening_keeps_it_resolved_with_the_round_facts(self):
        submitted, item = _resolved_in_round_1()
        item = dispatch.resolve(item, 2)  # tracking's Resolved(2) overtook the DemandReopened(2)
        event = reopening(submitted)
        item = dispatch.reopen(item, event)
        assert (item.status, item.round, item.due_on, item.reopening_id) == ("resolved", 2, DUE, event.event_id)
        assert item.status_label == "重办已办结"
        with pytest.raises(InvalidTransition):
            _assign(item)

    def test_a_closed_demand_is_not_reopened(self):
        submitted = f.submitted()
        item = dispatch.close(dispatch.receive(submitted), ev.withdrawn(submitted))
        assert dispatch.reopen(item, reopening(submitted)) is item

    def test_assignment_numbers_run_on_from_the_larger_count(self):
        submitted, item = _resolved_in_round_1()
        assert dispatch.reopen(item, reopening(submitted, assignment_count=3)).assignment_count == 3
        assert dispatch.reopen(replace(item, assignment_count=4), reopening(submitted)).assignment_count == 4

    def test_the_previous_assignee_is_dispatch_own_current_assignment_when_the_event_names_none(self):
        submitted = f.submitted()
        assigned, current = _assign(dispatch.receive(submitted), org="org-01")
        item = dispatch.reopen(dispatch.resolve(assigned, 1), reopening(submitted, previous=None), current)
        assert item.previous_assignee == {"kind": "organization", "id": "org-01", "name": "市计量测试院"}
        assert dispatch.reopen(assigned, reopening(submitted, previous=None)).previous_assignee is None


class TestAssignInRound2:
    def test_the_assignment_carries_round_2_the_next_number_and_the_rehandling_deadline(self):
        submitted, item = _resolved_in_round_1(f.submitted(time_limit_days=3, expected_on=date(2026, 10, 30)))
        event = reopening(submitted)
        item, a = _assign(dispatch.reopen(item, event))
        assert (a.round, a.assignment_no, a.due_on) == (2, 2, DUE)  # not the notice's date nor the catalogue's
        assert (item.status, item.status_label, item.assignment_count) == ("assigned", "重办中", 2)
        assigned = dispatch.assigned_event(item, a)
        assert (assigned.round, assigned.assignment_no, assigned.due_on) == (2, 2, DUE)
        # The round's assignments answer the reopening, in the demand's one conversation.
        assert assigned.causation_id == event.event_id and assigned.correlation_id == submitted.correlation_id

    def test_a_deadline_already_past_still_binds_the_round(self):
        submitted, item = _resolved_in_round_1()
        item = dispatch.reopen(item, reopening(submitted, due_on=TODAY - timedelta(days=1)))
        assert _assign(item)[1].due_on == TODAY - timedelta(days=1)

    def test_another_due_date_is_refused_and_the_same_one_accepted(self):
        submitted, item = _resolved_in_round_1()
        item = dispatch.reopen(item, reopening(submitted))
        with pytest.raises(Invalid) as refused:
            _assign(item, due_on=DUE + timedelta(days=10))
        assert refused.value.field == "due_on" and "重办期限" in refused.value.zh and refused.value.en
        assert _assign(item, due_on=DUE)[1].due_on == DUE
        assert dispatch.due_date(item, None, TODAY) == DUE

    def test_a_return_and_a_rematch_and_a_referral_keep_the_round_and_its_deadline(self):
        submitted, item = _resolved_in_round_1()
        item, second = _assign(dispatch.reopen(item, reopening(submitted)))
        org_2 = replace(ORG, org="org-02")
        item, returned, event = dispatch.give_back(
            item, [second], role=org_2.role, subject=org_2.subject, org="org-02", reason="超出资质", by="省特检院",
            now=NOW,
        )  # fmt: skip
        assert isinstance(event, AssignmentReturned) and (event.round, event.assignment_no) == (2, 2)
        assert (item.status, item.returned, item.rehandling) == ("waiting", True, True)
        item, third = _assign(item, org="org-01")
        assert (third.round, third.assignment_no, third.due_on) == (2, 3, DUE)
        item, fourth = dispatch.refer(item, referral=REFERRAL, due_on=None, assigned_by="李站长", now=NOW, today=TODAY)
        assert (fourth.round, fourth.assignment_no, fourth.due_on) == (2, 4, DUE)

    def test_a_clerk_does_not_keep_a_rehandling(self):
        submitted, item = _resolved_in_round_1(f.submitted(first_responder_id=CLERK.subject))
        item = dispatch.reopen(item, reopening(submitted))
        with pytest.raises(Forbidden) as refused:
            dispatch.check_clerk_may_keep(item, AssigneeKind.first_responder, CLERK.subject)
        assert "站长" in refused.value.zh

    def test_a_rehandling_is_neither_refused_nor_merged(self):
        submitted, item = _resolved_in_round_1()
        item = dispatch.reopen(item, reopening(submitted))
        original = dispatch.receive(f.submitted())
        for attempt in (
            lambda: dispatch.refuse(item, reason="无法满足", basis="依据", by="李站长", now=NOW),
            lambda: dispatch.merge(item, original, reason="重复", by="李站长", now=NOW),
        ):
            with pytest.raises(InvalidTransition) as refused:
                attempt()
            assert "重办" in refused.value.zh
        # Another demand of the same enterprise may still be merged into one being re-handled (it is open).
        _, merged = dispatch.merge(original, item, reason="同一需求", by="李站长", now=NOW)
        assert merged.merged_into == item.demand_id

    def test_resolved_in_round_2_takes_no_more_decisions(self):
        submitted, item = _resolved_in_round_1()
        item, _ = _assign(dispatch.reopen(item, reopening(submitted)))
        item = dispatch.resolve(item, 2)
        assert (item.status, item.round) == ("resolved", 2)
        for attempt in (
            lambda: _assign(item),
            lambda: dispatch.refer(item, referral=REFERRAL, due_on=None, assigned_by="李站长", now=NOW, today=TODAY),
        ):
            with pytest.raises(InvalidTransition):
                attempt()


# --------------------------------------------------------------------------- the use cases


@pytest.fixture
def uow():
    return FakeUnitOfWork(FakeStore(), consumer="dispatch")


TO_ORG_01 = AssignmentRequest(kind=AssigneeKind.organization, assignee_id="org-01")
TO_ORG_02 = AssignmentRequest(kind=AssigneeKind.organization, assignee_id="org-02")


async def _resolved(uow, **form) -> DemandSubmitted:
    submitted = f.submitted(first_responder_id=CLERK.subject, **{**FORM, **form})
    await uow.handle(submitted, usecases.receive_demand)
    await usecases.assign(uow, HEAD, submitted.demand_id, TO_ORG_01)
    await uow.handle(f.resolved(submitted), usecases.record_resolved)
    return submitted


def _due() -> date:
    return today() + timedelta(days=7)


async def test_a_reopened_demand_is_in_the_head_queue_as_rehandling_and_its_assignment_carries_round_2(uow):
    submitted = await _resolved(uow)
    event = reopening(submitted, due_on=_due())
    assert await uow.handle(event, usecases.record_reopening)
    [queued] = await usecases.list_queue(uow, HEAD, None, "waiting", 50, 0)
    assert (queued.demand_id, queued.round, queued.rehandling, queued.due_on) == (submitted.demand_id, 2, True, _due())
    assert queued.previous_assignee["id"] == "org-01"
    assert await usecases.list_queue(uow, OTHER_HEAD, None, "waiting", 50, 0) == []

    assignment = await usecases.assign(uow, HEAD, submitted.demand_id, TO_ORG_01)  # back to the same one
    first, second = uow.events(Assigned)
    assert (second.round, second.assignment_no, second.due_on, second.assignee_id) == (2, 2, _due(), "org-01")
    assert second.causation_id == event.event_id and second.correlation_id == first.correlation_id
    assert (assignment.round, assignment.assignment_no) == (2, 2)

    # 退单 and 改派 in round 2: the round and its deadline stay.
    await usecases.give_back(uow, ORG, submitted.demand_id, "人员不足")
    [returned] = uow.events(AssignmentReturned)
    assert (returned.round, returned.assignment_no) == (2, 2)
    await usecases.assign(uow, HEAD, submitted.demand_id, TO_ORG_02)
    third = uow.events(Assigned)[-1]
    assert (third.round, third.assignment_no, third.due_on) == (2, 3, _due())


async def test_a_redelivered_or_stale_event_changes_nothing(uow):
    submitted = await _resolved(uow)
    event = reopening(submitted, due_on=_due())
    await uow.handle(event, usecases.record_reopening)
    await usecases.assign(uow, HEAD, submitted.demand_id, TO_ORG_02)
    before = (uow.store.items[submitted.demand_id], list(uow.published))
    assert not await uow.handle(event, usecases.record_reopening)  # the inbox
    assert await uow.handle(f.resolved(submitted, round=1), usecases.record_resolved)  # round 1's, late
    again = reopening(submitted, due_on=_due() + timedelta(days=1), at=NOW + timedelta(hours=1))  # re-published
    assert await uow.handle(again, usecases.record_reopening)
    assert (uow.store.items[submitted.demand_id], list(uow.published)) == before


async def test_a_reopening_seen_before_the_submission_applies_when_it_arrives(uow):
    submitted = f.submitted(**FORM)
    await uow.handle(reopening(submitted, due_on=_due()), usecases.record_reopening)
    await uow.handle(f.resolved(submitted), usecases.record_resolved)
    assert submitted.demand_id not in uow.store.items
    await uow.handle(submitted, usecases.receive_demand)
    item = uow.store.items[submitted.demand_id]
    assert (item.status, item.round, item.due_on) == ("waiting", 2, _due())
    assert uow.store.early_events == [] and uow.store.early == {}


async def test_a_rehandling_asks_for_the_head_and_its_own_deadline(uow):
    submitted = await _resolved(uow)
    await uow.handle(reopening(submitted, due_on=_due()), usecases.record_reopening)
    before = (uow.store.items[submitted.demand_id], list(uow.published))
    with pytest.raises(Forbidden):
        await usecases.assign(uow, CLERK, submitted.demand_id, AssignmentRequest(kind=AssigneeKind.first_responder))
    with pytest.raises(Invalid) as refused:
        await usecases.assign(uow, HEAD, submitted.demand_id, replace(TO_ORG_02, due_on=_due() + timedelta(days=1)))
    assert refused.value.field == "due_on"
    with pytest.raises(InvalidTransition):
        await usecases.refuse(uow, HEAD, submitted.demand_id, "无法满足", "依据")
    assert (uow.store.items[submitted.demand_id], list(uow.published)) == before
