"""Authorization cases of the complaint routes (投诉, see test_authorization.areas).

Station A's clerk records a complaint about org-01 and the head moves it to "answered": the clerk who recorded it,
the head and A's supervisor read it, org-01 reads it (answered, about itself), every other caller finds nothing (404),
operations are refused (403). Another complaint waits at "received" for its acknowledgement, which only the head of a
station whose scope holds it records. Staff record complaints for their own station, whatever station that is; the
enterprise complains and follows its complaints through its status link, whoever holds the link.
"""

from tests.support import auth

ABOUT_ORG_01 = {
    "channel": "phone",
    "subject": "organization",
    "subject_id": "org-01",
    "subject_name": "市计量测试院",
    "complainant_name": "王建国",
    "complainant_contact": "13804001234",
    "content": "检定报告超期未出具",
}


async def prepare(system) -> None:
    intake = system.clients["intake"]
    ids = system.complaints = {}
    for key in ("answered", "to_acknowledge"):
        reply = await intake.post("/complaints", json=ABOUT_ORG_01, headers=auth.CLERK)
        assert reply.status_code == 201, reply.text
        ids[key] = reply.json()["complaint_id"]
    for stage in ("acknowledged", "investigated", "resolved", "answered"):
        body = {"stage": stage, "note": f"{stage}：已办理"} | ({"founded": True} if stage == "resolved" else {})
        reply = await intake.post(f"/complaints/{ids['answered']}/stages", json=body, headers=auth.HEAD)
        assert reply.status_code == 200, reply.text


def cases(system) -> dict:
    from tests.integration.test_authorization import ALLOWED, CALLERS, PUBLIC, expect

    ids = system.complaints
    token = system.status_urls[system.demands["waiting"]].rsplit("/", 1)[1]
    staff_anywhere = dict(
        clerk_a=201,
        head_a=201,
        clerk_other_station=201,
        head_other_city=201,
        supervisor_a=403,
        supervisor_other=403,
        org_assigned=403,
        org_other=403,
        admin=403,
    )
    readers = dict(
        clerk_a=200,
        head_a=200,
        clerk_other_station=200,
        head_other_city=200,
        supervisor_a=200,
        supervisor_other=200,
        org_assigned=200,
        org_other=200,
        admin=403,
    )
    return {
        ("intake", "POST", "/complaints"): ("/complaints", ABOUT_ORG_01, expect(**staff_anywhere), None),
        ("intake", "GET", "/complaints"): ("/complaints", None, expect(**readers), None),
        ("intake", "GET", "/complaints/{complaint_id}"): (
            f"/complaints/{ids['answered']}",
            None,
            expect(
                clerk_a=200,
                head_a=200,
                clerk_other_station=404,
                head_other_city=404,
                supervisor_a=200,
                supervisor_other=404,
                org_assigned=200,
                org_other=404,
                admin=403,
            ),
            None,
        ),
        ("intake", "POST", "/complaints/{complaint_id}/stages"): (
            f"/complaints/{ids['to_acknowledge']}/stages",
            {"stage": "acknowledged", "note": "已电话告知投诉人已受理"},
            expect(
                clerk_a=403,
                head_a=ALLOWED,
                clerk_other_station=403,
                head_other_city=404,
                supervisor_a=403,
                supervisor_other=403,
                org_assigned=403,
                org_other=403,
                admin=403,
            ),
            None,
        ),
        # The link is the enterprise's only authority: whoever holds it complains about that demand and follows it.
        ("intake", "POST", "/public/status/{token}/complaints"): (
            f"/public/status/{token}/complaints",
            {"subject": "station", "content": "窗口等候时间过长"},
            dict.fromkeys(CALLERS, 201),
            None,
        ),
        ("intake", "GET", "/public/status/{token}/complaints"): (
            f"/public/status/{token}/complaints",
            None,
            PUBLIC,
            None,
        ),
    }
