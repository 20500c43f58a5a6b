"""Dispatch decisions end to end, all five services on the real broker and databases (issue 8): the registry
refuses organizations that may not take a demand; an organization reads the brief only while the demand is
its own, gives it back (退单), and the head rematches (改派); refusal (否定备案) and merge (并单) reach tracking
and the archive; retries with an Idempotency-Key make one event; intake's withdrawal, correction and
calendar correction change what dispatch decides."""

import json
from uuid import uuid4

import pytest

from shared.calendar import add_working_days, china_today
from shared.contracts import CategoryRef, Channel, Contact, DemandSubmitted, Enterprise, utcnow
from tests.support import auth, events, infra
from tests.support.apps import publish_event
from tests.support.system import System, fresh_system, organization

pytestmark = pytest.mark.integration

ORG_03 = auth.bearer("org", org="org-03", name="沈阳检测中心")
OTHER_FIRM = {"enterprise": {"name": "沈阳另一家公司", "credit_code": events.credit_code("91210112MA0U00002")}}


@pytest.fixture(scope="module")
async def system():
    async with fresh_system() as system:
        d = system.clients["dispatch"]
        extra = {
            "org-03": organization("沈阳检测中心", "12210100MB0000003", ["210100"]),
            "org-se": organization("特种设备检测所", "12210100MB0000004", ["210100"], categories=["special_equipment"]),
            "org-sus": organization("暂停检测所", "12210100MB0000005", ["210100"]),
        }
        for org_id, body in extra.items():
            reply = await d.put(f"/organizations/{org_id}", json=body, headers=auth.ADMIN)
            assert reply.status_code in (200, 201), reply.text
        reply = await d.put(
            "/organizations/org-sus/status", json={"status": "suspended", "reason": "投诉核查中"}, headers=auth.ADMIN
        )
        assert reply.status_code == 200, reply.text
        yield system


def to_org(org_id: str) -> dict:
    return {"assignee_kind": "organization", "assignee_id": org_id}


async def post(system: System, path: str, body: dict, headers=auth.HEAD, key: str | None = None):
    headers = {**headers, **({"Idempotency-Key": key} if key else {})}
    return await system.clients["dispatch"].post(path, json=body, headers=headers)


async def outbox(system: System, routing_key: str, demand_id) -> list[dict]:
    rows = await infra.fetch(
        system.databases["dispatch"],
        "SELECT payload FROM outbox WHERE routing_key = $1 AND demand_id = $2 ORDER BY id",
        routing_key,
        demand_id,
    )
    return [json.loads(r["payload"]) for r in rows]


async def sheet(system: System, demand_id, ok, what: str) -> dict:
    return await system.get_when("tracking", f"/demands/{demand_id}", ok, what)


# --- the registry's refusals, return, rematch, the brief -------------------------------------------------


async def test_a_returned_demand_goes_back_to_the_top_of_the_queue_and_is_rematched(system):
    d = system.clients["dispatch"]
    earlier = await system.submit()  # waiting since before: the returned one goes above it
    demand = await system.submit()
    path = f"/demands/{demand}"

    # The registry refuses an organization that does not serve metrology, and a suspended one.
    for org_id, said in (("org-se", "不承接"), ("org-sus", "已暂停")):
        reply = await post(system, f"{path}/assignments", to_org(org_id))
        assert reply.status_code == 409, reply.text
        assert said in reply.json()["message"] and reply.json()["message_en"]
    assert await outbox(system, "demand.assigned", demand) == []

    reply = await post(system, f"{path}/assignments", to_org("org-01") | {"assignee_name": "写错的名称"})
    assert reply.status_code == 201, reply.text
    assert reply.json()["assignee_name"] == "市计量测试院"  # the registry's name

    # The organization reads what it needs to serve, and every read is logged.
    brief = await d.get(f"{path}/brief", headers=auth.ORG)
    assert brief.status_code == 200, brief.text
    assert brief.json()["contact"] == {"name": "王建国", "phone": "+8613804001234"}
    assert [i["code"] for i in brief.json()["items"]] == ["metrology.calibration"]
    assert (await d.get(f"{path}/brief", headers=auth.OTHER_ORG)).status_code == 404
    # The list never shows the enterprise's contact: that is read in the brief, where every read is logged.
    mine = (await d.get("/assignments", headers=auth.ORG)).json()
    assert [(a["demand_id"], a["state"], a["enterprise_name"]) for a in mine] == [
        (str(demand), "open", "沈阳精密仪器有限公司")
    ]
    assert all("contact" not in a for a in mine)

    # 退单: back to the head's queue, at the top; the organization loses sight of the enterprise.
    returned = await post(system, f"{path}/return", {"reason": "超出本机构资质范围"}, headers=auth.ORG)
    assert returned.status_code == 200, returned.text
    assert returned.json()["returned_by"] == "市计量测试院"
    queue = (await d.get("/queue", headers=auth.HEAD)).json()
    assert [q["demand_id"] for q in queue][:2] == [str(demand), str(earlier)]
    assert queue[0]["returned"] is True and queue[0]["status"] == "waiting"
    for url in (path, f"{path}/brief"):
        assert (await d.get(url, headers=auth.ORG)).status_code == 404, url
    late = await post(system, f"{path}/return", {"reason": "再退一次"}, headers=auth.ORG)
    assert late.status_code == 409, late.text
    [past] = (await d.get("/assignments", headers=auth.ORG)).json()
    assert past["state"] == "returned" and "contact" not in past and past["enterprise_name"] is None

    # 改派: the next assignment; tracking shows the return and the rematch.
    rematch = await post(system, f"{path}/assignments", to_org("org-03"))
    assert rematch.status_code == 201 and rematch.json()["assignment_no"] == 2, rematch.text
    assert (await d.get(f"{path}/brief", headers=ORG_03)).status_code == 200
    case = await sheet(system, demand, lambda c: c["assignee_name"] == "沈阳检测中心", "tracking to see the rematch")
    assert case["status"] == "assigned" and case["last_return"]["reason"] == "超出本机构资质范围"
    texts = [e["text"] for e in case["timeline"]]
    assert any("退单" in t for t in texts) and any("改派给 沈阳检测中心" in t for t in texts)
    [event] = await outbox(system, "demand.returned", demand)
    [first, second] = await outbox(system, "demand.assigned", demand)
    assert event["causation_id"] == first["event_id"] and second["assignment_no"] == 2

    # Rematched away without a return: the first organization loses sight at once.
    moved = await post(system, f"{path}/assignments", to_org("org-01"))
    assert moved.status_code == 201, moved.text
    assert (await d.get(f"{path}/brief", headers=ORG_03)).status_code == 404
    reads = await infra.fetch(
        system.databases["dispatch"],
        "SELECT reader_role, org_id FROM access_log WHERE demand_id = $1 ORDER BY id",
        demand,
    )
    assert [(r["reader_role"], r["org_id"]) for r in reads] == [("org", "org-01"), ("org", "org-03")]


# --- refusal and merge ------------------------------------------------------------------------------------


async def test_a_refused_and_a_merged_demand_reach_tracking_and_the_archive_with_their_reason(system):
    refused = await system.submit()
    await system.assign(refused)
    original = await system.submit()
    duplicate = await system.submit()
    stranger = await system.submit(**OTHER_FIRM)

    reply = await post(system, f"/demands/{refused}/refusal", {"reason": "不属于服务范围", "basis": "规范第 7.2 条"})
    assert reply.status_code == 200 and reply.json()["status"] == "refused", reply.text
    assert (await post(system, f"/demands/{refused}/assignments", to_org("org-03"))).status_code == 409
    assert (await system.clients["dispatch"].get(f"/demands/{refused}/brief", headers=auth.ORG)).status_code == 404

    bad = await post(system, f"/demands/{duplicate}/merge", {"into": str(stranger), "reason": "重复"})
    assert bad.status_code == 409 and "同一企业" in bad.json()["message"], bad.text
    reply = await post(system, f"/demands/{duplicate}/merge", {"into": str(original), "reason": "同一需求重复登记"})
    assert reply.status_code == 200 and reply.json()["status"] == "merged", reply.text

    [refusal] = await outbox(system, "demand.refused", refused)
    assert refusal["assignment_count"] == 1 and refusal["basis"] == "规范第 7.2 条"
    [merge] = await outbox(system, "demand.merged", duplicate)
    assert merge["merged_into"] == str(original)
    for demand, kind, reason in ((refused, "refused", "不属于服务范围"), (duplicate, "merged", "同一需求重复登记")):
        case = await sheet(system, demand, lambda c: c["status"] == "archived", f"the {kind} demand archived")
        assert case["closing"]["kind"] == kind and case["closing"]["reason"] == reason
        dossier = (await system.clients["archive"].get(f"/dossiers/{demand}", headers=auth.HEAD)).json()
        assert dossier["outcome"] == kind and dossier["content"]["outcome"]["reason"] == reason
    queue = (await system.clients["dispatch"].get("/queue", headers=auth.HEAD)).json()
    assert str(original) in {q["demand_id"] for q in queue}  # the original goes on


# --- retries --------------------------------------------------------------------------------------------


async def test_a_retry_with_the_same_key_makes_one_event_and_a_different_request_with_it_is_409(system):
    demand = await system.submit()
    path = f"/demands/{demand}"
    steps = (
        ("assignments", to_org("org-01"), to_org("org-03"), auth.HEAD, "demand.assigned", 201, 1),
        ("assignments", to_org("org-03"), to_org("org-01"), auth.HEAD, "demand.assigned", 201, 2),  # rematch
        ("return", {"reason": "超出资质"}, {"reason": "另一个原因"}, ORG_03, "demand.returned", 200, 1),
        ("refusal", {"reason": "不予服务", "basis": "依据"}, {"reason": "别的", "basis": "依据"}, auth.HEAD,
         "demand.refused", 200, 1),
    )  # fmt: skip
    for n, (action, body, other, headers, routing_key, status, events_after) in enumerate(steps):
        key = f"retry-key-{n:04d}"
        first = await post(system, f"{path}/{action}", body, headers, key)
        again = await post(system, f"{path}/{action}", body, headers, key)
        assert first.status_code == again.status_code == status, (action, first.text, again.text)
        assert again.json() == first.json(), action
        conflict = await post(system, f"{path}/{action}", other, headers, key)
        assert conflict.status_code == 409 and conflict.json()["code"] == "idempotency_conflict", conflict.text
        assert len(await outbox(system, routing_key, demand)) == events_after, action

    original = await system.submit()
    duplicate = await system.submit()
    body = {"into": str(original), "reason": "重复登记"}
    first = await post(system, f"/demands/{duplicate}/merge", body, key="merge-key-0001")
    again = await post(system, f"/demands/{duplicate}/merge", body, key="merge-key-0001")
    assert first.status_code == again.status_code == 200 and again.json() == first.json(), first.text
    conflict = await post(system, f"/demands/{duplicate}/merge", body | {"reason": "别的"}, key="merge-key-0001")
    assert conflict.status_code == 409 and conflict.json()["code"] == "idempotency_conflict"
    assert len(await outbox(system, "demand.merged", duplicate)) == 1


# --- what intake changes ----------------------------------------------------------------------------------


async def test_intake_withdrawal_correction_and_calendar_correction_change_what_dispatch_decides(system):
    intake, d = system.clients["intake"], system.clients["dispatch"]

    # A correction before dispatch: the organization's brief shows the corrected contact.
    corrected = await system.submit()
    reply = await intake.post(
        f"/demands/{corrected}/corrections",
        json={"reason": "联系人变更", "contact": {"name": "李四", "phone": "13900000000"}},
        headers=auth.CLERK,
    )
    assert reply.status_code == 201, reply.text
    await system.get_when("dispatch", f"/demands/{corrected}/brief", lambda b: b["contact"]["name"] == "李四", "fix")
    assert (await post(system, f"/demands/{corrected}/assignments", to_org("org-01"))).status_code == 201
    assert (await d.get(f"/demands/{corrected}/brief", headers=auth.ORG)).json()["contact"]["phone"] == "+8613900000000"

    # A withdrawal: the demand ends withdrawn; no more decisions.
    withdrawn = await system.submit()
    reply = await intake.post(f"/demands/{withdrawn}/withdrawal", json={"reason": "企业已自行解决"}, headers=auth.CLERK)
    assert reply.status_code == 200, reply.text
    await system.get_when("dispatch", f"/demands/{withdrawn}", lambda x: x["status"] == "withdrawn", "withdrawal")
    refused = await post(system, f"/demands/{withdrawn}/assignments", to_org("org-01"))
    assert refused.status_code == 409 and "已撤回" in refused.json()["message"], refused.text

    # A calendar correction: dispatch proposes the due date with it. A demand without a promised date (as
    # from an older intake) gets the committed working days from today.
    now = utcnow()
    submitted = DemandSubmitted(
        correlation_id=uuid4(),
        station_id=events.STATION,
        demand_id=uuid4(),
        tracking_no="2026-900001",
        enterprise=Enterprise(name="沈阳精密仪器有限公司", credit_code=events.credit_code()),
        contact=Contact(name="王建国", phone="+8613804001234"),
        categories=[CategoryRef(code="metrology", label="计量")],
        description="压力表检定",
        channel=Channel.window,
        first_responder="张晓燕",
        submitted_at=now,
        time_limit_days=3,
    )
    await publish_event(system.amqp, submitted)
    await system.get_when("dispatch", f"/demands/{submitted.demand_id}", lambda x: True, "the published demand")
    today = china_today(now)
    plain = add_working_days(today, 3)
    reply = await intake.put(f"/calendar/{plain.isoformat()}", json={"is_workday": False}, headers=auth.ADMIN)
    assert reply.status_code == 204, reply.text

    async def kept():
        rows = await infra.fetch(
            system.databases["dispatch"], "SELECT is_workday FROM calendar_corrections WHERE day = $1", plain
        )
        return rows and rows[0]["is_workday"] is False

    await infra.eventually(kept, what="dispatch to keep intake's calendar correction")
    reply = await post(system, f"/demands/{submitted.demand_id}/assignments", to_org("org-01"))
    assert reply.status_code == 201, reply.text
    assert reply.json()["due_on"] == add_working_days(today, 3, {plain: False}).isoformat() != plain.isoformat()
