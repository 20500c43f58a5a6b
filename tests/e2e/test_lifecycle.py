"""The five services as processes, driven over HTTP like station staff and enterprises would."""

from uuid import UUID

import httpx
import pytest

from tests.support import auth, events, infra
from tests.support.system import organization

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]


async def _get_when(client: httpx.AsyncClient, url: str, ok, what: str, timeout: float = 30.0) -> dict:
    async def check():
        reply = await client.get(url, headers=auth.HEAD)
        return reply.json() if reply.status_code == 200 and ok(reply.json()) else None

    return await infra.eventually(check, timeout=timeout, what=what)


async def _submit(client, procs, **form) -> dict:
    reply = await client.post(procs.url("intake") + "/demands", json=events.demand_form(**form), headers=auth.CLERK)
    assert reply.status_code == 201, reply.text
    return reply.json()


async def _drive_to_rated(client, procs, overall: str) -> dict:
    demand = await _submit(client, procs)
    demand_id = demand["demand_id"]
    waiting = await _get_when(
        client,
        procs.url("dispatch") + "/queue?station_id=" + events.STATION,
        lambda items: any(i["demand_id"] == demand_id for i in items),
        "the demand in the dispatch queue",
    )
    assert waiting
    reply = await client.post(
        procs.url("dispatch") + f"/demands/{demand_id}/assignments",
        json={
            "assignee_kind": "organization",
            "assignee_id": "org-01",
            "assignee_name": "市计量测试院",
        },
        headers=auth.HEAD,
    )
    assert reply.status_code == 201, reply.text
    await _get_when(
        client,
        procs.url("tracking") + f"/demands/{demand_id}",
        lambda c: c["status"] == "assigned",
        "tracking to see the assignment",
    )
    # The organization it was assigned to submits the result (服务小结).
    reply = await client.post(
        procs.url("tracking") + f"/demands/{demand_id}/resolution",
        json={"outcome": "met", "summary": "已出具校准证书"},
        headers=auth.ORG,
    )
    assert reply.status_code == 200, reply.text
    await _get_when(
        client, procs.url("evaluation") + f"/surveys/{demand_id}", lambda s: s["status"] == "open", "the survey to open"
    )
    # The clerk sends the enterprise a one-time link; the enterprise rates without an account.
    link = await client.post(procs.url("evaluation") + f"/surveys/{demand_id}/link", headers=auth.CLERK)
    assert link.status_code == 201, link.text
    url = link.json()["url"]
    assert url.startswith(procs.url("evaluation") + "/public/ratings/")
    answers = {
        "station_service": 5,
        "problem_solved": True,
        "technician_professionalism": 5,
        "overall": overall,
        "comments": "及时",
    }
    reply = await client.post(url, json={"answers": answers})
    assert reply.status_code == 201, reply.text
    again = await client.post(url, json={"answers": answers})
    assert again.status_code == 404  # single use
    return demand


async def test_one_demand_from_submission_to_archive(system):
    procs, db = system
    async with httpx.AsyncClient(timeout=10) as client:
        demand = await _drive_to_rated(client, procs, "satisfied")
        demand_id = demand["demand_id"]
        sheet = await _get_when(
            client,
            procs.url("tracking") + f"/demands/{demand_id}",
            lambda c: c["status"] == "archived",
            "the archived status in tracking",
        )
        dossier = (await client.get(procs.url("archive") + f"/dossiers/{demand_id}", headers=auth.HEAD)).json()
        intake_view = await _get_when(
            client,
            procs.url("intake") + f"/demands/{demand_id}",
            lambda d: d["status"] == "archived",
            "intake to mark it archived",
        )

    assert [e["kind"] for e in sheet["timeline"]] == [
        "demand.submitted",
        "demand.assigned",
        "demand.resolved",
        "demand.rated",
        "demand.archived",
    ]
    assert sheet["archive_no"] == dossier["archive_no"] == intake_view["archive_no"]
    assert dossier["tracking_no"] == demand["tracking_no"]
    assert dossier["content"]["ratings"][0]["answers"]["overall"] == "satisfied"
    [access] = await infra.fetch(
        db["archive"], "SELECT subject, role FROM access_log WHERE demand_id = $1", UUID(demand_id)
    )
    assert access["role"] == "head"  # reading a sealed record is audited

    # Each service's own database holds its part, and every outbox row went out.
    [row] = await infra.fetch(db["intake"], "SELECT status FROM demands WHERE demand_id = $1", UUID(demand_id))
    assert row["status"] == "archived"
    [row] = await infra.fetch(
        db["dispatch"], "SELECT assignee_kind FROM assignments WHERE demand_id = $1", UUID(demand_id)
    )
    assert row["assignee_kind"] == "organization"
    [row] = await infra.fetch(db["evaluation"], "SELECT overall FROM ratings WHERE demand_id = $1", UUID(demand_id))
    assert row["overall"] == "satisfied"
    logged = await infra.fetch(db["archive"], "SELECT routing_key FROM event_log WHERE demand_id = $1", UUID(demand_id))
    assert sorted(r["routing_key"] for r in logged) == [
        "demand.assigned",
        "demand.rated",
        "demand.resolved",
        "demand.submitted",
    ]
    for service, url in db.items():
        assert await infra.fetch(url, "SELECT 1 FROM outbox WHERE published_at IS NULL") == [], service


async def _resolve_and_rate(client, procs, demand_id: str, overall: str, round_: int) -> None:
    """The organization resolves the round; the enterprise rates it through a one-time link."""
    reply = await client.post(
        procs.url("tracking") + f"/demands/{demand_id}/resolution",
        json={"outcome": "met", "summary": f"第 {round_} 轮：已重新出具校准证书"},
        headers=auth.ORG,
    )
    assert reply.status_code == 200, reply.text
    await _get_when(
        client,
        procs.url("evaluation") + f"/surveys/{demand_id}",
        lambda s: s["status"] == "open" and s["round"] == round_,
        f"the survey of round {round_} to open",
    )
    link = await client.post(procs.url("evaluation") + f"/surveys/{demand_id}/link", headers=auth.CLERK)
    assert link.status_code == 201, link.text
    reply = await client.post(link.json()["url"], json={"answers": {"overall": overall, "problem_solved": True}})
    assert reply.status_code == 201, reply.text


async def _verify(client, procs, demand_id: str, finding: str) -> dict:
    # The rating reaches tracking on its own queue: the case waits for verification (待核实) once it is there.
    await _get_when(
        client,
        procs.url("tracking") + f"/ledger?list=to_verify&station_id={events.STATION}",
        lambda cases: any(c["demand_id"] == demand_id for c in cases),
        "the case in the 待核实 list",
    )
    reply = await client.post(
        procs.url("tracking") + f"/demands/{demand_id}/verification",
        json={"finding": finding, "reason": "电话回访企业负责人，核实证书出具情况", "evidence": "回访录音 2026-11-26"},
        headers=auth.HEAD,
    )
    assert reply.status_code == 201, reply.text
    return reply.json()


async def test_a_founded_dissatisfied_rating_is_re_handled_rated_again_and_archived_with_both_rounds(system):
    procs, db = system
    async with httpx.AsyncClient(timeout=10) as client:
        demand = await _drive_to_rated(client, procs, "dissatisfied")
        demand_id = demand["demand_id"]
        verified = await _verify(client, procs, demand_id, "founded")
        assert (verified["round"], verified["status"]) == (2, "reopened")

        # The head finds it back in the dispatch queue as 重办, with its re-handling deadline, and assigns it again.
        [item] = [
            i for i in await _waiting(client, procs, demand_id) if i["demand_id"] == demand_id and i["rehandling"]
        ]
        assert item["due_on"] == verified["handling_due_on"]
        assert item["previous_assignee"]["id"] == "org-01"
        assignment = await _assign(client, procs, demand_id, "org-01")
        assert (assignment["round"], assignment["due_on"]) == (2, item["due_on"])
        await _get_when(
            client,
            procs.url("tracking") + f"/demands/{demand_id}",
            lambda c: c["status"] == "assigned" and c["round"] == 2,
            "tracking to see round 2's assignment",
        )
        await _resolve_and_rate(client, procs, demand_id, "satisfied", 2)
        dossier = await _archived(client, procs, demand_id)
        status = await _get_when(
            client,
            procs.url("intake") + f"/demands/{demand_id}",
            lambda d: d["status"] == "archived",
            "intake to mark it archived",
        )

    # The sealed record holds both rounds: the first rating, its verification and the reopening, the second round.
    content = dossier["content"]
    assert [(r["round"], r["answers"]["overall"]) for r in content["ratings"]] == [
        (1, "dissatisfied"),
        (2, "satisfied"),
    ]
    assert [v["finding"] for v in content["verifications"]] == ["founded"]
    assert [r["round"] for r in content["reopenings"]] == [2]
    assert sorted(a["round"] for a in content["assignments"]) == [1, 2]
    assert sorted(r["round"] for r in content["resolutions"]) == [1, 2]
    assert content["outcome"]["round"] == 2 and [r["round"] for r in content["rounds"]] == [1, 2]
    assert status["archive_no"] == dossier["archive_no"]
    [row] = await infra.fetch(
        db["dispatch"], "SELECT count(*) AS n FROM assignments WHERE demand_id = $1", UUID(demand_id)
    )
    assert row["n"] == 2
    for service, url in db.items():
        assert await infra.fetch(url, "SELECT 1 FROM outbox WHERE published_at IS NULL") == [], service


async def test_an_unfounded_dissatisfied_rating_is_archived_with_its_verification(system):
    procs, _ = system
    async with httpx.AsyncClient(timeout=10) as client:
        demand = await _drive_to_rated(client, procs, "dissatisfied")
        demand_id = demand["demand_id"]
        verified = await _verify(client, procs, demand_id, "unfounded")
        assert verified["round"] == 1
        dossier = await _archived(client, procs, demand_id)
    content = dossier["content"]
    assert [v["finding"] for v in content["verifications"]] == ["unfounded"]
    assert content.get("reopenings", []) == []
    assert [r["answers"]["overall"] for r in content["ratings"]] == ["dissatisfied"]


async def test_archive_refuses_to_alter_a_sealed_dossier(system):
    _, db = system
    with pytest.raises(Exception, match="append-only"):
        await infra.fetch(db["archive"], "UPDATE dossiers SET archive_no = 'forged'")
    with pytest.raises(Exception, match="append-only"):
        await infra.fetch(db["archive"], "DELETE FROM event_log")


async def test_a_killed_consumer_loses_and_duplicates_nothing(system):
    procs, db = system
    await procs.kill("tracking")
    async with httpx.AsyncClient(timeout=10) as client:
        submitted = [await _submit(client, procs) for _ in range(5)]
        await procs.start("tracking")
        await procs.wait_ready(["tracking"])
        for demand in submitted:
            await _get_when(
                client,
                procs.url("tracking") + f"/demands/{demand['demand_id']}",
                lambda c: c["status"] == "submitted",
                "tracking to catch up",
            )
    for demand in submitted:
        entries = await infra.fetch(
            db["tracking"], "SELECT kind FROM timeline WHERE demand_id = $1", UUID(demand["demand_id"])
        )
        assert [e["kind"] for e in entries] == ["demand.submitted"]


async def test_a_killed_producer_publishes_everything_it_committed_exactly_once(system):
    procs, db = system
    async with httpx.AsyncClient(timeout=10) as client:
        submitted = [await _submit(client, procs) for _ in range(10)]
        await procs.kill("intake")  # SIGKILL right after the commits, relay mid-flight or not
        await procs.start("intake")
        await procs.wait_ready(["intake"])
        for demand in submitted:
            await _get_when(
                client,
                procs.url("dispatch") + f"/demands/{demand['demand_id']}",
                lambda d: True,
                "dispatch to receive every demand",
            )
    assert await infra.fetch(db["intake"], "SELECT 1 FROM outbox WHERE published_at IS NULL") == []
    ids = [UUID(d["demand_id"]) for d in submitted]
    rows = await infra.fetch(db["dispatch"], "SELECT demand_id FROM queue WHERE demand_id = ANY($1::uuid[])", ids)
    assert len(rows) == 10
    received = await infra.eventually(
        lambda: _rows_if(db["tracking"], 10, "SELECT demand_id FROM timeline WHERE demand_id = ANY($1::uuid[])", ids),
        what="tracking to record every submission",
    )
    # Every committed demand went out, and each had its effect exactly once downstream (a redelivered event
    # is absorbed by the consumer's inbox; the keyed rows show no second effect).
    assert sorted(r["demand_id"] for r in received) == sorted(ids)
    sent = await infra.fetch(db["intake"], "SELECT demand_id FROM outbox WHERE demand_id = ANY($1::uuid[])", ids)
    assert len(sent) == 10


async def _rows_if(url, n, sql, *args):
    rows = await infra.fetch(url, sql, *args)
    return rows if len(rows) >= n else None


# --- dispatch as a station head does it (issue 8): return and rematch, refusal, merge ------------------------------


async def _waiting(client, procs, demand_id: str) -> list[dict]:
    return await _get_when(
        client,
        procs.url("dispatch") + "/queue?station_id=" + events.STATION,
        lambda items: any(i["demand_id"] == demand_id for i in items),
        "the demand in the dispatch queue",
    )


async def _assign(client, procs, demand_id: str, org: str, **headers) -> dict:
    reply = await client.post(
        procs.url("dispatch") + f"/demands/{demand_id}/assignments",
        json={"assignee_kind": "organization", "assignee_id": org},
        headers=auth.HEAD | headers,
    )
    assert reply.status_code == 201, reply.text
    return reply.json()


async def _archived(client, procs, demand_id: str) -> dict:
    await _get_when(
        client, procs.url("tracking") + f"/demands/{demand_id}", lambda c: c["status"] == "archived", "the archive"
    )
    reply = await client.get(procs.url("archive") + f"/dossiers/{demand_id}", headers=auth.HEAD)
    assert reply.status_code == 200, reply.text
    return reply.json()


async def test_a_returned_demand_is_rematched_and_the_first_organization_loses_sight_of_it(system):
    procs, db = system
    second_org = auth.bearer("org", org="org-e2e-03", name="沈阳特检院")
    async with httpx.AsyncClient(timeout=10) as client:
        reply = await client.put(
            procs.url("dispatch") + "/organizations/org-e2e-03",
            json=organization("沈阳特检院", "12210100MB0000103", ["210100"]),
            headers=auth.ADMIN,
        )
        assert reply.status_code == 201, reply.text
        demand = await _submit(client, procs)
        demand_id = demand["demand_id"]
        await _waiting(client, procs, demand_id)

        # A retry of the head's assignment after a lost reply makes no second one.
        key = {"Idempotency-Key": f"assign-{demand_id}"}
        first = await _assign(client, procs, demand_id, "org-01", **key)
        assert (await _assign(client, procs, demand_id, "org-01", **key)) == first
        brief = await client.get(procs.url("dispatch") + f"/demands/{demand_id}/brief", headers=auth.ORG)
        assert brief.status_code == 200, brief.text
        assert brief.json()["contact"]["name"] == "王建国"  # whom to call, while the demand is its own

        # The organization finds it outside its remit and gives it back: the demand tops the head's queue.
        reply = await client.post(
            procs.url("dispatch") + f"/demands/{demand_id}/return",
            json={"reason": "超出本机构资质范围"},
            headers=auth.ORG,
        )
        assert reply.status_code == 200, reply.text
        queue = await _waiting(client, procs, demand_id)
        assert queue[0]["demand_id"] == demand_id and queue[0]["returned"] is True
        status = await _get_when(
            client, demand["status_url"], lambda s: s["progress"] == "returned", "the status link to show the return"
        )
        assert "重新安排" in status["progress_label"]

        second = await _assign(client, procs, demand_id, "org-e2e-03")
        assert second["assignment_no"] == first["assignment_no"] + 1
        gone = await client.get(procs.url("dispatch") + f"/demands/{demand_id}/brief", headers=auth.ORG)
        assert gone.status_code == 404  # need-to-know ends with the assignment
        assert (
            await client.get(procs.url("dispatch") + f"/demands/{demand_id}/brief", headers=second_org)
        ).status_code == 200
        await _get_when(
            client, procs.url("tracking") + f"/demands/{demand_id}", lambda c: c["status"] == "assigned", "the rematch"
        )
        reply = await client.post(
            procs.url("tracking") + f"/demands/{demand_id}/resolution",
            json={"outcome": "met", "summary": "已完成定期检验"},
            headers=second_org,
        )
        assert reply.status_code == 200, reply.text
        await _get_when(
            client, procs.url("evaluation") + f"/surveys/{demand_id}", lambda s: s["status"] == "open", "the survey"
        )
        reply = await client.post(
            procs.url("evaluation") + f"/surveys/{demand_id}/rating",
            json={"answers": {"overall": "satisfied"}},
            headers=auth.CLERK,
        )
        assert reply.status_code == 201, reply.text
        dossier = await _archived(client, procs, demand_id)
        sheet = (await client.get(procs.url("tracking") + f"/demands/{demand_id}", headers=auth.HEAD)).json()

    assert [r["reason"] for r in dossier["content"]["returns"]] == ["超出本机构资质范围"]
    assert [a["assignee_id"] for a in dossier["content"]["assignments"]] == ["org-01", "org-e2e-03"]
    assert [e["kind"] for e in sheet["timeline"]].count("demand.returned") == 1
    assigned = await infra.fetch(
        db["dispatch"], "SELECT 1 FROM outbox WHERE demand_id = $1 AND routing_key = 'demand.assigned'", UUID(demand_id)
    )
    assert len(assigned) == 2  # the retried first assignment and the rematch, nothing more


async def test_refused_and_merged_demands_reach_the_archive_with_their_reason(system):
    procs, _ = system
    async with httpx.AsyncClient(timeout=10) as client:
        original = await _submit(client, procs)
        repeated = await _submit(client, procs)  # the same enterprise and need again
        refused = await _submit(client, procs, items=[{"code": "other.policy_consulting"}], description="咨询土地审批")
        for d in (original, repeated, refused):
            await _waiting(client, procs, d["demand_id"])

        reply = await client.post(
            procs.url("dispatch") + f"/demands/{repeated['demand_id']}/merge",
            json={"into": original["demand_id"], "reason": "同一企业同一需求重复登记"},
            headers=auth.HEAD,
        )
        assert reply.status_code == 200, reply.text
        reply = await client.post(
            procs.url("dispatch") + f"/demands/{refused['demand_id']}/refusal",
            json={"reason": "土地审批不属于市场监管职责", "basis": "《优化营商环境条例》第十九条"},
            headers=auth.HEAD,
        )
        assert reply.status_code == 200, reply.text

        merged = await _archived(client, procs, repeated["demand_id"])
        ended = await _archived(client, procs, refused["demand_id"])
        status = await _get_when(
            client, refused["status_url"], lambda s: s["progress"] in ("refused", "archived"), "the refusal shown"
        )
        # The original stays open; a second assignment of the merged one is refused.
        reply = await client.post(
            procs.url("dispatch") + f"/demands/{repeated['demand_id']}/assignments",
            json={"assignee_kind": "organization", "assignee_id": "org-01"},
            headers=auth.HEAD,
        )
        assert reply.status_code == 409, reply.text

    assert merged["content"]["outcome"]["kind"] == "merged"
    assert merged["content"]["outcome"]["merged_into_tracking_no"] == original["tracking_no"]
    assert ended["content"]["outcome"]["kind"] == "refused"
    assert ended["content"]["outcome"]["basis"] == "《优化营商环境条例》第十九条"
    assert "土地审批不属于市场监管职责" in status["progress_label"]
