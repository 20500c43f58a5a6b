"""Rating from the enterprise's status page, on the running system (the five services in-process, real PostgreSQL and
RabbitMQ) and the console: when a round's survey opens, evaluation makes a one-time link and announces it
(RatingLinkIssued, outbox); intake keeps it and its status link offers it, with each step's moment, until the round
is rated; the console's status page shows 去评价 to its own rating page. A redelivered Resolved makes no second link.
Staff APIs never carry the link.
"""

import json
from datetime import datetime, timedelta
from uuid import UUID

import pytest

from shared.contracts import RatingLinkIssued, Resolved, utcnow
from tests.support import auth, infra
from tests.support import console as console_support
from tests.support.apps import publish
from tests.support.console import browser, csrf_of
from tests.support.system import System, fresh_system

pytestmark = pytest.mark.integration

PUBLIC = "1000/minute"


@pytest.fixture(scope="module")
async def system():
    overrides = {
        "intake": {"public_rate_limit": PUBLIC, "trusted_proxies": ["127.0.0.1"]},
        "evaluation": {"public_rate_limit": PUBLIC, "trusted_proxies": ["127.0.0.1"]},
    }
    async with fresh_system(**overrides) as system:
        yield system


@pytest.fixture(scope="module")
async def console(system: System):
    async with console_support.running(system) as app:
        yield app


def status_path(system: System, demand_id: UUID) -> str:
    return "/public/status/" + system.status_urls[demand_id].rsplit("/", 1)[1]


async def resolved_demand(system: System) -> UUID:
    demand_id = await system.submit()
    await system.assign(demand_id)
    await system.resolve(demand_id)
    return demand_id


async def status_when(system: System, demand_id: UUID, ok, what: str) -> dict:
    async def check():
        reply = await system.clients["intake"].get(status_path(system, demand_id))
        assert reply.status_code == 200, reply.text
        return reply.json() if ok(reply.json()) else None

    return await infra.eventually(check, timeout=30, what=what)


async def status_page_links(system: System, demand_id: UUID) -> list:
    return await infra.fetch(
        system.databases["evaluation"],
        "SELECT token_sha256, round, expires_at, used_at FROM rating_links WHERE demand_id = $1 AND status_page",
        demand_id,
    )


async def announced(system: System, demand_id: UUID) -> list:
    return await infra.fetch(
        system.databases["evaluation"],
        "SELECT payload, published_at FROM outbox WHERE demand_id = $1 AND routing_key = $2",
        demand_id,
        RatingLinkIssued.routing_key,
    )


def moments(status: dict) -> dict:
    return {s["key"]: s["at"] for s in status["steps"]}


async def test_the_status_page_offers_the_round_s_link_until_it_is_rated_through_it(system, console):
    demand_id = await resolved_demand(system)
    status = await status_when(system, demand_id, lambda s: s["rating_url"], "the status link to offer a rating link")
    url = status["rating_url"]
    assert status["progress"] == "resolved" and url.startswith("http://127.0.0.1:8004/public/ratings/")
    token = url.rsplit("/", 1)[1]
    # The link endpoint's rules: EVALUATION_RATING_LINK_DAYS (30) from when it was made, in China time.
    expires = status["rating_expires_at"]
    assert expires.endswith("+08:00"), expires
    left = (datetime.fromisoformat(expires) - utcnow()).total_seconds()
    assert timedelta(days=29, hours=23).total_seconds() < left <= timedelta(days=30).total_seconds()
    # Each step's moment, where known, in China time: 受理, 派单, 办结; 评价 and 归档 not yet.
    at = moments(status)
    assert [s["label"] for s in status["steps"]] == ["受理", "派单", "办结", "评价", "归档"]
    assert all(at[k] and at[k].endswith("+08:00") for k in ("submitted", "assigned", "resolved")), at
    assert (at["rated"], at["archived"]) == (None, None)
    assert at["submitted"] <= at["assigned"] <= at["resolved"]

    # Evaluation keeps the link as its digest only, once, and announced it once.
    [link] = await status_page_links(system, demand_id)
    assert link["round"] == 1 and token not in link["token_sha256"] and link["used_at"] is None
    [row] = await announced(system, demand_id)  # and intake has it: it offered it above
    assert json.loads(row["payload"])["url"] == url and row["published_at"] is not None

    # Staff never see it.
    intake = system.clients["intake"]
    staff = await intake.get(f"/demands/{demand_id}", headers=auth.HEAD)
    assert staff.status_code == 200 and token not in staff.text and "rating_url" not in staff.json()
    listed = await intake.get("/demands", params={"limit": 500}, headers=auth.HEAD)
    assert listed.status_code == 200 and token not in listed.text

    client = browser(console)
    client.headers["X-Forwarded-For"] = "198.51.100.31"
    async with client:
        page = await client.get(status_path(system, demand_id))
        assert page.status_code == 200, page.text
        assert f'href="/public/ratings/{token}"' in page.text and "去评价" in page.text
        assert page.text.count('data-testid="step-at"') == 3  # 受理, 办理中 (派单), 办结
        assert "评价链接有效期至" in page.text

        form = await client.get(f"/public/ratings/{token}")
        assert form.status_code == 200, form.text
        fields = {
            "csrf_token": csrf_of(form),
            "tracking_no": status["tracking_no"],
            "round": "1",
            "technician_items": "yes",
            "answers.station_service": "5",
            "answers.problem_solved": "yes",
            "answers.overall": "very_satisfied",
        }
        rated = await client.post(f"/public/ratings/{token}", data=fields)
        assert rated.status_code == 303 and rated.headers["location"] == "/public/rated", rated.text

        survey = (await system.clients["evaluation"].get(f"/surveys/{demand_id}", headers=auth.CLERK)).json()
        assert survey["status"] == "rated"
        [rating] = survey["ratings"]
        assert (rating["source"], rating["overall"]) == ("online", "very_satisfied")
        assert (await system.clients["evaluation"].get(f"/public/ratings/{token}")).status_code == 404  # used

        # Intake follows Rated: the page no longer offers the link, and 评价 has its moment.
        after = await status_when(
            system, demand_id, lambda s: s["progress"] in ("rated", "archived"), "intake to see the rating"
        )
        assert (after["rating_url"], after["rating_expires_at"]) == (None, None)
        assert moments(after)["rated"] and moments(after)["rated"].endswith("+08:00")
        page = await client.get(status_path(system, demand_id))
        assert page.status_code == 200 and "去评价" not in page.text and "/public/ratings/" not in page.text


async def test_a_link_the_station_sends_still_works_and_retires_the_status_page_s(system):
    demand_id = await resolved_demand(system)
    status = await status_when(system, demand_id, lambda s: s["rating_url"], "the status link to offer a rating link")
    evaluation = system.clients["evaluation"]
    sent = await evaluation.post(f"/surveys/{demand_id}/link", headers=auth.CLERK)
    assert sent.status_code == 201 and sent.json()["also_valid"] == 0, sent.text  # the status page's is not "sent"
    own = status["rating_url"].rsplit("/", 1)[1]
    assert (await evaluation.get(f"/public/ratings/{own}")).status_code == 200  # not retired by the station's
    rated = await evaluation.post(
        f"/public/ratings/{sent.json()['url'].rsplit('/', 1)[1]}", json={"answers": {"overall": "satisfied"}}
    )
    assert rated.status_code == 201, rated.text
    assert (await evaluation.get(f"/public/ratings/{own}")).status_code == 404
    after = await status_when(
        system, demand_id, lambda s: s["progress"] in ("rated", "archived"), "intake to see the rating"
    )
    assert after["rating_url"] is None


async def test_a_redelivered_resolution_makes_no_second_link(system):
    demand_id = await resolved_demand(system)
    await status_when(system, demand_id, lambda s: s["rating_url"], "the status link to offer a rating link")
    [row] = await infra.fetch(
        system.databases["tracking"],
        "SELECT event_id, payload FROM outbox WHERE demand_id = $1 AND routing_key = $2",
        demand_id,
        Resolved.routing_key,
    )
    resolution = Resolved.model_validate_json(row["payload"])
    await publish(system.amqp, Resolved.routing_key, resolution.model_dump_json().encode(), str(row["event_id"]))
    # A later demand's resolution, through the same queues: once its link is there, the redelivery was handled.
    later = await resolved_demand(system)
    await status_when(system, later, lambda s: s["rating_url"], "the later demand's link")
    assert len(await status_page_links(system, demand_id)) == 1
    assert len(await announced(system, demand_id)) == 1
    handled = await infra.fetch(
        system.databases["evaluation"],
        "SELECT 1 FROM inbox WHERE consumer = 'evaluation' AND event_id = $1",
        row["event_id"],
    )
    assert len(handled) == 1
