"""What the enterprise's status link (and the staff's demand view) says after a 不满意 rating (issue 10): the
verification (核实), the re-handling as round 2 (重办) with its own deadline, and the second round as the first."""

import itertools
from datetime import date

import pytest

from services.intake.changes import usecases as changes
from services.intake.demands import domain, usecases
from services.intake.demands.schemas import DemandOut, StatusOut
from services.intake.stations import usecases as stations
from shared.contracts import Finding, Overall
from shared.errors import InvalidTransition
from tests.support import following_events as fe
from tests.support import rehandling_events as re_
from tests.support.fake_uow import FakeUnitOfWork
from tests.unit import factories as f
from tests.unit.test_intake_usecases import HEAD, SETTINGS, FakeStore, _submitted

DUE = date(2026, 10, 15)  # the re-handling deadline tracking computed
STAFF_NAMES = ("李站长", "张晓燕", "周站长")  # who verified, reopened, paused: never on the status link

# Which use case takes which event, as handlers.py wires them.
CONSUMERS = {
    "demand.assigned": usecases.record_assigned,
    "demand.resolved": usecases.record_progress,
    "demand.rated": usecases.record_progress,
    "demand.rating_verified": usecases.record_verified,
    "demand.reopened": usecases.record_reopened,
    "demand.archived": usecases.record_archived,
    "demand.paused": usecases.record_paused,
    "demand.resumed": usecases.record_resumed,
    "demand.extension_decided": usecases.record_extension,
}


@pytest.fixture
async def uow():
    uow = FakeUnitOfWork(FakeStore())
    await stations.announce_stations(uow, SETTINGS)  # as intake does on start
    uow.published.clear()
    return uow


async def _handle(uow, *events) -> None:
    for event in events:
        await uow.handle(event, CONSUMERS[event.routing_key])


async def _status(uow, token) -> StatusOut:
    return StatusOut.of(*await usecases.status_by_token(uow, token))


def round_one(s, finding: Finding = Finding.founded) -> list:
    """Assigned, resolved, rated 不满意, verified with `finding`."""
    a1 = f.assigned(s, no=1)
    rating = f.rated(s, overall=Overall.dissatisfied)
    return [a1, f.resolved(s), rating, re_.verified(rating, finding, at=f.at(17))]


def reopening(verification) -> object:
    return re_.reopened(verification, at=f.at(18), due_on=DUE)


async def test_a_founded_verification_is_told_as_re_handling_in_round_two_with_its_deadline(uow):
    demand, token, s = await _submitted(uow)
    first = round_one(s)
    await _handle(uow, *first, reopening(first[-1]))
    status = await _status(uow, token)
    assert (status.progress, status.round) == ("reopened", 2)
    assert status.progress_label == (
        "重办中（第 2 轮）：经核实您反映的问题属实，正在重新安排办理。重办期限：2026年10月15日"
    )
    assert status.expected_on == DUE != demand.expected_on
    assert (status.rehandling.round, status.rehandling.due_on, status.rehandling.reopened_at) == (2, DUE, f.at(18))
    assert (status.verification.finding, status.verification.finding_label) == ("founded", "情况属实，重新办理")
    assert status.can_withdraw is False and status.ending is None
    shown = status.model_dump_json()
    assert not any(name in shown for name in STAFF_NAMES), shown
    assert re_.verified(first[2]).reason not in shown  # what was found is the station's record

    a2 = f.assigned(s, no=2, round=2, due_on=DUE, occurred_at=f.at(19))
    await _handle(uow, a2)
    status = await _status(uow, token)
    assert status.progress == "reopened" and status.handled_by == "市计量测试院"
    assert status.progress_label == "重办中（第 2 轮）：承办单位：市计量测试院。重办期限：2026年10月15日"

    await _handle(uow, f.resolved(s, round=2, occurred_at=f.at(20)))
    status = await _status(uow, token)
    assert (status.progress, status.progress_label, status.round) == ("resolved", "已办结，待评价（第 2 轮）", 2)
    await _handle(uow, f.rated(s, round=2, occurred_at=f.at(21)))
    assert (await _status(uow, token)).progress_label == "已评价（第 2 轮）"
    await _handle(uow, f.archived(s, archive_no="A2026-000009"))
    status = await _status(uow, token)
    assert (status.progress, status.archive_no, status.round) == ("archived", "A2026-000009", 2)
    assert status.rehandling is not None and status.verification.finding == "founded"

    staff = DemandOut.of(await usecases.get_demand(uow, HEAD, demand.demand_id))
    assert (staff.round, staff.rehandling.due_on, staff.verification.finding) == (2, DUE, "founded")
    assert staff.handling.round == 2 and staff.progress == "archived"


@pytest.mark.parametrize("finding", [Finding.unfounded, Finding.unreachable])
async def test_an_unfounded_or_unreachable_verification_is_told_as_verified_and_soon_archived(uow, finding):
    demand, token, s = await _submitted(uow)
    await _handle(uow, *round_one(s, finding))
    status = await _status(uow, token)
    assert (status.progress, status.round, status.rehandling) == ("verified", 1, None)
    assert status.progress_label == f"已评价（不满意）。{domain.VERIFIED_LABELS[finding.value]}，本需求即将办结归档"
    assert (status.verification.finding, status.verification.finding_label) == (finding.value, finding.label)
    assert status.verification.verified_at == f.at(17) and status.can_withdraw is False
    assert not any(name in status.model_dump_json() for name in STAFF_NAMES)
    staff = DemandOut.of(await usecases.get_demand(uow, HEAD, demand.demand_id))
    assert (staff.progress, staff.progress_label) == (status.progress, status.progress_label)

    await _handle(uow, f.archived(s))
    status = await _status(uow, token)
    assert (status.progress, status.progress_label) == ("archived", "已办结归档")
    assert status.verification.finding == finding.value


def test_the_enterprise_wording_covers_every_conclusive_finding():
    assert set(domain.VERIFIED_LABELS) == {f.value for f in Finding if f is not Finding.founded}


async def test_a_verification_arriving_before_the_rating_it_verifies_tells_the_same(uow):
    _, token, s = await _submitted(uow)
    a1, resolved, rating, verification = round_one(s, Finding.unfounded)
    await _handle(uow, verification, a1, resolved)
    assert (await _status(uow, token)).progress == "verified"
    await _handle(uow, rating)
    assert (await _status(uow, token)).progress == "verified"


async def test_a_founded_verification_before_its_reopening_says_re_handling_without_a_date_yet(uow):
    _, token, s = await _submitted(uow)
    first = round_one(s)
    await _handle(uow, *first)
    status = await _status(uow, token)
    assert (status.progress, status.round, status.expected_on, status.rehandling) == ("reopened", 2, None, None)
    assert status.progress_label == "重办中（第 2 轮）：经核实您反映的问题属实，正在重新安排办理"
    await _handle(uow, reopening(first[-1]))
    assert (await _status(uow, token)).expected_on == DUE


ROUND_TWO_START = ("a1", "resolved", "rating", "verification", "reopened", "a2")


@pytest.mark.parametrize(
    "order", list(itertools.permutations(range(len(ROUND_TWO_START))))[::11], ids=lambda o: "".join(map(str, o))
)
async def test_any_arrival_order_tells_the_same_and_a_late_round_one_event_changes_nothing(uow, order):
    _, token, s = await _submitted(uow)
    first = round_one(s)
    events = [*first, reopening(first[-1]), f.assigned(s, no=2, round=2, due_on=DUE, occurred_at=f.at(19))]
    await _handle(uow, *(events[i] for i in order))
    status = await _status(uow, token)
    assert (status.progress, status.round, status.expected_on, status.handled_by) == (
        "reopened",
        2,
        DUE,
        "市计量测试院",
    )
    assert status.progress_label == "重办中（第 2 轮）：承办单位：市计量测试院。重办期限：2026年10月15日"


async def test_redelivered_and_duplicate_reopenings_and_verifications_change_nothing(uow):
    demand, token, s = await _submitted(uow)
    first = round_one(s)
    reopened = reopening(first[-1])
    await _handle(uow, *first, reopened)
    before = uow.store.demands[demand.demand_id]
    assert not await uow.handle(reopened, usecases.record_reopened)  # the inbox
    assert not await uow.handle(first[-1], usecases.record_verified)
    # the same facts under new event ids (a producer's retry): the domain keeps what it has
    again = reopened.model_copy(update={"due_on": date(2026, 12, 31), "event_id": s.event_id})
    assert domain.reopen(before, again) == before
    assert domain.verify(before, re_.verified(first[2], Finding.unfounded)) == before
    assert uow.store.demands[demand.demand_id] == before
    assert (await _status(uow, token)).expected_on == DUE


async def test_round_one_pauses_and_extensions_no_longer_move_the_re_handling_deadline(uow):
    _, token, s = await _submitted(uow)
    first = round_one(s)
    a1 = first[0]
    stale_pause = fe.paused(a1, at=f.at(5))  # never resumed: resolution ended it in tracking
    request = fe.extension_requested(a1, due_on=date(2026, 10, 9), new_due_on=date(2026, 10, 23), at=f.at(6))
    await _handle(uow, stale_pause, fe.extension_decided(request, at=f.at(7)), *first, reopening(first[-1]))
    status = await _status(uow, token)
    assert (status.paused, status.clock_label, status.expected_on) == (None, None, DUE)

    a2 = f.assigned(s, no=2, round=2, due_on=DUE, occurred_at=f.at(19))
    pause = fe.paused(a2, at=f.at(20)).model_copy(update={"assignment_no": 2})
    await _handle(uow, a2, pause)
    status = await _status(uow, token)
    assert status.paused is not None and status.clock_label.startswith("计时暂停：等待企业补充材料")
    assert status.progress == "reopened" and status.expected_on == DUE
    await _handle(uow, fe.resumed(pause, days=1, handling_due_on=date(2026, 10, 16), at=f.at(21)))
    status = await _status(uow, token)
    assert status.expected_on == date(2026, 10, 16) and status.paused is None
    assert status.progress_label.endswith("重办期限：2026年10月16日")
    assert status.rehandling.due_on == DUE  # the deadline as reopened; expected_on is the date now


async def test_a_re_handled_demand_cannot_be_withdrawn_through_the_link(uow):
    _, token, s = await _submitted(uow)
    first = round_one(s)
    await _handle(uow, *first, reopening(first[-1]))
    with pytest.raises(InvalidTransition, match="resolved demand cannot be withdrawn"):
        await changes.withdraw_by_token(uow, token, "不想等了")
    assert (await _status(uow, token)).progress == "reopened"


async def test_progress_is_per_round(uow):
    demand, _, _ = await _submitted(uow)
    d = domain.advance(domain.advance(demand, "rated", 1), "assigned", 2)
    assert (d.progress, d.progress_round) == ("assigned", 2)
    assert domain.advance(d, "rated", 1) == d  # a late event of round one
    assert domain.advance(d, "reopened", 2) == d  # the reopening after the round's assignment
    archived = domain.advance(d, "archived", 1)
    assert (archived.progress, archived.progress_round) == ("archived", 1)
    assert domain.advance(archived, "rated", 2) == archived  # archived is the end of every round
