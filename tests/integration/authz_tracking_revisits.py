"""Authorization cases of re-visits (回访; see test_authorization.areas): the task list, recording, reading.

A demand of Hunnan resolved (`rv_visited`, received by `clerk_a`, assigned to org-01, the `org_assigned` caller). The
station's clerks and head record re-visits (each one succeeds: they accumulate, voluntary here as the demand has no
task); another station and another city do not find the demand (404); supervisors, organizations (the assigned one
included) and operations may not record one (403). The station and its supervisors read the demand's re-visits and
list tasks; organizations and operations are refused (403). A task appears only on the working day after what made
it, so the list's station scope is checked under a travelled clock in test_tracking_revisits, not here.
"""

from datetime import timedelta

from shared.contracts import utcnow


async def prepare(system) -> None:
    d = system.demands
    d["rv_visited"] = await system.submit()
    await system.assign(d["rv_visited"])
    await system.resolve(d["rv_visited"])


def revisit() -> dict:
    return {
        "method": "phone",
        "revisited_at": (utcnow() - timedelta(seconds=1)).isoformat(),
        "reached": True,
        "contact": "王建国（企业质量负责人）",
        "enterprise_said": "证书已收到，对服务满意",
        "need_met": True,
    }


def cases(system) -> dict:
    from tests.integration.test_authorization import LIST, READ_A, expect

    visited = system.demands["rv_visited"]
    refused = dict(supervisor_a=403, supervisor_other=403, org_assigned=403, org_other=403, admin=403)
    return {
        ("tracking", "POST", "/demands/{demand_id}/revisits"): (
            f"/demands/{visited}/revisits",
            revisit(),
            expect(clerk_a=201, head_a=201, clerk_other_station=404, head_other_city=404, **refused),
            None,
        ),
        ("tracking", "GET", "/demands/{demand_id}/revisits"): (
            f"/demands/{visited}/revisits",
            None,
            expect(**READ_A, org_assigned=403, org_other=403),
            None,
        ),
        ("tracking", "GET", "/revisits"): (
            "/revisits",
            None,
            expect(**LIST, org_assigned=403, org_other=403),
            None,
        ),
    }
