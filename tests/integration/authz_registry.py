"""Authorization cases of the registry routes (see test_authorization.areas).

`org-authz` is the station hunnan-01's own organization: hunnan-01's staff, Shenyang's supervisor and
operations see it; another station of the city (tiexi-01), another city and every other organization do not.
"""

from tests.support import auth, events
from tests.support.system import organization

ORG_ID = "org-authz"
ENTRY = organization("浑南站授权测试机构", "12210112MB0000099", [events.STATION], categories=["metrology"])


async def prepare(system) -> None:
    reply = await system.clients["dispatch"].put(f"/organizations/{ORG_ID}", json=ENTRY, headers=auth.ADMIN)
    assert reply.status_code == 201, reply.text


def cases(system) -> dict:
    from tests.integration.test_authorization import READ_A, expect

    everyone = dict(
        clerk_a=200,
        head_a=200,
        clerk_other_station=200,
        head_other_city=200,
        supervisor_a=200,
        supervisor_other=200,
        org_assigned=200,  # an organization lists only itself
        org_other=200,
        admin=200,
    )
    # Admit/edit and status: operations, the city's supervisor, and the head of the station it belongs to.
    registrars = dict(
        clerk_a=403,
        head_a=200,
        clerk_other_station=403,
        head_other_city=404,
        supervisor_a=200,
        supervisor_other=404,
        org_assigned=403,
        org_other=403,
        admin=200,
    )
    profile = expect(**READ_A | {"admin": 200}, org_assigned=404, org_other=404)
    org = f"/organizations/{ORG_ID}"
    return {
        ("dispatch", "GET", "/organizations"): ("/organizations", None, expect(**everyone), None),
        ("dispatch", "GET", "/organizations/expiring"): ("/organizations/expiring", None, expect(**everyone), None),
        ("dispatch", "GET", "/organizations/{org_id}"): (org, None, profile, None),
        ("dispatch", "GET", "/organizations/{org_id}/history"): (f"{org}/history", None, profile, None),
        ("dispatch", "PUT", "/organizations/{org_id}"): (org, ENTRY, expect(**registrars), None),
        ("dispatch", "PUT", "/organizations/{org_id}/status"): (
            f"{org}/status",
            {"status": "suspended", "reason": "授权测试"},
            expect(**registrars),
            None,
        ),
        ("dispatch", "GET", "/demands/{demand_id}/candidates"): (
            f"/demands/{system.demands['waiting']}/candidates",
            None,
            expect(**READ_A, org_assigned=403, org_other=403),
            None,
        ),
    }
