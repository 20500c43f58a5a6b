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
import uuid
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import pytest

from shared.db import ensure_database, migrate
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


# qs_covers as shared migration 0003 defined it (one SQL function with an EXISTS), the answer the inlined one keeps.
_COVERED_BEFORE = """
SELECT $1::text = '*' OR ($1::text <> '' AND ($2::text = $1::text OR starts_with($2::text, $1::text || '/')
    OR EXISTS (SELECT 1 FROM station_tree t, unnest(t.ancestors) AS a
               WHERE t.station_id = $2::text AND (a = $1::text OR starts_with(a, $1::text || '/')))))
"""
YUHONG = "210100/210114/hunnan-yuhong"  # registered under hunnan-01, its id in another district
UNREGISTERED = "210100/210112/hunnan-02"  # its StationRegistered has not arrived
PANYU = "440100/440113/panyu-01"
_TREE = [
    (SHENYANG, 1, None, []),
    (HUNNAN, 3, SHENYANG, [SHENYANG]),
    (XINSONG, 4, HUNNAN, [SHENYANG, HUNNAN]),
    (YUHONG, 4, HUNNAN, [SHENYANG, HUNNAN]),
    (TIEXI, 3, SHENYANG, [SHENYANG]),
]
STATIONS = [SHENYANG, HUNNAN, XINSONG, YUHONG, TIEXI, UNREGISTERED, PANYU, "210100/210112", "2101"]
SCOPES = ["*", "", "210100", "210100/210112", "210100/2101", "210100/210114", HUNNAN, XINSONG, TIEXI, UNREGISTERED]
SCOPES += ["440100", SHENYANG, "210100/210112/hunnan", "nowhere"]
# A listed table as the services' are (shared migration 0006_station_lists), and a page of it the way their stores
# read one: walk the stations the scope covers, each down its own index, and merge.
_LISTED_TABLE = """
CREATE TABLE cases (demand_id uuid PRIMARY KEY, station_id text NOT NULL, submitted_at timestamptz NOT NULL);
CREATE INDEX cases_by_station ON cases (station_id, submitted_at DESC);
CREATE TRIGGER cases_listed_station AFTER INSERT ON cases FOR EACH ROW EXECUTE FUNCTION qs_list_station();
"""
_PAGE = """
SELECT demand_id
FROM (SELECT station_id AS listed FROM listed_stations WHERE qs_covers($1, station_id)) covered
CROSS JOIN LATERAL (
    SELECT demand_id, submitted_at FROM cases WHERE station_id = covered.listed AND qs_covers($1, station_id)
    ORDER BY submitted_at DESC LIMIT $2::bigint + $3::bigint) station_page
ORDER BY submitted_at DESC LIMIT $2 OFFSET $3
"""
_EVERY_ROW_BEFORE = f"""
SELECT demand_id FROM cases WHERE ({_COVERED_BEFORE.replace("$2::text", "station_id")})
ORDER BY submitted_at DESC
"""


async def test_scope_is_answered_as_before_and_a_page_walks_exactly_the_covered_stations(databases, tmp_path):
    """qs_covers, now inlined with the tree asked last, answers every scope as before (the tree's stations and
    others, prefixes, '*' and ''), and a page that walks listed_stations shows, under row-level security, exactly the
    rows the old predicate let through, in order, whatever page: a station missing from the tree included."""
    db = databases("tracking")
    (tmp_path / "0001_cases.sql").write_text(_LISTED_TABLE)
    await ensure_database(db)
    await migrate(db, "lists-test", tmp_path, app_role="qs_lists_test_app")
    conn = await asyncpg.connect(db)
    try:
        await conn.executemany(
            "INSERT INTO station_tree (station_id, name, level, parent_id, ancestors) VALUES ($1, $1, $2, $3, $4)",
            _TREE,
        )
        for scope in SCOPES:
            for station in STATIONS:
                before = await conn.fetchval(_COVERED_BEFORE, scope, station)
                assert await conn.fetchval("SELECT qs_covers($1, $2)", scope, station) is before, (scope, station)

        # 7 rows a station, interleaved in time; the trigger lists each station (the owner sees all: scope '*').
        start = datetime(2026, 1, 1, tzinfo=UTC)
        rows = [
            (uuid.uuid4(), s, start + timedelta(minutes=10 * i + n)) for n, s in enumerate(STATIONS) for i in range(7)
        ]
        async with conn.transaction():
            await conn.execute("SELECT set_config('qs.scope', '*', true)")
            await conn.executemany("INSERT INTO cases VALUES ($1, $2, $3)", rows)
        listed = await conn.fetch("SELECT station_id FROM listed_stations WHERE qs_covers('*', station_id)")
        assert sorted(r["station_id"] for r in listed) == sorted(STATIONS)

        await conn.execute("SET ROLE qs_lists_test_app")
        for scope in SCOPES:
            await conn.execute("SELECT set_config('qs.scope', $1, false)", scope)
            everything = [r["demand_id"] for r in await conn.fetch(_EVERY_ROW_BEFORE, scope)]
            for limit, offset in ((5, 0), (5, 5), (10, 3), (100, 0), (4, max(0, len(everything) - 2))):
                page = [r["demand_id"] for r in await conn.fetch(_PAGE, scope, limit, offset)]
                assert page == everything[offset : offset + limit], (scope, limit, offset)
        await conn.execute("SELECT set_config('qs.scope', $1, false)", HUNNAN)
        heads = {r["demand_id"] for r in await conn.fetch(_PAGE, HUNNAN, 100, 0)}
        assert heads == {d for d, s, _ in rows if s in (HUNNAN, XINSONG, YUHONG)}
        await conn.execute("SELECT set_config('qs.scope', $1, false)", "210100/210112")
        district = {r["demand_id"] for r in await conn.fetch(_PAGE, "210100/210112", 100, 0)}
        assert district == {d for d, s, _ in rows if s in (HUNNAN, XINSONG, YUHONG, UNREGISTERED, "210100/210112")}
    finally:
        await conn.close()
