"""A round's survey opens only once evaluation knows who served it, on the real broker and database.

Evaluation runs alone on its own vhost. The test publishes what tracking and dispatch would, in the order a backlog
can deliver them: the Resolved first (naming assignment 1), then the Assigned it answers. Until that Assigned is
handled the round is resolved but not open: no rating link, no RatingLinkIssued in evaluation's outbox, and the
staff's rating entry answers 409 "not open yet"; the Assigned opens it once, with items 6–9 applying (an
organization served), and its status page link (exactly one RatingLinkIssued) rates it with them.
"""

from uuid import UUID

import pytest

from shared.contracts import Assigned, Outcome, RatingLinkIssued, Resolved
from tests.support import auth, events, infra
from tests.support.apps import capture_queue, make_app, publish_event

pytestmark = pytest.mark.integration

LINKS_QUEUE = "test.evaluation.opening.rating_links"
TECHNICIAN = {"answers": {"overall": "satisfied", "technician_professionalism": 5, "facilities": 4}}


@pytest.fixture
async def evaluation(amqp, databases):
    """Evaluation with its database URL, and a queue bound for RatingLinkIssued (intake's alone: unroutable, it would
    hold back the relay)."""
    await capture_queue(amqp, LINKS_QUEUE, RatingLinkIssued.routing_key)
    db = databases("evaluation")
    async with infra.running(make_app("evaluation", amqp_url=amqp, database_url=db)) as client:
        yield client, db


def handled(db, event):
    async def check():
        rows = await infra.fetch(
            db, "SELECT 1 FROM inbox WHERE consumer = 'evaluation' AND event_id = $1", event.event_id
        )
        return bool(rows)

    return check


async def announced(db, demand_id: UUID) -> list:
    """The RatingLinkIssued rows of evaluation's outbox for the demand."""
    return await infra.fetch(
        db,
        "SELECT payload, published_at FROM outbox WHERE demand_id = $1 AND routing_key = $2",
        demand_id,
        RatingLinkIssued.routing_key,
    )


def answering(assigned: Assigned) -> Resolved:
    """The resolution as tracking publishes it: caused by the assignment it answers, naming its number."""
    return assigned.caused(
        Resolved,
        assignment_no=assigned.assignment_no,
        outcome=Outcome.met,
        summary="已出具校准证书",
        resolved_by="市计量测试院",
        resolved_at=assigned.occurred_at,
    )


async def test_a_resolution_overtaking_its_assignment_opens_the_survey_only_when_the_assignment_comes(evaluation, amqp):
    client, db = evaluation
    s = events.submitted()
    a1 = events.assigned(s)  # to an organization
    r1 = answering(a1)

    await publish_event(amqp, r1)
    await infra.eventually(handled(db, r1), what="the Resolved handled")
    survey = (await client.get(f"/surveys/{s.demand_id}", headers=auth.HEAD)).json()
    assert (survey["status"], survey["awaiting_assignment"], survey["opened_at"]) == ("waiting", True, None)
    assert await announced(db, s.demand_id) == []
    assert await infra.fetch(db, "SELECT 1 FROM rating_links WHERE demand_id = $1", s.demand_id) == []
    for path, body in ((f"/surveys/{s.demand_id}/rating", TECHNICIAN), (f"/surveys/{s.demand_id}/link", None)):
        reply = await client.post(path, json=body, headers=auth.CLERK)
        assert reply.status_code == 409, reply.text
        assert "评价表尚未开放" in reply.json()["message"] and "opens only once" in reply.json()["message_en"]
    listed = await client.get("/surveys", params={"status": "open"}, headers=auth.HEAD)
    assert str(s.demand_id) not in {v["demand_id"] for v in listed.json()}  # not counted as open

    await publish_event(amqp, a1)

    async def opened():
        reply = await client.get(f"/surveys/{s.demand_id}", headers=auth.HEAD)
        return reply.json() if reply.json()["status"] == "open" else None

    survey = await infra.eventually(opened, what="the survey opened by its assignment")
    assert (survey["served_by_org"], survey["assignment_no"], survey["awaiting_assignment"]) == (True, 1, False)

    async def relayed():
        rows = await announced(db, s.demand_id)
        return rows if rows and all(r["published_at"] for r in rows) else None

    [row] = await infra.eventually(relayed, what="RatingLinkIssued relayed")
    issued = RatingLinkIssued.model_validate_json(row["payload"])  # a plain connection: jsonb as text
    assert (issued.round, issued.causation_id, issued.correlation_id) == (1, r1.event_id, s.correlation_id)

    # The same assignment published again (a new event id, past the inbox) opens nothing twice.
    again = a1.model_copy(update={"event_id": events.submitted().event_id})
    await publish_event(amqp, again)
    await infra.eventually(handled(db, again), what="the repeated Assigned handled")
    assert len(await announced(db, s.demand_id)) == 1

    # The status page's link shows the form with items 6–9 and takes them.
    token = issued.url.rsplit("/", 1)[1]
    shown = (await client.get(f"/public/ratings/{token}")).json()
    assert (shown["status"], shown["technician_items_apply"]) == ("open", True)
    rated = await client.post(f"/public/ratings/{token}", json=TECHNICIAN)
    assert rated.status_code == 201, rated.text
    survey = (await client.get(f"/surveys/{s.demand_id}", headers=auth.HEAD)).json()
    assert survey["status"] == "rated"
    assert survey["ratings"][0]["answers"]["technician_professionalism"] == 5
