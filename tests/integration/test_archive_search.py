"""GET /dossiers searched on the real database: a tracking number by its start (stored or printed), the archive number,
the enterprise's name or credit code by any part, LIKE wildcards taken literally, sealing dates as China dates, always
within the caller's scope, and every search kept in the access log with what was asked."""

from datetime import UTC, datetime, time, timedelta

import pytest

from shared.calendar import CHINA
from tests.support import auth, events, infra
from tests.support import export_histories as h
from tests.support.apps import make_app, publish_event

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
    assert await found(q=robot_no[-3:]) == []
    # The archive number by any part, case ignored.
    rows = (await archive.get("/dossiers", headers=auth.HEAD)).json()
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
