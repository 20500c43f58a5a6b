"""Evaluation follows closings and rematches on the real broker and database (issue 8).

Evaluation (and, for the rematch, tracking, which publishes the real Resolved) run in-process on
one vhost; the tests publish what intake and dispatch would, in awkward orders, and read replies
and the evaluation database.
"""

import pytest

from shared.contracts import AssigneeKind, RatingLinkIssued
from tests.support import auth, events, infra
from tests.support.apps import capture_queue, make_app, publish_event

pytestmark = pytest.mark.integration


def survey_when(client, demand_id, ok):
    async def check():
        reply = await client.get(f"/surveys/{demand_id}", headers=auth.HEAD)
        return reply.json() if reply.status_code == 200 and ok(reply.json()) else None

    return check


def handled(db, *evts):
    async def check():
        ids = [e.event_id for e in evts]
        rows = await infra.fetch(db, "SELECT 1 FROM inbox WHERE consumer = 'evaluation' AND event_id = ANY($1)", ids)
        return len(rows) == len(ids)

    return check


async def test_a_withdrawn_demand_closes_its_survey_and_nothing_reopens_or_rates_it(amqp, databases):
    db = databases("evaluation")
    async with infra.running(make_app("evaluation", amqp_url=amqp, database_url=db)) as client:
        s = events.submitted()
        assignment = events.assigned(s)
        await publish_event(amqp, assignment)
        await infra.eventually(survey_when(client, s.demand_id, lambda v: v["status"] == "waiting"), what="waiting")

        withdrawal = events.withdrawn(s, assignment_count=1)
        await publish_event(amqp, withdrawal)
        survey = await infra.eventually(
            survey_when(client, s.demand_id, lambda v: v["status"] == "closed"), what="the survey closed"
        )
        assert survey["closed_as"] == "withdrawn" and survey["closed_at"] and survey["ratings"] == []

        # A resolution racing the withdrawal (the closing wins) and a redelivery change nothing.
        late = events.resolved(s)
        await publish_event(amqp, late)
        await publish_event(amqp, withdrawal)
        await infra.eventually(handled(db, late), what="the late resolution handled")
        survey = (await client.get(f"/surveys/{s.demand_id}", headers=auth.HEAD)).json()
        assert (survey["status"], survey["closed_as"], survey["opened_at"]) == ("closed", "withdrawn", None)

        for path, body in (
            (f"/surveys/{s.demand_id}/link", None),
            (f"/surveys/{s.demand_id}/rating", {"answers": {"overall": "satisfied"}}),
        ):
            reply = await client.post(path, json=body, headers=auth.CLERK)
            assert reply.status_code == 409, (path, reply.text)
            assert "已撤回" in reply.json()["message"] and "withdrawn" in reply.json()["message_en"]
        assert await infra.fetch(db, "SELECT 1 FROM rating_links") == []
        assert await infra.fetch(db, "SELECT 1 FROM ratings") == []
        assert await infra.fetch(db, "SELECT 1 FROM outbox") == []  # nothing Rated

        listed = (await client.get("/surveys", params={"status": "closed"}, headers=auth.HEAD)).json()
        assert [v["demand_id"] for v in listed] == [str(s.demand_id)]
        assert (await client.get("/surveys", params={"status": "waiting"}, headers=auth.HEAD)).json() == []

        # A closing that overtakes the assignment it counts still closes the survey for good.
        r = events.submitted(tracking_no="2026-000002")
        refusal = events.refused(r, assignment_count=1)
        await publish_event(amqp, refusal)
        await infra.eventually(handled(db, refusal), what="the refusal handled")
        await publish_event(amqp, events.assigned(r))
        survey = await infra.eventually(
            survey_when(client, r.demand_id, lambda v: v["assignment_no"] == 1), what="the late assignment"
        )
        assert (survey["status"], survey["closed_as"]) == ("closed", "refused")


async def test_a_rematched_demand_is_rated_on_its_second_assignee(amqp, databases):
    # Intake alone consumes the status page's RatingLinkIssued: a plain queue keeps it routable for evaluation's relay.
    await capture_queue(amqp, "test.evaluation.closings.rating_links", RatingLinkIssued.routing_key)
    dbs = {name: databases(name) for name in ("tracking", "evaluation")}
    async with (
        infra.running(make_app("tracking", amqp_url=amqp, database_url=dbs["tracking"])) as tracking,
        infra.running(make_app("evaluation", amqp_url=amqp, database_url=dbs["evaluation"])) as evaluation,
    ):
        s = events.submitted()
        a1 = events.assigned(s, no=1)  # to the organization org-01, which gives it back
        a2 = events.assigned(s, no=2, kind=AssigneeKind.staff).model_copy(
            update={"assignee_id": "staff-07", "assignee_name": "计量科 王工"}
        )
        for event in (s, a1, events.returned(s, 1), a2):
            await publish_event(amqp, event)

        async def rematched():
            reply = await tracking.get(f"/demands/{s.demand_id}", headers=auth.HEAD)
            case = reply.json() if reply.status_code == 200 else {}
            return case.get("status") == "assigned" and case.get("assignee_name") == "计量科 王工"

        await infra.eventually(rematched, what="tracking to see the rematch")
        reply = await tracking.post(
            f"/demands/{s.demand_id}/resolution", json={"outcome": "met", "summary": "已检定"}, headers=auth.CLERK
        )
        assert reply.status_code == 200, reply.text

        survey = await infra.eventually(
            survey_when(evaluation, s.demand_id, lambda v: v["status"] == "open"), what="the survey to open"
        )
        # Tracking's Resolved names assignment 2: the organization that returned assignment 1 does not count.
        assert survey["assignment_no"] == 2 and survey["served_by_org"] is False

        technician = {"answers": {"overall": "satisfied", "technician_civility": 5}}
        reply = await evaluation.post(f"/surveys/{s.demand_id}/rating", json=technician, headers=auth.CLERK)
        assert reply.status_code == 422, reply.text
        assert reply.json()["errors"][0]["field"] == "answers.technician_civility"

        link = await evaluation.post(f"/surveys/{s.demand_id}/link", headers=auth.CLERK)
        assert link.status_code == 201, link.text
        token = link.json()["url"].rsplit("/", 1)[1]
        opened = (await evaluation.get(f"/public/ratings/{token}")).json()
        assert opened["technician_items_apply"] is False
        rated = await evaluation.post(f"/public/ratings/{token}", json={"answers": {"overall": "satisfied"}})
        assert rated.status_code == 201 and rated.json()["status"] == "rated", rated.text
