"""The enterprise's status page on a fake unit of work: each step's moment, and the rating link evaluation made for
the round, offered only while the round waits for its rating (services/intake/public)."""

from dataclasses import replace
from datetime import timedelta
from uuid import uuid4

import pytest

from services.intake.demands import usecases as demands
from services.intake.demands.schemas import DemandOut
from services.intake.public import domain
from services.intake.public import usecases as status_page
from services.intake.public.schemas import PublicStatusOut
from services.intake.stations import usecases as stations
from shared.contracts import Finding, Overall, utcnow
from tests.support import rehandling_events as re_
from tests.support.clock import CHINA_DATES
from tests.support.fake_uow import FakeUnitOfWork
from tests.unit import factories as f
from tests.unit.test_intake_usecases import CLERK, HEAD, SETTINGS, _submitted
from tests.unit.test_intake_usecases import FakeStore as DemandStore

# Which use case takes which event, as handlers.py wires them.
CONSUMERS = {
    "demand.assigned": status_page.record_assigned,
    "demand.resolved": status_page.record_progress,
    "demand.rated": status_page.record_progress,
    "demand.rating_link_issued": status_page.record_rating_link,
    "demand.rating_verified": demands.record_verified,
    "demand.reopened": demands.record_reopened,
    "demand.archived": demands.record_archived,
}


def _merged(known: domain.StepTimes | None, moment: domain.StepTimes) -> domain.StepTimes:
    """What the store's upsert keeps (DemandStore._MERGE_STEP_TIMES; held to it on PostgreSQL by
    tests/integration/test_intake_status_steps.py): 派单 the earliest, 办结 and 评价 the latest (round, moment)."""
    if known is None:
        return moment
    kept = {"first_assigned_at": min(filter(None, (known.first_assigned_at, moment.first_assigned_at)), default=None)}
    for step in ("resolved", "rated"):
        old, new = ((getattr(t, f"{step}_round"), getattr(t, f"{step}_at")) for t in (known, moment))
        later = new[0] is not None and (None in old or new > old)
        kept |= dict(zip((f"{step}_round", f"{step}_at"), new if later else old, strict=True))
    return replace(known, **kept)


class FakeStore(DemandStore):
    """The demand store with the status page's rows, kept as the real store's upserts keep them."""

    def __init__(self) -> None:
        super().__init__()
        self.times: dict = {}
        self.rating_links: dict = {}

    async def save_progress(self, demand, steps=None) -> None:
        await super().save_progress(demand)
        if steps is not None:
            self.times[steps.demand_id] = _merged(self.times.get(steps.demand_id), steps)

    async def step_times(self, demand_id):
        return self.times.get(demand_id)

    async def status_rating_link(self, demand_id, round_):
        return self.rating_links.get((demand_id, round_))

    async def keep_status_rating_link(self, link) -> bool:
        if link.demand_id not in self.demands:
            return False
        known = self.rating_links.get((link.demand_id, link.round))
        if known is None or (known.issued_at, known.event_id) < (link.issued_at, link.event_id):
            self.rating_links[(link.demand_id, link.round)] = link
        return True


@pytest.fixture
async def uow():
    uow = FakeUnitOfWork(FakeStore())
    await stations.announce_stations(uow, SETTINGS)  # as intake does on start
    uow.published.clear()
    return uow


async def _handle(uow, *events) -> None:
    for event in events:
        assert await uow.handle(event, CONSUMERS[event.routing_key])


async def _status(uow, token) -> PublicStatusOut:
    return PublicStatusOut.of_page(await status_page.status(uow, token))


def _link(s, *, round_: int = 1, days: float = 30, at=None):
    """Evaluation's RatingLinkIssued for the round, expiring `days` from now."""
    event = f.rating_link_issued(s, round=round_, token=uuid4().hex + uuid4().hex[:11])
    return event.model_copy(update={"expires_at": utcnow() + timedelta(days=days), "occurred_at": at or utcnow()})


def _at(status: PublicStatusOut) -> dict:
    return {s.key: s.at for s in status.steps}


async def test_a_resolved_demand_offers_its_rating_link_until_it_is_rated(uow):
    demand, token, s = await _submitted(uow)
    link = _link(s)
    await _handle(uow, f.assigned(s), f.resolved(s), link)
    status = await _status(uow, token)
    assert (status.progress, status.rating_url) == ("resolved", link.url)
    assert status.rating_expires_at == link.expires_at and status.rating_expires_at.utcoffset() == timedelta(hours=8)
    rating = f.rated(s)
    await _handle(uow, rating)
    status = await _status(uow, token)
    assert (status.progress, status.rating_url, status.rating_expires_at) == ("rated", None, None)
    assert _at(status)["rated"] == rating.rated_at
    await _handle(uow, f.archived(s))
    assert (await _status(uow, token)).rating_url is None


async def test_the_link_waits_for_the_resolution_and_stops_once_rated_in_any_order(uow):
    _, token, s = await _submitted(uow)
    link = _link(s)
    await _handle(uow, link, f.assigned(s))  # the link overtook the Resolved intake follows
    assert (await _status(uow, token)).rating_url is None
    await _handle(uow, f.resolved(s))
    assert (await _status(uow, token)).rating_url == link.url
    # Rated through the station's link before intake heard of the status page's: never offered.
    _, token2, s2 = await _submitted(uow)
    await _handle(uow, f.resolved(s2), f.rated(s2), _link(s2))
    assert (await _status(uow, token2)).rating_url is None


async def test_an_expired_link_is_not_offered(uow):
    _, token, s = await _submitted(uow)
    await _handle(uow, f.resolved(s), _link(s, days=-1 / 86400))
    status = await _status(uow, token)
    assert status.progress == "resolved" and status.rating_url is None


async def test_the_latest_link_of_the_round_is_kept_whatever_order_they_come_in(uow):
    _, token, s = await _submitted(uow)
    later = _link(s, at=utcnow())
    earlier = _link(s, at=utcnow() - timedelta(minutes=5))
    await _handle(uow, f.resolved(s), later, earlier)
    assert (await _status(uow, token)).rating_url == later.url


async def test_round_one_s_link_is_never_offered_in_round_two(uow):
    _, token, s = await _submitted(uow)
    rating = f.rated(s, overall=Overall.dissatisfied)
    verification = re_.verified(rating, Finding.founded, at=f.at(17))
    await _handle(uow, f.assigned(s), f.resolved(s), _link(s), rating, verification)
    await _handle(uow, re_.reopened(verification, at=f.at(18), due_on=f.at(18).date() + timedelta(days=7)))
    status = await _status(uow, token)
    assert (status.progress, status.round, status.rating_url) == ("reopened", 2, None)
    # Round 1's 办结 and 评价 are not round 2's: the page shows them as not reached yet.
    assert (_at(status)["resolved"], _at(status)["rated"]) == (None, None)
    assert _at(status)["assigned"] == f.assigned(s).occurred_at  # 派单: the first, of round 1
    second = f.resolved(s, round=2)
    link2 = _link(s, round_=2)
    await _handle(uow, second, link2)
    status = await _status(uow, token)
    assert (status.progress, status.rating_url) == ("resolved", link2.url)
    assert _at(status)["resolved"] == second.resolved_at


async def test_steps_carry_their_moments_in_china_time(uow, frozen_clock):
    demand, token, s = await _submitted(uow)
    status = await _status(uow, token)
    assert [(x.key, x.label) for x in status.steps] == list(domain.STEPS)
    assert [x.key for x in status.steps if x.at] == ["submitted"]
    submitted = status.steps[0].at
    assert submitted == frozen_clock and submitted.utcoffset() == timedelta(hours=8)
    assert submitted.date() == CHINA_DATES[frozen_clock]  # the China date, whatever UTC says
    when = utcnow()
    a2 = f.assigned(s, no=2, occurred_at=when + timedelta(hours=2))  # a rematch, seen before the first
    a1 = f.assigned(s, no=1, occurred_at=when + timedelta(hours=1))
    resolved = f.resolved(s, occurred_at=when + timedelta(hours=3))
    rated = f.rated(s, occurred_at=when + timedelta(hours=4))
    await _handle(uow, a2, a1, resolved, rated, f.archived(s))
    status = await _status(uow, token)
    assert _at(status) == {
        "submitted": frozen_clock,
        "assigned": a1.occurred_at,
        "resolved": resolved.resolved_at,
        "rated": rated.rated_at,
        "archived": f.archived(s).sealed_at,
    }
    assert all(x.at.utcoffset() == timedelta(hours=8) for x in status.steps)
    assert status.model_dump(mode="json")["steps"][0]["at"].endswith("+08:00")


def test_an_event_tells_its_own_step_s_moment_only():
    s = f.submitted()
    assigned, resolved, rated = f.assigned(s), f.resolved(s, round=2), f.rated(s)
    told = [domain.moment(e) for e in (assigned, resolved, rated)]
    assert [(t.demand_id, t.station_id) for t in told] == [(s.demand_id, s.station_id)] * 3
    assert [(t.first_assigned_at, t.resolved_round, t.resolved_at, t.rated_round, t.rated_at) for t in told] == [
        (assigned.occurred_at, None, None, None, None),
        (None, 2, resolved.resolved_at, None, None),
        (None, None, None, 1, rated.rated_at),
    ]


async def test_an_unknown_demand_s_link_is_retried_and_kept_nowhere(uow):
    link = _link(f.submitted())
    with pytest.raises(LookupError):
        await uow.handle(link, status_page.record_rating_link)
    assert uow.store.rating_links == {}


async def test_staff_never_see_the_rating_link(uow):
    demand, token, s = await _submitted(uow)
    link = _link(s)
    await _handle(uow, f.resolved(s), link)
    assert (await _status(uow, token)).rating_url == link.url
    staff = DemandOut.of(await demands.get_demand(uow, HEAD, demand.demand_id)).model_dump_json()
    assert link.url not in staff and "rating_url" not in staff
    listed = await demands.list_demands(uow, CLERK, None, None, None, None, 100, 0)
    assert all(link.url not in DemandOut.of(d).model_dump_json() for d in listed)


async def test_withdrawing_answers_the_page_as_it_then_stands(uow):
    _, token, _ = await _submitted(uow)
    page = await status_page.withdraw(uow, token, "企业已自行解决", idempotency_key="w-1")
    status = PublicStatusOut.of_page(page)
    assert (status.progress, status.ending.kind, status.rating_url) == ("withdrawn", "withdrawn", None)
    assert [x.key for x in status.steps if x.at] == ["submitted"]
    assert status == await _status(uow, token)  # the same as the page read afterwards
    await status_page.withdraw(uow, token, "企业已自行解决", idempotency_key="w-1")  # a retry: withdrawn once
    assert len([e for e in uow.published if e.routing_key == "demand.withdrawn"]) == 1
