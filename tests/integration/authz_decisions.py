"""Authorization cases of the dispatch decisions routes (see test_authorization.areas): referral, return,
refusal and merge (head only, except a return, which is the current assignee's), an organization's own
assignments, and the brief (station scope, or the organization currently assigned)."""

REFERRAL = {
    "department": "区发展和改革局",
    "contact_name": "刘科长",
    "contact_phone": "024-12345678",
    "reason": "属发改职责",
}


async def prepare(system) -> None:
    """Each write gets its own demand, so the table's order does not matter."""
    d = system.demands
    for key in ("dec_refer", "dec_refuse", "dec_merge", "dec_original"):
        d[key] = await system.submit()
    for key in ("dec_return", "dec_brief"):
        d[key] = await system.submit()
        await system.assign(d[key])  # to org-01, the `org_assigned` caller


def cases(system) -> dict:
    from tests.integration.test_authorization import READ_A, expect

    d = system.demands
    head_only = dict(
        clerk_a=403,
        clerk_other_station=403,
        head_other_city=404,
        supervisor_a=403,
        supervisor_other=403,
        org_assigned=403,
        org_other=403,
        admin=403,
    )
    return {
        ("dispatch", "POST", "/demands/{demand_id}/referrals"): (
            f"/demands/{d['dec_refer']}/referrals",
            REFERRAL,
            expect(head_a=201, **head_only),
            None,
        ),
        ("dispatch", "POST", "/demands/{demand_id}/refusal"): (
            f"/demands/{d['dec_refuse']}/refusal",
            {"reason": "不属于服务范围", "basis": "规范第 7.2 条"},
            expect(head_a=200, **head_only),
            None,
        ),
        ("dispatch", "POST", "/demands/{demand_id}/merge"): (
            f"/demands/{d['dec_merge']}/merge",
            {"into": str(d["dec_original"]), "reason": "重复登记"},
            expect(head_a=200, **head_only),
            None,
        ),
        # The organization holding the assignment returns it; the head may not for an organization, a clerk
        # who is not its assignee neither (403); outside the scope, or another organization, it is not there.
        ("dispatch", "POST", "/demands/{demand_id}/return"): (
            f"/demands/{d['dec_return']}/return",
            {"reason": "超出本机构资质范围"},
            expect(
                clerk_a=403,
                head_a=403,
                clerk_other_station=404,
                head_other_city=404,
                supervisor_a=403,
                supervisor_other=403,
                org_assigned=200,
                org_other=404,
                admin=403,
            ),
            None,
        ),
        # Each organization lists its own (checked in test_dispatch_decisions); no one else may ask.
        ("dispatch", "GET", "/assignments"): (
            "/assignments",
            None,
            expect(**dict.fromkeys(READ_A, 403), org_assigned=200, org_other=200),
            None,
        ),
        ("dispatch", "GET", "/demands/{demand_id}/brief"): (
            f"/demands/{d['dec_brief']}/brief",
            None,
            expect(**READ_A, org_assigned=200, org_other=404),
            None,
        ),
    }
