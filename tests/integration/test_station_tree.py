"""Station scope follows the registry's tree, in every service.

The service point 210100/210112/hunnan-xinsong is registered under 210100/210112/hunnan-01
(intake's seeds) though its id is not below it: its demands are the head of hunnan-01's, and
the 浑南 district supervisor's, in intake, dispatch, tracking, evaluation and archive, and no
other station's. A station newly registered under hunnan-01 joins the scope the same way once
its StationRegistered event has reached each service.
"""

import asyncio
import contextlib
import json
from uuid import UUID

import pytest

from tests.support import auth, events, infra
from tests.support.apps import make_app
from tests.support.system import System, running_system

pytestmark = pytest.mark.integration

SHENYANG = "210100/shenyang"
HUNNAN = events.STATION  # 210100/210112/hunnan-01
XINSONG = "210100/210112/hunnan-xinsong"
TIEXI = "210100/210106/tiexi-01"
HUNNAN_HEAD = auth.bearer("head", HUNNAN, name="浑南站长")
DISTRICT = auth.bearer("supervisor", "210100/210112", name="浑南区市场监管局")
TIEXI_HEAD = auth.bearer("head", TIEXI, name="铁西站长")
ADMIN = auth.ADMIN


async def tree_everywhere(system: System, station_id: str, ancestors: list[str]) -> None:
    """Wait until every service's copy of the tree places the station below these ancestors."""
    for service, db in system.databases.items():

        async def placed(db=db):
            rows = await infra.fetch(db, "SELECT ancestors FROM station_tree WHERE station_id = $1", station_id)
            return rows and list(rows[0]["ancestors"]) == ancestors

        await infra.eventually(placed, timeout=30, what=f"{service} to learn where {station_id} is registered")


async def status(system: System, service: str, path: str, headers: dict) -> int:
    return (await system.clients[service].get(path, headers=headers)).status_code


async def listed(system: System, service: str, path: str, headers: dict, demand_id: UUID) -> bool:
    reply = await system.clients[service].get(path, headers=headers)
    assert reply.status_code == 200, (service, path, reply.text)
    return str(demand_id) in {row["demand_id"] for row in reply.json()}


async def check_scope(system: System, service: str, one: str, many: str, demand_id: UUID) -> None:
    """The head of hunnan-01 and the district supervisor see the demand; the head of tiexi-01 does not."""
    for who, headers in (("head of hunnan-01", HUNNAN_HEAD), ("浑南 supervisor", DISTRICT)):
        assert await status(system, service, one, headers) == 200, f"{service} {one} hidden from the {who}"
        assert await listed(system, service, many, headers, demand_id), f"{service} {many} misses it for the {who}"
    assert await status(system, service, one, TIEXI_HEAD) == 404, f"{service} {one} shown to tiexi-01"
    assert not await listed(system, service, many, TIEXI_HEAD, demand_id), f"{service} {many} shows it to tiexi-01"


async def walk_through(system: System, station_id: str, clerk: dict) -> None:
    """A demand submitted at `station_id`, then handled to its archive by the head of hunnan-01."""
    demand_id = await system.submit(station_id, headers=clerk)
    d = f"/demands/{demand_id}"
    await check_scope(system, "intake", d, "/demands", demand_id)
    assert await listed(system, "intake", f"/demands?station_id={station_id}", HUNNAN_HEAD, demand_id)
    assert await status(system, "intake", f"/demands?station_id={station_id}", TIEXI_HEAD) == 404
    await check_scope(system, "dispatch", d, "/queue", demand_id)

    assignment = {"assignee_kind": "organization", "assignee_id": "org-01", "assignee_name": "市计量测试院"}
    refused = await system.clients["dispatch"].post(f"{d}/assignments", json=assignment, headers=TIEXI_HEAD)
    assert refused.status_code == 404, refused.text
    await system.assign(demand_id, headers=HUNNAN_HEAD)  # waits for tracking's sheet, as the head
    await check_scope(system, "tracking", d, "/ledger", demand_id)

    await system.resolve(demand_id, headers=HUNNAN_HEAD)  # waits for evaluation's survey, as the head
    await check_scope(system, "evaluation", f"/surveys/{demand_id}", "/surveys", demand_id)

    await system.rate(demand_id, headers=HUNNAN_HEAD)  # waits for tracking to see it archived
    await system.get_when("archive", f"/dossiers/{demand_id}", lambda _: True, "the dossier", HUNNAN_HEAD)
    await check_scope(system, "archive", f"/dossiers/{demand_id}", "/dossiers", demand_id)


async def test_a_service_points_demands_are_its_station_heads_in_every_service(amqp, databases):
    async with running_system(amqp, databases) as system:
        await tree_everywhere(system, XINSONG, [SHENYANG, HUNNAN])  # announced by intake on start
        await walk_through(system, XINSONG, auth.bearer("clerk", XINSONG, name="新松专员"))


async def test_a_station_registered_under_a_station_joins_its_scope_everywhere(amqp, databases):
    # In another district by its id: only the registry puts it below hunnan-01 (and so in 浑南's scope).
    station = "210100/210114/hunnan-yuhong"
    async with running_system(amqp, databases) as system:
        body = {"name": "浑南站于洪企业服务点", "level": 4, "parent_id": HUNNAN, "has_window": False}
        reply = await system.clients["intake"].put(f"/stations/{station}", json=body, headers=ADMIN)
        assert reply.status_code == 200, reply.text
        await tree_everywhere(system, station, [SHENYANG, HUNNAN])
        await walk_through(system, station, auth.bearer("clerk", station, name="于洪专员"))


async def announcements(db: str) -> list[dict]:
    rows = await infra.fetch(
        db, "SELECT station_id, payload FROM outbox WHERE routing_key = 'station.registered' ORDER BY id"
    )
    return [{"station_id": r["station_id"], "payload": json.loads(r["payload"])} for r in rows]


async def test_replicas_starting_together_announce_each_registered_station_once(amqp, databases):
    db = databases("intake")
    replicas = [make_app("intake", amqp_url=amqp, database_url=db) for _ in range(3)]
    async with contextlib.AsyncExitStack() as stack:
        await asyncio.gather(*(stack.enter_async_context(infra.running(app)) for app in replicas))
        registered = {r["station_id"] for r in await infra.fetch(db, "SELECT station_id FROM stations")}
        announced = [r["station_id"] for r in await announcements(db)]
        assert sorted(announced) == sorted(registered) and len(registered) >= 7
        xinsong = next(r["payload"] for r in await announcements(db) if r["station_id"] == XINSONG)
        assert (xinsong["parent_id"], xinsong["ancestors"], xinsong["level"]) == (HUNNAN, [SHENYANG, HUNNAN], 4)
    # The next start finds nothing new to announce.
    async with infra.running(make_app("intake", amqp_url=amqp, database_url=db)):
        assert len(await announcements(db)) == len(announced)


async def test_moving_a_station_announces_its_subtree_with_the_new_ancestors(amqp, databases):
    db = databases("intake")
    park, point = "210100/210112/hunnan-park", "210100/210112/hunnan-park-a"
    async with infra.running(make_app("intake", amqp_url=amqp, database_url=db)) as intake:
        for station, body in (
            (park, {"name": "浑南园区站", "level": 3, "parent_id": HUNNAN}),
            (point, {"name": "园区企业服务点", "level": 4, "parent_id": park, "has_window": False}),
        ):
            assert (await intake.put(f"/stations/{station}", json=body, headers=ADMIN)).status_code == 200
        before = len(await announcements(db))
        moved = await intake.put(
            f"/stations/{park}", json={"name": "浑南园区站", "level": 3, "parent_id": TIEXI}, headers=ADMIN
        )
        assert moved.status_code == 200, moved.text
        new = [(r["station_id"], r["payload"]) for r in (await announcements(db))[before:]]
        assert [(s, p["ancestors"]) for s, p in new] == [(park, [SHENYANG, TIEXI]), (point, [SHENYANG, TIEXI, park])]
        assert new[1][1]["causation_id"] == new[0][1]["event_id"]
        # Intake's own scope follows at once: the head of tiexi-01 now covers the service point.
        tree = await infra.fetch(db, "SELECT ancestors FROM station_tree WHERE station_id = $1", point)
        assert list(tree[0]["ancestors"]) == [SHENYANG, TIEXI, park]

        # Placing a station below its own descendant is refused and announces nothing.
        cycle = await intake.put(
            f"/stations/{park}", json={"name": "浑南园区站", "level": 3, "parent_id": point}, headers=ADMIN
        )
        assert cycle.status_code == 422, cycle.text
        assert len(await announcements(db)) == before + 2
