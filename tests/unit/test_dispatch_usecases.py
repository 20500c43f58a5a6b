"""Dispatch's use cases on a fake unit of work: no PostgreSQL, the same rules."""

from datetime import date

import pytest

from services.dispatch import usecases
from services.dispatch.domain import Assignment, QueueItem
from shared.auth import Principal, Role, in_scope
from shared.contracts import Assigned, AssigneeKind, HandlingMode
from shared.errors import Forbidden, Invalid, InvalidTransition, NotFound
from tests.support.fake_uow import FakeUnitOfWork
from tests.unit import factories as f

HEAD = Principal(subject="head-1", name="周站长", role=Role.head, station=f.STATION)
CLERK = Principal(subject="clerk-zhang", name="张晓燕", role=Role.clerk, station=f.STATION)
OTHER_CLERK = Principal(subject="clerk-liu", name="刘敏", role=Role.clerk, station=f.STATION)
OTHER_HEAD = Principal(subject="head-2", name="梁站长", role=Role.head, station="440100/440113/panyu-01")
SUPERVISOR = Principal(subject="sup-1", name="市局督导", role=Role.supervisor, station="210100")
ORG = Principal(subject="org-user", name="市计量测试院", role=Role.org, org="org-01")


class FakeStore:
    """services.dispatch.store.Store in memory; visibility as its SQL: station scope, or the org now assigned."""

    def __init__(self) -> None:
        self.items: dict = {}
        self.assigned: list[tuple[Assignment, str]] = []
        self.early: dict = {}

    async def save_item(self, item: QueueItem) -> None:
        self.items[item.demand_id] = item

    async def get_item(self, demand_id, *, for_update=False):
        return self.items.get(demand_id)

    def _visible(self, item, scope, org) -> bool:
        if scope and in_scope(item.station_id, scope):
            return True
        current = [a for a, _ in self.assigned if a.demand_id == item.demand_id]
        current = [a for a in current if a.assignment_no == item.assignment_count]
        return bool(org) and any(a.assignee_kind is AssigneeKind.organization and a.assignee_id == org for a in current)

    async def get_visible(self, demand_id, scope, org, *, for_update=False):
        item = self.items.get(demand_id)
        return item if item is not None and self._visible(item, scope, org) else None

    async def list_visible(self, scope, org, status, limit, offset):
        items = [i for i in self.items.values() if i.status == status and self._visible(i, scope, org)]
        items.sort(key=lambda i: (i.green_channel is None, i.submitted_at, i.tracking_no))
        return items[offset : offset + limit]

    async def add_assignment(self, a: Assignment, station_id: str) -> None:
        self.assigned.append((a, station_id))

    async def assignments(self, demand_id):
        return sorted((a for a, _ in self.assigned if a.demand_id == demand_id), key=lambda a: a.assignment_no)

    async def remember_resolution(self, demand_id, round_) -> None:
        self.early[demand_id] = max(self.early.get(demand_id, 0), round_)

    async def take_resolution(self, demand_id):
        return self.early.pop(demand_id, None)


@pytest.fixture
def uow():
    return FakeUnitOfWork(FakeStore(), consumer="dispatch")


ORG_01 = {"kind": AssigneeKind.organization, "assignee_id": "org-01", "assignee_name": "市计量测试院"}
ORG_02 = {"assignee_id": "org-02", "assignee_name": "省特检院"}


def _to_org(**fields):
    return {**ORG_01, "mode": HandlingMode.independent, "due_on": None, "note": None, **fields}


async def _received(uow, **overrides):
    submitted = f.submitted(first_responder_id=CLERK.subject, **overrides)
    assert await uow.handle(submitted, usecases.receive_demand)
    return submitted


# --------------------------------------------------------------------------- events


async def test_a_submitted_demand_waits_in_the_queue_and_remembers_its_event(uow):
    submitted = await _received(uow)
    item = uow.store.items[submitted.demand_id]
    assert (item.status, item.round, item.assignment_count) == ("waiting", 1, 0)
    assert item.submitted_event_id == submitted.event_id and item.correlation_id == submitted.correlation_id
    assert not await uow.handle(submitted, usecases.receive_demand)  # a redelivery is a no-op
    assert uow.published == []


async def test_a_resolution_seen_before_the_submission_is_kept_until_the_demand_arrives(uow):
    submitted = f.submitted()
    await uow.handle(f.resolved(submitted, round=2), usecases.record_resolved)
    assert submitted.demand_id not in uow.store.items and uow.store.early == {submitted.demand_id: 2}
    await uow.handle(submitted, usecases.receive_demand)
    item = uow.store.items[submitted.demand_id]
    assert (item.status, item.round) == ("resolved", 2)
    assert uow.store.early == {}  # taken, not left for a later demand
    with pytest.raises(InvalidTransition):
        await usecases.assign(uow, HEAD, submitted.demand_id, **_to_org())
    assert uow.published == []


async def test_a_resolved_demand_cannot_be_rematched(uow):
    submitted = await _received(uow)
    await usecases.assign(uow, HEAD, submitted.demand_id, **_to_org())
    await uow.handle(f.resolved(submitted), usecases.record_resolved)
    assert uow.store.items[submitted.demand_id].status == "resolved"
    with pytest.raises(InvalidTransition):
        await usecases.assign(uow, HEAD, submitted.demand_id, **_to_org(assignee_id="org-02"))
    assert len(uow.events(Assigned)) == 1


# --------------------------------------------------------------------------- assign


async def test_the_head_assigns_and_assigned_is_caused_by_the_submission(uow):
    submitted = await _received(uow)
    assignment = await usecases.assign(uow, HEAD, submitted.demand_id, **_to_org(due_on=date(2099, 1, 4)))
    [event] = uow.events(Assigned)
    assert event.causation_id == submitted.event_id
    assert event.correlation_id == submitted.correlation_id
    assert (event.station_id, event.demand_id, event.tracking_no) == (
        submitted.station_id,
        submitted.demand_id,
        submitted.tracking_no,
    )
    assert (event.assignment_no, event.round, event.assignee_id, event.due_on) == (1, 1, "org-01", date(2099, 1, 4))
    assert event.assigned_by == "周站长" and event.occurred_at == assignment.assigned_at
    assert uow.store.assigned == [(assignment, f.STATION)]
    assert uow.store.items[submitted.demand_id].status == "assigned"


async def test_a_rematch_is_numbered_and_answers_the_same_submission(uow):
    submitted = await _received(uow)
    await usecases.assign(uow, HEAD, submitted.demand_id, **_to_org())
    second = await usecases.assign(uow, HEAD, submitted.demand_id, **_to_org(**ORG_02))
    assert second.assignment_no == 2
    assert [e.assignment_no for e in uow.events(Assigned)] == [1, 2]
    assert {(e.causation_id, e.correlation_id) for e in uow.events(Assigned)} == {
        (submitted.event_id, submitted.correlation_id)
    }
    assert uow.store.items[submitted.demand_id].assignment_count == 2


async def test_a_clerk_keeps_their_own_waiting_demand(uow):
    submitted = await _received(uow)
    keep = _to_org(kind=AssigneeKind.first_responder, assignee_id=None, assignee_name=None)
    assignment = await usecases.assign(uow, CLERK, submitted.demand_id, **keep)
    assert (assignment.assignee_kind, assignment.assignee_id, assignment.assignee_name) == (
        AssigneeKind.first_responder,
        "clerk-zhang",
        "张晓燕",
    )
    [event] = uow.events(Assigned)
    assert event.causation_id == submitted.event_id and event.assigned_by == "张晓燕"


@pytest.mark.parametrize(
    ("who", "kind", "already_assigned"),
    [
        (OTHER_CLERK, AssigneeKind.first_responder, False),  # not the clerk who received it
        (CLERK, AssigneeKind.organization, False),  # dispatching to others is the head's
        (CLERK, AssigneeKind.first_responder, True),  # re-dispatch is the head's
    ],
    ids=["another-clerk", "to-an-organization", "already-assigned"],
)
async def test_a_clerk_is_refused_otherwise_and_nothing_is_published(uow, who, kind, already_assigned):
    submitted = await _received(uow)
    if already_assigned:
        await usecases.assign(uow, HEAD, submitted.demand_id, **_to_org())
    before = (list(uow.published), list(uow.store.assigned), uow.store.items[submitted.demand_id])
    with pytest.raises(Forbidden):
        await usecases.assign(uow, who, submitted.demand_id, **_to_org(kind=kind))
    assert (uow.published, uow.store.assigned, uow.store.items[submitted.demand_id]) == before


async def test_an_invalid_assignment_publishes_nothing(uow):
    submitted = await _received(uow)
    with pytest.raises(Invalid) as info:
        await usecases.assign(uow, HEAD, submitted.demand_id, **_to_org(due_on=date(2000, 1, 1)))
    assert info.value.field == "due_on"
    with pytest.raises(Invalid):
        await usecases.assign(uow, HEAD, submitted.demand_id, **_to_org(assignee_id=None))
    assert uow.published == [] and uow.store.assigned == []
    assert uow.store.items[submitted.demand_id].status == "waiting"


async def test_another_station_can_neither_see_nor_assign(uow):
    submitted = await _received(uow)
    with pytest.raises(NotFound):
        await usecases.assign(uow, OTHER_HEAD, submitted.demand_id, **_to_org())
    with pytest.raises(NotFound):
        await usecases.get_demand(uow, OTHER_HEAD, submitted.demand_id)
    assert await usecases.list_queue(uow, OTHER_HEAD, None, "waiting", 100, 0) == []
    assert uow.published == [] and uow.store.assigned == []


# --------------------------------------------------------------------------- reading


async def test_the_queue_lists_in_scope_green_channel_first_and_refuses_a_foreign_station(uow):
    plain = await _received(uow)
    green = await _received(uow, tracking_no="2026-000002", green_channel="major_project")
    foreign = f.submitted(station_id=OTHER_HEAD.station, tracking_no="2026-000001")
    await uow.handle(foreign, usecases.receive_demand)
    for who in (HEAD, SUPERVISOR):
        items = await usecases.list_queue(uow, who, None, "waiting", 100, 0)
        assert [i.demand_id for i in items] == [green.demand_id, plain.demand_id]
    assert [i.demand_id for i in await usecases.list_queue(uow, SUPERVISOR, f.STATION, "waiting", 1, 1)] == [
        plain.demand_id
    ]
    await usecases.assign(uow, HEAD, plain.demand_id, **_to_org())
    assert [i.demand_id for i in await usecases.list_queue(uow, HEAD, None, "assigned", 100, 0)] == [plain.demand_id]
    with pytest.raises(NotFound):
        await usecases.list_queue(uow, HEAD, OTHER_HEAD.station, "waiting", 100, 0)
    with pytest.raises(NotFound):
        await usecases.list_queue(uow, SUPERVISOR, OTHER_HEAD.station, "waiting", 100, 0)


async def test_a_demand_and_its_assignments_in_scope_and_for_its_current_organization_only(uow):
    submitted = await _received(uow)
    with pytest.raises(NotFound):
        await usecases.get_demand(uow, ORG, submitted.demand_id)  # not assigned to it yet
    first = await usecases.assign(uow, HEAD, submitted.demand_id, **_to_org())
    item, assignments = await usecases.get_demand(uow, HEAD, submitted.demand_id)
    assert item.status == "assigned" and assignments == [first]
    assert (await usecases.get_demand(uow, ORG, submitted.demand_id))[1] == [first]
    await usecases.assign(uow, HEAD, submitted.demand_id, **_to_org(**ORG_02))
    with pytest.raises(NotFound):
        await usecases.get_demand(uow, ORG, submitted.demand_id)  # rematched away
    assert [a.assignment_no for a in (await usecases.get_demand(uow, SUPERVISOR, submitted.demand_id))[1]] == [1, 2]
