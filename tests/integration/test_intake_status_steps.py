"""The statements intake sends for the events it follows (Assigned, Resolved, RatingLinkIssued, Rated, Archived), on its
real database (issue 14): a demand read with its items in one statement, the status page's step moments and rating
link merged in their upserts (no read first), a handled event's writes in one statement.

These hold the real SQL to what it replaced: the items as the separate read gave them (values and types, in order,
under row-level security), the steps' moments and the round's link the same whatever order the events arrive in (the
earliest 派单, the latest round's 办结 and 评价, the latest issued link), an unknown demand's link retried with nothing
kept, and each event handled in the statements counted below.
"""

import asyncio
import dataclasses
import json
import random
from datetime import timedelta
from uuid import uuid4

import asyncpg
import pytest

from services.intake.app import SERVICE
from services.intake.demands import domain as demand_domain
from services.intake.demands import usecases as demands
from services.intake.demands.domain import DemandItem
from services.intake.demands.usecases import DemandForm, ItemRequest, StatusLinks
from services.intake.public import usecases as status_page
from services.intake.settings import Settings
from services.intake.store import Store
from shared.auth import Principal, Role
from shared.contracts import Channel, utcnow
from shared.db import ensure_database, migrate
from shared.db.pool import create_pool
from shared.db.uow import UnitOfWork
from tests.support import events as ev
from tests.support.infra import eventually
from tests.unit import factories as f

pytestmark = pytest.mark.integration

HUNNAN, TIEXI = ev.STATION, "210100/210106/tiexi-01"
CLERK = Principal(subject="clerk-1", name="张晓燕", role=Role.clerk, station=HUNNAN)
TIEXI_CLERK = Principal(subject="clerk-3", name="铁西专员", role=Role.clerk, station=TIEXI)
HEAD = Principal(subject="head-1", name="周站长", role=Role.head, station=HUNNAN)
LINKS = StatusLinks(secret="test-secret", base_url="https://intake.example", days=30)
# The read the demand's items had before they came with its row (one more statement per read).
_ITEM_FIELDS = ", ".join(f.name for f in dataclasses.fields(DemandItem))
_SEPARATE_ITEMS = f"SELECT {_ITEM_FIELDS} FROM demand_items WHERE demand_id = $1 ORDER BY position"


@pytest.fixture
async def intake(databases):
    """Intake's database migrated as the service does at start, its unit of work on one connection as the service's
    role (row-level security applies); the owner's URL; and every statement that connection sends."""
    settings = Settings(database_url=databases("intake"))
    await ensure_database(settings.database_url)
    await migrate(settings.database_url, "intake", SERVICE.migrations, app_role=settings.app_role)
    pool = await create_pool(settings.resolved_app_database_url, min_size=1, max_size=1)
    sent: list[str] = []
    async with pool.acquire() as conn:
        conn.add_query_logger(lambda record: sent.append(record.query))
    uow = UnitOfWork("intake", Store)
    uow.bind(pool)
    try:
        yield uow, settings.database_url, sent
    finally:
        await pool.close()


def _form(station: str = HUNNAN) -> DemandForm:
    return DemandForm(
        station_id=station,
        enterprise_name="沈阳精密仪器有限公司",
        credit_code=ev.credit_code(),
        contact_name="王建国",
        contact_phone="13804001234",
        items=[
            ItemRequest("metrology.traceability"),
            # a remark and a material received: each read back in its own field
            ItemRequest("metrology.calibration", remarks="36 台压力表", materials_received=["营业执照复印件"]),
        ],
        description="压力表检定",
        channel=Channel.window,
        first_responder="张晓燕",
    )


async def _submitted(uow, principal: Principal = CLERK):
    demand, token = await demands.submit_demand(uow, principal, _form(principal.station), LINKS)
    return demand, token, demand_domain.submitted_event(demand)


async def _separately(db: str, demand_id) -> tuple[DemandItem, ...]:
    conn = await asyncpg.connect(db)
    try:
        rows = await conn.fetch(_SEPARATE_ITEMS, demand_id)
    finally:
        await conn.close()
    # as the store built them from that read (the pool's codec decoded the jsonb lists as json.loads does)
    return tuple(
        DemandItem(
            **{
                **dict(r),
                "materials": tuple(json.loads(r["materials"])),
                "materials_received": tuple(json.loads(r["materials_received"])),
            }
        )
        for r in rows
    )


async def test_a_demand_is_read_with_its_items_as_the_separate_read_gave_them(intake):
    uow, db, _ = intake
    demand, _, _ = await _submitted(uow)
    there, _, _ = await _submitted(uow, TIEXI_CLERK)
    expected = await _separately(db, demand.demand_id)
    assert [i.item_code for i in expected] == ["metrology.traceability", "metrology.calibration"]
    assert expected[1].materials_received == ("营业执照复印件",) and expected[1].remarks == "36 台压力表"
    assert repr(demand.items) == repr(expected)  # as registered, too

    async with uow.begin() as tx:
        got = await tx.store.get(demand.demand_id)
        locked = await tx.store.get(demand.demand_id, for_update=True)
    async with uow.begin(HEAD) as tx:
        in_scope = await tx.store.get_in_scope(demand.demand_id, HEAD.db_scope)
        not_in_scope = await tx.store.get_in_scope(there.demand_id, HEAD.db_scope)
        listed = await tx.store.list_in_scope(HEAD.db_scope, None, None, None, 100, 0)
    async with uow.begin(TIEXI_CLERK) as tx:
        hidden = await tx.store.get(demand.demand_id)  # row-level security: another station's demand, not even read
    # Values and types (tuples of str, int, None), in the items' order, the same from every read.
    assert repr(got.items) == repr(locked.items) == repr(in_scope.items) == repr(expected)
    assert got == locked == in_scope and [d.demand_id for d in listed] == [demand.demand_id]
    assert repr(listed[0].items) == repr(expected)
    assert not_in_scope is None and hidden is None


async def test_a_correction_waiting_for_the_demand_reads_the_items_the_one_before_it_committed(intake):
    """Two corrections of one demand: the second waits for the first's lock and must then read the items the first
    saved, or saving its own would put the old items back."""
    uow, db, _ = intake
    demand, _, _ = await _submitted(uow)
    first, watcher = await asyncpg.connect(db), await asyncpg.connect(db)
    try:
        holding = first.transaction()
        await holding.start()
        await first.execute("SELECT 1 FROM demands WHERE demand_id = $1 FOR UPDATE", demand.demand_id)
        await first.execute(
            "UPDATE demand_items SET remarks = $2 WHERE demand_id = $1 AND item_code = 'metrology.calibration'",
            demand.demand_id,
            "改为 40 台",
        )

        async def second_correction_reads():
            async with uow.begin(HEAD) as tx:
                return await tx.store.get_in_scope(demand.demand_id, HEAD.db_scope, for_update=True)

        second = asyncio.create_task(second_correction_reads())
        waiting = (
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        await eventually(lambda: watcher.fetchval(waiting), what="the second correction waits for the lock")
        await holding.commit()
        got = await asyncio.wait_for(second, timeout=20)
    finally:
        await first.close()
        await watcher.close()
    assert got.items[1].item_code == "metrology.calibration" and got.items[1].remarks == "改为 40 台"


async def test_a_demand_without_item_rows_reads_none(intake):
    uow, db, _ = intake
    demand, _, _ = await _submitted(uow)
    conn = await asyncpg.connect(db)  # a demand from before intake kept items
    try:
        await conn.execute("DELETE FROM demand_items WHERE demand_id = $1", demand.demand_id)
    finally:
        await conn.close()
    async with uow.begin() as tx:
        got = await tx.store.get(demand.demand_id)
    assert got.items == () and got.tracking_no == demand.tracking_no


def _lifecycle_events(s, t):
    """Assignments, resolutions and ratings whose moments' order differs from their arrival's: a rematch (no=2)
    assigned later than the first, a retried resolution of round 1 at a later moment, round 2's resolution at a moment
    before that, ratings of both rounds."""
    return [
        f.assigned(s, no=2, occurred_at=t + timedelta(hours=3)),
        f.assigned(s, no=1, occurred_at=t + timedelta(hours=1)),
        f.resolved(s, round=1, occurred_at=t + timedelta(hours=4)),
        f.resolved(s, round=1, occurred_at=t + timedelta(hours=6)),
        f.resolved(s, round=2, occurred_at=t + timedelta(hours=5)),
        f.rated(s, round=1, occurred_at=t + timedelta(hours=7)),
        f.rated(s, round=2, occurred_at=t + timedelta(hours=2)),
    ]


_CONSUMERS = {
    "demand.assigned": status_page.record_assigned,
    "demand.resolved": status_page.record_progress,
    "demand.rated": status_page.record_progress,
    "demand.rating_link_issued": status_page.record_rating_link,
    "demand.archived": demands.record_archived,
}


async def test_the_steps_moments_are_the_same_whatever_order_the_events_arrive_in(intake):
    uow, _, _ = intake
    orders = [list(range(7)), list(range(6, -1, -1))] + [random.Random(n).sample(range(7), 7) for n in range(14)]
    t, kept = utcnow(), []
    for order in orders:
        _, _, s = await _submitted(uow)
        told = _lifecycle_events(s, t)
        for i in order:
            assert await uow.handle(told[i], _CONSUMERS[told[i].routing_key])
        async with uow.begin() as tx:
            times = await tx.store.step_times(s.demand_id)
        assigned, resolved, rated = told[:2], told[2:5], told[5:]
        # 派单 the earliest assignment; 办结 and 评价 the latest round's, of a round the later moment.
        assert times.first_assigned_at == min(a.occurred_at for a in assigned)
        assert (times.resolved_round, times.resolved_at) == max((r.round, r.resolved_at) for r in resolved)
        assert (times.rated_round, times.rated_at) == max((r.round, r.rated_at) for r in rated)
        assert (times.demand_id, times.station_id) == (s.demand_id, s.station_id)
        kept.append(dataclasses.astuple(times)[2:])
    assert len(set(kept)) == 1


async def test_a_moment_an_event_does_not_tell_stays_as_kept(intake):
    uow, _, _ = intake
    _, _, s = await _submitted(uow)
    resolved = f.resolved(s)
    assert await uow.handle(resolved, status_page.record_progress)  # the first row: from a resolution
    async with uow.begin() as tx:
        first = await tx.store.step_times(s.demand_id)
    assert (first.first_assigned_at, first.resolved_at, first.rated_at) == (None, resolved.resolved_at, None)
    assigned = f.assigned(s)
    assert await uow.handle(assigned, status_page.record_assigned)
    async with uow.begin() as tx:
        times = await tx.store.step_times(s.demand_id)
    assert (times.first_assigned_at, times.resolved_round, times.resolved_at) == (
        assigned.occurred_at,
        1,
        first.resolved_at,
    )


def _link(s, at, *, round_: int = 1, event_id=None):
    event = f.rating_link_issued(s, round=round_, token=uuid4().hex + uuid4().hex[:11])
    return event.model_copy(update={"occurred_at": at, "event_id": event_id or event.event_id})


async def test_the_round_s_latest_issued_link_is_kept_whatever_order_they_arrive_in(intake):
    uow, _, _ = intake
    at = utcnow()
    for order in ([0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1], [1, 3, 0, 2]):
        _, _, s = await _submitted(uow)
        low, high = sorted([uuid4(), uuid4()], key=str)  # two links issued at the same instant: the event id decides
        links = [
            _link(s, at - timedelta(minutes=5)),
            _link(s, at, event_id=low),
            _link(s, at, event_id=high),
            _link(s, at + timedelta(minutes=1), round_=2),
        ]
        for i in order:
            assert await uow.handle(links[i], status_page.record_rating_link)
        again = links[1].model_copy(update={"event_id": uuid4(), "occurred_at": at - timedelta(minutes=1)})
        assert await uow.handle(again, status_page.record_rating_link)  # older, arriving last: changes nothing
        async with uow.begin() as tx:
            one = await tx.store.status_rating_link(s.demand_id, 1)
            two = await tx.store.status_rating_link(s.demand_id, 2)
        assert (one.url, one.event_id, one.issued_at) == (links[2].url, high, at)
        assert (two.round, two.url) == (2, links[3].url)


async def test_an_unknown_demand_s_link_is_retried_with_nothing_kept(intake):
    uow, db, _ = intake
    link = _link(ev.submitted(), utcnow())
    with pytest.raises(LookupError):
        await uow.handle(link, status_page.record_rating_link)
    conn = await asyncpg.connect(db)
    try:
        assert await conn.fetchval("SELECT count(*) FROM status_rating_links") == 0
        assert await conn.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", link.event_id) == 0  # retried
    finally:
        await conn.close()


def _lifecycle(s) -> list:
    return [f.assigned(s), f.resolved(s), f.rating_link_issued(s), f.rated(s), f.archived(s)]


async def test_each_event_is_handled_in_as_few_statements_as_counted(intake):
    """BEGIN with the inbox claim (the scope and the demand's lock), the demand with its items, the writes in one
    statement, COMMIT; a rating link: one statement where the demand, its items and the round's link were read."""
    uow, _, sent = intake
    _, _, warm = await _submitted(uow)
    for event in _lifecycle(warm):  # asyncpg learns the row types once per connection (statements not counted)
        assert await uow.handle(event, _CONSUMERS[event.routing_key])
    _, token, s = await _submitted(uow)
    counted = {"demand.assigned": 4, "demand.resolved": 4, "demand.rating_link_issued": 3, "demand.rated": 4}
    counted["demand.archived"] = 4  # before issue 14: 8, 8, 7, 8, 6
    for event in _lifecycle(s):
        sent.clear()
        assert await uow.handle(event, _CONSUMERS[event.routing_key])
        assert len(sent) == counted[event.routing_key], (event.routing_key, "; ".join(q.strip()[:50] for q in sent))
    page = await status_page.status(uow, token)
    assert page.demand.progress == "archived" and all(step.at for step in page.steps)
