"""Intake's use cases on a fake unit of work: no PostgreSQL, the same rules."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from services.intake.catalogue.domain import CatalogueItem, Category
from services.intake.demands import usecases
from services.intake.demands.domain import Demand
from services.intake.demands.usecases import DemandForm, IdempotencyConflict, ItemRequest, StatusLinks
from services.intake.settings import Settings
from services.intake.stations import usecases as stations
from services.intake.stations.domain import Station
from shared.auth import Principal, Role, in_scope
from shared.contracts import Channel, DemandSubmitted, GreenChannel, StationRegistered
from shared.errors import Forbidden, Invalid, NotFound
from tests.support.fake_uow import FakeUnitOfWork
from tests.unit import factories as f

SETTINGS = Settings()

SHENYANG = "210100/shenyang"
HUNNAN = "210100/210112/hunnan-01"
XINSONG = "210100/210112/hunnan-xinsong"  # a service point registered under HUNNAN, outside its id path
TIEXI = "210100/210106/tiexi-01"
CLERK = Principal(subject="clerk-1", name="张晓燕", role=Role.clerk, station=HUNNAN)
XINSONG_CLERK = Principal(subject="clerk-2", name="新松专员", role=Role.clerk, station=XINSONG)
HEAD = Principal(subject="head-1", name="周站长", role=Role.head, station=HUNNAN)
TIEXI_HEAD = Principal(subject="head-2", name="铁西站长", role=Role.head, station=TIEXI)
LINKS = StatusLinks(secret="test-secret", base_url="https://intake.example", days=30)


def seeds() -> list[Station]:
    return [
        Station(SHENYANG, "沈阳市一站式质量服务中心", "", 1, None, True),
        Station(HUNNAN, "沈阳市浑南区一站式质量服务站", "", 2, SHENYANG, True),
        Station(XINSONG, "新松机器人重点企业质量服务站", "", 4, HUNNAN, False),
        Station(TIEXI, "沈阳市铁西区一站式质量服务站", "", 2, SHENYANG, True),
    ]


class FakeStore:
    """Intake's store in memory, with the registry's tree deciding station scope as `qs_covers` does."""

    def __init__(self) -> None:
        self.registry: dict[str, Station] = {s.station_id: s for s in seeds()}
        self.announced: dict[str, datetime] = {}
        self.tree: dict[str, StationRegistered] = {}
        self.demands: dict = {}
        self.serials: dict[tuple[str, int], int] = {}
        self.idempotency: dict[tuple[str, str], dict] = {}
        self.links: dict[str, tuple] = {}
        self.item = CatalogueItem(
            item_code="metrology.calibration",
            version=1,
            category="metrology",
            label="计量器具检定/校准",
            description="",
            materials=("营业执照复印件", "计量器具清单"),
            time_limit_days=10,
            legal_limit_days=None,
            handled_by="organization",
        )

    def covers(self, scope: str, station_id: str) -> bool:
        known = self.tree.get(station_id)
        return bool(scope) and any(in_scope(s, scope) for s in (station_id, *(known.ancestors if known else ())))

    # catalogue and calendar
    async def categories(self):
        return {"metrology": Category("metrology", "计量", 10)}

    async def catalogue(self):
        return [self.item], [], {self.item.item_code: 1}

    async def workday_overrides(self):
        return {}

    # demands
    async def lock_idempotency_key(self, station_id, key) -> None:
        pass

    async def idempotent_result(self, station_id, key):
        return self.idempotency.get((station_id, key))

    async def remember_idempotent(self, station_id, key, digest, demand_id) -> None:
        self.idempotency[(station_id, key)] = {"request_sha256": digest, "demand_id": demand_id}

    async def station(self, station_id):
        return self.registry.get(station_id)

    async def visit(self, scope, visit_id):
        return None

    async def open_duplicate(self, station_id, credit_code, codes):
        return None

    async def next_serial(self, station_id, year) -> int:
        self.serials[(station_id, year)] = self.serials.get((station_id, year), 0) + 1
        return self.serials[(station_id, year)]

    async def insert(self, demand: Demand) -> None:
        self.demands[demand.demand_id] = demand

    async def ensure_enterprise(self, demand) -> None:
        pass

    async def add_status_link(self, digest, demand, expires_at) -> None:
        self.links[digest] = (demand.demand_id, expires_at)

    async def get(self, demand_id, *, for_update=False):
        return self.demands.get(demand_id)

    async def get_in_scope(self, demand_id, scope):
        demand = self.demands.get(demand_id)
        return demand if demand and self.covers(scope, demand.station_id) else None

    async def list_in_scope(self, scope, status, since, until, limit, offset):
        found = [d for d in self.demands.values() if self.covers(scope, d.station_id)]
        return [d for d in found if status is None or d.status == status][offset : offset + limit]

    async def save_progress(self, demand: Demand) -> None:
        self.demands[demand.demand_id] = demand

    # the registry
    async def save_station(self, station: Station) -> None:
        self.registry[station.station_id] = station

    def _ancestors(self, station_id: str) -> list[str]:
        chain, parent = [], self.registry[station_id].parent_id
        while parent is not None:
            chain.insert(0, parent)
            parent = self.registry[parent].parent_id
        return chain

    async def with_ancestors(self, station_ids):
        found = [(self.registry[s], self._ancestors(s)) for s in station_ids if s in self.registry]
        return sorted(found, key=lambda pair: (len(pair[1]), pair[0].station_id))

    async def ancestors(self, station_id):
        return self._ancestors(station_id) if station_id in self.registry else []

    async def descendants(self, station_id):
        return sorted(s for s in self.registry if station_id in self._ancestors(s))

    async def shallowest_child_level(self, station_id):
        return min((s.level for s in self.registry.values() if s.parent_id == station_id), default=None)

    async def due_for_announcement(self, announced_before):
        return sorted(s for s in self.registry if s not in self.announced or self.announced[s] < announced_before)

    async def mark_announced(self, station_ids, at) -> None:
        self.announced.update(dict.fromkeys(station_ids, at))

    async def record_tree(self, event: StationRegistered) -> None:
        self.tree[event.station_id] = event


@pytest.fixture
async def uow():
    uow = FakeUnitOfWork(FakeStore())
    await stations.announce_stations(uow, SETTINGS)  # as intake does on start
    uow.published.clear()
    return uow


def form(station: str = HUNNAN, **overrides) -> DemandForm:
    fields = {
        "station_id": station,
        "enterprise_name": "沈阳精密仪器有限公司",
        "credit_code": "91210112MA0U000010",
        "contact_name": "王建国",
        "contact_phone": "13804001234",
        "items": [ItemRequest("metrology.calibration")],
        "description": "压力表检定",
        "channel": Channel.window,
        "first_responder": "张晓燕",
    }
    return DemandForm(**{**fields, **overrides})


async def test_submitting_numbers_demands_per_station_and_publishes_what_the_others_need(uow):
    correlation_id = uuid4()
    first, token = await usecases.submit_demand(uow, CLERK, form(), LINKS, correlation_id=correlation_id)
    second, _ = await usecases.submit_demand(uow, CLERK, form(), LINKS)
    elsewhere, _ = await usecases.submit_demand(uow, XINSONG_CLERK, form(XINSONG), LINKS)
    assert [first.tracking_no[5:], second.tracking_no[5:], elsewhere.tracking_no[5:]] == ["000001", "000002", "000001"]
    assert token == LINKS.token(first.demand_id) and LINKS.url(token).startswith("https://intake.example/public/")
    event = uow.events(DemandSubmitted)[0]
    assert (event.demand_id, event.tracking_no, event.station_id) == (first.demand_id, first.tracking_no, HUNNAN)
    assert event.correlation_id == correlation_id and event.causation_id is None
    assert event.enterprise.credit_code == "91210112MA0U000010" and event.first_responder == "张晓燕"
    assert [(i.code, i.version, i.handled_by) for i in event.items] == [("metrology.calibration", 1, "organization")]
    assert event.time_limit_days == 10 and event.expected_on == first.expected_on is not None
    assert len(uow.events(DemandSubmitted)) == 3


async def test_a_retried_submission_answers_with_the_first_and_publishes_once(uow):
    demand, token = await usecases.submit_demand(uow, CLERK, form(), LINKS, idempotency_key="retry-key-1")
    again, again_token = await usecases.submit_demand(uow, CLERK, form(), LINKS, idempotency_key="retry-key-1")
    assert (again.demand_id, again_token) == (demand.demand_id, token)
    with pytest.raises(IdempotencyConflict):
        await usecases.submit_demand(uow, CLERK, form(description="另一份需求"), LINKS, idempotency_key="retry-key-1")
    assert len(uow.events(DemandSubmitted)) == 1 and len(uow.store.demands) == 1


async def test_progress_only_moves_forward_whatever_order_events_come_in(uow):
    demand, _ = await usecases.submit_demand(uow, CLERK, form(), LINKS)
    submitted = uow.events(DemandSubmitted)[0]
    rated, assigned, resolved = f.rated(submitted), f.assigned(submitted), f.resolved(submitted)
    await uow.handle(rated, usecases.record_progress)
    assert uow.store.demands[demand.demand_id].progress == "rated"
    for event in (assigned, resolved, rated):
        await uow.handle(event, usecases.record_progress)
    assert uow.store.demands[demand.demand_id].progress == "rated"
    assert uow.store.demands[demand.demand_id].status == "open"


async def test_archived_closes_the_demand_with_its_archive_number(uow):
    demand, _ = await usecases.submit_demand(uow, CLERK, form(), LINKS)
    submitted = uow.events(DemandSubmitted)[0]
    await uow.handle(f.archived(submitted, archive_no="A2026-000042"), usecases.record_archived)
    closed = uow.store.demands[demand.demand_id]
    assert (closed.status, closed.progress, closed.archive_no) == ("archived", "archived", "A2026-000042")
    assert uow.published == uow.events(DemandSubmitted)  # handling publishes nothing


async def test_a_station_head_sees_the_service_points_registered_below_the_station(uow):
    demand, _ = await usecases.submit_demand(uow, XINSONG_CLERK, form(XINSONG), LINKS)
    assert (await usecases.get_demand(uow, HEAD, demand.demand_id)).demand_id == demand.demand_id
    assert [d.demand_id for d in await usecases.list_demands(uow, HEAD, None, None, None, None, 100, 0)] == [
        demand.demand_id
    ]
    with pytest.raises(NotFound):
        await usecases.get_demand(uow, TIEXI_HEAD, demand.demand_id)
    assert await usecases.list_demands(uow, TIEXI_HEAD, None, None, None, None, 100, 0) == []


async def test_another_station_is_refused(uow):
    demand, _ = await usecases.submit_demand(uow, CLERK, form(), LINKS)
    with pytest.raises(NotFound):
        await usecases.get_demand(uow, TIEXI_HEAD, demand.demand_id)
    with pytest.raises(NotFound):
        await usecases.notice(uow, TIEXI_HEAD, demand.demand_id, LINKS)
    with pytest.raises(NotFound):
        await usecases.list_demands(uow, HEAD, TIEXI, None, None, None, 100, 0)
    with pytest.raises(Forbidden):
        await usecases.submit_demand(uow, TIEXI_HEAD, form(HUNNAN), LINKS)
    assert len(uow.events(DemandSubmitted)) == 1


@pytest.mark.parametrize(
    "refused",
    [
        {"green_channel": GreenChannel.major_project},  # a green channel needs its reason
        {"items": [ItemRequest("metrology.no_such_item")]},
        {"station_id": "210100/210112/not-registered"},
    ],
)
async def test_nothing_is_published_or_numbered_when_a_rule_refuses(uow, refused):
    with pytest.raises(Invalid):
        await usecases.submit_demand(uow, None, form(**refused), LINKS)
    assert uow.published == [] and uow.store.demands == {}


async def test_saving_a_station_announces_it_with_its_ancestors_root_first(uow):
    lab = Station("210100/210112/hunnan-lab", "浑南计量实验室服务点", "", 3, HUNNAN, False)
    await stations.save_station(uow, lab)
    [event] = uow.events(StationRegistered)
    assert (event.station_id, event.name, event.level, event.parent_id) == (lab.station_id, lab.name, 3, HUNNAN)
    assert event.ancestors == [SHENYANG, HUNNAN]
    assert uow.store.tree[lab.station_id] == event and lab.station_id in uow.store.announced


async def test_moving_a_station_announces_its_whole_subtree_again(uow):
    await stations.save_station(uow, Station("210100/210112/hunnan-park", "浑南园区站", "", 3, HUNNAN, True))
    await stations.save_station(
        uow, Station("210100/210112/hunnan-park-a", "园区企业点", "", 4, "210100/210112/hunnan-park", False)
    )
    uow.published.clear()
    moved = Station("210100/210112/hunnan-park", "浑南园区站", "", 3, TIEXI, True)
    await stations.save_station(uow, moved)
    park, below = uow.events(StationRegistered)
    assert park.ancestors == [SHENYANG, TIEXI]
    assert below.station_id == "210100/210112/hunnan-park-a"
    assert below.ancestors == [SHENYANG, TIEXI, "210100/210112/hunnan-park"]
    assert below.causation_id == park.event_id and below.correlation_id == park.correlation_id
    # An unmoved station's edit announces only itself.
    uow.published.clear()
    await stations.save_station(uow, replace(moved, name="铁西园区站"))
    assert [e.station_id for e in uow.events(StationRegistered)] == [moved.station_id]


@pytest.mark.parametrize(
    "station",
    [
        Station("210100/210112/hunnan-x", "无上级", "", 3, "210100/210112/missing", True),
        Station("210100/210112/hunnan-x", "层级不低于上级", "", 2, HUNNAN, True),
        Station("440100/440113/panyu-x", "跨城市", "", 3, HUNNAN, True),
        Station(HUNNAN, "不高于自己的下级", "", 4, SHENYANG, True),  # XINSONG below it is level 4
        Station(HUNNAN, "挂在自己的下级之下", "", 2, XINSONG, True),
    ],
)
async def test_a_misplaced_station_is_refused_and_nothing_is_announced(uow, station):
    before = dict(uow.store.registry)
    with pytest.raises(Invalid):
        await stations.save_station(uow, station)
    assert uow.published == [] and uow.store.registry == before


async def test_on_start_every_station_is_announced_once_then_again_when_due(time_machine):
    time_machine.move_to(datetime(2026, 11, 25, 9, 0, tzinfo=UTC), tick=False)
    uow = FakeUnitOfWork(FakeStore())
    await stations.announce_stations(uow, SETTINGS)
    events = {e.station_id: e for e in uow.events(StationRegistered)}
    assert set(events) == {SHENYANG, HUNNAN, XINSONG, TIEXI}
    assert events[XINSONG].ancestors == [SHENYANG, HUNNAN] and events[SHENYANG].ancestors == []
    await stations.announce_stations(uow, SETTINGS)  # another replica, or the next start
    assert len(uow.events(StationRegistered)) == 4
    time_machine.shift(timedelta(minutes=SETTINGS.registry_announce_minutes + 1))
    await stations.announce_stations(uow, SETTINGS)  # the periodic round: a late consumer catches up
    assert len(uow.events(StationRegistered)) == 8
