"""Authorization cases of the staff and department routes (see test_authorization.areas).

Hunnan's roster: its head and operations keep it; its clerks, its head and Shenyang's supervisor read it
(operations too); another station of the city (tiexi-01) and another city get 404, organizations 403. The
writes use ids that `prepare` leaves free, so the head's PUT creates (201) and operations' then edits (200).
"""

from tests.support import auth, events

STATION = events.STATION
DEPARTMENT = {"name": "授权测试科", "categories": ["metrology"]}
MEMBER = {"name": "授权测试员", "categories": ["metrology"]}


async def prepare(system) -> None:
    await system.knows_stations("dispatch", STATION)  # operations keep only stations the registry knows
    d = system.clients["dispatch"]
    kept = await d.put(f"/stations/{STATION}/departments/authz-kept", json=DEPARTMENT, headers=auth.HEAD)
    assert kept.status_code == 201, kept.text
    member = MEMBER | {"department_id": "authz-kept"}
    kept = await d.put(f"/stations/{STATION}/staff/authz-kept", json=member, headers=auth.HEAD)
    assert kept.status_code == 201, kept.text


def cases(system) -> dict:
    from tests.integration.test_authorization import expect

    readers = dict(
        clerk_a=200,
        head_a=200,
        clerk_other_station=404,
        head_other_city=404,
        supervisor_a=200,
        supervisor_other=404,
        org_assigned=403,
        org_other=403,
        admin=200,
    )
    keepers = dict(
        clerk_a=403,
        head_a=201,  # creates; operations, called after the head, edit what the head created
        clerk_other_station=403,
        head_other_city=404,
        supervisor_a=403,
        supervisor_other=403,
        org_assigned=403,
        org_other=403,
        admin=200,
    )
    roster = f"/stations/{STATION}"
    return {
        ("dispatch", "GET", "/stations/{station_id:path}/departments"): (
            f"{roster}/departments",
            None,
            expect(**readers),
            None,
        ),
        ("dispatch", "PUT", "/stations/{station_id:path}/departments/{department_id}"): (
            f"{roster}/departments/authz-new",
            DEPARTMENT | {"name": "授权新建科"},
            expect(**keepers),
            None,
        ),
        ("dispatch", "GET", "/stations/{station_id:path}/staff"): (f"{roster}/staff", None, expect(**readers), None),
        ("dispatch", "PUT", "/stations/{station_id:path}/staff/{staff_id}"): (
            f"{roster}/staff/authz-new",
            MEMBER,
            expect(**keepers),
            None,
        ),
    }
