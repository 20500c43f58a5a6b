"""GET /dossiers searched on the real database: a tracking number by its start (stored or printed) or, for digits
only, by the end of its serial; the archive number, the enterprise's name or credit code by any part; LIKE wildcards
taken literally, sealing dates as China dates, always within the caller's scope, and every search kept in the access
log with what was asked. Each row names the enterprise as sealed, and nothing once the dossier is disposed of."""

from datetime import UTC, datetime, time, timedelta

import pytest

from services.archive import domain
from shared.calendar import CHINA
from tests.support import auth, events, infra
from tests.support import export_histories as h
from tests.support.apps import make_app, publish_event
from tests.support.archive import insert_sealed

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ROBOT = h.firm("沈阳新松精密机械有限公司", "91210112MA0U00005")
GEARS = h.firm("沈阳精工齿轮有限公司", "91210112MA0U00006")
PANYU_ROBOT = h.firm("广州新松机器人有限公司", "91440113MA0U00009")


@pytest.fixture
async def archive(amqp, databases):
    db = databases("archive")
    app = make_app("archive", amqp_url=amqp, database_url=db)
    async with infra.running(app) as client:
        client.db, client.amqp = db, amqp
        yield client


async def seal_all(client, histories: list[list]) -> None:
    for history in histories:
        for event in history:
            await publish_event(client.amqp, event)
    ids = [history[0].demand_id for history in histories]

    async def sealed():
        rows = await infra.fetch(client.db, "SELECT 1 FROM dossiers WHERE demand_id = ANY($1::uuid[])", ids)
        return len(rows) == len(ids)

    await infra.eventually(sealed, timeout=60, what=f"{len(ids)} dossiers sealed")


async def test_the_catalogue_is_searched_in_the_callers_scope_and_every_search_is_logged(archive):
    today = datetime.now(UTC).astimezone(CHINA).date()
    at = datetime.combine(today - timedelta(days=10), time(10), CHINA)
    robot = h.rated_history(ROBOT, at, serial=137)
    gears = h.rated_history(GEARS, at + timedelta(hours=1), serial=245)
    panyu = h.rated_history(PANYU_ROBOT, at, station=events.OTHER_STATION, serial=137)
    await seal_all(archive, [robot, gears, panyu])
    robot_no = robot[0].tracking_no  # e.g. 2026-000137

    async def found(headers=auth.HEAD, **params) -> list[str]:
        reply = await archive.get("/dossiers", params=params, headers=headers)
        assert reply.status_code == 200, reply.text
        return sorted(d["tracking_no"] for d in reply.json())

    gears_no = gears[0].tracking_no
    assert await found() == sorted([robot_no, gears_no])
    # A tracking number by its start, as stored or as printed with the station's code; not by a middle part.
    assert await found(q=robot_no[:10]) == [robot_no]  # 2026-00013…
    assert await found(q=f"HUNNAN-01-{robot_no[:8]}") == sorted([robot_no, gears_no])
    assert await found(q="013") == []  # inside 000137, neither its start nor its end
    # Digits only: also the end of the serial, as staff type it off a form (Panyu's 000137 is not Hunnan's to see).
    assert await found(q="000137") == await found(q="137") == await found(q="37") == [robot_no]
    assert await found(q="245") == [gears_no]
    assert await found(headers=auth.OTHER_HEAD, q="137") == [panyu[0].tracking_no]
    assert await found(q=f"-{robot_no[-6:]}") == []  # not digits only: by its start, as before
    assert await found(q="13_") == [] and await found(q="1%7") == []  # not digits: no wildcard either
    # The archive number by any part, case ignored.
    rows = (await archive.get("/dossiers", headers=auth.HEAD)).json()
    # Each row names the enterprise as the demand sealed it.
    assert {(d["tracking_no"], d["enterprise_name"], d["credit_code"]) for d in rows} == {
        (robot_no, ROBOT.name, ROBOT.credit_code),
        (gears_no, GEARS.name, GEARS.credit_code),
    }
    archive_no = next(d["archive_no"] for d in rows if d["tracking_no"] == gears_no)
    assert await found(q=archive_no.lower()) == [gears_no]
    # The enterprise's name or credit code (as sealed with the demand) by any part.
    assert await found(q="新松") == [robot_no]  # Panyu's 新松 is not Hunnan's to see
    assert await found(headers=auth.OTHER_HEAD, q="新松") == [panyu[0].tracking_no]
    assert await found(headers=auth.SUPERVISOR, q="新松") == [robot_no]  # Shenyang's subtree only
    assert await found(q=GEARS.credit_code[-6:].lower()) == [gears_no]
    # LIKE's wildcards are literal characters here.
    assert await found(q="%") == [] and await found(q="_") == []
    # Sealing dates are China dates, both ends included.
    assert await found(sealed_from=str(today - timedelta(days=1)), sealed_to=str(today + timedelta(days=1))) == sorted(
        [robot_no, gears_no]
    )
    assert await found(sealed_to=str(today - timedelta(days=1))) == []
    assert await found(q="新松", sealed_from=str(today - timedelta(days=1))) == [robot_no]

    # Bad input is refused naming the field, and changes nothing.
    for params, field in (
        ({"q": "x" * 101}, "q"),
        ({"q": "新松\u200b"}, "q"),
        ({"sealed_from": str(today), "sealed_to": str(today - timedelta(days=1))}, "sealed_to"),
        ({"sealed_from": "0001-01-01"}, "sealed_from"),
        ({"sealed_to": "9999-12-31"}, "sealed_to"),
    ):
        reply = await archive.get("/dossiers", params=params, headers=auth.HEAD)
        assert reply.status_code == 422, (params, reply.text)
        assert reply.json()["errors"][0]["field"] == field, reply.json()

    # Every search is in the access log with what was asked, one line per station shown.
    log = (await archive.get("/access-log", params={"action": "dossier.list"}, headers=auth.HEAD)).json()
    searched = [line for line in log if (line["detail"] or {}).get("q") == "新松"]
    assert searched and all(line["station_id"] == events.STATION for line in searched)
    named = [line for line in searched if line["demand_ids"] == [str(robot[0].demand_id)]]
    assert named and named[0]["what"] == "档案检索（1 份）"
    dated = [line for line in log if (line["detail"] or {}).get("sealed_to") == str(today - timedelta(days=1))]
    assert dated and dated[0]["what"] == "档案检索（0 份）"
    tail = [line for line in log if (line["detail"] or {}).get("q") == "137"]
    assert tail and tail[0]["demand_ids"] == [str(robot[0].demand_id)] and tail[0]["what"] == "档案检索（1 份）"


async def test_a_disposed_dossier_is_listed_by_its_numbers_only(archive):
    """Disposal removes the content: the list then names no enterprise, and a search by its name finds nothing, while
    its tracking number (by its start or its serial's end) and archive number still find it."""
    today = datetime.now(UTC).astimezone(CHINA).date()
    kept = h.rated_history(GEARS, datetime.combine(today - timedelta(days=3), time(10), CHINA), serial=245)
    await seal_all(archive, [kept])
    old = await seal_long_ago(archive.db, ROBOT, serial=88)
    rows = {d["demand_id"]: d for d in (await archive.get("/dossiers", headers=auth.HEAD)).json()}
    assert (rows[str(old.demand_id)]["enterprise_name"], rows[str(old.demand_id)]["credit_code"]) == (
        ROBOT.name,
        ROBOT.credit_code,
    )

    request = await archive.post("/disposals", json={"reason": "已过保管期限"}, headers=auth.HEAD)
    assert request.status_code == 201, request.text
    assert [i["demand_id"] for i in request.json()["items"]] == [str(old.demand_id)]
    confirmed = await archive.post(
        f"/disposals/{request.json()['disposal_id']}/confirmation", json={"confirm": True}, headers=auth.HEAD
    )
    assert confirmed.status_code == 200, confirmed.text

    rows = {d["demand_id"]: d for d in (await archive.get("/dossiers", headers=auth.HEAD)).json()}
    disposed = rows[str(old.demand_id)]
    assert disposed["disposed_at"] is not None
    assert (disposed["enterprise_name"], disposed["credit_code"]) == (None, None)
    assert (rows[str(kept[0].demand_id)]["enterprise_name"], rows[str(kept[0].demand_id)]["credit_code"]) == (
        GEARS.name,
        GEARS.credit_code,
    )
    one = (await archive.get(f"/dossiers/{old.demand_id}", headers=auth.HEAD)).json()
    assert one["content"] is None and one["enterprise_name"] is None and one["credit_code"] is None

    async def found(q: str) -> list[str]:
        reply = await archive.get("/dossiers", params={"q": q}, headers=auth.HEAD)
        assert reply.status_code == 200, reply.text
        return [d["demand_id"] for d in reply.json()]

    assert await found("新松") == [] and await found(ROBOT.credit_code) == []
    assert await found(old.tracking_no) == await found("88") == await found(old.archive_no) == [str(old.demand_id)]


async def seal_long_ago(db: str, firm: h.Firm, *, serial: int) -> domain.Dossier:
    """A dossier sealed eight years ago (past any retention), inserted as the archive sealed it then (as the owner:
    the database links it into the station's chain)."""
    at = datetime.now(UTC) - timedelta(days=8 * 366)
    logged = [
        domain.LoggedEvent(e.event_id, e.routing_key, e.occurred_at, e.model_dump(mode="json"))
        for e in h.rated_history(firm, at.astimezone(CHINA), serial=serial)
    ]
    d = domain.seal(logged, serial=1, sealed_at=at + timedelta(days=2))  # A20xx-000001: that year's first
    await insert_sealed(db, d)
    return d
