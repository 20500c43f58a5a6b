"""Dispatch's use cases on a fake unit of work: no PostgreSQL, the same rules."""

from dataclasses import replace
from datetime import date, timedelta
from uuid import uuid4

import pytest

from services.dispatch import domain, usecases
from services.dispatch.domain import Assignment, QueueItem
from services.dispatch.organizations.domain import Agreement, Organization, Qualification, Status
from services.dispatch.staff.domain import Department, StaffMember
from services.dispatch.usecases import AssignmentRequest
from shared.auth import Principal, Role, in_scope
from shared.calendar import add_working_days, china_today
from shared.contracts import (
    Assigned,
    AssigneeKind,
    AssignmentReturned,
    CategoryRef,
    Contact,
    DemandCorrected,
    DemandMerged,
    DemandRefused,
    Enterprise,
    HandlingMode,
    ItemRef,
    Referral,
    utcnow,
)
from shared.errors import DomainError, Forbidden, Invalid, InvalidTransition, NotFound
from shared.idempotency import IdempotencyConflict
from tests.support import events as ev
from tests.support.fake_uow import FakeUnitOfWork
from tests.unit import factories as f

HEAD = Principal(subject="head-1", name="周站长", role=Role.head, station=f.STATION)
CLERK = Principal(subject="clerk-zhang", name="张晓燕", role=Role.clerk, station=f.STATION)
OTHER_CLERK = Principal(subject="clerk-liu", name="刘敏", role=Role.clerk, station=f.STATION)
OTHER_HEAD = Principal(subject="head-2", name="梁站长", role=Role.head, station="440100/440113/panyu-01")
SUPERVISOR = Principal(subject="sup-1", name="市局督导", role=Role.supervisor, station="210100")
ORG = Principal(subject="org-user", name="市计量测试院", role=Role.org, org="org-01")
ORG_2 = Principal(subject="org-user-2", name="省特检院", role=Role.org, org="org-02")


def today() -> date:
    return china_today(utcnow())


def organization(org_id: str, name: str, categories=("metrology", "testing"), **fields) -> Organization:
    """Admitted, qualified and under agreement for years from today, whatever the clock."""
    years = today() + timedelta(days=3650)
    q = Qualification("CMA", f"CMA-{org_id}", "省市场监督管理局", "计量检验", date(2020, 1, 1), years)
    org = dict(
        org_id=org_id,
        name=name,
        credit_code="12210100MB0000001P",
        contacts=(),
        categories=tuple(categories),
        items=(),
        qualifications=(q,),
        agreement=Agreement("市市场监督管理局", f"XY-{org_id}", years),
        areas=("210100",),
    )
    return Organization(**{**org, **fields})


class FakeStore:
    """services.dispatch.store.Store in memory; visibility as its SQL: station scope, or the org now assigned
    (not given back). The registry and the roster are dictionaries."""

    def __init__(self) -> None:
        self.items: dict = {}
        self.assigned: list[tuple[Assignment, str]] = []
        self.early: dict = {}
        self.early_events: list = []
        self.reads: list[tuple] = []
        self.overrides: dict[date, bool] = {}
        self.orgs = {
            "org-01": organization("org-01", "市计量测试院"),
            "org-02": organization("org-02", "省特检院", categories=("metrology", "special_equipment")),
            "org-sus": organization("org-sus", "暂停机构", status=Status.suspended, status_reason="投诉核查"),
            "org-se": organization("org-se", "特检所", categories=("special_equipment",)),
        }
        self.departments = {"metrology": Department(f.STATION, "metrology", "计量科", ("metrology",))}
        self.staff = {
            "clerk-zhang": StaffMember(f.STATION, "clerk-zhang", "张晓燕", "metrology"),
            "wang": StaffMember(f.STATION, "wang", "王工", "metrology"),
        }

    # --- the demands

    async def save_item(self, item: QueueItem) -> None:
        self.items[item.demand_id] = item

    async def get_item(self, demand_id, *, for_update=False):
        return self.items.get(demand_id)

    def _current(self, item) -> Assignment | None:
        found = [
            a for a, _ in self.assigned if a.demand_id == item.demand_id and a.assignment_no == item.assignment_count
        ]
        return found[0] if found else None

    def _visible(self, item, scope, org) -> bool:
        if scope and in_scope(item.station_id, scope):
            return True
        a = self._current(item)
        return (
            bool(org)
            and a is not None
            and a.returned_at is None
            and (a.assignee_kind, a.assignee_id)
            == (
                AssigneeKind.organization,
                org,
            )
        )

    async def get_visible(self, demand_id, scope, org, *, for_update=False):
        item = self.items.get(demand_id)
        return item if item is not None and self._visible(item, scope, org) else None

    async def list_visible(self, scope, org, status, limit, offset):
        items = [i for i in self.items.values() if i.status == status and self._visible(i, scope, org)]
        items.sort(
            key=lambda i: (
                i.green_channel is None,
                not i.rehandling,
                i.due_on or date.max,
                not i.returned,
                i.submitted_at,
                i.tracking_no,
            )
        )
        return items[offset : offset + limit]

    async def save_assigned(self, item: QueueItem, a: Assignment) -> None:
        self.items[item.demand_id] = item
        self.assigned.append((a, item.station_id))

    async def assignments(self, demand_id):
        return sorted((a for a, _ in self.assigned if a.demand_id == demand_id), key=lambda a: a.assignment_no)

    async def assignment(self, demand_id, no):
        return next((a for a, _ in self.assigned if (a.demand_id, a.assignment_no) == (demand_id, no)), None)

    async def record_return(self, item, returned) -> None:
        self.items[item.demand_id] = item
        self.assigned = [
            (returned if (a.demand_id, a.assignment_no) == (returned.demand_id, returned.assignment_no) else a, s)
            for a, s in self.assigned
        ]

    async def org_had_assignment(self, demand_id, org):
        return any(a.demand_id == demand_id and a.assignee_id == org for a, _ in self.assigned)

    async def org_assignments(self, org, limit, offset):
        rows = []
        for a, _ in self.assigned:
            if (a.assignee_kind, a.assignee_id) != (AssigneeKind.organization, org):
                continue
            item = self.items[a.demand_id]
            current = item.assignment_count == a.assignment_no and a.returned_at is None
            rows.append(
                {
                    "tracking_no": item.tracking_no,
                    "assignment_no": a.assignment_no,
                    "returned_at": a.returned_at,
                    "demand_status": item.status if current else None,
                    "enterprise_name": item.enterprise_name if current else None,
                }
            )
        return rows[offset : offset + limit]

    async def log_brief_read(self, demand_id, station_id, reader, org, at) -> None:
        self.reads.append((demand_id, station_id, *reader, org))

    async def remember_resolution(self, demand_id, round_) -> None:
        self.early[demand_id] = max(self.early.get(demand_id, 0), round_)

    async def keep_early_event(self, event) -> None:
        self.early_events.append(event)

    async def take_early(self, demand_id):
        if demand_id in self.items:
            return None  # queued already: nothing taken
        taken = [e for e in self.early_events if e.demand_id == demand_id]
        self.early_events = [e for e in self.early_events if e.demand_id != demand_id]
        return self.early.pop(demand_id, None), taken

    # --- the registry, the roster and the calendar (their own stores' methods)

    async def organization(self, org_id, *, for_update=False):
        return self.orgs.get(org_id)

    async def assignable_organization(self, org_id, station_id):
        org = self.orgs.get(org_id)
        return None if org is None else (org, any(in_scope(station_id, a) for a in org.areas))

    async def record_resolution_outcome(self, *args) -> None:
        pass

    async def staff_by_id(self, station_id, ids):
        return {i: self.staff[i] for i in ids if i in self.staff and station_id == f.STATION}

    async def departments_by_id(self, station_id, ids):
        return {i: self.departments[i] for i in ids if i in self.departments and station_id == f.STATION}

    async def calendar_overrides(self):
        return dict(self.overrides)


@pytest.fixture
def uow():
    return FakeUnitOfWork(FakeStore(), consumer="dispatch")


TO_ORG_01 = AssignmentRequest(kind=AssigneeKind.organization, assignee_id="org-01", assignee_name="随便写的名称")
TO_ORG_02 = AssignmentRequest(kind=AssigneeKind.organization, assignee_id="org-02")
KEEP = AssignmentRequest(kind=AssigneeKind.first_responder)
REFERRAL = Referral(
    department="区发展和改革局", contact_name="刘科长", contact_phone="+862412345678", reason="属发改职责"
)

FORM = dict(
    enterprise=Enterprise(name="沈阳精密仪器有限公司", credit_code="91210112MA0U000010"),
    items=[
        ItemRef(
            code="metrology.calibration", version=1, category="metrology", label="检定校准", time_limit_days=3,
            handled_by="organization", remarks="压力表 36 台", materials=["营业执照"], materials_received=["营业执照"],
        )
    ],
    address="沈阳市浑南区智慧二街 1 号",
    details={
        "instruments": [{"name": "压力表", "count": 36}],
        "products": [{"name": "压力变送器", "standard": "GB/T 28474"}],
        "special_equipment": [{"kind": "锅炉", "count": 1}],
    },
)  # fmt: skip


async def _received(uow, **overrides):
    submitted = f.submitted(first_responder_id=CLERK.subject, **{**FORM, **overrides})
    assert await uow.handle(submitted, usecases.receive_demand)
    return submitted


async def _assign(uow, submitted, request=TO_ORG_01, who=HEAD, key=None):
    return await usecases.assign(uow, who, submitted.demand_id, request, idempotency_key=key)


def _state(uow, demand_id):
    """Everything a refused request must leave as it was."""
    return (list(uow.published), list(uow.store.assigned), uow.store.items[demand_id])


# --------------------------------------------------------------------------- events


async def test_a_submitted_demand_waits_in_the_queue_and_remembers_its_event_and_form(uow):
    submitted = await _received(uow)
    item = uow.store.items[submitted.demand_id]
    assert (item.status, item.round, item.assignment_count, item.returned) == ("waiting", 1, 0, False)
    assert item.submitted_event_id == submitted.event_id and item.correlation_id == submitted.correlation_id
    assert item.enterprise_credit_code == "91210112MA0U000010" and item.address == FORM["address"]
    assert item.contact == {"name": "王建国", "phone": "+8613804001234"} and item.item_codes == [
        "metrology.calibration"
    ]
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
        await _assign(uow, submitted)
    assert uow.published == []


async def test_a_resolved_demand_cannot_be_rematched(uow):
    submitted = await _received(uow)
    await _assign(uow, submitted)
    await uow.handle(f.resolved(submitted), usecases.record_resolved)
    assert uow.store.items[submitted.demand_id].status == "resolved"
    with pytest.raises(InvalidTransition):
        await _assign(uow, submitted, TO_ORG_02)
    assert len(uow.events(Assigned)) == 1


def _corrected(submitted, minutes: int, description: str) -> DemandCorrected:
    at = f.at(5, minutes)
    return submitted.caused(
        DemandCorrected,
        occurred_at=at,
        corrected_by="张晓燕",
        corrected_at=at,
        reason="企业补充",
        changed=["description", "contact"],
        contact=Contact(name="李四", phone="+8613900000000"),
        categories=[CategoryRef(code="metrology", label="计量")],
        description=description,
        time_limit_days=5,
        address="新地址",
        details={"instruments": [{"name": "千分尺"}]},
    )


@pytest.mark.parametrize("order", ["in-order", "reversed"])
async def test_the_newest_correction_replaces_the_form_in_any_order(uow, order):
    submitted = await _received(uow)
    older, newer = _corrected(submitted, 1, "较早的更正"), _corrected(submitted, 2, "最新的更正")
    for event in (older, newer) if order == "in-order" else (newer, older):
        assert await uow.handle(event, usecases.record_correction)
    item = uow.store.items[submitted.demand_id]
    assert (item.description, item.time_limit_days, item.address) == ("最新的更正", 5, "新地址")
    assert item.contact == {"name": "李四", "phone": "+8613900000000"} and item.correction_id == newer.event_id
    assert item.status == "waiting" and uow.published == []


async def test_a_correction_and_a_withdrawal_seen_before_the_submission_apply_when_it_arrives(uow):
    submitted = f.submitted(**FORM)
    await uow.handle(_corrected(submitted, 1, "先到的更正"), usecases.record_correction)
    await uow.handle(ev.withdrawn(submitted), usecases.record_withdrawal)
    assert submitted.demand_id not in uow.store.items and len(uow.store.early_events) == 2
    await uow.handle(submitted, usecases.receive_demand)
    item = uow.store.items[submitted.demand_id]
    assert (item.status, item.description, item.closing["by_enterprise"]) == ("withdrawn", "先到的更正", True)
    assert uow.store.early_events == []


async def test_a_withdrawn_demand_takes_no_more_decisions(uow):
    submitted = await _received(uow)
    await _assign(uow, submitted)
    await uow.handle(ev.withdrawn(submitted, assignment_count=1), usecases.record_withdrawal)
    assert uow.store.items[submitted.demand_id].status == "withdrawn"
    before = _state(uow, submitted.demand_id)
    for attempt in (
        _assign(uow, submitted, TO_ORG_02),
        usecases.refer(uow, HEAD, submitted.demand_id, REFERRAL, None),
        usecases.give_back(uow, ORG, submitted.demand_id, "超出资质"),
        usecases.refuse(uow, HEAD, submitted.demand_id, "不予服务", "依据"),
    ):
        with pytest.raises(InvalidTransition) as refused:
            await attempt
        assert "已撤回" in refused.value.zh
    assert _state(uow, submitted.demand_id) == before
    # A late resolution does not reopen it; a later closing does not replace the earlier one.
    await uow.handle(f.resolved(submitted), usecases.record_resolved)
    await uow.handle(ev.refused(submitted, at=utcnow() + timedelta(hours=1)), usecases.record_withdrawal)
    assert uow.store.items[submitted.demand_id].status == "withdrawn"


async def test_of_two_closings_the_earlier_counts_whatever_the_order(uow):
    submitted = await _received(uow)
    withdrawal = ev.withdrawn(submitted, at=utcnow() - timedelta(minutes=5))  # made first, arrives late
    await usecases.refuse(uow, HEAD, submitted.demand_id, "不予服务", "依据")
    await uow.handle(withdrawal, usecases.record_withdrawal)
    item = uow.store.items[submitted.demand_id]
    assert (item.status, item.closing_id) == ("withdrawn", withdrawal.event_id)
    assert len(uow.events(DemandRefused)) == 1  # what dispatch published stays published


# --------------------------------------------------------------------------- assign


async def test_the_head_assigns_an_organization_by_its_registry_name_caused_by_the_submission(uow):
    submitted = await _received(uow)
    due = today() + timedelta(days=30)
    assignment = await _assign(uow, submitted, replace(TO_ORG_01, due_on=due))
    [event] = uow.events(Assigned)
    assert event.causation_id == submitted.event_id and event.correlation_id == submitted.correlation_id
    assert (event.station_id, event.demand_id, event.tracking_no) == (
        submitted.station_id,
        submitted.demand_id,
        submitted.tracking_no,
    )
    assert (event.assignment_no, event.round, event.assignee_id, event.due_on) == (1, 1, "org-01", due)
    assert event.assignee_name == "市计量测试院"  # the registry's name; the request's is ignored
    assert event.assigned_by == "周站长" and event.occurred_at == assignment.assigned_at
    assert assignment.event_id == event.event_id  # a return names it as its cause
    assert uow.store.assigned == [(assignment, f.STATION)]
    assert uow.store.items[submitted.demand_id].status == "assigned"


@pytest.mark.parametrize(
    ("org_id", "status", "said"),
    [
        ("org-se", 409, "不承接"),  # not qualified for metrology
        ("org-sus", 409, "已暂停"),  # suspended
        ("org-unknown", 422, "服务机构库中没有"),
    ],
    ids=["unqualified", "suspended", "unknown"],
)
async def test_an_organization_that_may_not_take_the_demand_is_refused(uow, org_id, status, said):
    submitted = await _received(uow)
    before = _state(uow, submitted.demand_id)
    with pytest.raises(DomainError) as refused:
        await _assign(uow, submitted, AssignmentRequest(kind=AssigneeKind.organization, assignee_id=org_id))
    assert refused.value.status == status and said in refused.value.zh and refused.value.en
    assert _state(uow, submitted.demand_id) == before


async def test_station_staff_lead_from_the_roster_with_co_handlers(uow):
    submitted = await _received(uow)
    request = AssignmentRequest(
        kind=AssigneeKind.staff,
        responsible_id="wang",
        mode=HandlingMode.joint,
        co_handlers=(("organization", "org-02"),),
    )
    assignment = await _assign(uow, submitted, request)
    assert (assignment.assignee_id, assignment.assignee_name, assignment.department) == ("wang", "王工", "计量科")
    [event] = uow.events(Assigned)
    assert event.assignee_kind is AssigneeKind.staff and event.department == "计量科"
    assert [(h.kind, h.id, h.name) for h in event.co_handlers] == [(AssigneeKind.organization, "org-02", "省特检院")]
    assert event.handling_mode is HandlingMode.joint


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (AssignmentRequest(kind=AssigneeKind.staff, responsible_id="nobody"), "responsible_id"),
        (AssignmentRequest(kind=AssigneeKind.staff), "department_id"),
        (AssignmentRequest(kind=AssigneeKind.staff, assignee_id="wang"), "assignee_id"),
        (AssignmentRequest(kind=AssigneeKind.organization, assignee_id="org-01", department_id="x"), "department_id"),
        (AssignmentRequest(kind=AssigneeKind.organization), "assignee_id"),
        (AssignmentRequest(kind=AssigneeKind.department, assignee_id="x", assignee_name="x"), "assignee_kind"),
        (replace(TO_ORG_01, due_on=date(2000, 1, 1)), "due_on"),
    ],
    ids=["unknown-staff", "no-lead", "staff-by-assignee-id", "staff-fields-for-org", "no-org", "referral", "past"],
)
async def test_an_invalid_assignment_is_422_and_publishes_nothing(uow, request_, field):
    submitted = await _received(uow)
    with pytest.raises(Invalid) as info:
        await _assign(uow, submitted, request_)
    assert info.value.field == field
    assert uow.published == [] and uow.store.assigned == []
    assert uow.store.items[submitted.demand_id].status == "waiting"


async def test_the_default_due_date_counts_the_calendar_corrections_dispatch_keeps(uow):
    submitted = await _received(uow)
    plain = add_working_days(today(), submitted.time_limit_days)
    first = await _assign(uow, submitted)
    assert first.due_on == plain
    uow.store.overrides = {plain: False}  # intake's CalendarCorrected: that day is a holiday after all
    second = await _assign(uow, submitted, TO_ORG_02)
    assert second.due_on == add_working_days(today(), submitted.time_limit_days, {plain: False}) > plain


async def test_the_default_due_date_is_the_one_promised_in_the_notice_while_it_lies_ahead(uow):
    promised = today() + timedelta(days=20)
    submitted = await _received(uow, expected_on=promised)
    uow.store.overrides = {promised: False}  # the notice's promise stands; corrections count only without it
    assert (await _assign(uow, submitted)).due_on == promised


@pytest.mark.parametrize(
    ("rehandling", "requested", "expected"),
    [(False, None, None), (False, None, -1), (False, None, 0), (False, None, 20), (False, 5, 20), (True, None, None)],
)
def test_only_a_due_date_counted_from_today_needs_the_calendar(rehandling, requested, expected):
    """assign reads the calendar corrections only when domain.counts_working_days says so: every other due date is
    the same whatever they say."""
    item = replace(
        domain.receive(f.submitted()),
        due_on=today() + timedelta(days=9) if rehandling else None,
        expected_on=today() + timedelta(days=expected) if expected is not None else None,
    )
    requested_on = today() + timedelta(days=requested) if requested is not None else None
    every_day_off = {today() + timedelta(days=n): False for n in range(60)}
    counted = domain.counts_working_days(item, requested_on, today())
    assert counted == (not rehandling and requested is None and (expected is None or expected < 0))
    if not counted:
        with_calendar = domain.due_date(item, requested_on, today(), every_day_off)
        assert domain.due_date(item, requested_on, today(), None) == with_calendar


async def test_a_rematch_is_numbered_and_answers_the_same_submission(uow):
    submitted = await _received(uow)
    await _assign(uow, submitted)
    second = await _assign(uow, submitted, TO_ORG_02)
    assert second.assignment_no == 2
    assert [e.assignment_no for e in uow.events(Assigned)] == [1, 2]
    assert {(e.causation_id, e.correlation_id) for e in uow.events(Assigned)} == {
        (submitted.event_id, submitted.correlation_id)
    }
    assert uow.store.items[submitted.demand_id].assignment_count == 2


async def test_a_clerk_keeps_their_own_waiting_demand(uow):
    submitted = await _received(uow)
    assignment = await _assign(uow, submitted, KEEP, who=CLERK)
    assert (assignment.assignee_kind, assignment.assignee_id, assignment.assignee_name) == (
        AssigneeKind.first_responder,
        "clerk-zhang",
        "张晓燕",
    )
    [event] = uow.events(Assigned)
    assert event.causation_id == submitted.event_id and event.assigned_by == "张晓燕"


@pytest.mark.parametrize(
    ("who", "request_", "already_assigned"),
    [
        (OTHER_CLERK, KEEP, False),  # not the clerk who received it
        (CLERK, TO_ORG_01, False),  # dispatching to others is the head's
        (CLERK, KEEP, True),  # re-dispatch is the head's
    ],
    ids=["another-clerk", "to-an-organization", "already-assigned"],
)
async def test_a_clerk_is_refused_otherwise_and_nothing_is_published(uow, who, request_, already_assigned):
    submitted = await _received(uow)
    if already_assigned:
        await _assign(uow, submitted)
    before = _state(uow, submitted.demand_id)
    with pytest.raises(Forbidden):
        await _assign(uow, submitted, request_, who=who)
    assert _state(uow, submitted.demand_id) == before


async def test_another_station_can_neither_see_nor_decide(uow):
    submitted = await _received(uow)
    for attempt in (
        _assign(uow, submitted, who=OTHER_HEAD),
        usecases.get_demand(uow, OTHER_HEAD, submitted.demand_id),
        usecases.refer(uow, OTHER_HEAD, submitted.demand_id, REFERRAL, None),
        usecases.refuse(uow, OTHER_HEAD, submitted.demand_id, "不予服务", "依据"),
        usecases.merge(uow, OTHER_HEAD, submitted.demand_id, uuid4(), "重复"),
        usecases.give_back(uow, OTHER_HEAD, submitted.demand_id, "退回"),
        usecases.brief(uow, OTHER_HEAD, submitted.demand_id),
    ):
        with pytest.raises(NotFound):
            await attempt
    assert await usecases.list_queue(uow, OTHER_HEAD, None, "waiting", 100, 0) == []
    assert uow.published == [] and uow.store.assigned == [] and uow.store.reads == []


async def test_a_retried_assignment_answers_the_first_and_a_different_one_with_its_key_is_409(uow):
    submitted = await _received(uow)
    first = await _assign(uow, submitted, key="assign-key-1")
    again = await _assign(uow, submitted, key="assign-key-1")
    assert again == first and len(uow.events(Assigned)) == 1
    with pytest.raises(IdempotencyConflict):
        await _assign(uow, submitted, TO_ORG_02, key="assign-key-1")
    rematch = await _assign(uow, submitted, TO_ORG_02, key="rematch-key-1")
    assert await _assign(uow, submitted, TO_ORG_02, key="rematch-key-1") == rematch
    assert [e.assignment_no for e in uow.events(Assigned)] == [1, 2]


# --------------------------------------------------------------------------- return and rematch


async def test_an_organization_returns_its_assignment_and_the_demand_waits_at_the_top_of_the_queue(uow):
    plain = await _received(uow, tracking_no="2026-000001")
    green = await _received(uow, tracking_no="2026-000002", green_channel="major_project")
    returned = await _received(uow, tracking_no="2026-000003")
    await _assign(uow, returned)
    [assigned] = uow.events(Assigned)
    given_back = await usecases.give_back(
        uow, ORG, returned.demand_id, "超出本机构资质范围", idempotency_key="ret-key-1"
    )
    assert (given_back.assignment_no, given_back.returned_by, given_back.return_reason) == (
        1,
        "市计量测试院",
        "超出本机构资质范围",
    )
    [event] = uow.events(AssignmentReturned)
    assert event.causation_id == assigned.event_id and event.correlation_id == returned.correlation_id
    assert (event.assignment_no, event.assignee_id, event.reason) == (1, "org-01", "超出本机构资质范围")
    item = uow.store.items[returned.demand_id]
    assert (item.status, item.returned, item.returned_no) == ("waiting", True, 1)
    queue = await usecases.list_queue(uow, HEAD, None, "waiting", 100, 0)
    assert [i.demand_id for i in queue] == [green.demand_id, returned.demand_id, plain.demand_id]

    # The organization lost sight of it; a retry answers the same; a second return is late.
    with pytest.raises(NotFound):
        await usecases.get_demand(uow, ORG, returned.demand_id)
    assert await usecases.give_back(uow, ORG, returned.demand_id, "超出本机构资质范围", idempotency_key="ret-key-1")
    with pytest.raises(InvalidTransition):
        await usecases.give_back(uow, ORG, returned.demand_id, "再退一次")
    with pytest.raises(NotFound):
        await usecases.give_back(uow, ORG_2, returned.demand_id, "不是我的")
    assert len(uow.events(AssignmentReturned)) == 1

    # The head rematches: the flag goes, the number goes on.
    rematch = await _assign(uow, returned, TO_ORG_02)
    assert rematch.assignment_no == 2 and not uow.store.items[returned.demand_id].returned
    assert [e.assignment_no for e in uow.events(Assigned)] == [1, 2]


async def test_staff_return_their_own_and_the_head_returns_for_a_department_but_not_for_an_organization(uow):
    kept = await _received(uow)
    await _assign(uow, kept, KEEP, who=CLERK)
    with pytest.raises(Forbidden):
        await usecases.give_back(uow, OTHER_CLERK, kept.demand_id, "不是我的")
    await usecases.give_back(uow, CLERK, kept.demand_id, "需要科室牵头")
    with pytest.raises(InvalidTransition):
        await usecases.give_back(uow, CLERK, kept.demand_id, "又退")  # late: no longer current

    referred = await _received(uow)
    await usecases.refer(uow, HEAD, referred.demand_id, REFERRAL, None)
    await usecases.give_back(uow, HEAD, referred.demand_id, "发改局退回")
    assert uow.store.items[referred.demand_id].returned

    to_org = await _received(uow)
    await _assign(uow, to_org)
    before = _state(uow, to_org.demand_id)
    with pytest.raises(Forbidden):
        await usecases.give_back(uow, HEAD, to_org.demand_id, "站长代退")
    with pytest.raises(Forbidden):
        await usecases.give_back(uow, CLERK, to_org.demand_id, "窗口代退")
    assert _state(uow, to_org.demand_id) == before
    assert len(uow.events(AssignmentReturned)) == 2


async def test_nothing_to_return_before_dispatch_or_after_resolution(uow):
    submitted = await _received(uow)
    with pytest.raises(InvalidTransition):
        await usecases.give_back(uow, HEAD, submitted.demand_id, "退回")
    await _assign(uow, submitted)
    await uow.handle(f.resolved(submitted), usecases.record_resolved)
    with pytest.raises(InvalidTransition) as late:
        await usecases.give_back(uow, HEAD, submitted.demand_id, "退回")
    assert "已办结" in late.value.zh
    assert uow.events(AssignmentReturned) == []


# --------------------------------------------------------------------------- referral


async def test_a_referral_is_an_assignment_to_a_department_the_station_keeps_following(uow):
    submitted = await _received(uow)
    assignment = await usecases.refer(uow, HEAD, submitted.demand_id, REFERRAL, None, idempotency_key="refer-key1")
    assert await usecases.refer(uow, HEAD, submitted.demand_id, REFERRAL, None, idempotency_key="refer-key1") == (
        assignment
    )
    [event] = uow.events(Assigned)
    assert (event.assignee_kind, event.assignee_name, event.handling_mode) == (
        AssigneeKind.department,
        "区发展和改革局",
        HandlingMode.coordinated,
    )
    assert event.referral == REFERRAL and event.causation_id == submitted.event_id
    assert uow.store.items[submitted.demand_id].status == "assigned"  # not closed by the referral


# --------------------------------------------------------------------------- refusal and merge


async def test_a_refusal_ends_the_demand_with_its_basis_once(uow):
    submitted = await _received(uow)
    await _assign(uow, submitted)
    item, _ = await usecases.refuse(
        uow, HEAD, submitted.demand_id, "不属于服务范围", "规范 7.2", idempotency_key="refuse-k1"
    )
    assert item.status == "refused" and item.closing["basis"] == "规范 7.2"
    assert (
        await usecases.refuse(uow, HEAD, submitted.demand_id, "不属于服务范围", "规范 7.2", idempotency_key="refuse-k1")
    )[0] == item
    [event] = uow.events(DemandRefused)
    assert (event.assignment_count, event.reason, event.basis, event.closed_by) == (
        1,
        "不属于服务范围",
        "规范 7.2",
        "周站长",
    )
    assert event.causation_id == submitted.event_id
    with pytest.raises(IdempotencyConflict):
        await usecases.refuse(uow, HEAD, submitted.demand_id, "另一个原因", "规范 7.2", idempotency_key="refuse-k1")
    with pytest.raises(InvalidTransition):
        await usecases.refuse(uow, HEAD, submitted.demand_id, "再次", "规范")
    with pytest.raises(InvalidTransition):
        await _assign(uow, submitted, TO_ORG_02)
    with pytest.raises(NotFound):
        await usecases.brief(uow, ORG, submitted.demand_id)  # ended: the organization no longer reads it
    assert len(uow.published) == 2


async def test_a_duplicate_is_merged_into_the_open_original_of_the_same_enterprise(uow):
    original = await _received(uow, tracking_no="2026-000001")
    duplicate = await _received(uow, tracking_no="2026-000002")
    item, _ = await usecases.merge(
        uow, HEAD, duplicate.demand_id, original.demand_id, "重复登记", idempotency_key="merge-k1"
    )
    assert item.status == "merged" and item.closing["merged_into_tracking_no"] == "2026-000001"
    again, _ = await usecases.merge(
        uow, HEAD, duplicate.demand_id, original.demand_id, "重复登记", idempotency_key="merge-k1"
    )
    assert again == item
    [event] = uow.events(DemandMerged)
    assert (event.merged_into, event.merged_into_tracking_no, event.assignment_count) == (
        original.demand_id,
        "2026-000001",
        0,
    )
    assert uow.store.items[original.demand_id].status == "waiting"  # the original goes on
    with pytest.raises(IdempotencyConflict):
        await usecases.merge(uow, HEAD, duplicate.demand_id, original.demand_id, "另一个", idempotency_key="merge-k1")


async def test_a_merge_is_refused_unless_both_are_open_in_scope_and_of_one_enterprise(uow):
    duplicate = await _received(uow, tracking_no="2026-000002")
    other_firm = await _received(
        uow, tracking_no="2026-000003", enterprise=Enterprise(name="另一家公司", credit_code="91210112MA0U000029")
    )
    foreign = f.submitted(station_id=OTHER_HEAD.station, tracking_no="2026-000001", **FORM)
    await uow.handle(foreign, usecases.receive_demand)
    legacy = await _received(uow, tracking_no="2026-000004")
    uow.store.items[legacy.demand_id] = replace(uow.store.items[legacy.demand_id], enterprise_credit_code=None)
    done = await _received(uow, tracking_no="2026-000005")
    await usecases.refuse(uow, HEAD, done.demand_id, "不予服务", "依据")
    published = list(uow.published)

    for into, error, said in (
        (duplicate.demand_id, Invalid, "自身"),
        (other_firm.demand_id, InvalidTransition, "不属于同一企业"),
        (foreign.demand_id, Invalid, "未找到"),
        (uuid4(), Invalid, "未找到"),
        (legacy.demand_id, InvalidTransition, "统一社会信用代码"),
        (done.demand_id, InvalidTransition, "「否定备案」"),
    ):
        with pytest.raises(error) as refused:
            await usecases.merge(uow, HEAD, duplicate.demand_id, into, "重复")
        assert said in refused.value.zh, refused.value.zh
    assert uow.published == published and uow.store.items[duplicate.demand_id].status == "waiting"


# --------------------------------------------------------------------------- what the organization sees


async def test_the_organization_reads_the_brief_of_its_current_assignment_only_and_every_read_is_logged(uow):
    submitted = await _received(uow)
    with pytest.raises(NotFound):
        await usecases.brief(uow, ORG, submitted.demand_id)  # not assigned to it yet
    await _assign(uow, submitted)
    seen = await usecases.brief(uow, ORG, submitted.demand_id)
    assert seen.item.contact == {"name": "王建国", "phone": "+8613804001234"} and seen.item.address
    assert set(seen.details) == {"instruments", "products"}  # metrology and testing: not the special equipment
    assert seen.assignment.assignee_id == "org-01"
    assert uow.store.reads == [(submitted.demand_id, f.STATION, "org-user", "市计量测试院", "org", "org-01")]
    [row] = await usecases.org_assignments(uow, ORG, 100, 0)
    assert row["demand_status"] == "assigned" and "contact" not in row  # only in the brief, whose reads are logged

    await _assign(uow, submitted, TO_ORG_02)  # rematched away
    with pytest.raises(NotFound):
        await usecases.brief(uow, ORG, submitted.demand_id)
    [row] = await usecases.org_assignments(uow, ORG, 100, 0)
    assert (row["demand_status"], row["enterprise_name"]) == (None, None)
    assert set((await usecases.brief(uow, ORG_2, submitted.demand_id)).details) == {
        "instruments",
        "special_equipment",
    }
    for who in (HEAD, CLERK, SUPERVISOR):  # station staff and supervisors in scope: all of it
        assert set((await usecases.brief(uow, who, submitted.demand_id)).details) == set(FORM["details"])
    assert [r[4] for r in uow.store.reads] == ["org", "org", "head", "clerk", "supervisor"]
