"""申诉复核 and the registry's running record, on the real database and broker: a voided rating counts in neither
`rated` nor `satisfied` (domain.md §9), in any order with its rating, once however often it is delivered; and a
rating counts in `satisfied` as evaluation's Rated says (its satisfied levels), not by a definition of dispatch's own.
"""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from services.dispatch.organizations.usecases import record_rating, record_resolution, record_voided_rating
from shared.contracts import Answers, Outcome, Overall, Rated, RatingSource, Resolved
from shared.contracts.envelope import Cause
from tests.integration.test_dispatch_registry import admit, code, record_of
from tests.support import auth, events
from tests.support import rehandling_events as rh
from tests.support.system import organization, running_system

pytestmark = pytest.mark.integration

HUNNAN = events.STATION
COUNTS = ("completed", "rated", "satisfied")


@pytest.fixture
async def system(amqp, databases):
    async with running_system(amqp, databases) as system:
        yield system


async def test_a_rating_voided_on_appeal_leaves_the_record(system):
    await admit(system, "org-void", organization("作废检测所", code(120), [HUNNAN], categories=["metrology"]))
    demand_id = await system.submit()
    await system.assign(demand_id, org="org-void")
    await system.resolve(demand_id)
    await system.rate(demand_id)  # 满意
    path = "/organizations/org-void"

    def counts(*want):
        return lambda o: tuple(o["record"][k] for k in COUNTS) == want

    await system.get_when("dispatch", path, counts(1, 1, 1), "the rating to count", auth.HEAD)
    reply = await system.clients["evaluation"].post(
        f"/surveys/{demand_id}/ratings/1/void", json={"reason": "经申诉复核，该评价系误操作"}, headers=auth.SUPERVISOR
    )
    assert reply.status_code == 200, reply.text
    record = (await system.get_when("dispatch", path, counts(1, 0, 0), "the void to count", auth.HEAD))["record"]
    assert record["satisfaction_rate"] is None  # no valid rating left to rate it by


async def test_a_void_counts_before_its_rating_once_and_only_for_the_rating_it_names(system):
    await admit(system, "org-void2", organization("先作废检测所", code(121), [HUNNAN], categories=["metrology"]))
    demand_id = await system.submit()
    await system.assign(demand_id, org="org-void2")
    seen = (await system.clients["dispatch"].get(f"/demands/{demand_id}", headers=auth.HEAD)).json()
    cause = Cause(uuid4(), uuid4(), HUNNAN, demand_id, seen["tracking_no"])
    at = datetime.now(UTC)

    def rating(overall: Overall, when: datetime) -> Rated:
        return cause.caused(Rated, round=1, answers=Answers(overall=overall), source=RatingSource.paper, rated_at=when)

    first = rating(Overall.satisfied, at)
    void = rh.voided(first)
    resolved = cause.caused(
        Resolved, round=1, assignment_no=1, outcome=Outcome.met, summary="已出具证书", resolved_by="先作废检测所",
        resolved_at=at - timedelta(hours=1),
    )  # fmt: skip
    uow = system.apps["dispatch"].state.runtime.uow
    assert await uow.handle(void, record_voided_rating)  # the void before its rating
    assert not await uow.handle(void, record_voided_rating)  # redelivered: a no-op
    assert await uow.handle(first, record_rating)
    assert await uow.handle(resolved, record_resolution)
    record = await record_of(system, "org-void2")
    assert tuple(record[k] for k in COUNTS) == (1, 0, 0)
    # A later rating of the round (after verification) is another rating: the earlier one's void leaves it valid.
    assert await uow.handle(rating(Overall.very_satisfied, at + timedelta(hours=1)), record_rating)
    record = await record_of(system, "org-void2")
    assert tuple(record[k] for k in COUNTS) == (1, 1, 1)


async def test_the_record_counts_as_satisfied_what_evaluation_said_of_each_rating(system):
    """满意 is evaluation's setting (EVALUATION_SATISFIED_LEVELS): the running record and the review window count a
    rating as satisfied as its Rated says (counts_as_satisfied), whatever its level; a Rated from before that flag
    counts by the default definition, 非常满意 + 满意."""
    await admit(system, "org-levels", organization("满意等级检测所", code(122), [HUNNAN], categories=["metrology"]))
    uow = system.apps["dispatch"].state.runtime.uow
    at = datetime.now(UTC)
    ratings = (
        (Overall.very_satisfied, True),  # while the city counted only 非常满意
        (Overall.satisfied, False),  # then 满意 did not count
        (Overall.satisfied, False),
        (Overall.average, True),  # after the city counted 一般 too
        (Overall.satisfied, None),  # an older Rated: 满意 counts
        (Overall.average, None),  # an older Rated: 一般 does not
    )  # by the levels alone (非常满意 + 满意) four would count
    for overall, flag in ratings:
        demand_id = await system.submit()
        await system.assign(demand_id, org="org-levels")
        seen = (await system.clients["dispatch"].get(f"/demands/{demand_id}", headers=auth.HEAD)).json()
        cause = Cause(uuid4(), uuid4(), HUNNAN, demand_id, seen["tracking_no"])
        resolved = cause.caused(
            Resolved, round=1, assignment_no=1, outcome=Outcome.met, summary="已出具证书", resolved_by="满意等级检测所",
            resolved_at=at - timedelta(hours=1),
        )  # fmt: skip
        rated = cause.caused(
            Rated, round=1, answers=Answers(overall=overall), source=RatingSource.paper, rated_at=at,
            counts_as_satisfied=flag,
        )  # fmt: skip
        assert await uow.handle(resolved, record_resolution)
        assert await uow.handle(rated, record_rating)
    record = await record_of(system, "org-levels")
    assert tuple(record[k] for k in COUNTS) == (6, 6, 3)
    assert record["satisfaction_rate"] == 0.5
    async with uow.begin() as tx:  # the review window's figures (domain.review), by the same rule
        windowed = (await tx.store.windowed_records(["org-levels"], (at - timedelta(days=30)).date()))["org-levels"]
    assert (windowed.completed, windowed.rated, windowed.satisfied) == (6, 6, 3)
