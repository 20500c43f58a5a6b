"""Staff and departments (rules and use cases on a fake unit of work), and dispatch's calendar copy."""

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest

from services.dispatch.calendar import usecases as calendar
from services.dispatch.organizations.domain import Status
from services.dispatch.staff import domain, usecases
from services.dispatch.staff.domain import Action, Department, StaffMember
from shared.auth import Principal, Role, in_scope
from shared.calendar import add_working_days
from shared.contracts import AssigneeKind, CalendarCorrected, Handler
from shared.errors import DomainError, Invalid, NotFound
from tests.support.fake_uow import FakeUnitOfWork

STATION = "210100/210112/hunnan-01"
OTHER = "210100/210106/tiexi-01"
HEAD = Principal(subject="head-zhou", name="周站长", role=Role.head, station=STATION)
CLERK = Principal(subject="clerk-zhang", name="张晓燕", role=Role.clerk, station=STATION)
OTHER_HEAD = Principal(subject="head-liang", name="梁站长", role=Role.head, station=OTHER)
ADMIN = Principal(subject="ops", name="运维", role=Role.admin)


@dataclass
class FakeOrg:
    name: str
    status: Status = Status.admitted

    def status_on(self, today: date) -> Status:
        return self.status


@dataclass
class FakeStore:
    """The staff and calendar store methods, in memory (the station's rows only, as RLS would have it)."""

    departments_: dict[tuple[str, str], Department] = field(default_factory=dict)
    staff_: dict[tuple[str, str], StaffMember] = field(default_factory=dict)
    orgs: dict[str, FakeOrg] = field(default_factory=dict)
    audit: list[dict] = field(default_factory=list)
    calendar: dict[date, tuple] = field(default_factory=dict)
    stations: set[str] = field(default_factory=lambda: {STATION, OTHER})

    async def station_known(self, station_id):
        return station_id in self.stations

    async def departments(self, station_id, scope, active, limit, offset):
        rows = [
            d
            for (s, _), d in self.departments_.items()
            if s == station_id and (scope == "*" or in_scope(s, scope)) and active in (None, d.active)
        ]
        return sorted(rows, key=lambda d: (d.name, d.department_id))[offset : offset + limit]

    async def department(self, station_id, department_id):
        return self.departments_.get((station_id, department_id))

    async def departments_by_id(self, station_id, ids):
        return {i: self.departments_[(station_id, i)] for i in ids if (station_id, i) in self.departments_}

    async def department_named(self, station_id, name, other_than):
        return next(
            (
                d.department_id
                for (s, i), d in self.departments_.items()
                if s == station_id and d.name == name and i != other_than
            ),
            None,
        )

    async def save_department(self, d):
        self.departments_[(d.station_id, d.department_id)] = d

    async def active_staff_in(self, station_id, department_id):
        return sum(
            1
            for m in self.staff_.values()
            if m.station_id == station_id and m.department_id == department_id and m.active
        )

    async def staff_members(self, station_id, scope, active, department_id, limit, offset):
        rows = [
            m
            for (s, _), m in self.staff_.items()
            if s == station_id
            and (scope == "*" or in_scope(s, scope))
            and active in (None, m.active)
            and department_id in (None, m.department_id)
        ]
        return sorted(rows, key=lambda m: (m.name, m.staff_id))[offset : offset + limit]

    async def staff_member(self, station_id, staff_id):
        return self.staff_.get((station_id, staff_id))

    async def staff_by_id(self, station_id, ids):
        return {i: self.staff_[(station_id, i)] for i in ids if (station_id, i) in self.staff_}

    async def save_staff_member(self, m):
        self.staff_[(m.station_id, m.staff_id)] = m

    async def add_staff_audit(self, station_id, record, record_id, action, actor, at, before, after):
        self.audit.append(
            dict(
                station_id=station_id,
                record=record,
                record_id=record_id,
                action=action,
                actor=actor,
                before=before,
                after=after,
            )
        )

    async def handling_departments(self, station_id, categories):
        found = []
        for (s, _), d in sorted(self.departments_.items(), key=lambda kv: (kv[1].name, kv[1].department_id)):
            if s == station_id and d.active and set(d.categories) & set(categories):
                staff = [
                    {"staff_id": m.staff_id, "name": m.name}
                    for m in sorted(self.staff_.values(), key=lambda m: (m.name, m.staff_id))
                    if m.station_id == s and m.department_id == d.department_id and m.active
                ]
                found.append({"department_id": d.department_id, "name": d.name, "staff": staff})
        return found

    async def organization(self, org_id):
        return self.orgs.get(org_id)

    async def calendar_overrides(self):
        return {day: row[0] for day, row in self.calendar.items() if row[0] is not None}

    async def record_calendar_correction(self, day, is_workday, note, event_id, occurred_at):
        kept = self.calendar.get(day)
        if kept is not None and (kept[3], kept[2]) >= (occurred_at, event_id):
            return False
        self.calendar[day] = (is_workday, note, event_id, occurred_at)
        return True


def roster() -> FakeStore:
    store = FakeStore()
    for d in (
        Department(STATION, "metrology", "计量科", ("metrology", "testing")),
        Department(STATION, "equipment", "特种设备科", ("special_equipment",)),
        Department(STATION, "old", "旧科室", ("metrology",), active=False),
        Department(OTHER, "metrology", "铁西计量科", ("metrology",)),
    ):
        store.departments_[(d.station_id, d.department_id)] = d
    for m in (
        StaffMember(STATION, "wang", "王工", "metrology"),
        StaffMember(STATION, "li", "李工", "metrology"),
        StaffMember(STATION, "zhao", "赵工", "equipment"),
        StaffMember(STATION, "sun", "孙工", None),
        StaffMember(STATION, "qian", "钱工", "metrology", active=False),
        StaffMember(OTHER, "zhou", "周工", "metrology"),
    ):
        store.staff_[(m.station_id, m.staff_id)] = m
    store.orgs = {"org-01": FakeOrg("市计量测试院"), "org-03": FakeOrg("暂停机构", Status.suspended)}
    return store


async def resolve(store: FakeStore, *, department_id=None, responsible_id=None, co=(), station=STATION):
    uow = FakeUnitOfWork(store)
    async with uow.begin(HEAD) as tx:
        return await usecases.resolve_handlers(
            tx, station, department_id=department_id, responsible_id=responsible_id, co_handlers=list(co)
        )


# --- resolve_handlers ------------------------------------------------------------------------------------


async def test_the_responsible_member_leads_with_the_named_department():
    lead = await resolve(roster(), department_id="metrology", responsible_id="wang")
    assert (lead.assignee_id, lead.assignee_name, lead.department, lead.department_id) == (
        "wang",
        "王工",
        "计量科",
        "metrology",
    )
    assert lead.co_handlers == []


async def test_a_responsible_member_alone_leads_with_their_own_department():
    lead = await resolve(roster(), responsible_id="zhao")
    assert (lead.assignee_id, lead.department) == ("zhao", "特种设备科")
    lead = await resolve(roster(), responsible_id="sun")  # in no department
    assert (lead.assignee_id, lead.assignee_name, lead.department) == ("sun", "孙工", None)


async def test_a_department_alone_leads():
    lead = await resolve(roster(), department_id="equipment")
    assert (lead.assignee_id, lead.assignee_name, lead.department) == ("equipment", "特种设备科", "特种设备科")


async def test_co_handlers_are_named_from_the_roster_and_the_registry():
    lead = await resolve(
        roster(),
        responsible_id="wang",
        co=[("staff", "li"), ("department", "equipment"), ("organization", "org-01")],
    )
    assert lead.co_handlers == [
        Handler(kind=AssigneeKind.staff, id="li", name="李工"),
        Handler(kind=AssigneeKind.department, id="equipment", name="特种设备科"),
        Handler(kind=AssigneeKind.organization, id="org-01", name="市计量测试院"),
    ]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        (dict(), "department_id"),  # neither lead given
        (dict(department_id="nowhere"), "department_id"),
        (dict(department_id="old"), "department_id"),  # deactivated
        (dict(responsible_id="qian"), "responsible_id"),  # deactivated
        (dict(responsible_id="zhou"), "responsible_id"),  # another station's staff
        (dict(responsible_id="nobody"), "responsible_id"),
        (dict(department_id="equipment", responsible_id="wang"), "responsible_id"),  # not in that department
        (dict(responsible_id="wang", co=[("staff", "wang")]), "co_handlers"),  # the lead again
        (dict(responsible_id="wang", co=[("department", "metrology")]), "co_handlers"),  # the lead's department
        (dict(department_id="metrology", co=[("department", "metrology")]), "co_handlers"),
        (dict(responsible_id="wang", co=[("staff", "li"), ("staff", "li")]), "co_handlers"),  # twice
        (dict(responsible_id="wang", co=[("staff", "qian")]), "co_handlers"),  # deactivated
        (dict(responsible_id="wang", co=[("staff", "zhou")]), "co_handlers"),  # another station's
        (dict(responsible_id="wang", co=[("department", "old")]), "co_handlers"),
        (dict(responsible_id="wang", co=[("organization", "org-99")]), "co_handlers"),  # not registered
        (dict(responsible_id="wang", co=[("organization", "org-03")]), "co_handlers"),  # suspended
        (dict(responsible_id="wang", co=[("first_responder", "x")]), "co_handlers"),
        (dict(responsible_id="wang", co=[("organization", f"o{i}") for i in range(21)]), "co_handlers"),
    ],
)
async def test_a_lead_or_co_handler_not_active_at_the_station_is_refused(kwargs, field):
    co = kwargs.pop("co", ())
    with pytest.raises(Invalid) as refused:
        await resolve(roster(), co=co, **kwargs)
    assert refused.value.field == field
    assert refused.value.zh and refused.value.en


async def test_the_same_staff_id_as_another_kind_is_not_a_duplicate():
    store = roster()
    store.departments_[(STATION, "li")] = Department(STATION, "li", "李科", ("ip",))
    lead = await resolve(store, responsible_id="wang", co=[("staff", "li"), ("department", "li")])
    assert [(h.kind, h.id) for h in lead.co_handlers] == [(AssigneeKind.staff, "li"), (AssigneeKind.department, "li")]


async def test_handling_departments_lists_active_departments_of_the_categories_with_their_active_staff():
    uow = FakeUnitOfWork(roster())
    async with uow.begin(HEAD) as tx:
        found = await usecases.handling_departments(tx, STATION, ["metrology"])
        assert found == [
            {
                "department_id": "metrology",
                "name": "计量科",
                "staff": [{"staff_id": "li", "name": "李工"}, {"staff_id": "wang", "name": "王工"}],
            }
        ]
        assert await usecases.handling_departments(tx, STATION, ["ip"]) == []


# --- the roster ------------------------------------------------------------------------------------------


async def test_a_head_creates_edits_and_deactivates_a_department_each_change_audited():
    store = FakeStore()
    uow = FakeUnitOfWork(store)
    dept = Department(STATION, "ip", "知识产权科", ("ip",))
    saved, created = await usecases.save_department(uow, HEAD, dept)
    assert created and saved.updated_by == "周站长"
    again, created = await usecases.save_department(uow, HEAD, dept)
    assert not created and again == saved  # a repeated PUT changes nothing, audits nothing
    await usecases.save_department(uow, HEAD, replace(dept, categories=("ip", "brand")))
    await usecases.save_department(uow, HEAD, replace(dept, categories=("ip", "brand"), active=False))
    await usecases.save_department(uow, ADMIN, replace(dept, categories=("ip", "brand")))
    assert [a["action"] for a in store.audit] == [
        Action.created,
        Action.edited,
        Action.deactivated,
        Action.reactivated,
    ]
    assert store.audit[1]["before"]["categories"] == ["ip"]
    assert store.audit[1]["after"]["categories"] == ["ip", "brand"]
    assert store.audit[0]["actor"] == ("head-zhou", "周站长", "head")
    assert store.audit[3]["actor"] == ("ops", "运维", "admin")


async def test_department_rules():
    store = roster()
    uow = FakeUnitOfWork(store)
    with pytest.raises(Invalid) as refused:
        await usecases.save_department(uow, HEAD, Department(STATION, "x", "新科", ("astrology",)))
    assert refused.value.field == "categories"
    with pytest.raises(DomainError) as refused:
        await usecases.save_department(uow, HEAD, Department(STATION, "x", "计量科", ()))
    assert refused.value.status == 409 and refused.value.field == "name"
    with pytest.raises(DomainError) as refused:  # still has active staff
        await usecases.save_department(uow, HEAD, replace(store.departments_[(STATION, "metrology")], active=False))
    assert refused.value.status == 409 and "在岗" in refused.value.zh
    assert store.audit == []


async def test_staff_rules_and_audit():
    store = roster()
    uow = FakeUnitOfWork(store)
    member = StaffMember(STATION, "clerk-liu", "刘洋", "equipment", ("special_equipment",), "+8613800000002")
    saved, created = await usecases.save_staff_member(uow, HEAD, member)
    assert created and saved.updated_by == "周站长"
    await usecases.save_staff_member(uow, HEAD, replace(member, active=False))
    assert [a["action"] for a in store.audit] == [Action.created, Action.deactivated]
    with pytest.raises(Invalid) as refused:
        await usecases.save_staff_member(uow, HEAD, replace(member, department_id="nowhere"))
    assert refused.value.field == "department_id"
    with pytest.raises(Invalid) as refused:  # an active member cannot join a deactivated department
        await usecases.save_staff_member(uow, HEAD, replace(member, department_id="old"))
    assert refused.value.field == "department_id"
    with pytest.raises(Invalid) as refused:  # another station's department
        await usecases.save_staff_member(uow, OTHER_HEAD, replace(member, station_id=OTHER, department_id="equipment"))
    assert refused.value.field == "department_id"


async def test_another_station_is_not_found_and_operations_need_a_known_station():
    store = roster()
    uow = FakeUnitOfWork(store)
    with pytest.raises(NotFound):
        await usecases.list_departments(uow, OTHER_HEAD, STATION, None, 100, 0)
    with pytest.raises(NotFound):
        await usecases.save_department(uow, OTHER_HEAD, Department(STATION, "x", "新科", ()))
    with pytest.raises(NotFound):
        await usecases.list_staff(uow, ADMIN, "210100/210112/nowhere-01", None, None, 100, 0)
    assert [d.department_id for d in await usecases.list_departments(uow, CLERK, STATION, True, 100, 0)] == [
        "equipment",
        "metrology",
    ]  # by name: 特种设备科 sorts before 计量科 by code point
    assert [m.staff_id for m in await usecases.list_staff(uow, ADMIN, STATION, None, "metrology", 100, 0)] == [
        "li",
        "wang",
        "qian",
    ]


def test_change_tells_what_a_save_did():
    d = Department(STATION, "ip", "知识产权科", ("ip",))
    assert domain.change(None, d) is Action.created
    assert domain.change(d, replace(d, updated_by="x", updated_at=datetime.now(UTC))) is None
    assert domain.change(d, replace(d, name="知产科")) is Action.edited
    assert domain.change(d, replace(d, active=False)) is Action.deactivated
    assert domain.change(replace(d, active=False), d) is Action.reactivated


# --- the calendar copy -----------------------------------------------------------------------------------

T = datetime(2031, 1, 20, 2, 0, tzinfo=UTC)
DAY = date(2031, 2, 3)  # a Monday


def corrected(is_workday: bool | None, at: datetime, day: date = DAY) -> CalendarCorrected:
    return CalendarCorrected(correlation_id=uuid4(), day=day, is_workday=is_workday, note="春节", occurred_at=at)


async def overrides(store: FakeStore) -> dict[date, bool]:
    async with FakeUnitOfWork(store).begin() as tx:
        return await tx.store.calendar_overrides()


async def test_a_correction_is_kept_and_moves_the_due_date():
    store = FakeStore()
    uow = FakeUnitOfWork(store)
    before = add_working_days(date(2031, 1, 31), 1, await overrides(store))
    assert before == DAY
    await uow.handle(corrected(False, T), calendar.record_correction)
    assert await overrides(store) == {DAY: False}
    assert add_working_days(date(2031, 1, 31), 1, await overrides(store)) == DAY + timedelta(days=1)


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0), (1, 2, 0), (2, 0, 1)])
async def test_the_newest_correction_wins_in_any_order(order):
    events = [corrected(False, T), corrected(True, T + timedelta(minutes=1)), corrected(None, T + timedelta(minutes=2))]
    store = FakeStore()
    uow = FakeUnitOfWork(store)
    for i in order:
        await uow.handle(events[i], calendar.record_correction)
    assert await overrides(store) == {}  # the removal was the newest: the package's calendar holds again
    store = FakeStore()
    uow = FakeUnitOfWork(store)
    for i in order:
        if i != 2:
            await uow.handle(events[i], calendar.record_correction)
    assert await overrides(store) == {DAY: True}


async def test_a_repeated_announcement_changes_nothing():
    store = FakeStore()
    uow = FakeUnitOfWork(store)
    event = corrected(False, T)
    assert await uow.handle(event, calendar.record_correction)
    assert not await uow.handle(event, calendar.record_correction)
    await uow.handle(corrected(False, T + timedelta(hours=1)), calendar.record_correction)  # re-announced on start
    assert await overrides(store) == {DAY: False}
