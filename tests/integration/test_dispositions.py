"""Returns, rematches, referrals, corrections and closings on the real broker and databases (issue 8).

Tracking and the archive run in-process on one vhost; the tests publish the events dispatch and
intake would publish, in awkward orders, and read the services' replies and databases.
"""

import contextlib
import json

import pytest

from tests.support import auth, events, infra
from tests.support.apps import make_app, publish_event

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def tracking_and_archive(amqp, databases):
    dbs = {name: databases(name) for name in ("tracking", "archive")}
    async with (
        infra.running(make_app("tracking", amqp_url=amqp, database_url=dbs["tracking"])) as tracking,
        infra.running(make_app("archive", amqp_url=amqp, database_url=dbs["archive"])),
    ):
        yield tracking, dbs


async def publish_all(amqp, *evts):
    for event in evts:
        await publish_event(amqp, event)


def sheet_when(client, demand_id, ok, headers=auth.HEAD):
    async def check():
        reply = await client.get(f"/demands/{demand_id}", headers=headers)
        return reply.json() if reply.status_code == 200 and ok(reply.json()) else None

    return check


def logged(db, demand_id, n):
    async def check():
        return len(await infra.fetch(db, "SELECT 1 FROM event_log WHERE demand_id = $1", demand_id)) >= n

    return check


def dossier_of(db, demand_id):
    async def check():
        rows = await infra.fetch(
            db, "SELECT archive_no, outcome, content FROM dossiers WHERE demand_id = $1", demand_id
        )
        return rows[0] if rows else None

    return check


async def test_a_refused_and_a_merged_demand_reach_the_archive_and_tracking_sees_them_archived(amqp, databases):
    async with tracking_and_archive(amqp, databases) as (client, dbs):
        original = events.submitted(tracking_no="2026-000001")
        refused = events.submitted(tracking_no="2026-000002")
        duplicate = events.submitted(tracking_no="2026-000003")
        a1 = events.assigned(refused)
        refusal = events.refused(refused, assignment_count=1)
        merge = events.merged(duplicate, into=original, assignment_count=0)
        # The closings first, then what they count: nothing is sealed before its history is complete.
        await publish_all(amqp, refusal, merge, refused, events.returned(refused, 1))
        await infra.eventually(logged(dbs["archive"], refused.demand_id, 3), what="three events of it logged")
        # logging and sealing commit together: the submission, the closing and the return are not enough
        assert await dossier_of(dbs["archive"], refused.demand_id)() is None, "sealed without assignment #1"
        await publish_all(amqp, a1, duplicate)

        sealed = {}
        for demand, kind in ((refused, "refused"), (duplicate, "merged")):
            row = await infra.eventually(dossier_of(dbs["archive"], demand.demand_id), what=f"the {kind} dossier")
            content = json.loads(row["content"])
            assert row["outcome"] == kind and content["outcome"]["kind"] == kind
            sealed[kind] = (row["archive_no"], content)
            sheet = await infra.eventually(
                sheet_when(client, demand.demand_id, lambda s: s["status"] == "archived"), what=f"{kind}: Archived"
            )
            assert sheet["archive_no"] == row["archive_no"] and sheet["closing"]["kind"] == kind
            assert not sheet["overdue"]

        _, content = sealed["refused"]
        assert content["outcome"]["reason"] == refusal.reason and content["outcome"]["basis"] == refusal.basis
        assert [a["assignment_no"] for a in content["assignments"]] == [1] and len(content["returns"]) == 1
        _, content = sealed["merged"]
        assert content["outcome"]["merged_into"] == str(original.demand_id)
        assert content["outcome"]["merged_into_tracking_no"] == "2026-000001"
        numbers = sorted(no for no, _ in sealed.values())
        if len({no[:5] for no in numbers}) == 1:  # gapless per station and year (unless China's midnight fell between)
            assert [no[-6:] for no in numbers] == ["000001", "000002"], numbers

        sheet = (await client.get(f"/demands/{refused.demand_id}", headers=auth.HEAD)).json()
        texts = [e["text"] for e in sheet["timeline"]]
        assert any("否定备案" in t and refusal.basis in t for t in texts)
        assert any("退单" in t for t in texts) and any("资料归档" in t for t in texts)
        texts = [
            e["text"]
            for e in (await client.get(f"/demands/{duplicate.demand_id}", headers=auth.HEAD)).json()["timeline"]
        ]
        assert any("并入跟踪单 2026-000001" in t for t in texts)


async def test_a_returned_then_rematched_case_shows_both_and_follows_the_current_assignee(amqp, databases):
    async with tracking_and_archive(amqp, databases) as (client, _):
        s = events.submitted()
        a1 = events.assigned(s, no=1)  # to org-01
        await publish_all(amqp, s, a1)
        await infra.eventually(sheet_when(client, s.demand_id, lambda c: True, auth.ORG), what="org-01 sees it")

        await publish_all(amqp, events.returned(s, 1))
        await infra.eventually(
            sheet_when(client, s.demand_id, lambda c: c["status"] == "returned"), what="back to the head"
        )
        assert (await client.get(f"/demands/{s.demand_id}", headers=auth.ORG)).status_code == 404
        reply = await client.post(
            f"/demands/{s.demand_id}/resolution", json={"outcome": "met", "summary": "办结"}, headers=auth.HEAD
        )
        assert reply.status_code == 409 and "退单" in reply.json()["message"]
        ledger = (await client.get("/ledger", params={"status": "returned"}, headers=auth.HEAD)).json()
        assert [c["demand_id"] for c in ledger] == [str(s.demand_id)]

        a2 = events.assigned(s, no=2).model_copy(update={"assignee_id": "org-02", "assignee_name": "另一检测机构"})
        await publish_all(amqp, a2)
        sheet = await infra.eventually(
            sheet_when(client, s.demand_id, lambda c: c["status"] == "assigned", auth.OTHER_ORG), what="org-02 sees it"
        )
        texts = [e["text"] for e in sheet["timeline"]]
        assert any("派单给 市计量测试院" in t for t in texts)
        assert any("退单" in t and "超出本机构资质范围" in t for t in texts)
        assert any("改派给 另一检测机构" in t for t in texts)
        assert sheet["last_return"]["assignment_no"] == 1
        assert (await client.get(f"/demands/{s.demand_id}", headers=auth.ORG)).status_code == 404
        reply = await client.post(
            f"/demands/{s.demand_id}/resolution", json={"outcome": "met", "summary": "已检定"}, headers=auth.OTHER_ORG
        )
        assert reply.status_code == 200 and reply.json()["status"] == "resolved"


async def test_a_withdrawn_case_is_closed_and_a_late_assignment_does_not_reopen_it(amqp, databases):
    db = databases("tracking")
    async with infra.running(make_app("tracking", amqp_url=amqp, database_url=db)) as client:
        s = events.submitted()
        correction = events.corrected(s, description="压力表 40 台需要检定")
        withdrawal = events.withdrawn(s, assignment_count=1)
        await publish_all(amqp, correction, s, events.assigned(s), withdrawal)
        sheet = await infra.eventually(
            sheet_when(client, s.demand_id, lambda c: c["status"] == "withdrawn" and c["enterprise_name"]),
            what="the withdrawal applied",
        )
        assert sheet["description"] == "压力表 40 台需要检定" and sheet["corrected_at"]
        assert sheet["closing"]["by_enterprise"] is True and sheet["closing"]["reason"] == withdrawal.reason
        assert sheet["status_label"] == "已撤回" and not sheet["overdue"]
        texts = [e["text"] for e in sheet["timeline"]]
        assert any("更正登记" in t for t in texts) and any("企业申请撤回" in t for t in texts)

        late = events.assigned(s, no=2)
        await publish_all(amqp, late)
        await infra.eventually(
            lambda: infra.fetch(db, "SELECT 1 FROM timeline WHERE event_id = $1", late.event_id), what="late assignment"
        )
        assert (await client.get(f"/demands/{s.demand_id}", headers=auth.HEAD)).json()["status"] == "withdrawn"
        reply = await client.post(
            f"/demands/{s.demand_id}/resolution", json={"outcome": "met", "summary": "办结"}, headers=auth.HEAD
        )
        assert reply.status_code == 409
        body = reply.json()
        assert "已撤回" in body["message"] and "withdrawn" in body["message_en"]
        ledger = (await client.get("/ledger", params={"status": "withdrawn"}, headers=auth.HEAD)).json()
        assert [c["demand_id"] for c in ledger] == [str(s.demand_id)]
        assert (await client.get("/ledger", params={"status": "assigned"}, headers=auth.HEAD)).json() == []


async def test_a_referral_stays_open_and_staff_resolve_it(amqp, databases):
    db = databases("tracking")
    async with infra.running(make_app("tracking", amqp_url=amqp, database_url=db)) as client:
        s = events.submitted()
        await publish_all(amqp, s, events.referred(s, 1))
        sheet = await infra.eventually(
            sheet_when(client, s.demand_id, lambda c: c["status"] == "referred"), what="the referral applied"
        )
        assert sheet["referral"]["department"] == "区发展和改革局" and sheet["referral"]["contact_name"] == "刘科长"
        assert any("转办至 区发展和改革局" in e["text"] for e in sheet["timeline"])
        reply = await client.post(
            f"/demands/{s.demand_id}/resolution",
            json={"outcome": "met", "summary": "发改局已答复企业"},
            headers=auth.CLERK,
        )
        assert reply.status_code == 200 and reply.json()["status"] == "resolved"
