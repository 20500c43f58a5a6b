"""Station staff and departments (科室) through dispatch's HTTP API, and dispatch's copy of the working-day
calendar, on the real database and broker."""

import json
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest

from services.dispatch.calendar.usecases import record_correction
from services.dispatch.staff.usecases import handling_departments, resolve_handlers
from shared.auth import Principal, Role
from shared.calendar import add_working_days, china_today, is_workday
from shared.contracts import AssigneeKind, CalendarCorrected
from shared.errors import Invalid
from tests.support import auth, events, infra
from tests.support.system import System, running_system

pytestmark = pytest.mark.integration

HUNNAN = events.STATION
XINSONG = "210100/210112/hunnan-xinsong"  # a service point registered below Hunnan
TIEXI = "210100/210106/tiexi-01"
TIEXI_CLERK = auth.bearer("clerk", TIEXI, name="铁西窗口")
TIEXI_HEAD = auth.bearer("head", TIEXI, name="铁西站长")


@pytest.fixture
async def system(amqp, databases):
    async with running_system(amqp, databases) as system:
        yield system


def departments(station: str = HUNNAN) -> str:
    return f"/stations/{station}/departments"


def staff(station: str = HUNNAN) -> str:
    return f"/stations/{station}/staff"


async def audit(system: System, record_id: str) -> list[dict]:
    rows = await infra.fetch(
        system.databases["dispatch"],
        "SELECT station_id, record, action, actor, actor_name, actor_role, before, after FROM staff_audit"
        " WHERE record_id = $1 ORDER BY id",
        record_id,
    )
    return [dict(r) | {k: json.loads(r[k]) if r[k] else None for k in ("before", "after")} for r in rows]


# --- the roster ------------------------------------------------------------------------------------------


async def test_a_head_keeps_departments_and_staff_and_every_change_is_audited(system):
    d = system.clients["dispatch"]
    metrology = {"name": "计量科", "categories": ["metrology", "testing"]}
    created = await d.put(f"{departments()}/metrology", json=metrology, headers=auth.HEAD)
    assert created.status_code == 201, created.text
    assert created.json() | {"updated_at": None} == {
        "station_id": HUNNAN,
        "department_id": "metrology",
        "name": "计量科",
        "categories": ["metrology", "testing"],
        "active": True,
        "updated_by": "周站长",
        "updated_at": None,
    }
    again = await d.put(f"{departments()}/metrology", json=metrology, headers=auth.HEAD)
    assert again.status_code == 200 and again.json() == created.json()  # a retried PUT changes nothing
    edited = await d.put(
        f"{departments()}/metrology", json=metrology | {"categories": ["metrology"]}, headers=auth.HEAD
    )
    assert edited.status_code == 200 and edited.json()["categories"] == ["metrology"]

    member = {"name": "刘洋", "department_id": "metrology", "categories": ["metrology"], "phone": "13800000002"}
    joined = await d.put(f"{staff()}/clerk-liu", json=member, headers=auth.HEAD)
    assert joined.status_code == 201, joined.text
    assert joined.json()["phone"] == "+8613800000002" and joined.json()["department_id"] == "metrology"

    # The department cannot be deactivated while someone still works in it.
    refused = await d.put(f"{departments()}/metrology", json=metrology | {"active": False}, headers=auth.HEAD)
    assert refused.status_code == 409, refused.text
    left = await d.put(f"{staff()}/clerk-liu", json=member | {"active": False}, headers=auth.HEAD)
    assert left.status_code == 200 and left.json()["active"] is False
    closed = await d.put(
        f"{departments()}/metrology", json=metrology | {"categories": ["metrology"], "active": False}, headers=auth.HEAD
    )
    assert closed.status_code == 200 and closed.json()["active"] is False

    # Deactivated, never deleted: still listed, and filtered out on request.
    listed = await d.get(staff(), headers=auth.CLERK)
    assert [(m["staff_id"], m["active"]) for m in listed.json()] == [("clerk-liu", False)]
    assert (await d.get(staff(), params={"active": "true"}, headers=auth.CLERK)).json() == []
    assert [x["department_id"] for x in (await d.get(departments(), headers=auth.SUPERVISOR)).json()] == ["metrology"]
    assert (await d.get(departments(), params={"active": "true"}, headers=auth.HEAD)).json() == []

    trail = await audit(system, "metrology")
    assert [(a["record"], a["action"]) for a in trail] == [
        ("department", "created"),
        ("department", "edited"),
        ("department", "deactivated"),
    ]
    assert trail[1]["before"]["categories"] == ["metrology", "testing"]
    assert trail[1]["after"]["categories"] == ["metrology"]
    assert trail[0]["actor_name"] == "周站长" and trail[0]["actor_role"] == "head" and trail[0]["station_id"] == HUNNAN
    assert [a["action"] for a in await audit(system, "clerk-liu")] == ["created", "deactivated"]


async def test_operations_and_a_covering_head_keep_a_roster_others_only_read_it(system):
    d = system.clients["dispatch"]
    body = {"name": "特种设备科", "categories": ["special_equipment"]}
    url = f"{departments()}/equipment"
    for headers, status in (
        (auth.CLERK, 403),
        (auth.SUPERVISOR, 403),
        (auth.ORG, 403),
        (TIEXI_CLERK, 403),
        (TIEXI_HEAD, 404),  # another station's head
        (auth.OTHER_HEAD, 404),  # another city's
        (auth.NONE, 401),
    ):
        reply = await d.put(url, json=body, headers=headers)
        assert reply.status_code == status, (headers, reply.text)
    for headers, status in (
        (TIEXI_CLERK, 404),
        (auth.OTHER_HEAD, 404),
        (auth.OTHER_SUPERVISOR, 404),
        (auth.ORG, 403),
        (auth.OTHER_ORG, 403),
    ):
        for path in (departments(), staff()):
            assert (await d.get(path, headers=headers)).status_code == status, (path, headers)
    assert (await d.get(departments(), headers=auth.HEAD)).json() == []  # nothing was written

    await system.knows_stations("dispatch", HUNNAN)
    assert (await d.put(url, json=body, headers=auth.ADMIN)).status_code == 201
    assert (await d.get(departments(), headers=auth.ADMIN)).status_code == 200
    unknown = await d.put(f"{departments('210100/210112/nowhere-01')}/equipment", json=body, headers=auth.ADMIN)
    assert unknown.status_code == 404

    # A head keeps the service points registered below their station (Shenyang's four tiers).
    await system.knows_stations("dispatch", XINSONG)
    below = await d.put(f"{departments(XINSONG)}/equipment", json=body, headers=auth.HEAD)
    assert below.status_code == 201, below.text
    assert (await d.get(departments(XINSONG), headers=TIEXI_CLERK)).status_code == 404
    assert [a["actor_role"] for a in await audit(system, "equipment")] == ["admin", "head"]


async def test_bad_input_is_refused_and_changes_nothing(system):
    d = system.clients["dispatch"]
    for url, body, field in (
        (f"{departments()}/Bad_Id", {"name": "科"}, "department_id"),
        (f"{departments()}/ok", {"name": "科", "categories": ["astrology"]}, "categories"),
        (f"{departments()}/ok", {"name": ""}, "name"),
        (f"{departments()}/ok", {"name": "科", "extra": 1}, "extra"),
        (f"{staff()}/liu", {"name": "刘洋", "department_id": "nowhere"}, "department_id"),
        (f"{staff()}/liu", {"name": "刘洋", "phone": "12345"}, "phone"),
        (f"{staff()}/liu", {"name": "刘\u200b洋"}, "name"),
        (f"{staff()}/a%20b", {"name": "刘洋"}, "staff_id"),
        ("/stations/not-a-station/staff/liu", {"name": "刘洋"}, "station_id"),
    ):
        reply = await d.put(url, json=body, headers=auth.HEAD)
        assert reply.status_code == 422, (url, body, reply.text)
        assert field in reply.text, (field, reply.text)
    assert (await d.get(departments(), headers=auth.HEAD)).json() == []
    assert (await d.get(staff(), headers=auth.HEAD)).json() == []
    assert await audit(system, "liu") == []


# --- for assignments and the registry, on the real database ----------------------------------------------


async def test_resolve_handlers_and_handling_departments_read_the_roster(system):
    d = system.clients["dispatch"]
    for dept, body in (
        ("metrology", {"name": "计量科", "categories": ["metrology", "testing"]}),
        ("equipment", {"name": "特种设备科", "categories": ["special_equipment"]}),
    ):
        assert (await d.put(f"{departments()}/{dept}", json=body, headers=auth.HEAD)).status_code == 201
    for staff_id, body in (
        ("wang", {"name": "王工", "department_id": "metrology"}),
        ("li", {"name": "李工", "department_id": "metrology"}),
        ("qian", {"name": "钱工", "department_id": "metrology", "active": False}),
        ("zhao", {"name": "赵工", "department_id": "equipment"}),
    ):
        assert (await d.put(f"{staff()}/{staff_id}", json=body, headers=auth.HEAD)).status_code == 201
    tiexi = await d.put(
        f"{departments(TIEXI)}/metrology", json={"name": "计量科", "categories": ["metrology"]}, headers=TIEXI_HEAD
    )
    assert tiexi.status_code == 201, tiexi.text
    assert (
        await d.put(f"{staff(TIEXI)}/zhou", json={"name": "周工", "department_id": "metrology"}, headers=TIEXI_HEAD)
    ).status_code == 201

    uow = system.apps["dispatch"].state.runtime.uow
    head = Principal(subject="head-zhou", name="周站长", role=Role.head, station=HUNNAN)
    async with uow.begin(head) as tx:
        lead = await resolve_handlers(
            tx,
            HUNNAN,
            department_id="metrology",
            responsible_id="wang",
            co_handlers=[("staff", "li"), ("department", "equipment")],
        )
        assert (lead.assignee_id, lead.assignee_name, lead.department) == ("wang", "王工", "计量科")
        assert [(h.kind, h.id, h.name) for h in lead.co_handlers] == [
            (AssigneeKind.staff, "li", "李工"),
            (AssigneeKind.department, "equipment", "特种设备科"),
        ]
        for kwargs, field in (
            (dict(responsible_id="qian"), "responsible_id"),  # deactivated
            (dict(responsible_id="zhou"), "responsible_id"),  # Tiexi's
            (dict(department_id="equipment", responsible_id="wang"), "responsible_id"),
            (dict(department_id="metrology", co_handlers=[("department", "metrology")]), "co_handlers"),
        ):
            with pytest.raises(Invalid) as refused:
                await resolve_handlers(
                    tx, HUNNAN, **({"department_id": None, "responsible_id": None, "co_handlers": []} | kwargs)
                )
            assert refused.value.field == field

        found = await handling_departments(tx, HUNNAN, ["testing", "ip"])
        assert len(found) == 1 and found[0]["department_id"] == "metrology" and found[0]["name"] == "计量科"
        assert sorted(s["staff_id"] for s in found[0]["staff"]) == ["li", "wang"]  # qian is deactivated
        assert await handling_departments(tx, TIEXI, ["metrology"]) == []  # Tiexi's: outside the head's scope (RLS)


# --- the calendar copy -----------------------------------------------------------------------------------


def a_future_working_day() -> date:
    """A day over a year ahead that the package's calendar counts as a working day, whatever the clock says."""
    day = china_today(datetime.now(UTC)) + timedelta(days=400)
    while not is_workday(day):
        day += timedelta(days=1)
    return day


async def dispatch_overrides(system: System) -> dict:
    async with system.apps["dispatch"].state.runtime.uow.begin() as tx:
        return await tx.store.calendar_overrides()


async def test_an_intake_calendar_correction_reaches_dispatch_over_the_broker(system):
    day = a_future_working_day()
    i = system.clients["intake"]
    made = await i.put(f"/calendar/{day}", json={"is_workday": False, "note": "测试假日"}, headers=auth.ADMIN)
    assert made.status_code == 204, made.text

    def kept(value):
        async def check():
            return (await dispatch_overrides(system)).get(day, "absent") == value

        return check

    await infra.eventually(kept(False), what="dispatch to keep the holiday")
    # The day before counts its next working day past the holiday now, as intake's notice does.
    assert add_working_days(day - timedelta(days=1), 1, await dispatch_overrides(system)) > day

    assert (await i.delete(f"/calendar/{day}", headers=auth.ADMIN)).status_code == 204
    await infra.eventually(kept("absent"), what="dispatch to drop the removed correction")
    assert add_working_days(day - timedelta(days=1), 1, await dispatch_overrides(system)) == day


async def test_the_newest_correction_wins_whatever_the_order_on_the_real_database(system):
    uow = system.apps["dispatch"].state.runtime.uow
    day = a_future_working_day()
    t = datetime.now(UTC)
    newer = CalendarCorrected(correlation_id=uuid4(), day=day, is_workday=None, occurred_at=t)
    older = CalendarCorrected(
        correlation_id=uuid4(), day=day, is_workday=False, note="春节", occurred_at=t - timedelta(hours=1)
    )
    assert await uow.handle(newer, record_correction)
    assert await uow.handle(older, record_correction)  # handled, but it does not bring the holiday back
    assert not await uow.handle(older, record_correction)  # a duplicate
    assert day not in await dispatch_overrides(system)
    latest = CalendarCorrected(correlation_id=uuid4(), day=day, is_workday=True, occurred_at=t + timedelta(hours=1))
    await uow.handle(latest, record_correction)
    assert (await dispatch_overrides(system))[day] is True
