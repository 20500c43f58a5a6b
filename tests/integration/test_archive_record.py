"""The whole record of one demand in its sealed dossier, through the running system (issue 11).

A demand registered at the window is dispatched, given back (退单) and rematched, followed up with an appointment,
paused and resumed, given a later deadline (延期申请, approved by the head), complained about, resolved with its fee,
deliverables and staff, rated 不满意, verified founded, re-handled as round 2 (with its own fee), rated again, and
sealed: the dossier holds all of it, the notice as issued, and its chain verifies; reading it is in the access log.
"""

from datetime import UTC, date, datetime, timedelta

import pytest

from shared.calendar import add_working_days, china_today
from tests.support import auth
from tests.support.system import fresh_system

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


async def post(system, service: str, path: str, body: dict | None, headers=auth.HEAD, status: int = 200) -> dict:
    reply = await system.clients[service].post(path, json=body, headers=headers)
    assert reply.status_code == status, (path, reply.text)
    return reply.json()


async def test_a_demand_through_both_rounds_is_sealed_with_its_whole_story():
    async with fresh_system(evaluation={"public_rate_limit": "1000/minute"}) as system:
        demand = await system.submit()
        d = str(demand)
        await system.assign(demand)
        # 退单 by the organization, 改派 by the head back to it (assignment 2).
        await post(system, "dispatch", f"/demands/{d}/return", {"reason": "需先确认送检时间"}, headers=auth.ORG)
        await system.get_when("tracking", f"/demands/{d}", lambda c: c["status"] == "returned", "the return")
        await system.assign(demand)

        tomorrow = china_today(datetime.now(UTC)) + timedelta(days=1)
        appointment = {"on": tomorrow.isoformat(), "at": "10:00", "place": "企业一号车间", "attendees": "张晓燕、李工"}
        await post(
            system,
            "tracking",
            f"/demands/{d}/follow-ups",
            {"kind": "appointment", "text": "现场检定", "appointment": appointment},
            status=201,
        )
        await post(
            system,
            "tracking",
            f"/demands/{d}/pauses",
            {"reason_kind": "materials", "reason": "请企业补充出厂编号清单"},
            status=201,
        )
        await post(system, "tracking", f"/demands/{d}/resumption", {"note": "企业已补齐材料"})
        # 延期申请 by the organization, approved by the head: the handling deadline moves to the asked date.
        clock = (await system.clients["tracking"].get(f"/demands/{d}/clock", headers=auth.HEAD)).json()
        later = add_working_days(date.fromisoformat(clock["handling_due_on"]), 10).isoformat()
        asked = await post(
            system,
            "tracking",
            f"/demands/{d}/extensions",
            {"new_due_on": later, "reason": "检定周期较长"},
            headers=auth.ORG,
            status=201,
        )
        extension_id = asked["extension_id"]
        decided = await post(
            system,
            "tracking",
            f"/demands/{d}/extensions/{extension_id}/decision",
            {"approved": True, "comment": "同意"},
        )
        assert decided["handling_due_on"] == later
        complaint = {
            "channel": "phone",
            "subject": "station",
            "complainant_name": "王建国",
            "complainant_contact": "13804001234",
            "content": "检定进度慢",
            "demand_id": d,
        }
        await post(system, "intake", "/complaints", complaint, headers=auth.CLERK, status=201)

        round_1 = {
            "outcome": "met",
            "summary": "已完成 36 台压力表检定",
            "fee": {
                "free_service": False,
                "amount_yuan": 1800.5,
                "payer": "沈阳精密仪器有限公司",
                "note": "按物价标准",
            },
            "deliverables": [{"title": "检定证书", "reference": "JD-2026-0012"}],
            "staff_involved": ["李工", "王工", "李工"],
        }
        # A free service that charges something is refused, naming the field, in Chinese and English.
        refused = await system.clients["tracking"].post(
            f"/demands/{d}/resolution",
            json=round_1 | {"fee": {"free_service": True, "amount_yuan": 5}},
            headers=auth.ORG,
        )
        assert refused.status_code == 422, refused.text
        [error] = refused.json()["errors"]
        assert (error["field"], error["message"]) == ("fee.amount_yuan", "免费服务的收费金额应为 0") and error[
            "message_en"
        ]
        await post(system, "tracking", f"/demands/{d}/resolution", round_1, headers=auth.ORG)
        await system.get_when("evaluation", f"/surveys/{d}", lambda s: s["status"] == "open", "the survey")
        await post(
            system, "evaluation", f"/surveys/{d}/rating", {"answers": {"overall": "dissatisfied"}}, auth.CLERK, 201
        )
        await system.get_when("tracking", f"/demands/{d}", lambda c: c["awaiting_verification"], "to verify")
        await post(
            system, "tracking", f"/demands/{d}/verification", {"finding": "founded", "reason": "证书有误"}, status=201
        )
        await system.get_when("dispatch", f"/demands/{d}", lambda q: q["round"] == 2, "round 2 in the queue")
        await post(
            system,
            "dispatch",
            f"/demands/{d}/assignments",
            {"assignee_kind": "organization", "assignee_id": "org-01"},
            status=201,
        )
        await system.get_when(
            "tracking", f"/demands/{d}", lambda c: c["status"] == "assigned" and c["round"] == 2, "round 2 assigned"
        )
        round_2 = {
            "outcome": "met",
            "summary": "重新出具证书",
            "fee": {"free_service": True},
            "deliverables": [{"title": "检定证书（更正）", "reference": "JD-2026-0012-R"}],
            "round": 2,
        }
        await post(system, "tracking", f"/demands/{d}/resolution", round_2, headers=auth.ORG)
        await system.get_when(
            "evaluation", f"/surveys/{d}", lambda s: s["status"] == "open" and s["round"] == 2, "the round-2 survey"
        )
        await system.rate(demand)  # satisfied: archived

        dossier = await system.get_when(
            "archive", f"/dossiers/{d}?purpose=归档检查", lambda x: True, "the sealed dossier"
        )
        c = dossier["content"]
        assert [(a["round"], a["assignment_no"]) for a in c["assignments"]] == [(1, 1), (1, 2), (2, 3)]
        assert [r["assignment_no"] for r in c["returns"]] == [1]
        [follow_up] = c["follow_ups"]
        assert follow_up["appointment"]["place"] == "企业一号车间"
        assert len(c["pauses"]) == 1 and len(c["resumptions"]) == 1
        [requested] = c["extension_requests"]
        assert (requested["extension_id"], requested["new_due_on"], requested["reason"]) == (
            extension_id,
            later,
            "检定周期较长",
        )
        assert requested["requested_by"] == "市计量测试院"
        [approval] = c["extension_decisions"]
        assert (approval["extension_id"], approval["approved"], approval["decided_by"]) == (
            extension_id,
            True,
            "周站长",
        )
        assert approval["comment"] == "同意"
        assert [r["answers"]["overall"] for r in c["ratings"]] == ["dissatisfied", "satisfied"]
        assert [v["finding"] for v in c["verifications"]] == ["founded"] and len(c["reopenings"]) == 1
        assert c["complaints"] and c["complaints"][0]["demand_id"] == d
        assert [(f["round"], f["free_service"], f["amount_yuan"]) for f in c["fees"]] == [
            (1, False, 1800.5),
            (2, True, 0),
        ]
        assert [x["reference"] for x in c["deliverables"]] == ["JD-2026-0012", "JD-2026-0012-R"]
        assert c["resolutions"][0]["staff_involved"] == ["李工", "王工"]  # each named once
        staff = {s["name"]: s["roles"] for s in c["staff"]}
        assert "参与服务" in staff["李工"] and "首问负责人" in staff["张晓燕"] and "派单" in staff["周站长"]
        assert "延期申请" in staff["市计量测试院"] and "延期审批" in staff["周站长"]
        assert c["outcome"]["round"] == 2 and c["outcome"]["fee"]["free_service"] is True
        assert c["notice"]["tracking_no"] == c["demand"]["tracking_no"]
        assert c["notice"]["items"][0]["code"] == "metrology.calibration" and c["notice"]["not_in_events"]
        assert dossier["chain_no"] == 1 and dossier["previous_sha256"] is None and not dossier["on_hold"]

        [chain] = (await system.clients["archive"].get("/chain/verify", headers=auth.HEAD)).json()
        assert chain["intact"] and chain["head_sha256"] == dossier["chain_sha256"]
        log = (await system.clients["archive"].get(f"/access-log?demand_id={d}", headers=auth.SUPERVISOR)).json()
        assert any(r["action"] == "dossier.read" and r["purpose"] == "归档检查" for r in log), log
