"""Authorization cases of verifying a 不满意 rating (see test_authorization.areas): POST /demands/{id}/verification.

The station's head and the clerk who received the demand (its first responder: `clerk_a` submitted it) verify; the
first of them succeeds and the other then finds it verified (409). Another station and another city do not find the
case (404); supervisors, organizations (the assigned one included) and operations may not verify (403).
"""

from tests.support import auth


async def prepare(system) -> None:
    d = system.demands
    d["rnd_verify"] = await system.submit()  # by clerk_a, its first responder
    await system.assign(d["rnd_verify"])  # to org-01, the `org_assigned` caller
    await system.resolve(d["rnd_verify"])
    reply = await system.clients["evaluation"].post(
        f"/surveys/{d['rnd_verify']}/rating", json={"answers": {"overall": "dissatisfied"}}, headers=auth.CLERK
    )
    assert reply.status_code == 201, reply.text
    await system.get_when(
        "tracking",
        f"/demands/{d['rnd_verify']}",
        lambda c: c["awaiting_verification"],
        "tracking to await the verification",
    )


def cases(system) -> dict:
    from tests.integration.test_authorization import ALLOWED, expect

    d = system.demands
    return {
        # Unfounded, so nothing is reopened for the other areas' tests.
        ("tracking", "POST", "/demands/{demand_id}/verification"): (
            f"/demands/{d['rnd_verify']}/verification",
            {"finding": "unfounded", "reason": "经电话核实，企业对结果无异议", "evidence": "电话回访记录"},
            expect(
                clerk_a=ALLOWED,
                head_a=ALLOWED,
                clerk_other_station=404,
                head_other_city=404,
                supervisor_a=403,
                supervisor_other=403,
                org_assigned=403,
                org_other=403,
                admin=403,
            ),
            None,
        ),
    }
