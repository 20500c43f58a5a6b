"""Tracking's use cases on a fake unit of work: no PostgreSQL, the same rules."""

from dataclasses import replace
from datetime import date

import pytest

from services.tracking import usecases
from services.tracking.domain import Case, TimelineEntry
from shared.auth import Principal, Role, in_scope
from shared.contracts import Fee, Outcome, Resolved
from shared.errors import InvalidTransition, NotFound
from shared.idempotency import IdempotencyConflict
from tests.support import events as ev
from tests.support.fake_clock_store import FakeClockStore
from tests.support.fake_uow import FakeUnitOfWork
from tests.unit import factories as f

HEAD = Principal(subject="head-1", name="周站长", role=Role.head, station=f.STATION)
OTHER_HEAD = Principal(subject="head-2", name="梁站长", role=Role.head, station="440100/440113/panyu-01")
ORG = Principal(subject="org-user", name="市计量测试院", role=Role.org, org="assignee-1")


class FakeStore(FakeClockStore):
    def __init__(self) -> None:
        self.cases: dict = {}
        self.entries: list[tuple] = []
        self.supervisions: list = []  # supervision.domain.Supervision rows (督办)

    async def get(self, demand_id, *, for_update=False):
        return self.cases.get(demand_id)

    async def save(self, case: Case) -> None:
        self.cases[case.demand_id] = case

    async def get_visible(self, demand_id, scope, org, *, for_update=False):
        case = self.cases.get(demand_id)
        if case is None:
            return None
        mine = (
            bool(org)
            and case.assignee_kind == "organization"
            and case.assignee_id == org
            and case.returned_no < case.assignment_no
        )
        return case if (scope and in_scope(case.station_id, scope)) or mine else None

    async def ledger(self, scope, org, status, limit, offset, query=None):
        cases = [c for c in self.cases.values() if await self.get_visible(c.demand_id, scope, org)]
        return [c for c in cases if status is None or c.status == status][offset : offset + limit]

    async def add_entry(self, event, text) -> None:
        self.entries.append((event.event_id, event.demand_id, text))

    async def save_with_entry(self, case, event, text) -> None:
        await self.save(case)
        await self.add_entry(event, text)

    async def case_supervisions(self, demand_id, scope):
        """The 督办 of one case within `scope`, oldest first (supervision/store.py)."""
        mine = [s for s in self.supervisions if s.demand_id == demand_id and in_scope(s.station_id, scope)]
        return sorted(mine, key=lambda s: (s.issued_at, str(s.supervision_id)))

    async def timeline(self, demand_id):
        return [TimelineEntry(kind="", occurred_at=f.T0, text=t) for _, d, t in self.entries if d == demand_id]


@pytest.fixture
def uow():
    return FakeUnitOfWork(FakeStore())


async def _assigned_case(uow):
    submitted = f.submitted()
    for event in (submitted, f.assigned(submitted)):
        await uow.handle(event, usecases.record_event)
    return submitted


async def test_events_in_any_order_build_the_case_and_its_timeline(uow):
    submitted = f.submitted()
    for event in (f.rated(submitted), f.assigned(submitted), submitted):
        await uow.handle(event, usecases.record_event)
    case = uow.store.cases[submitted.demand_id]
    assert case.status == "rated" and case.enterprise_name == "沈阳精密仪器有限公司"
    assert len(uow.store.entries) == 3


async def test_a_redelivered_event_is_applied_once(uow):
    submitted = f.submitted()
    assert await uow.handle(submitted, usecases.record_event)
    assert not await uow.handle(submitted, usecases.record_event)
    assert len(uow.store.entries) == 1


async def test_resolving_publishes_resolved_caused_by_the_assignment(uow):
    submitted = await _assigned_case(uow)
    case, _today = await usecases.resolve(uow, ORG, submitted.demand_id, outcome=Outcome.met, summary="已出具证书")
    assert case.status == "resolved"
    [event] = uow.events(Resolved)
    assignment = uow.store.cases[submitted.demand_id].assigned_event_id
    assert event.causation_id == assignment and event.correlation_id == submitted.correlation_id
    assert event.assignment_no == 1 and event.resolved_by == "市计量测试院"


async def test_resolving_twice_is_refused_and_publishes_nothing_more(uow):
    submitted = await _assigned_case(uow)
    await usecases.resolve(uow, HEAD, submitted.demand_id, outcome=Outcome.met, summary="办结")
    with pytest.raises(InvalidTransition):
        await usecases.resolve(uow, HEAD, submitted.demand_id, outcome=Outcome.met, summary="再次办结")
    assert len(uow.events(Resolved)) == 1


async def test_a_resolution_retried_with_its_key_answers_again_and_publishes_once(uow):
    submitted = await _assigned_case(uow)
    form = {"outcome": Outcome.met, "summary": "已出具证书", "fee": Fee(free_service=True)}
    first, _ = await usecases.resolve(uow, ORG, submitted.demand_id, **form, idempotency_key="resolve-1")
    entries = len(uow.store.entries)
    again, _ = await usecases.resolve(uow, ORG, submitted.demand_id, **form, idempotency_key="resolve-1")
    assert again == first and first.status == "resolved"
    assert len(uow.events(Resolved)) == 1 and len(uow.store.entries) == entries
    with pytest.raises(IdempotencyConflict):  # the key was used for another request
        await usecases.resolve(
            uow, ORG, submitted.demand_id, **(form | {"summary": "另一份小结"}), idempotency_key="resolve-1"
        )
    with pytest.raises(InvalidTransition):  # a new key is a new resolution: the round is resolved
        await usecases.resolve(uow, ORG, submitted.demand_id, **form, idempotency_key="resolve-2")
    with pytest.raises(NotFound):  # another caller's key is not this one
        await usecases.resolve(uow, OTHER_HEAD, submitted.demand_id, **form, idempotency_key="resolve-1")
    assert len(uow.events(Resolved)) == 1 and len(uow.store.entries) == entries


async def test_another_station_cannot_see_or_resolve(uow):
    submitted = await _assigned_case(uow)
    with pytest.raises(NotFound):
        await usecases.case_with_timeline(uow, OTHER_HEAD, submitted.demand_id)
    with pytest.raises(NotFound):
        await usecases.resolve(uow, OTHER_HEAD, submitted.demand_id, outcome=Outcome.met, summary="越权")
    assert uow.events(Resolved) == []


async def test_an_organization_loses_sight_once_rematched_away(uow):
    submitted = await _assigned_case(uow)
    assert (await usecases.case_with_timeline(uow, ORG, submitted.demand_id))[0].assignee_id == "assignee-1"
    await uow.handle(f.assigned(submitted, no=2), usecases.record_event)
    with pytest.raises(NotFound):
        await usecases.case_with_timeline(uow, ORG, submitted.demand_id)


async def test_the_ledger_filters_by_status_and_refuses_a_foreign_station(uow):
    submitted = await _assigned_case(uow)
    other = replace(uow.store.cases[submitted.demand_id], demand_id=f.submitted().demand_id, assignment_no=0)
    await uow.store.save(other)
    cases, _ = await usecases.ledger(uow, HEAD, None, "assigned", 100, 0)
    assert [c.demand_id for c in cases] == [submitted.demand_id]
    with pytest.raises(NotFound):
        await usecases.ledger(uow, HEAD, "440100/440113/panyu-01", None, 100, 0)


# --------------------------------------------------------------------------- returns, referrals, closings (issue 8)


async def _record(uow, *events):
    for event in events:
        await uow.handle(event, usecases.record_event)


async def test_a_returned_case_waits_for_the_head_and_the_organization_loses_sight(uow):
    submitted = await _assigned_case(uow)
    await _record(uow, ev.returned(submitted, 1, at=f.at(5)))
    with pytest.raises(NotFound):
        await usecases.case_with_timeline(uow, ORG, submitted.demand_id)
    with pytest.raises(NotFound):
        await usecases.resolve(uow, ORG, submitted.demand_id, outcome=Outcome.met, summary="已退单仍办结")
    assert (await usecases.ledger(uow, ORG, None, None, 100, 0))[0] == []
    with pytest.raises(InvalidTransition) as info:
        await usecases.resolve(uow, HEAD, submitted.demand_id, outcome=Outcome.met, summary="办结")
    assert "退单" in info.value.zh and info.value.status == 409
    assert uow.events(Resolved) == []
    cases, _ = await usecases.ledger(uow, HEAD, None, "returned", 100, 0)
    assert [c.demand_id for c in cases] == [submitted.demand_id]


async def test_returned_then_rematched_shows_both_on_the_sheet_and_the_new_assignee_resolves(uow):
    submitted = await _assigned_case(uow)
    rematch = f.assigned(submitted, no=2, assignee_name="省特检院")
    await _record(uow, rematch, ev.returned(submitted, 1, at=f.at(5)))  # the rematch overtook the return
    second = Principal(subject="org-2", name="省特检院", role=Role.org, org="assignee-2")
    case, entries, _ = await usecases.case_with_timeline(uow, second, submitted.demand_id)
    assert case.status == "assigned" and case.assignee_name == "省特检院"
    texts = [e.text for e in entries]
    assert any("退单" in t for t in texts) and any("改派给 省特检院" in t for t in texts)
    await usecases.resolve(uow, second, submitted.demand_id, outcome=Outcome.met, summary="已检定")
    [resolved] = uow.events(Resolved)
    assert resolved.assignment_no == 2 and resolved.causation_id == rematch.event_id


@pytest.mark.parametrize("kind", ["refused", "merged", "withdrawn"])
async def test_a_closed_case_is_not_open_not_overdue_and_cannot_be_resolved(uow, kind):
    submitted = await _assigned_case(uow)  # due 2026-10-10
    closing = {"refused": ev.refused, "merged": ev.merged, "withdrawn": ev.withdrawn}[kind](
        submitted, assignment_count=1, at=f.at(9)
    )
    await _record(uow, closing, closing)  # redelivered: applied once
    assert len([e for e in uow.store.entries if e[0] == closing.event_id]) == 1
    with pytest.raises(InvalidTransition) as info:
        await usecases.resolve(uow, HEAD, submitted.demand_id, outcome=Outcome.met, summary="办结")
    assert info.value.status == 409 and info.value.zh and info.value.en
    await _record(uow, f.assigned(submitted, no=2))  # late: does not reopen it
    cases, _ = await usecases.ledger(uow, HEAD, None, kind, 100, 0)
    assert [c.demand_id for c in cases] == [submitted.demand_id]
    assert not cases[0].overdue(date(2030, 1, 1))
    assert (await usecases.ledger(uow, HEAD, None, "assigned", 100, 0))[0] == []
    assert uow.events(Resolved) == []


async def test_a_referral_is_followed_and_staff_resolve_it_once_the_department_answers(uow):
    submitted = f.submitted()
    await _record(uow, submitted, ev.referred(submitted, 1, at=f.at(4)))
    cases, _ = await usecases.ledger(uow, HEAD, None, "referred", 100, 0)
    assert [c.demand_id for c in cases] == [submitted.demand_id]
    case, _ = await usecases.resolve(uow, HEAD, submitted.demand_id, outcome=Outcome.met, summary="发改局已答复企业")
    assert case.status == "resolved" and uow.events(Resolved)[0].assignment_no == 1


async def test_a_correction_updates_the_sheet_and_is_noted(uow):
    submitted = f.submitted()
    correction = ev.corrected(submitted, at=f.at(2), description="压力表 40 台")
    await _record(uow, correction, submitted)  # the correction first: the submission does not undo it
    case, entries, _ = await usecases.case_with_timeline(uow, HEAD, submitted.demand_id)
    assert case.description == "压力表 40 台" and case.enterprise_name == "沈阳精密仪器有限公司"
    assert any("更正登记" in e.text for e in entries)
