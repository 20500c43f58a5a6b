"""Authorization cases of the 督办 routes (see test_authorization.areas).

A supervisor issues a 督办 on a case of its area (Shenyang's on Hunnan's case: 201; Guangzhou's: 404); no other
role may (403). The station's clerk or head answers it (the first 200, the other 409: answered once); another
station's staff do not find it (404); supervisors, organizations and operations may not answer (403). The list:
station staff see their station's, supervisors their area's, organizations and operations none (403).
"""

from uuid import UUID

from tests.support import auth, events


async def prepare(system) -> None:
    d = system.demands
    tracking = system.clients["tracking"]
    for key in ("sup_issue", "sup_answer"):
        d[key] = await system.submit()
        await system.assign(d[key])
    issued = await tracking.post(
        f"/demands/{d['sup_answer']}/supervisions", json={"comment": "请说明办理进展"}, headers=auth.SUPERVISOR
    )
    assert issued.status_code == 201, issued.text
    d["sup_answer_supervision"] = UUID(issued.json()["supervision_id"])
    # The other city's demand has one too: its own staff and supervisor list it, no one of city A does.
    other = await tracking.post(
        f"/demands/{d['other_city']}/supervisions", json={"comment": "请加快办理"}, headers=auth.OTHER_SUPERVISOR
    )
    assert other.status_code == 201, other.text
    assert other.json()["station_id"] == events.OTHER_STATION


def cases(system) -> dict:
    from tests.integration.test_authorization import ALLOWED, LIST, expect

    d = system.demands
    return {
        ("tracking", "POST", "/demands/{demand_id}/supervisions"): (
            f"/demands/{d['sup_issue']}/supervisions",
            {"comment": "授权测试督办"},
            expect(
                clerk_a=403,
                head_a=403,
                clerk_other_station=403,
                head_other_city=403,
                supervisor_a=201,
                supervisor_other=404,
                org_assigned=403,
                org_other=403,
                admin=403,
            ),
            None,
        ),
        ("tracking", "POST", "/supervisions/{supervision_id}/answer"): (
            f"/supervisions/{d['sup_answer_supervision']}/answer",
            {"answer": "已协调机构加快办理"},
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
        ("tracking", "GET", "/supervisions"): (
            "/supervisions",
            None,
            expect(**LIST, org_assigned=403, org_other=403),
            d["sup_answer"],
        ),
    }
