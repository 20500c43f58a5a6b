"""Intake's use cases on a fake unit of work: no PostgreSQL, the same rules."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest

from services.intake import ledger
from services.intake.calendar import usecases as working_days
from services.intake.calendar.domain import WorkdayCorrection
from services.intake.catalogue.domain import CatalogueItem, Category
from services.intake.changes import usecases as changes
from services.intake.changes.domain import Unchanged
from services.intake.demands import domain, usecases
from services.intake.demands.domain import Demand
from services.intake.demands.schemas import DemandOut, StatusOut
from services.intake.demands.usecases import DemandForm, ItemRequest, StatusLinks
from services.intake.settings import Settings
from services.intake.stations import usecases as stations
from services.intake.stations.domain import Station
from shared.auth import Principal, Role, in_scope
from shared.calendar import CHINA, add_working_days, is_workday
from shared.contracts import (
    Assigned,
    AssigneeKind,
    AssignmentReturned,
    CalendarCorrected,
    Channel,
    DemandCorrected,
    DemandMerged,
    DemandRefused,
    DemandSubmitted,
    DemandWithdrawn,
    EnterpriseProfile,
    GreenChannel,
    HandlingMode,
    PauseReason,
    Referral,
    StationRegistered,
    printed_tracking_no,
)
from shared.errors import Forbidden, Invalid, InvalidTransition, NotFound
from shared.idempotency import IdempotencyConflict
from tests.support import following_events as fe
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
        self.links: dict[str, tuple] = {}
        self.addresses: dict[tuple[str, str], str] = {}
        self.correction_log: dict = {}
        self.pause_rows: dict = {}
        self.pause_of: dict = {}
        self.extension_rows: dict = {}
        self.calendar: dict[date, WorkdayCorrection] = {}
        self.calendar_announced: dict[date, datetime] = {}
        self.access_log: list = []
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
        self.other_item = CatalogueItem(
            item_code="standardization.standard_query",
            version=3,
            category="standardization",
            label="标准查询",
            description="",
            materials=("营业执照复印件",),
            time_limit_days=3,
            legal_limit_days=None,
            handled_by="station",
        )

    def covers(self, scope: str, station_id: str) -> bool:
        known = self.tree.get(station_id)
        return bool(scope) and any(in_scope(s, scope) for s in (station_id, *(known.ancestors if known else ())))

    # catalogue and calendar
    async def log_access(self, lines) -> None:
        self.access_log.extend(lines)

    async def categories(self):
        return {
            "metrology": Category("metrology", "计量", 10),
            "standardization": Category("standardization", "标准化", 5),
        }

    async def catalogue(self):
        return [self.item, self.other_item], [], {self.item.item_code: 1, self.other_item.item_code: 2}

    async def workday_overrides(self):
        return {d: c.is_workday for d, c in self.calendar.items() if c.is_workday is not None}

    async def save_workday(self, day, is_workday, note, at) -> None:
        self.calendar[day] = WorkdayCorrection(day, is_workday, note)

    async def remove_workday(self, day, at) -> bool:
        if day not in self.calendar or self.calendar[day].is_workday is None:
            return False
        self.calendar[day] = WorkdayCorrection(day, None, "")
        return True

    async def workday_corrections(self, days):
        return [self.calendar[d] for d in sorted(days) if d in self.calendar]

    async def corrections_due_for_announcement(self, announced_before):
        return sorted(
            d
            for d in self.calendar
            if d not in self.calendar_announced or self.calendar_announced[d] < announced_before
        )

    async def mark_corrections_announced(self, days, at) -> None:
        self.calendar_announced.update(dict.fromkeys(days, at))

    # demands
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

    async def status_link(self, digest):
        found = self.links.get(digest)
        return {"demand_id": found[0], "expires_at": found[1]} if found else None

    async def enterprise_address(self, station_id, credit_code):
        return self.addresses.get((station_id, credit_code))

    async def enterprise_profile(self, station_id, credit_code):
        return EnterpriseProfile()

    async def get(self, demand_id, *, for_update=False):
        return self.demands.get(demand_id)

    async def get_in_scope(self, demand_id, scope, *, for_update=False):
        demand = self.demands.get(demand_id)
        return demand if demand and self.covers(scope, demand.station_id) else None

    async def save_form(self, demand: Demand) -> None:
        self.demands[demand.demand_id] = demand

    async def add_correction(self, demand_id, station_id, correction) -> None:
        self.correction_log.setdefault(demand_id, []).append(correction)

    async def corrections(self, demand_id):
        return list(self.correction_log.get(demand_id, []))

    async def list_in_scope(self, scope, status, since, until, limit, offset):
        found = [d for d in self.demands.values() if self.covers(scope, d.station_id)]
        return [d for d in found if status is None or d.status == status][offset : offset + limit]

    async def save_progress(self, demand: Demand, steps=None) -> None:
        self.demands[demand.demand_id] = demand  # the status page's steps: tests/unit/test_intake_status_page.py

    # the clock, as the enterprise is told it (one row per pause, filled in by either event)
    async def record_pause(self, demand, pause) -> None:
        known = self.pause_rows.get(pause.pause_id, domain.Pause(pause.pause_id))
        self.pause_rows[pause.pause_id] = replace(
            known,
            assignment_no=pause.assignment_no,
            reason_kind=pause.reason_kind,
            reason=pause.reason,
            paused_at=pause.paused_at,
        )
        self.pause_of[pause.pause_id] = demand.demand_id

    async def record_resumption(self, demand, pause_id, at, paused_working_days, handling_due_on) -> None:
        known = self.pause_rows.get(pause_id, domain.Pause(pause_id))
        self.pause_rows[pause_id] = replace(
            known, resumed_at=at, paused_working_days=paused_working_days, handling_due_on=handling_due_on
        )
        self.pause_of[pause_id] = demand.demand_id

    async def add_extension(self, demand, extension) -> None:
        self.extension_rows.setdefault(extension.extension_id, (demand.demand_id, extension))

    async def clock(self, demand_id):
        pauses = tuple(p for i, p in self.pause_rows.items() if self.pause_of[i] == demand_id)
        return pauses, tuple(e for d, e in self.extension_rows.values() if d == demand_id)

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
    await uow.handle(assigned, usecases.record_assigned)
    for event in (resolved, rated):
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


# --------------------------------------------------------------------------- the whole form, corrections, withdrawal


async def test_the_submission_carries_the_whole_form(uow):
    uow.store.addresses[(HUNNAN, "91210112MA0U000010")] = "沈阳市浑南区创新路 188 号"
    details = {"instruments": [{"name": "压力表", "serial_no": "P-1"}]}
    items = [ItemRequest("metrology.calibration", "36 台，可上门", ["营业执照复印件"])]
    await usecases.submit_demand(uow, CLERK, form(items=items, details=details), LINKS)
    [event] = uow.events(DemandSubmitted)
    assert event.address == "沈阳市浑南区创新路 188 号" and event.details == details
    [item] = event.items
    assert (item.remarks, item.materials, item.materials_received) == (
        "36 台，可上门",
        ["营业执照复印件", "计量器具清单"],
        ["营业执照复印件"],
    )
    assert uow.store.demands[event.demand_id].submitted_event_id == event.event_id


def correction(**fields) -> changes.CorrectionRequest:
    return changes.CorrectionRequest(**{"reason": "企业来电更正", **fields})


async def _submitted(uow, principal=CLERK, station=HUNNAN, **fields):
    demand, token = await usecases.submit_demand(uow, principal, form(station, **fields), LINKS)
    event = next(e for e in uow.events(DemandSubmitted) if e.demand_id == demand.demand_id)
    return demand, token, event


def _first_workday_after(day: date) -> date:
    day += timedelta(days=1)
    while not is_workday(day, {}):
        day += timedelta(days=1)
    return day


async def test_a_correction_before_dispatch_changes_the_form_audits_it_and_publishes_it_once(uow):
    demand, _, submitted = await _submitted(uow)
    # A holiday operations entered after the submission counts when the commitment is counted again.
    start = demand.submitted_at.astimezone(CHINA).date()
    holiday = _first_workday_after(start)
    await working_days.save_workday(uow, holiday, False, "临时休假")
    request = correction(
        contact=("李娜", "+8613904005678"),
        items=[ItemRequest("standardization.standard_query", "查询 3 项标准")],
        description="查询执行标准的有效性",
    )
    corrected = await changes.correct_demand(uow, CLERK, demand.demand_id, request, idempotency_key="fix-0001")
    assert (corrected.contact_name, corrected.contact_phone) == ("李娜", "+8613904005678")
    assert [(i.item_code, i.item_version, i.remarks) for i in corrected.items] == [
        ("standardization.standard_query", 3, "查询 3 项标准")
    ]
    assert [c.code for c in corrected.categories] == ["standardization"] and corrected.time_limit_days == 3
    assert corrected.expected_on == add_working_days(start, 3, {holiday: False}) != add_working_days(start, 3, {})
    [audit] = corrected.corrections
    assert (audit.corrected_by, audit.corrected_by_id, audit.reason) == ("张晓燕", "clerk-1", "企业来电更正")
    assert audit.changed == (
        "contact",
        "items",
        "description",
        "categories",
        "time_limit_days",
        "expected_on",
    )
    assert audit.before["contact"] == {"name": "王建国", "phone": "13804001234"}
    assert audit.after["description"] == "查询执行标准的有效性" and "details" not in audit.after
    [event] = uow.events(DemandCorrected)
    assert (event.correlation_id, event.causation_id) == (submitted.correlation_id, submitted.event_id)
    assert event.changed == list(audit.changed) and event.contact.name == "李娜"
    assert [i.code for i in event.items] == [
        "standardization.standard_query"
    ] and event.expected_on == corrected.expected_on
    # The notice is issued again from the corrected form.
    notice = await usecases.notice(uow, HEAD, demand.demand_id, LINKS)
    assert notice.reissued_at is not None and [i.label for i in notice.items] == ["标准查询"]
    assert notice.expected_on == corrected.expected_on

    again = await changes.correct_demand(uow, CLERK, demand.demand_id, request, idempotency_key="fix-0001")
    assert again.corrections == corrected.corrections and len(uow.events(DemandCorrected)) == 1
    with pytest.raises(IdempotencyConflict):
        await changes.correct_demand(
            uow, CLERK, demand.demand_id, correction(description="又一次"), idempotency_key="fix-0001"
        )


async def test_a_correction_is_refused_once_dispatched_or_ended_or_when_it_changes_nothing(uow):
    demand, _, submitted = await _submitted(uow)
    with pytest.raises(Invalid):
        await changes.correct_demand(uow, CLERK, demand.demand_id, correction())
    with pytest.raises(Unchanged):
        await changes.correct_demand(uow, CLERK, demand.demand_id, correction(description=demand.description))
    with pytest.raises(NotFound):
        await changes.correct_demand(uow, TIEXI_HEAD, demand.demand_id, correction(description="改"))
    # A detail table must still belong to the items.
    with_table, _, _ = await _submitted(uow, details={"instruments": [{"name": "压力表"}]})
    with pytest.raises(Invalid) as info:
        await changes.correct_demand(
            uow, CLERK, with_table.demand_id, correction(items=[ItemRequest("standardization.standard_query")])
        )
    assert info.value.field == "details.instruments"

    await uow.handle(f.assigned(submitted), usecases.record_assigned)
    with pytest.raises(InvalidTransition):
        await changes.correct_demand(uow, HEAD, demand.demand_id, correction(description="派单后更正"))
    # A return seen before its assignment is proof of dispatch too.
    returned_first, _, cause = await _submitted(uow)
    await uow.handle(_returned(cause, 1), usecases.record_returned)
    with pytest.raises(InvalidTransition):
        await changes.correct_demand(uow, HEAD, returned_first.demand_id, correction(description="改"))
    withdrawn, _, _ = await _submitted(uow)
    await changes.withdraw_demand(uow, CLERK, withdrawn.demand_id, "企业已自行解决")
    with pytest.raises(InvalidTransition):
        await changes.correct_demand(uow, HEAD, withdrawn.demand_id, correction(description="改"))
    assert uow.events(DemandCorrected) == []


def _returned(cause: DemandSubmitted, no: int) -> AssignmentReturned:
    return next(e for e in f.dispositions(cause) if isinstance(e, AssignmentReturned)).model_copy(
        update={"assignment_no": no, "event_id": uuid4()}
    )


async def test_the_station_withdraws_with_the_assignments_it_has_seen(uow):
    demand, _, submitted = await _submitted(uow)
    await uow.handle(f.assigned(submitted, no=1), usecases.record_assigned)
    await uow.handle(_returned(submitted, 2), usecases.record_returned)  # assignment 2, seen only by its return
    withdrawn = await changes.withdraw_demand(uow, HEAD, demand.demand_id, "企业已自行解决", idempotency_key="wd-00001")
    assert (withdrawn.status, domain.stage(withdrawn)) == ("closed", "withdrawn")
    again = await changes.withdraw_demand(uow, HEAD, demand.demand_id, "企业已自行解决", idempotency_key="wd-00001")
    assert again.closure == withdrawn.closure
    [event] = uow.events(DemandWithdrawn)
    assert (event.assignment_count, event.by_enterprise, event.closed_by, event.reason) == (
        2,
        False,
        "周站长",
        "企业已自行解决",
    )
    assert (event.correlation_id, event.causation_id) == (submitted.correlation_id, submitted.event_id)
    with pytest.raises(InvalidTransition):
        await changes.withdraw_demand(uow, CLERK, demand.demand_id, "再撤一次")
    with pytest.raises(NotFound):
        await changes.withdraw_demand(uow, TIEXI_HEAD, demand.demand_id, "不是本站的")
    resolved, _, cause = await _submitted(uow)
    await uow.handle(f.resolved(cause), usecases.record_progress)
    with pytest.raises(InvalidTransition):
        await changes.withdraw_demand(uow, CLERK, resolved.demand_id, "已办结")
    assert len(uow.events(DemandWithdrawn)) == 1


async def test_the_enterprise_withdraws_through_its_link_and_only_its_own_demand(uow):
    mine, token, _ = await _submitted(uow)
    other, _, _ = await _submitted(uow)
    demand, station = await changes.withdraw_by_token(uow, token, "已另行委托", idempotency_key="phone-retry-1")
    assert demand.demand_id == mine.demand_id and station.station_id == HUNNAN
    again, _ = await changes.withdraw_by_token(uow, token, "已另行委托", idempotency_key="phone-retry-1")
    assert again.closure == demand.closure
    [event] = uow.events(DemandWithdrawn)
    assert (event.demand_id, event.by_enterprise, event.closed_by, event.assignment_count) == (
        mine.demand_id,
        True,
        "沈阳精密仪器有限公司",
        0,
    )
    assert uow.store.demands[other.demand_id].closure is None
    # The same key through another link is another caller's key: no conflict, and that link's own demand.
    _, other_token, _ = await _submitted(uow)
    await changes.withdraw_by_token(uow, other_token, "不需要了", idempotency_key="phone-retry-1")
    assert len(uow.events(DemandWithdrawn)) == 2
    with pytest.raises(NotFound):
        await changes.withdraw_by_token(uow, "x" * 43, "伪造的链接")


# --------------------------------------------------------------------------- what the status link says


def _referred(cause: DemandSubmitted, no: int) -> Assigned:
    return cause.caused(
        Assigned,
        assignment_no=no,
        assignee_kind=AssigneeKind.department,
        assignee_id="shenyang-ip-office",
        assignee_name="沈阳市知识产权局",
        handling_mode=HandlingMode.coordinated,
        due_on=date(2026, 12, 31),
        assigned_by="周站长",
        referral=Referral(
            department="沈阳市知识产权局", contact_name="内部联系人", contact_phone="024-1", reason="属专利行政"
        ),
    )


async def test_the_status_link_tells_each_outcome_and_a_late_event_never_moves_it_back(uow):
    demand, _, s = await _submitted(uow)

    def now():
        return uow.store.demands[demand.demand_id]

    await uow.handle(
        f.assigned(s, no=1, kind=AssigneeKind.staff, assignee_name="计量科 李工"), usecases.record_assigned
    )
    assert (domain.stage(now()), domain.stage_label(now())) == ("assigned", "办理中，由本站办理")
    returned = _returned(s, 1)
    await uow.handle(returned, usecases.record_returned)
    assert domain.stage_label(now()) == "已退回，正在重新安排承办单位"
    assert returned.reason not in domain.stage_label(now())  # the assignee's reason stays inside the station
    await uow.handle(f.assigned(s, no=2, assignee_name="市计量测试院"), usecases.record_assigned)
    assert (domain.stage(now()), domain.stage_label(now())) == ("rematched", "已改派，现由市计量测试院承办")
    await uow.handle(_returned(s, 1), usecases.record_returned)  # a late duplicate of the first return
    await uow.handle(f.assigned(s, no=1, assignee_name="旧机构"), usecases.record_assigned)  # a late first assignment
    assert domain.stage(now()) == "rematched" and domain.handler_for_enterprise(now().handling) == "市计量测试院"
    await uow.handle(_referred(s, 3), usecases.record_assigned)
    assert domain.stage_label(now()) == "已转办至沈阳市知识产权局，本站继续跟进"
    assert "内部联系人" not in domain.stage_label(now())

    refused = next(e for e in f.dispositions(s) if isinstance(e, DemandRefused))
    await uow.handle(refused, usecases.record_closed)
    assert domain.stage(now()) == "refused" and now().status == "closed"
    assert domain.stage_label(now()) == "未予受理（否定备案）。理由：不属于市场监管职责；依据：《条例》第十条"
    # Closings are terminal: a later merge or assignment changes nothing the enterprise sees.
    merged = next(e for e in f.dispositions(s) if isinstance(e, DemandMerged))
    await uow.handle(merged.model_copy(update={"closed_at": f.at(10)}), usecases.record_closed)
    await uow.handle(f.assigned(s, no=4), usecases.record_assigned)
    assert domain.stage(now()) == "refused"
    await uow.handle(f.archived(s), usecases.record_archived)
    assert (now().status, domain.stage(now())) == ("archived", "archived")
    assert domain.stage_label(now()).startswith("未予受理（否定备案）") and domain.stage_label(now()).endswith("已归档")


async def test_merged_and_archived_before_the_merge_is_seen(uow):
    demand, _, s = await _submitted(uow)
    await uow.handle(f.archived(s), usecases.record_archived)  # the archive sealed it; the merge arrives later
    merged = next(e for e in f.dispositions(s) if isinstance(e, DemandMerged))
    await uow.handle(merged, usecases.record_closed)
    now = uow.store.demands[demand.demand_id]
    assert (now.status, domain.stage(now), now.closure.kind) == ("archived", "archived", "merged")
    assert domain.stage_label(now) == "已与 hunnan-01-2026-000002 合并办理；已归档"  # printed, as on the notice


async def test_a_merge_into_a_demand_of_a_service_point_prints_that_stations_number(uow):
    original, _, _ = await _submitted(uow, XINSONG_CLERK, XINSONG)
    demand, token, s = await _submitted(uow)
    merged = next(e for e in f.dispositions(s) if isinstance(e, DemandMerged)).model_copy(
        update={"merged_into": original.demand_id, "merged_into_tracking_no": original.tracking_no}
    )
    await uow.handle(merged, usecases.record_closed)
    status = await _status(uow, token)
    assert status.progress_label == f"已与 {original.printed_tracking_no} 合并办理"
    assert original.printed_tracking_no.startswith("hunnan-xinsong-")
    assert status.ending.merged_into_printed_tracking_no == original.printed_tracking_no
    staff = DemandOut.of(await usecases.get_demand(uow, CLERK, demand.demand_id))
    assert staff.closure.merged_into_printed_tracking_no == original.printed_tracking_no


async def test_the_ledger_prints_the_tracking_number_with_the_station_code(uow):
    demand, _, _ = await _submitted(uow)
    [row] = ledger.rows([demand])
    assert row[-1] == f"hunnan-01-{demand.tracking_no}" and ledger.COLUMNS[-1] == "跟踪单号"


def _refused_at(cause: DemandSubmitted, at: datetime) -> DemandRefused:
    refused = next(e for e in f.dispositions(cause) if isinstance(e, DemandRefused))
    return refused.model_copy(update={"closed_at": at, "occurred_at": at})


async def test_a_withdrawal_seen_first_and_a_refusal_made_before_it_the_refusal_stands(uow):
    """As dispatch, tracking, evaluation and the archive judge it: of two closings the earlier counts."""
    _, token, s = await _submitted(uow)
    withdrawn, _ = await changes.withdraw_by_token(uow, token, "不需要了")
    [withdrawal] = uow.events(DemandWithdrawn)
    assert withdrawn.closure.event_id == withdrawal.event_id
    # The head refused it a minute before the enterprise withdrew it; the refusal reaches intake afterwards.
    refused = _refused_at(s, withdrawal.closed_at - timedelta(minutes=1))
    await uow.handle(refused, usecases.record_closed)
    demand, station = await usecases.status_by_token(uow, token)
    shown = StatusOut.of(demand, station)
    assert (shown.progress, shown.ending.kind, shown.can_withdraw) == ("refused", "refused", False)
    assert shown.progress_label == "未予受理（否定备案）。理由：不属于市场监管职责；依据：《条例》第十条"
    assert demand.closure.event_id == refused.event_id and demand.status == "closed"
    # Redelivered, or the withdrawal weighed again: the refusal stays.
    await uow.handle(refused, usecases.record_closed)
    assert demand.closure == (await usecases.status_by_token(uow, token))[0].closure


async def test_a_withdrawal_seen_first_and_a_refusal_made_after_it_the_withdrawal_stands(uow):
    demand, token, s = await _submitted(uow)
    await changes.withdraw_by_token(uow, token, "不需要了")
    [withdrawal] = uow.events(DemandWithdrawn)
    await uow.handle(_refused_at(s, withdrawal.closed_at + timedelta(minutes=1)), usecases.record_closed)
    now = uow.store.demands[demand.demand_id]
    assert domain.stage_label(now) == "已撤回（企业申请撤回）。理由：不需要了"
    assert now.closure.event_id == withdrawal.event_id


# --------------------------------------------------------------------------- the calendar as reference data


async def test_calendar_corrections_are_published_and_announced_until_every_consumer_has_them(time_machine):
    time_machine.move_to(datetime(2026, 11, 25, 9, 0, tzinfo=UTC), tick=False)
    uow = FakeUnitOfWork(FakeStore())
    await working_days.save_workday(uow, date(2027, 2, 8), False, "春节")
    await working_days.save_workday(uow, date(2027, 2, 20), True, "调休上班")
    first, second = uow.events(CalendarCorrected)
    assert (first.day, first.is_workday, first.note) == (date(2027, 2, 8), False, "春节")
    assert (second.day, second.is_workday) == (date(2027, 2, 20), True)
    await working_days.remove_workday(uow, date(2027, 2, 20))
    assert uow.events(CalendarCorrected)[-1].is_workday is None
    with pytest.raises(NotFound):
        await working_days.remove_workday(uow, date(2027, 2, 20))  # already removed
    assert await uow.store.workday_overrides() == {date(2027, 2, 8): False}

    uow.published.clear()
    await working_days.announce_calendar(uow, SETTINGS)  # on start: everything was announced just now
    assert uow.published == []
    time_machine.shift(timedelta(minutes=SETTINGS.registry_announce_minutes + 1))
    await working_days.announce_calendar(uow, SETTINGS)  # the periodic round, removals included
    assert [(e.day, e.is_workday) for e in uow.events(CalendarCorrected)] == [
        (date(2027, 2, 8), False),
        (date(2027, 2, 20), None),
    ]
    await working_days.announce_calendar(uow, SETTINGS)  # another replica finds nothing due
    assert len(uow.events(CalendarCorrected)) == 2


# --------------------------------------------------------------------------- the clock behind the status link (issue 9)

STAFF_NAMES = ("张晓燕", "周站长", "市计量测试院李工")  # who paused, resumed, decided; never on the status link


async def _status(uow, token) -> StatusOut:
    return StatusOut.of(*await usecases.status_by_token(uow, token))


async def test_the_status_link_shows_the_pause_and_why_then_the_new_date_after_resuming_and_an_approved_extension(uow):
    demand, token, s = await _submitted(uow)
    a = f.assigned(s)
    await uow.handle(a, usecases.record_assigned)
    promised = demand.expected_on
    pause = fe.paused(a, PauseReason.materials, reason="请补充压力表出厂编号清单", at=f.at(3))
    await uow.handle(pause, usecases.record_paused)

    status = await _status(uow, token)
    assert status.paused is not None and status.expected_on == promised
    assert (status.paused.reason_kind, status.paused.reason_label, status.paused.reason) == (
        "materials",
        "等待企业补充材料",
        "请补充压力表出厂编号清单",
    )
    assert status.clock_label.startswith("计时暂停：等待企业补充材料（请补充压力表出厂编号清单）。自2026年9月30日起")
    assert "不计入办理时限" in status.clock_label
    assert status.progress == "assigned"  # the stage is unchanged: the demand is still being handled

    moved = date(2026, 10, 20)
    await uow.handle(fe.resumed(pause, days=2, handling_due_on=moved, at=f.at(5)), usecases.record_resumed)
    status = await _status(uow, token)
    assert status.paused is None and status.expected_on == moved
    assert status.clock_label == "已恢复计时，暂停 2 个工作日，预计办结日期顺延至2026年10月20日。"
    [told] = status.pauses
    assert (told.reason_label, told.paused_working_days, told.resumed_at) == ("等待企业补充材料", 2, f.at(5))

    request = fe.extension_requested(a, due_on=moved, new_due_on=date(2026, 11, 3), at=f.at(6))
    await uow.handle(fe.extension_decided(request, approved=True, at=f.at(7)), usecases.record_extension)
    status = await _status(uow, token)
    assert status.expected_on == date(2026, 11, 3)
    assert status.clock_label == (
        "办理期限已延长至2026年11月3日（原为2026年10月20日）。延期理由：标准器送上级计量院溯源，需延后两周"
    )
    assert [(e.due_on, e.new_due_on, e.reason) for e in status.extensions] == [
        (moved, date(2026, 11, 3), request.reason)
    ]
    shown = status.model_dump_json()
    assert not any(name in shown for name in STAFF_NAMES), shown
    assert "同意" not in shown  # the head's comment stays inside the station
    assert uow.published == uow.events(DemandSubmitted)  # handling publishes nothing


async def test_the_enterprise_is_told_the_deadline_an_approval_left_in_force(uow):
    """A pause between the request and the approval moved the requested date: the enterprise sees the later one."""
    demand, token, s = await _submitted(uow)
    request = fe.extension_requested(s, new_due_on=date(2026, 11, 3))
    decided = fe.extension_decided(request, approved=True).model_copy(update={"handling_due_on": date(2026, 11, 6)})
    assert await uow.handle(decided, usecases.record_extension)
    status = await _status(uow, token)
    assert status.expected_on == date(2026, 11, 6)
    assert [e.new_due_on for e in status.extensions] == [date(2026, 11, 6)]


async def test_a_refused_extension_changes_nothing_for_the_enterprise(uow):
    demand, token, s = await _submitted(uow)
    before = await _status(uow, token)
    request = fe.extension_requested(s)
    assert await uow.handle(fe.extension_decided(request, approved=False), usecases.record_extension)
    after = await _status(uow, token)
    assert after == before and after.expected_on == demand.expected_on and after.extensions == []
    assert after.clock_label is None and after.paused is None


async def test_the_clock_on_the_link_is_the_same_whatever_order_the_events_come_in(uow):
    pauses = {}
    for order in ("in order", "reversed"):
        demand, token, s = await _submitted(uow)
        pause = fe.paused(s, PauseReason.third_party, reason="样品送省检验院检测", at=f.at(3))
        resume = fe.resumed(pause, days=3, handling_due_on=date(2026, 10, 22), at=f.at(5))
        first = fe.extension_requested(s, new_due_on=date(2026, 10, 28), at=f.at(6))
        second = fe.extension_requested(s, due_on=date(2026, 10, 28), new_due_on=date(2026, 11, 6), at=f.at(8))
        steps = [
            (pause, usecases.record_paused),
            (resume, usecases.record_resumed),
            (fe.extension_decided(first, at=f.at(7)), usecases.record_extension),
            (fe.extension_decided(second, at=f.at(9)), usecases.record_extension),
        ]
        for event, use_case in steps if order == "in order" else steps[::-1]:
            assert await uow.handle(event, use_case)
            assert not await uow.handle(event, use_case)  # a redelivery is a no-op
        status = await _status(uow, token)
        pauses[order] = status.model_dump(exclude={"tracking_no", "printed_tracking_no", "submitted_at"})
        assert status.expected_on == date(2026, 11, 6) and status.paused is None
        assert status.clock_label.startswith("办理期限已延长至2026年11月6日（原为2026年10月28日）")
        assert [p.reason for p in status.pauses] == ["样品送省检验院检测"]
    assert pauses["in order"] == pauses["reversed"]


async def test_a_resumption_seen_before_its_pause_says_nothing_until_the_pause_is_seen(uow):
    demand, token, s = await _submitted(uow)
    pause = fe.paused(s, at=f.at(3))
    await uow.handle(fe.resumed(pause, days=1, handling_due_on=date(2026, 10, 19), at=f.at(4)), usecases.record_resumed)
    status = await _status(uow, token)
    # Of which assignment the pause was, and so whether its date still holds, only the pause says.
    assert status.pauses == [] and status.paused is None and status.expected_on == demand.expected_on
    await uow.handle(pause, usecases.record_paused)
    status = await _status(uow, token)
    assert [(p.reason_kind, p.paused_working_days) for p in status.pauses] == [("materials", 1)]
    assert status.paused is None and status.expected_on == date(2026, 10, 19)  # it has ended already


async def test_a_pause_is_not_shown_as_current_once_the_demand_has_ended(uow):
    demand, token, s = await _submitted(uow)
    await uow.handle(f.assigned(s), usecases.record_assigned)
    await uow.handle(fe.paused(s), usecases.record_paused)
    assert (await _status(uow, token)).paused is not None
    await uow.handle(f.resolved(s), usecases.record_progress)
    status = await _status(uow, token)
    assert status.paused is None and status.clock_label is None and len(status.pauses) == 1


async def test_the_printed_tracking_number_leads_with_the_station_code_on_every_reply_and_the_notice(uow):
    demand, token, _ = await _submitted(uow)
    printed = f"hunnan-01-{demand.tracking_no}"
    assert demand.printed_tracking_no == printed == printed_tracking_no(HUNNAN, demand.tracking_no)
    status = await _status(uow, token)
    assert (status.tracking_no, status.printed_tracking_no) == (demand.tracking_no, printed)
    staff = DemandOut.of(await usecases.get_demand(uow, CLERK, demand.demand_id))
    assert (staff.tracking_no, staff.printed_tracking_no) == (demand.tracking_no, printed)
    assert (await usecases.notice(uow, CLERK, demand.demand_id, LINKS)).tracking_no == printed
    # two stations' first demands share the serial, never the printed number
    other, _ = await usecases.submit_demand(uow, XINSONG_CLERK, form(XINSONG), LINKS)
    assert other.tracking_no == demand.tracking_no and other.printed_tracking_no != printed


async def test_a_return_or_rematch_ends_the_pause_on_the_link_as_it_does_in_tracking(uow):
    demand, token, s = await _submitted(uow)
    await uow.handle(fe.paused(s), usecases.record_paused)  # of assignment 1, seen before the assignment itself
    assert (await _status(uow, token)).paused is not None
    await uow.handle(f.assigned(s, no=1), usecases.record_assigned)
    assert (await _status(uow, token)).paused is not None
    await uow.handle(_returned(s, 1), usecases.record_returned)
    assert (await _status(uow, token)).paused is None  # 退单: the pause ended with the assignment
    await uow.handle(f.assigned(s, no=2), usecases.record_assigned)
    status = await _status(uow, token)
    assert status.paused is None and status.clock_label is None and len(status.pauses) == 1


def _decided(request, *, no: int | None, approved: bool = True, at: datetime | None = None):
    """ExtensionDecided naming the assignment it was asked under (None: an event from before it named one)."""
    return fe.extension_decided(request, approved=approved, at=at).model_copy(update={"assignment_no": no})


async def test_after_a_rematch_the_link_shows_the_promise_not_the_old_assignments_extension_in_any_order(uow):
    seen = {}
    for order in ("in order", "reversed", "rematch first"):
        demand, token, s = await _submitted(uow)
        first, second = f.assigned(s, no=1), f.assigned(s, no=2, assignee_name="省计量院")
        pause = fe.paused(first, at=f.at(3))  # of assignment 1
        request = fe.extension_requested(first, new_due_on=date(2026, 11, 3), at=f.at(6))
        steps = [
            (first, usecases.record_assigned),
            (pause, usecases.record_paused),
            (fe.resumed(pause, days=2, handling_due_on=date(2026, 10, 20), at=f.at(5)), usecases.record_resumed),
            (_decided(request, no=1, at=f.at(7)), usecases.record_extension),
            (_returned(s, 1), usecases.record_returned),
            (second, usecases.record_assigned),
        ]
        if order == "reversed":
            steps.reverse()
        elif order == "rematch first":
            steps = steps[-2:] + steps[:-2]
        for event, use_case in steps:
            assert await uow.handle(event, use_case)
        status = await _status(uow, token)
        assert (status.progress, status.expected_on) == ("rematched", demand.expected_on), order
        assert status.clock_label is None and status.paused is None
        assert len(status.extensions) == 1 and len(status.pauses) == 1  # told as what happened, no longer in force
        seen[order] = status.model_dump(exclude={"tracking_no", "printed_tracking_no", "submitted_at"})
    assert seen["in order"] == seen["reversed"] == seen["rematch first"]


async def test_an_extension_and_a_resumption_under_the_new_assignment_move_the_date_again(uow):
    demand, token, s = await _submitted(uow)
    for step, use_case in [
        (f.assigned(s, no=1), usecases.record_assigned),
        (_decided(fe.extension_requested(s, new_due_on=date(2026, 11, 3), at=f.at(2)), no=1, at=f.at(3)), None),
        (f.assigned(s, no=2), usecases.record_assigned),  # 改派 without a return
    ]:
        await uow.handle(step, use_case or usecases.record_extension)
    assert (await _status(uow, token)).expected_on == demand.expected_on
    pause = fe.paused(s, at=f.at(4)).model_copy(update={"assignment_no": 2})
    await uow.handle(fe.resumed(pause, days=1, handling_due_on=date(2026, 12, 1), at=f.at(5)), usecases.record_resumed)
    await uow.handle(pause, usecases.record_paused)
    assert (await _status(uow, token)).expected_on == date(2026, 12, 1)
    later = fe.extension_requested(s, due_on=date(2026, 12, 1), new_due_on=date(2026, 12, 15), at=f.at(6))
    await uow.handle(_decided(later, no=2, at=f.at(7)), usecases.record_extension)
    status = await _status(uow, token)
    assert status.expected_on == date(2026, 12, 15) and status.clock_label.startswith("办理期限已延长至2026年12月15日")
    # An extension of assignment 1 decided late (after the rematch) still changes nothing.
    stale = fe.extension_requested(s, new_due_on=date(2027, 1, 29), at=f.at(8))
    await uow.handle(_decided(stale, no=1, at=f.at(9)), usecases.record_extension)
    assert (await _status(uow, token)).expected_on == date(2026, 12, 15)


async def test_an_extension_from_before_events_named_the_assignment_is_read_as_of_the_first(uow):
    demand, token, s = await _submitted(uow)
    await uow.handle(f.assigned(s, no=1), usecases.record_assigned)
    old = fe.extension_requested(s, new_due_on=date(2026, 11, 3), at=f.at(6))
    await uow.handle(_decided(old, no=None, at=f.at(7)), usecases.record_extension)
    assert (await _status(uow, token)).expected_on == date(2026, 11, 3)  # one assignment: surely its own
    await uow.handle(f.assigned(s, no=2), usecases.record_assigned)
    assert (await _status(uow, token)).expected_on == demand.expected_on
