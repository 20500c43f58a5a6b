"""申诉复核 in dispatch: a voided rating (RatingVoided) is kept by the rating's event id for the running record, which
then leaves it out of `rated` and `satisfied` (domain.md §9). The SQL itself: tests/integration/test_dispatch_voids.py.
"""

from services.dispatch.organizations import usecases
from shared.contracts import Overall
from tests.support import rehandling_events as rh
from tests.support.fake_uow import FakeUnitOfWork
from tests.unit import factories as f


class VoidStore:
    def __init__(self) -> None:
        self.ratings: list[tuple] = []
        self.voids: list[tuple] = []

    async def record_rating_outcome(self, *row) -> None:
        self.ratings.append(row)

    async def record_voided_rating(self, *row) -> None:
        self.voids.append(row)


async def test_a_void_names_the_rating_it_voids_and_a_duplicate_changes_nothing():
    uow = FakeUnitOfWork(VoidStore(), consumer="dispatch")
    cause = f.submitted()
    rating = f.rated(cause, overall=Overall.satisfied)
    void = rh.voided(rating)
    assert await uow.handle(void, usecases.record_voided_rating)  # before its rating: kept all the same
    assert not await uow.handle(void, usecases.record_voided_rating)  # redelivered
    assert uow.store.voids == [(rating.event_id, cause.demand_id, 1, cause.station_id, void.voided_at)]


async def test_a_rating_is_kept_with_its_event_id_so_its_void_can_find_it():
    uow = FakeUnitOfWork(VoidStore(), consumer="dispatch")
    rating = f.rated(f.submitted(), round=2, overall=Overall.dissatisfied)
    await uow.handle(rating, usecases.record_rating)
    assert uow.store.ratings[0][1:6] == (2, rating.station_id, "dissatisfied", rating.rated_at, rating.event_id)
