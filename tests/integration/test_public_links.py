"""The enterprise's one-time rating link: unguessable, single purpose, single use, expiring, rate-limited."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.support import auth, infra
from tests.support.system import running_system

pytestmark = pytest.mark.integration


@pytest.fixture
async def system(amqp, databases):
    limits = {"evaluation": {"public_rate_limit": "1000/minute", "link_rate_limit": "4/hour"}}
    async with running_system(amqp, databases, **limits) as system:
        for key in ("first", "second"):
            system.demands[key] = await system.submit()
            await system.assign(system.demands[key])
            await system.resolve(system.demands[key])
        yield system


async def _link(system, key: str) -> str:
    reply = await system.clients["evaluation"].post(f"/surveys/{system.demands[key]}/link", headers=auth.CLERK)
    assert reply.status_code == 201, reply.text
    return reply.json()["url"].rsplit("/", 1)[1]


async def test_a_link_rates_its_own_demand_once_and_no_other(system):
    evaluation = system.clients["evaluation"]
    first, second = await _link(system, "first"), await _link(system, "second")
    assert len(first) >= 40 and first != second
    opened = (await evaluation.get(f"/public/ratings/{first}")).json()
    assert opened["technician_items_apply"] is True and opened["status"] == "open"

    # Fields the enterprise tries to add (another demand, a station, a status) are refused, not obeyed.
    forged = await evaluation.post(
        f"/public/ratings/{first}",
        json={"answers": {"overall": "satisfied"}, "demand_id": str(system.demands["second"])},
    )
    assert forged.status_code == 422 and forged.json()["errors"][0]["field"] == "demand_id"

    rated = await evaluation.post(f"/public/ratings/{first}", json={"answers": {"overall": "satisfied"}})
    assert rated.status_code == 201
    assert (
        await evaluation.post(f"/public/ratings/{first}", json={"answers": {"overall": "average"}})
    ).status_code == 404
    survey = (await evaluation.get(f"/surveys/{system.demands['second']}", headers=auth.HEAD)).json()
    assert survey["status"] == "open" and survey["ratings"] == []  # the other demand untouched
    [row] = await infra.fetch(system.databases["evaluation"], "SELECT source FROM ratings")
    assert row["source"] == "online"


async def test_earlier_links_stay_valid_until_one_is_used_and_expired_links_are_refused(system):
    """The rule (issue 10): a second link does not kill the first (an SMS already sent keeps working); once one of the
    demand's links rates, the others stop; an expired link is refused."""
    evaluation = system.clients["evaluation"]
    first = await _link(system, "first")
    reply = await evaluation.post(f"/surveys/{system.demands['first']}/link", headers=auth.CLERK)
    assert reply.status_code == 201 and reply.json()["also_valid"] == 1, reply.text  # the clerk is told
    second = reply.json()["url"].rsplit("/", 1)[1]
    assert (await evaluation.get(f"/public/ratings/{first}")).status_code == 200
    assert (await evaluation.get(f"/public/ratings/{second}")).status_code == 200
    rated = await evaluation.post(f"/public/ratings/{first}", json={"answers": {"overall": "satisfied"}})
    assert rated.status_code == 201, rated.text
    for token in (first, second):
        assert (await evaluation.get(f"/public/ratings/{token}")).status_code == 404
    late = await evaluation.post(f"/public/ratings/{second}", json={"answers": {"overall": "average"}})
    assert late.status_code == 404 and late.json()["message"] == "评价链接无效、已使用或已过期"
    rows = await infra.fetch(
        system.databases["evaluation"],
        # Retired: expiring when the other was used, not 30 days after it was issued.
        "SELECT used_at IS NOT NULL AS used, expires_at < created_at + interval '1 day' AS retired FROM rating_links"
        " WHERE demand_id = $1 AND NOT status_page ORDER BY created_at",  # the links sent (not the status page's)
        system.demands["first"],
    )
    assert [(r["used"], r["retired"]) for r in rows] == [(True, False), (False, True)]
    assert len(await infra.fetch(system.databases["evaluation"], "SELECT 1 FROM ratings")) == 1

    # The service's clock, not PostgreSQL's now(): under the test clock they differ.
    other = await _link(system, "second")
    await infra.fetch(
        system.databases["evaluation"],
        "UPDATE rating_links SET expires_at = $1 WHERE demand_id = $2",
        datetime.now(UTC) - timedelta(seconds=1),
        system.demands["second"],
    )
    assert (await evaluation.get(f"/public/ratings/{other}")).status_code == 404
    assert (await evaluation.get("/public/ratings/" + "x" * 43)).status_code == 404


async def test_public_endpoints_are_rate_limited_per_link(system):
    evaluation = system.clients["evaluation"]
    token = await _link(system, "second")
    answers = [(await evaluation.get(f"/public/ratings/{token}")).status_code for _ in range(6)]
    assert answers[:4] == [200] * 4 and answers[4:] == [429, 429]
    refused = await evaluation.get(f"/public/ratings/{token}")
    assert refused.json()["message"] == "请求过于频繁，请稍后再试"
