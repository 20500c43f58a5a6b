"""Authorization case of the appeal (申诉复核), POST /surveys/{demand_id}/ratings/{round}/void (see
test_authorization.areas).

Only a supervisor whose scope covers the station voids a rating: the city's supervisor does (once; voiding it again is
a 409, checked in test_evaluation_rounds.py with the district's supervisors); the station's own clerk and head, other
stations' staff, organizations and operations are refused (403) whatever the station; another city's supervisor finds
nothing (404), as with any demand outside its scope.
"""

from tests.support import auth


async def prepare(system) -> None:
    """A demand of station A, resolved and rated on paper: its round-1 rating is there to void."""
    demand = await system.submit()
    await system.assign(demand)
    await system.resolve(demand)
    reply = await system.clients["evaluation"].post(
        f"/surveys/{demand}/rating", json={"answers": {"overall": "dissatisfied"}}, headers=auth.CLERK
    )
    assert reply.status_code == 201, reply.text
    system.demands["appealed"] = demand


def cases(system) -> dict:
    from tests.integration.test_authorization import expect

    return {
        ("evaluation", "POST", "/surveys/{demand_id}/ratings/{round}/void"): (
            f"/surveys/{system.demands['appealed']}/ratings/1/void",
            {"reason": "经申诉复核，企业误选「不满意」"},
            expect(
                clerk_a=403,
                head_a=403,
                clerk_other_station=403,
                head_other_city=403,
                supervisor_a=200,
                supervisor_other=404,
                org_assigned=403,
                org_other=403,
                admin=403,
            ),
            None,
        ),
    }
