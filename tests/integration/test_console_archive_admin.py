"""The console's 档案管理 pages against the running system (the five services in-process, real PostgreSQL and
RabbitMQ): 保管期限, 法律保全 on the dossier's page, 档案销毁, 档案校验 and the two 查阅日志.

Each test signs in on the development page as a person the registry offers and reads the pages as a browser would
(tests/support/console.py). The dossiers are inserted into the archive's database as the archive sealed them (the
database links each station's chain), recently or years ago (then due for disposal), so that every test makes its
own and none waits for a whole lifecycle.
"""

import re
from datetime import timedelta
from itertools import count
from uuid import UUID

import asyncpg
import httpx
import pytest

from services.archive import domain
from shared.contracts import Answers, Outcome, Rated, RatingSource, Resolved, utcnow
from tests.support import auth, events
from tests.support import console as console_support
from tests.support.archive import insert_sealed
from tests.support.console import browser, csrf_of, sign_in
from tests.support.system import System, fresh_system

pytestmark = pytest.mark.integration

CLERK = f"clerk:{events.STATION}"
HEAD = f"head:{events.STATION}"
OTHER_HEAD = f"head:{events.OTHER_STATION}"
SUPERVISOR = "supervisor:210100"
ADMIN = "admin"
ORG = "org:org-01"
YEARS_AGO = timedelta(days=8 * 366)  # past the longest retention any test sets (5 years)
_serials = count(900001)


@pytest.fixture(scope="module")
async def system():
    async with fresh_system() as system:
        await system.knows_stations("archive", events.STATION, events.OTHER_STATION)
        yield system


@pytest.fixture(scope="module")
async def console(system: System):
    async with console_support.running(system) as app:
        yield app


async def seal(system: System, station: str = events.STATION, ago: timedelta = timedelta(days=1)) -> dict:
    """A dossier of `station` sealed `ago`, inserted as the archive sealed it then (as its owner: the database numbers
    and links the chain)."""
    serial = next(_serials)
    s = events.submitted(station=station, tracking_no=f"2026-{serial % 1_000_000:06d}")
    a = events.assigned(s)
    r = a.caused(
        Resolved,
        assignment_no=1,
        outcome=Outcome.met,
        summary="已出具证书",
        resolved_by="市计量测试院",
        resolved_at=utcnow(),
    )
    rating = r.caused(Rated, answers=Answers(overall="satisfied"), source=RatingSource.online, rated_at=utcnow())
    logged = [
        domain.LoggedEvent(e.event_id, e.routing_key, e.occurred_at, e.model_dump(mode="json"))
        for e in (s, a, r, rating)
    ]
    d = domain.seal(logged, serial=serial, sealed_at=utcnow() - ago)
    await insert_sealed(system.databases["archive"], d)
    return {"demand_id": d.demand_id, "archive_no": d.archive_no, "station_id": station}


async def post(client: httpx.AsyncClient, page_path: str, action: str, **fields) -> httpx.Response:
    """Submits a form as the browser would: the CSRF token from the page the form is on."""
    page = await client.get(page_path)
    assert page.status_code == 200, page.text
    return await client.post(action, data={"csrf_token": csrf_of(page), **fields})


def field_error(page: httpx.Response, name: str) -> str:
    found = re.search(rf'<p class="field-error"[^>]*data-field="{re.escape(name)}">([^<]+)</p>', page.text)
    assert found, page.text
    return found.group(1)


def main(page: httpx.Response) -> str:
    return page.text.split("<main", 1)[1].split("</main>")[0]


# --- 保管期限 ---


async def test_a_head_sets_the_retention_and_others_only_read_their_own(system, console):
    async with browser(console) as head:
        await sign_in(head, HEAD)
        page = await head.get("/archive-retention")
        assert page.status_code == 200, page.text
        assert 'data-testid="retention-form"' in page.text and 'href="/archive-retention"' in page.text  # nav
        short = await post(head, "/archive-retention", "/archive-retention", years="2", reason="试图缩短")
        assert short.status_code == 422, short.text
        assert field_error(short, "years")
        assert "试图缩短" in short.text  # what was typed stays
        done = await post(head, "/archive-retention", "/archive-retention", years="5", reason="市局要求保存五年")
        assert done.status_code == 303 and done.headers["location"] == "/archive-retention", done.text
        page = await head.get("/archive-retention")
        assert "保管期限已设为 5 年" in page.text
        years = re.search(r'data-testid="retention-years"><strong>(\d+)</strong>', page.text)
        assert years and years.group(1) == "5"
        assert "市局要求保存五年" in page.text
    stored = await system.clients["archive"].get(f"/retention/{events.STATION}", headers=auth.HEAD)
    assert stored.json()["years"] == 5 and stored.json()["reason"] == "市局要求保存五年"

    async with browser(console) as clerk:  # reads the station's retention, sets nothing
        await sign_in(clerk, CLERK)
        page = await clerk.get("/archive-retention")
        assert page.status_code == 200 and "<strong>5</strong>" in page.text
        assert 'data-testid="retention-form"' not in page.text
        refused = await clerk.post(
            "/archive-retention", data={"csrf_token": csrf_of(page), "years": "9", "reason": "x"}
        )
        assert refused.status_code == 403
    async with browser(console) as other:  # another station's head: its own station, never Hunnan's setting
        await sign_in(other, OTHER_HEAD)
        page = await other.get(f"/archive-retention?station={events.STATION}")
        assert page.status_code == 200
        assert events.OTHER_STATION in page.text and events.STATION not in main(page)
        assert "市局要求保存五年" not in page.text and "<strong>3</strong>" in page.text
    async with browser(console) as supervisor:  # Shenyang's: its stations to choose from, Guangzhou's not found
        await sign_in(supervisor, SUPERVISOR)
        page = await supervisor.get("/archive-retention")
        assert f'value="{events.STATION}"' in page.text and events.OTHER_STATION not in page.text
        assert (await supervisor.get(f"/archive-retention?station={events.OTHER_STATION}")).status_code == 404
    async with browser(console) as admin:  # operations: any station, and may set it
        await sign_in(admin, ADMIN)
        page = await admin.get(f"/archive-retention?station={events.STATION}")
        assert page.status_code == 200 and "<strong>5</strong>" in page.text
        assert 'data-testid="retention-form"' in page.text


# --- 法律保全 ---


async def test_a_head_places_and_lifts_a_legal_hold_from_the_dossier_page(system, console):
    dossier = await seal(system)
    demand_id = dossier["demand_id"]
    path = f"/archive/{demand_id}"
    async with browser(console) as head:
        await sign_in(head, HEAD)
        page = await head.get(path)
        assert page.status_code == 200, page.text
        assert 'data-testid="hold-form"' in page.text and "本档案未设置过法律保全" in page.text

        empty = await post(head, path, f"{path}/hold", reason="")
        assert empty.status_code == 422, empty.text
        assert field_error(empty, "reason")
        held = await post(head, path, f"{path}/hold", reason="企业涉诉，暂停销毁")
        assert held.status_code == 303 and held.headers["location"] == f"{path}#holds", held.text
        page = await head.get(path)
        assert "已设置法律保全" in page.text
        assert 'data-testid="hold-row" data-active="true"' in page.text and "企业涉诉，暂停销毁" in page.text
        assert 'data-testid="release-form"' in page.text and 'data-testid="hold-form"' not in page.text
        again = await head.post(f"{path}/hold", data={"csrf_token": csrf_of(page), "reason": "再次保全"})
        assert again.status_code == 409 and "已处于保全状态" in again.text, again.text

        lifted = await post(head, path, f"{path}/hold/release", reason="诉讼已结束")
        assert lifted.status_code == 303, lifted.text
        page = await head.get(path)
        assert "已解除法律保全" in page.text and "诉讼已结束" in page.text
        assert 'data-active="true"' not in page.text and 'data-testid="hold-form"' in page.text

    async with browser(console) as clerk:  # reads the holds, may not set one
        await sign_in(clerk, CLERK)
        page = await clerk.get(path)
        assert "企业涉诉，暂停销毁" in page.text and 'data-testid="hold-form"' not in page.text
        assert (await clerk.post(f"{path}/hold", data={"csrf_token": csrf_of(page), "reason": "x"})).status_code == 403
    async with browser(console) as other:  # another city's head: no such dossier
        await sign_in(other, OTHER_HEAD)
        assert (await other.get(path)).status_code == 404
        page = await other.get("/archive")
        reply = await other.post(f"{path}/hold", data={"csrf_token": csrf_of(page), "reason": "跨站保全"})
        assert reply.status_code == 404

    d = (await system.clients["archive"].get(f"/dossiers/{demand_id}", headers=auth.HEAD)).json()
    assert not d["on_hold"]
    assert [(h["reason"], h["lift_reason"]) for h in d["holds"]] == [("企业涉诉，暂停销毁", "诉讼已结束")]


# --- 档案校验 ---


async def test_the_chain_is_verified_per_station_and_a_tampered_dossier_is_named(system, console):
    await seal(system)  # Hunnan's chain, beside Panyu's
    theirs = await seal(system, events.OTHER_STATION)
    async with browser(console) as head:
        await sign_in(head, HEAD)
        page = await head.get("/archive-chain")
        assert page.status_code == 200 and "开始校验" in page.text and 'data-testid="chain-station"' not in page.text
        page = await head.get("/archive-chain?run=1")
        assert page.status_code == 200, page.text
        stations = re.findall(r'data-testid="chain-station" data-station="([^"]+)"', page.text)
        assert stations == [events.STATION]  # its own chain only
        assert 'data-testid="chain-result">完好' in page.text and "被篡改" not in page.text
        assert "哈希链全部完好" in page.text and 'data-testid="chain-head"' in page.text

    conn = await asyncpg.connect(system.databases["archive"])  # the owner, as a tamperer could
    original = await conn.fetchval("SELECT content::text FROM dossiers WHERE demand_id = $1", theirs["demand_id"])

    async def rewrite(sql: str, *args) -> None:
        async with conn.transaction():
            await conn.execute("ALTER TABLE dossiers DISABLE TRIGGER dossiers_append_only")
            await conn.execute(sql, *args)
            await conn.execute("ALTER TABLE dossiers ENABLE TRIGGER dossiers_append_only")

    try:
        await rewrite(
            "UPDATE dossiers SET content = jsonb_set(content, '{demand,description}', '\"压力表 1 台\"') "
            "WHERE demand_id = $1",
            theirs["demand_id"],
        )
        async with browser(console) as other:
            await sign_in(other, OTHER_HEAD)
            page = await other.get("/archive-chain?run=1")
            assert 'data-testid="chain-result">被篡改' in page.text, page.text
            broken = re.search(r'data-testid="chain-broken">(.*?)</div>', page.text, re.S)
            assert broken and theirs["archive_no"] in broken.group(1), page.text
            assert f'href="/archive/{theirs["demand_id"]}"' in broken.group(1)
            assert re.findall(r'data-testid="chain-station" data-station="([^"]+)"', page.text) == [
                events.OTHER_STATION
            ]
        async with browser(console) as head:  # Hunnan's chain is not affected
            await sign_in(head, HEAD)
            page = await head.get("/archive-chain?run=1")
            assert "被篡改" not in page.text and 'data-testid="chain-result">完好' in page.text
        async with browser(console) as admin:  # operations: every station, one of them broken
            await sign_in(admin, ADMIN)
            page = await admin.get("/archive-chain?run=1")
            assert set(re.findall(r'data-testid="chain-station" data-station="([^"]+)"', page.text)) == {
                events.STATION,
                events.OTHER_STATION,
            }
            assert "其中 1 个<strong>被篡改</strong>" in page.text
            page = await admin.get(f"/archive-chain?run=1&station={events.STATION}")
            assert re.findall(r'data-station="([^"]+)"', page.text) == [events.STATION]
    finally:
        await rewrite("UPDATE dossiers SET content = $2::jsonb WHERE demand_id = $1", theirs["demand_id"], original)
        await conn.close()

    async with browser(console) as supervisor:  # Shenyang's supervisor: its area; Guangzhou's station not found
        await sign_in(supervisor, SUPERVISOR)
        page = await supervisor.get("/archive-chain?run=1")
        assert re.findall(r'data-testid="chain-station" data-station="([^"]+)"', page.text) == [events.STATION]
        assert (await supervisor.get(f"/archive-chain?run=1&station={events.OTHER_STATION}")).status_code == 404
    for person in (CLERK, ORG):
        async with browser(console) as client:
            await sign_in(client, person)
            assert (await client.get("/archive-chain?run=1")).status_code == 403, person


# --- 查阅日志 ---


async def test_the_access_logs_show_the_reads_of_the_callers_stations_only(system, console):
    own = await seal(system)
    theirs = await seal(system, events.OTHER_STATION)
    own_demand = await system.submit()
    their_demand = await system.submit(events.OTHER_STATION, headers=auth.OTHER_CLERK)
    intake = system.clients["intake"]
    assert (await intake.get(f"/demands/{own_demand}", headers=auth.CLERK)).status_code == 200
    assert (await intake.get(f"/demands/{their_demand}", headers=auth.OTHER_CLERK)).status_code == 200
    archive = system.clients["archive"]
    for _ in range(21):  # more than a page of reads of the one dossier
        reply = await archive.get(f"/dossiers/{own['demand_id']}", params={"purpose": "年度检查"}, headers=auth.CLERK)
        assert reply.status_code == 200
    async with browser(console) as other:
        await sign_in(other, OTHER_HEAD)
        assert (await other.get(f"/archive/{theirs['demand_id']}")).status_code == 200

    async with browser(console) as head:
        await sign_in(head, HEAD)
        assert (await head.get(f"/archive/{own['demand_id']}")).status_code == 200
        page = await head.get("/access-log")
        assert page.status_code == 200, page.text
        assert 'aria-current="page" data-testid="tab-archive"' in page.text
        assert f'data-action="dossier.read" data-demand="{own["demand_id"]}"' in page.text
        assert str(theirs["demand_id"]) not in page.text
        assert "张晓燕" in page.text and "年度检查" in page.text and "查阅档案" in page.text

        query = f"/access-log?tab=archive&action=dossier.read&demand_id={own['demand_id']}"
        first = await head.get(query)
        rows = re.findall(r'data-testid="log-row" data-action="([^"]+)" data-demand="([^"]+)"', first.text)
        assert len(rows) == 20 and set(rows) == {("dossier.read", str(own["demand_id"]))}
        following = re.search(r'<a href="([^"]+)" rel="next">', first.text)
        assert following, first.text
        second = await head.get(following.group(1).replace("&amp;", "&"))
        assert second.status_code == 200 and "第 2 页" in second.text
        assert re.findall(r'data-demand="([^"]+)"', second.text) and str(theirs["demand_id"]) not in second.text
        foreign = await head.get(f"/access-log?tab=archive&demand_id={theirs['demand_id']}")
        assert foreign.status_code == 200 and 'data-testid="log-row"' not in foreign.text

        bad = await head.get("/access-log?tab=archive&from=2026-13-40")
        assert bad.status_code == 422 and field_error(bad, "from")  # at the field, the log not shown
        assert 'data-testid="log-row"' not in bad.text

        page = await head.get("/access-log?tab=intake")
        assert page.status_code == 200 and 'data-testid="intake-log"' in page.text, page.text
        assert f'href="/demands/{own_demand}"' in page.text and "查阅需求（含联系人）" in page.text
        assert str(their_demand) not in page.text

    async with browser(console) as supervisor:  # Shenyang's: Hunnan's reads, not Guangzhou's
        await sign_in(supervisor, SUPERVISOR)
        page = await supervisor.get("/access-log")
        assert page.status_code == 200 and f'data-demand="{own["demand_id"]}"' in page.text
        assert str(theirs["demand_id"]) not in page.text
        page = await supervisor.get(f"/access-log?tab=intake&station_id={events.STATION}")
        assert f'href="/demands/{own_demand}"' in page.text and str(their_demand) not in page.text
        assert (await supervisor.get(f"/access-log?station_id={events.OTHER_STATION}")).status_code == 404
    for person in (CLERK, ORG, ADMIN):
        async with browser(console) as client:
            await sign_in(client, person)
            for tab in ("archive", "intake"):
                assert (await client.get(f"/access-log?tab={tab}")).status_code == 403, person


# --- 档案销毁 ---


async def test_a_head_requests_and_confirms_a_disposal_and_a_supervisor_reads_it(system, console):
    due = await seal(system, ago=YEARS_AGO)
    held = await seal(system, ago=YEARS_AGO)
    async with browser(console) as head:
        await sign_in(head, HEAD)
        reply = await post(head, f"/archive/{held['demand_id']}", f"/archive/{held['demand_id']}/hold", reason="涉诉")
        assert reply.status_code == 303, reply.text

        page = await head.get("/archive-disposals")
        assert page.status_code == 200 and 'data-testid="disposal-form"' in page.text
        empty = await post(head, "/archive-disposals", "/archive-disposals", reason="")
        assert empty.status_code == 422 and field_error(empty, "reason")
        made = await post(head, "/archive-disposals", "/archive-disposals", reason="已过保管期限，按规定销毁")
        assert made.status_code == 303, made.text
        detail_path = made.headers["location"]
        disposal_id = UUID(detail_path.removeprefix("/archive-disposals/"))
        page = await head.get(detail_path)
        assert "已生成销毁申请，列出 1 份" in page.text
        items = re.findall(r'data-testid="items-row" data-demand="([^"]+)"', page.text)
        assert items == [str(due["demand_id"])]  # the held one is kept out
        assert 'data-testid="confirm-form"' in page.text and "待站长确认" in page.text

        unticked = await post(head, detail_path, f"{detail_path}/confirmation")
        assert unticked.status_code == 422 and field_error(unticked, "confirm")
        confirmed = await post(head, detail_path, f"{detail_path}/confirmation", confirm="yes")
        assert confirmed.status_code == 303 and confirmed.headers["location"] == detail_path, confirmed.text
        page = await head.get(detail_path)
        assert "已销毁 1 份档案" in page.text and 'data-testid="confirm-form"' not in page.text
        assert re.findall(r'data-testid="records-row" data-demand="([^"]+)"', page.text) == [str(due["demand_id"])]
        dossier = await head.get(f"/archive/{due['demand_id']}")
        assert "已销毁" in dossier.text and 'data-testid="hold-form"' not in dossier.text
        listing = await head.get("/archive-disposals")
        assert f'data-disposal="{disposal_id}"' in listing.text and "已确认销毁" in listing.text

    held_now = (await system.clients["archive"].get(f"/dossiers/{held['demand_id']}", headers=auth.HEAD)).json()
    assert held_now["disposed_at"] is None and held_now["on_hold"]

    async with browser(console) as supervisor:  # reads the request and its record, confirms nothing
        await sign_in(supervisor, SUPERVISOR)
        listing = await supervisor.get("/archive-disposals")
        assert f'data-disposal="{disposal_id}"' in listing.text and 'data-testid="disposal-form"' not in listing.text
        page = await supervisor.get(detail_path)
        assert page.status_code == 200 and 'data-testid="records-row"' in page.text
    async with browser(console) as other:  # another city's head: no such request
        await sign_in(other, OTHER_HEAD)
        assert (await other.get(detail_path)).status_code == 404
        listing = await other.get("/archive-disposals")
        assert listing.status_code == 200, listing.text
        assert 'data-testid="disposals"' in listing.text or 'data-testid="no-disposals"' in listing.text  # the list
        assert f'data-disposal="{disposal_id}"' not in listing.text
    async with browser(console) as clerk:
        await sign_in(clerk, CLERK)
        assert (await clerk.get("/archive-disposals")).status_code == 403
        assert (await clerk.get(detail_path)).status_code == 403
        page = await clerk.get("/archive")
        reply = await clerk.post("/archive-disposals", data={"csrf_token": csrf_of(page), "reason": "x"})
        assert reply.status_code == 403
