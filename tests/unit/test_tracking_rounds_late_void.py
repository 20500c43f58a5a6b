"""Issue 10's race between 申诉复核 and 核实 of the same 不满意 rating, as tracking settles it (its single owner).

Evaluation refuses to void a rating once the founded verification's reopening has reached it; in the window left
(the void and the verification committed at the same instant in the two services), RatingVoided reaches tracking
after it verified the rating founded and reopened the demand. The reopening stands: the late void is on the sheet
and takes the rating out of the satisfaction figures (evaluation's), but does not move the case back nor end its
re-handling deadline. Same calendar as test_tracking_rounds.py.
"""

import pytest

from services.tracking import domain as cases
from services.tracking.clock.usecases import clock_of
from shared.contracts import DemandReopened
from tests.support import rehandling_events as rh
from tests.support.fake_uow import FakeUnitOfWork
from tests.unit.test_tracking_rounds import DEFAULTS, EVENING, HEAD, REHANDLE_BY, _rated, _record, _verify
from tests.unit.test_tracking_usecases import FakeStore


@pytest.fixture
def uow():
    return FakeUnitOfWork(FakeStore())


@pytest.fixture
def at_evening(time_machine):
    time_machine.move_to(EVENING, tick=False)


async def test_a_void_arriving_after_a_founded_verification_leaves_the_reopening_standing(uow, at_evening):
    s, rated = await _rated(uow)
    await _verify(uow, s)  # founded: round 2, in the same transaction
    [reopening] = uow.events(DemandReopened)
    before = uow.store.cases[s.demand_id]
    assert (before.round, before.status, before.reopening_id) == (2, "reopened", reopening.event_id)

    void = rh.voided(rated)  # the appeal of round 1, committed by evaluation before it heard of the reopening
    assert cases.apply(before, void) == before  # pure: a void of an older round moves nothing
    await _record(uow, void, void)  # delivered, and redelivered: accepted both times, no error
    case = uow.store.cases[s.demand_id]
    assert case == before and case.rating_voided_at is None and case.handling_due_on == REHANDLE_BY
    texts = [t for _, d, t in uow.store.entries if d == s.demand_id]
    assert sum("申诉复核：第 1 轮企业评价作废" in t for t in texts) == 1  # on the sheet, once

    view = await clock_of(uow, HEAD, s.demand_id, DEFAULTS)
    handling = next(d for d in view.deadlines if d.kind == "handling")
    assert (handling.due_on, handling.status) == (REHANDLE_BY, "open")  # re-handling goes on
    assert not [d for d in view.deadlines if d.kind == "verification" and d.detail.get("voided")]
