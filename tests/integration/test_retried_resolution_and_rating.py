"""Retries with an Idempotency-Key (shared.idempotency) on the real services, broker and databases: a resolution
(tracking, POST /demands/{id}/resolution), a paper rating and a rating link (evaluation, POST /surveys/{id}/rating and
/link). The retry answers what the first answered (a link: the same one, with a new token); the event is written and
published once (outbox and broker both counted), the row kept once; the key used for another request is a 409, a new
key a new request (409 where the round is done already), and another caller's key is its own (no foreign demand
answered).
"""

from uuid import UUID

import pytest

from shared.contracts import Rated, Resolved
from tests.support import auth, infra
from tests.support.apps import body_of, capture_queue, drain
from tests.support.system import System, fresh_system

pytestmark = pytest.mark.integration

CAPTURE = "test.retries"
SATISFIED = {"answers": {"overall": "satisfied", "station_service": 5}}
seen_on_broker: list[dict] = []


@pytest.fixture(scope="module")
async def system():
    async with fresh_system() as system:
        for key in (Resolved.routing_key, Rated.routing_key):
            await capture_queue(system.amqp, f"{CAPTURE}.{key}", key)
        yield system


async def published_once(system: System, service: str, routing_key: str, demand_id: UUID) -> dict:
    """The one event `service` wrote about the demand with `routing_key`, once the relay published it; exactly one
    on the broker too."""

    async def relayed():
        rows = await infra.fetch(
            system.databases[service],
            "SELECT published_at FROM outbox WHERE routing_key = $1 AND demand_id = $2",
            routing_key,
            demand_id,
        )
        return rows if rows and all(r["published_at"] for r in rows) else None

    rows = await infra.eventually(relayed, timeout=30, what=f"{routing_key} relayed")
    assert len(rows) == 1, rows
    seen_on_broker.extend(
        {"routing_key": routing_key, **body_of(m)} for m in await drain(system.amqp, f"{CAPTURE}.{routing_key}")
    )
    [event] = [e for e in seen_on_broker if e["routing_key"] == routing_key and e["demand_id"] == str(demand_id)]
    return event


def _conflict(reply) -> None:
    assert reply.status_code == 409, reply.text
    assert reply.json()["code"] == "idempotency_conflict" and "Idempotency-Key" in reply.json()["message_en"]


async def test_a_retried_resolution_answers_the_first_and_resolves_once(system):
    demand = await system.submit()
    await system.assign(demand)
    t = system.clients["tracking"]
    url = f"/demands/{demand}/resolution"
    body = {
        "outcome": "met",
        "summary": "已出具检定证书",
        "fee": {"free_service": True},
        "deliverables": [{"title": "检定证书", "reference": "JD-2026-0012"}],
        "staff_involved": ["李工"],
    }
    key = {"Idempotency-Key": f"resolve-{demand}"}

    first = await t.post(url, json=body, headers=auth.HEAD | key)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "resolved"
    again = await t.post(url, json=body, headers=auth.HEAD | key)
    assert (again.status_code, again.json()) == (200, first.json())
    _conflict(await t.post(url, json=body | {"summary": "另一份小结"}, headers=auth.HEAD | key))
    fresh = await t.post(url, json=body, headers=auth.HEAD)  # no key: a second resolution, refused
    assert fresh.status_code == 409 and fresh.json()["code"] != "idempotency_conflict", fresh.text
    foreign = await t.post(url, json=body, headers=auth.OTHER_HEAD | key)  # the other city's key is its own
    assert foreign.status_code == 404, foreign.text

    event = await published_once(system, "tracking", Resolved.routing_key, demand)
    assert (event["summary"], event["resolved_by"]) == ("已出具检定证书", "周站长")
    sheet = (await t.get(f"/demands/{demand}", headers=auth.HEAD)).json()
    assert [e["kind"] for e in sheet["timeline"]].count(Resolved.routing_key) == 1


async def test_a_retried_paper_rating_answers_the_first_and_is_kept_once(system):
    demand = await system.submit()
    await system.assign(demand)
    await system.resolve(demand)
    e = system.clients["evaluation"]
    url = f"/surveys/{demand}/rating"
    body = SATISFIED
    key = {"Idempotency-Key": f"rating-{demand}"}

    first = await e.post(url, json=body, headers=auth.CLERK | key)
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "rated"
    again = await e.post(url, json=body, headers=auth.CLERK | key)
    assert (again.status_code, again.json()) == (201, first.json())
    _conflict(await e.post(url, json={"answers": {"overall": "dissatisfied"}}, headers=auth.CLERK | key))
    fresh = await e.post(url, json=body, headers=auth.CLERK)  # no key: the round is rated already
    assert fresh.status_code == 409 and fresh.json()["code"] != "idempotency_conflict", fresh.text
    foreign = await e.post(url, json=body, headers=auth.OTHER_HEAD | key)
    assert foreign.status_code == 404, foreign.text

    event = await published_once(system, "evaluation", Rated.routing_key, demand)
    assert (event["source"], event["recorded_by"], event["answers"]["overall"]) == ("paper", "张晓燕", "satisfied")
    rows = await infra.fetch(system.databases["evaluation"], "SELECT round FROM ratings WHERE demand_id = $1", demand)
    assert [r["round"] for r in rows] == [1]


async def test_a_retried_rating_link_is_the_same_link_with_a_new_token(system):
    """The retry gives the one link a new token: the first URL (its reply was lost) stops working, and the database
    keeps neither token (idempotent_requests remembers the link's id)."""
    demand = await system.submit()
    await system.assign(demand)
    await system.resolve(demand)
    e = system.clients["evaluation"]
    db = system.databases["evaluation"]
    url = f"/surveys/{demand}/link"
    key = {"Idempotency-Key": f"link-{demand}"}

    first = await e.post(url, headers=auth.CLERK | key)
    assert first.status_code == 201, first.text
    again = await e.post(url, headers=auth.CLERK | key)
    assert again.status_code == 201, again.text
    assert again.json()["url"] != first.json()["url"]
    assert (again.json()["expires_at"], again.json()["also_valid"]) == (first.json()["expires_at"], 0)
    tokens = [reply.json()["url"].rsplit("/", 1)[-1] for reply in (first, again)]

    async def links() -> int:
        rows = await infra.fetch(
            # the links sent: not the one evaluation made for the status page when the survey opened
            db,
            "SELECT 1 FROM rating_links WHERE demand_id = $1 AND NOT status_page",
            demand,
        )
        return len(rows)

    assert await links() == 1
    [kept] = await infra.fetch(
        db, "SELECT result::text FROM idempotent_requests WHERE key = $1", key["Idempotency-Key"]
    )
    assert not any(token in kept["result"] for token in tokens), kept["result"]
    assert (await e.get(f"/public/ratings/{tokens[0]}")).status_code == 404
    opened = await e.get(f"/public/ratings/{tokens[1]}")
    assert opened.status_code == 200 and opened.json()["status"] == "open", opened.text

    foreign = await e.post(url, headers=auth.OTHER_HEAD | key)
    assert foreign.status_code == 404, foreign.text
    second = await e.post(url, headers=auth.CLERK | {"Idempotency-Key": f"link-{demand}-2"})
    assert second.status_code == 201 and second.json()["url"] not in (first.json()["url"], again.json()["url"])
    assert second.json()["also_valid"] == 1 and await links() == 2

    # Once rated (through the second link), link-1's link is done: a retry shows no URL.
    rated = await e.post(f"/public/ratings/{second.json()['url'].rsplit('/', 1)[-1]}", json=SATISFIED)
    assert rated.status_code == 201, rated.text
    late = await e.post(url, headers=auth.CLERK | key)
    assert late.status_code == 409 and "url" not in late.json(), late.text
    assert "不能再次显示" in late.json()["message"] and await links() == 2
