"""Re-handling (重办, issue 10) in dispatch, on the real broker and databases: a DemandReopened puts a resolved
demand back in its head's queue as round 2, marked 重办, with the re-handling deadline and the previous assignee;
its assignments carry round 2, the next assignment number and that deadline, through returns and rematches;
duplicates and an older round's late events change nothing; another station's head never sees it.

Tracking does not publish DemandReopened yet: the tests build it from the demand's real events (the Rated that
evaluation published, or the Assigned that dispatch did) with tests/support/rehandling_events.py and publish it
to the broker as tracking would.
"""

import json
from datetime import date, timedelta
from uuid import UUID

import pytest

from shared.calendar import add_working_days, china_today
from shared.contracts import (
    Answers,
    Assigned,
    DemandReopened,
    Outcome,
    Overall,
    Rated,
    RatingSource,
    Resolved,
    utcnow,
)
from tests.support import auth, infra
from tests.support import rehandling_events as rh
from tests.support.apps import body_of, capture_queue, drain, publish_event
from tests.support.system import System, fresh_system, organization

pytestmark = pytest.mark.integration

ORG_03 = auth.bearer("org", org="org-03", name="沈阳检测中心")
CAPTURE = "test.rehandling.assigned"
seen_on_broker: list[dict] = []  # every Assigned the capture queue received, drained as the tests go


@pytest.fixture(scope="module")
async def system():
    async with fresh_system() as system:
        reply = await system.clients["dispatch"].put(
            "/organizations/org-03",
            json=organization("沈阳检测中心", "12210100MB0000003", ["210100"]),
            headers=auth.ADMIN,
        )
        assert reply.status_code in (200, 201), reply.text
        await capture_queue(system.amqp, CAPTURE, "demand.assigned")
        yield system


def rehandling_due() -> date:
    """A re-handling deadline as tracking would fix it: five working days on from today in China."""
    return add_working_days(china_today(utcnow()), 5)


async def outbox(system: System, service: str, routing_key: str, demand_id: UUID) -> list[dict]:
    rows = await infra.fetch(
        system.databases[service],
        "SELECT payload FROM outbox WHERE routing_key = $1 AND demand_id = $2 ORDER BY id",
        routing_key,
        demand_id,
    )
    return [json.loads(r["payload"]) for r in rows]


async def dispatch_row(system: System, demand_id: UUID) -> dict:
    [row] = await infra.fetch(
        system.databases["dispatch"],
        "SELECT status, round, assignment_count, due_on, reopening_id FROM queue WHERE demand_id = $1",
        demand_id,
    )
    return dict(row)


async def handled_by_dispatch(system: System, event_id: UUID) -> None:
    async def claimed():
        return await infra.fetch(
            system.databases["dispatch"], "SELECT 1 FROM inbox WHERE consumer = 'dispatch' AND event_id = $1", event_id
        )

    await infra.eventually(claimed, what=f"dispatch to handle {event_id}")


async def assigned_on_broker(system: System, demand_id: UUID, no: int) -> dict:
    async def found():
        seen_on_broker.extend(body_of(m) for m in await drain(system.amqp, CAPTURE))
        return next((e for e in seen_on_broker if e["demand_id"] == str(demand_id) and e["assignment_no"] == no), None)

    return await infra.eventually(found, what=f"Assigned {no} of {demand_id} on the broker")


async def rated_dissatisfied(system: System) -> tuple[UUID, Rated]:
    """A demand assigned to org-01, resolved and rated 不满意 through the services; its Rated as published."""
    demand = await system.submit()
    await system.assign(demand)
    await system.resolve(demand)
    await system.get_when("dispatch", f"/demands/{demand}", lambda d: d["status"] == "resolved", "dispatch: resolved")
    reply = await system.clients["evaluation"].post(
        f"/surveys/{demand}/rating", json={"answers": {"overall": "dissatisfied"}}, headers=auth.CLERK
    )
    assert reply.status_code == 201, reply.text
    [rated] = await infra.eventually(
        lambda: outbox(system, "evaluation", "demand.rated", demand), what="evaluation to publish the rating"
    )
    return demand, Rated.model_validate(rated)


def reopened(rated: Rated, due_on: date, **fields) -> DemandReopened:
    """tracking's DemandReopened for a founded verification of `rated`, back to org-01 as the previous assignee."""
    event = rh.reopened(rh.verified(rated), due_on=due_on)
    return event.model_copy(
        update={
            "assignment_count": 1,
            "previous_assignee_kind": "organization",
            "previous_assignee_id": "org-01",
            "previous_assignee_name": "市计量测试院",
            **fields,
        }
    )


async def post(system: System, path: str, body: dict, headers=auth.HEAD):
    return await system.clients["dispatch"].post(path, json=body, headers=headers)


async def assign(system: System, demand: UUID, org: str, headers=auth.HEAD, **fields):
    body = {"assignee_kind": "organization", "assignee_id": org, **fields}
    return await post(system, f"/demands/{demand}/assignments", body, headers)


# --- the round-2 dispatch ------------------------------------------------------------------------------------


async def test_a_reopened_demand_is_back_in_the_queue_as_rehandling_and_assigned_in_round_2(system):
    d = system.clients["dispatch"]
    earlier = await system.submit()  # waiting since before: the re-handling goes above it
    demand, rated = await rated_dissatisfied(system)
    due = rehandling_due()
    reopening = reopened(rated, due)
    await publish_event(system.amqp, reopening)

    queued = await system.get_when(
        "dispatch", f"/demands/{demand}", lambda q: q["round"] == 2, "dispatch to reopen the demand"
    )
    assert (queued["status"], queued["status_label"], queued["rehandling"]) == ("waiting", "重办待派", True)
    assert (queued["due_on"], queued["assignment_count"]) == (due.isoformat(), 1)
    assert queued["previous_assignee"] == {"kind": "organization", "id": "org-01", "name": "市计量测试院"}
    assert queued["reopening"]["reason"] == reopening.reason and queued["reopened_at"]
    queue = (await d.get("/queue", headers=auth.HEAD)).json()
    ids = [q["demand_id"] for q in queue]
    assert ids.index(str(demand)) < ids.index(str(earlier))
    assert queue[ids.index(str(demand))]["rehandling"] is True

    # Candidates as in round 1, checked against the re-handling deadline, the previous assignee flagged.
    candidates = (await d.get(f"/demands/{demand}/candidates", headers=auth.HEAD)).json()
    assert (candidates["round"], candidates["due_on"]) == (2, due.isoformat())
    flagged = {c["org_id"]: c["previous_assignee"] for c in candidates["candidates"]}
    assert flagged["org-01"] is True and flagged["org-03"] is False

    # The round's deadline is not the head's to change; the assignment commits to it.
    other_date = await assign(system, demand, "org-03", due_on=(due + timedelta(days=3)).isoformat())
    assert other_date.status_code == 422 and other_date.json()["errors"][0]["field"] == "due_on", other_date.text
    reply = await assign(system, demand, "org-03")
    assert reply.status_code == 201, reply.text
    assert (reply.json()["round"], reply.json()["assignment_no"], reply.json()["due_on"]) == (2, 2, due.isoformat())

    event = Assigned.model_validate(await assigned_on_broker(system, demand, 2))
    assert (event.round, event.assignment_no, event.due_on, event.assignee_id) == (2, 2, due, "org-03")
    assert event.causation_id == reopening.event_id and event.correlation_id == rated.correlation_id
    rows = await infra.fetch(
        system.databases["dispatch"],
        "SELECT assignment_no, round, due_on FROM assignments WHERE demand_id = $1 ORDER BY assignment_no",
        demand,
    )
    assert [(r["assignment_no"], r["round"]) for r in rows] == [(1, 1), (2, 2)] and rows[1]["due_on"] == due
    assert await dispatch_row(system, demand) == {
        "status": "assigned", "round": 2, "assignment_count": 2, "due_on": due, "reopening_id": reopening.event_id,
    }  # fmt: skip

    # 退单 and 改派 in round 2: the round and its deadline stay; back to the previous assignee this time.
    returned = await post(system, f"/demands/{demand}/return", {"reason": "检测设备检修"}, headers=ORG_03)
    assert returned.status_code == 200, returned.text
    [back] = await outbox(system, "dispatch", "demand.returned", demand)
    assert (back["round"], back["assignment_no"]) == (2, 2)
    waiting = (await d.get(f"/demands/{demand}", headers=auth.HEAD)).json()
    assert (waiting["status"], waiting["returned"], waiting["rehandling"]) == ("waiting", True, True)
    rematch = await assign(system, demand, "org-01")
    assert rematch.status_code == 201, rematch.text
    third = await assigned_on_broker(system, demand, 3)
    assert (third["round"], third["due_on"], third["assignee_id"]) == (2, due.isoformat(), "org-01")
    assert (await d.get(f"/demands/{demand}/brief", headers=auth.ORG)).status_code == 200


async def test_duplicates_and_an_older_round_arriving_late_change_nothing(system):
    demand, rated = await rated_dissatisfied(system)
    due = rehandling_due()
    reopening = reopened(rated, due)
    await publish_event(system.amqp, reopening)
    await system.get_when("dispatch", f"/demands/{demand}", lambda q: q["round"] == 2, "dispatch to reopen it")
    reply = await assign(system, demand, "org-01")
    assert reply.status_code == 201, reply.text
    before = await dispatch_row(system, demand)

    # The same DemandReopened again (a redelivery), and another of the same round published later: nothing moves.
    await publish_event(system.amqp, reopening)
    again = reopened(rated, due + timedelta(days=2))
    await publish_event(system.amqp, again)
    await handled_by_dispatch(system, again.event_id)  # the redelivery came before it on the same queue
    assert await infra.queue_depth(system.amqp, "dispatch.demand.reopened") == 0
    assert await dispatch_row(system, demand) == before
    assert len(await outbox(system, "dispatch", "demand.assigned", demand)) == 2
    assert await infra.queue_depth(system.amqp, "dispatch.demand.reopened.dlq") == 0


async def test_a_reopening_that_overtakes_the_round_1_resolution_is_not_undone_by_it(system):
    """Dispatch's resolved queue lagging behind: the round-1 Resolved arrives after the DemandReopened."""
    demand = await system.submit()
    await system.assign(demand)
    [assigned] = await outbox(system, "dispatch", "demand.assigned", demand)
    cause = Assigned.model_validate(assigned)
    now = utcnow()
    resolution = cause.caused(
        Resolved, occurred_at=now, round=1, assignment_no=1, outcome=Outcome.met, summary="已出具证书",
        resolved_by="市计量测试院", resolved_at=now,
    )  # fmt: skip
    rating = resolution.caused(
        Rated, round=1, answers=Answers(overall=Overall.dissatisfied), source=RatingSource.online, rated_at=now
    )
    due = rehandling_due()
    reopening = reopened(rating, due)
    await publish_event(system.amqp, reopening)
    await system.get_when("dispatch", f"/demands/{demand}", lambda q: q["round"] == 2, "dispatch to reopen it")

    await publish_event(system.amqp, resolution)  # round 1's, late
    await handled_by_dispatch(system, resolution.event_id)
    demand_now = (await system.clients["dispatch"].get(f"/demands/{demand}", headers=auth.HEAD)).json()
    assert (demand_now["status"], demand_now["round"], demand_now["due_on"]) == ("waiting", 2, due.isoformat())
    reply = await assign(system, demand, "org-03")
    assert reply.status_code == 201 and reply.json()["assignment_no"] == 2, reply.text


async def test_the_head_of_another_station_does_not_see_a_rehandling(system):
    demand, rated = await rated_dissatisfied(system)
    await publish_event(system.amqp, reopened(rated, rehandling_due()))
    await system.get_when("dispatch", f"/demands/{demand}", lambda q: q["round"] == 2, "dispatch to reopen it")
    d = system.clients["dispatch"]
    for headers in (auth.OTHER_HEAD, auth.OTHER_SUPERVISOR):
        assert str(demand) not in {q["demand_id"] for q in (await d.get("/queue", headers=headers)).json()}
        for path in (f"/demands/{demand}", f"/demands/{demand}/candidates"):
            assert (await d.get(path, headers=headers)).status_code == 404, path
    assert (await assign(system, demand, "org-02", headers=auth.OTHER_HEAD)).status_code == 404
    # The city above the station sees it, marked.
    queue = (await d.get("/queue", headers=auth.SUPERVISOR)).json()
    assert [q["rehandling"] for q in queue if q["demand_id"] == str(demand)] == [True]
    assert len(await outbox(system, "dispatch", "demand.assigned", demand)) == 1  # round 1's only
