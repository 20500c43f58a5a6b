"""The five services as processes, driven over HTTP like station staff and enterprises would."""

from uuid import UUID

import httpx
import pytest

from tests.support import auth, events, infra

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


async def test_a_dissatisfied_rating_keeps_the_case_out_of_the_archive(system):
    procs, db = system
    async with httpx.AsyncClient(timeout=10) as client:
        demand = await _drive_to_rated(client, procs, "dissatisfied")
        demand_id = demand["demand_id"]
        sheet = await _get_when(
            client,
            procs.url("tracking") + f"/demands/{demand_id}",
            lambda c: c["status"] == "rated",
            "the rating in tracking",
        )
        await infra.eventually(
            lambda: infra.fetch(
                db["archive"],
                "SELECT 1 FROM event_log WHERE demand_id = $1 AND routing_key = 'demand.rated'",
                UUID(demand_id),
            ),
            what="archive to receive the rating",
        )
        assert (await client.get(procs.url("archive") + f"/dossiers/{demand_id}", headers=auth.HEAD)).status_code == 404
    assert sheet["overall"] == "dissatisfied"


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
