"""Intake's access log: every read of an enterprise's dossier (一企一册) or a demand's contact is a line written with
the read (who, when, what, why); a head reviews the station's lines, a supervisor the subtree's; the table refuses
UPDATE and DELETE."""

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from shared.calendar import china_today
from tests.support import auth, events, infra
from tests.support.apps import make_app

pytestmark = pytest.mark.integration

TIEXI = "210100/210106/tiexi-01"  # another station of the same city
TIEXI_CLERK = auth.bearer("clerk", TIEXI, name="铁西窗口")
TIEXI_HEAD = auth.bearer("head", TIEXI, name="铁西站长")
HUNNAN = events.credit_code("91210112MA0U00005")
TIEXI_CODE = events.credit_code("91210106MA0U00003")
PANYU_CODE = events.credit_code("91440113MA0U00007")


@pytest.fixture
async def intake(amqp, databases):
    db = databases("intake")
    app = make_app("intake", amqp_url=amqp, database_url=db, public_rate_limit="1000/minute")
    async with infra.running(app) as client:
        client.db = db
        for code, name, caller in (
            (HUNNAN, "沈阳新松精密机械有限公司", auth.CLERK),
            (TIEXI_CODE, "铁西重工有限公司", TIEXI_CLERK),
            (PANYU_CODE, "番禺电子有限公司", auth.OTHER_CLERK),
        ):
            dossier = {"name": name, "contacts": [{"name": "王经理", "phone": "13800138000"}]}
            assert (await client.put(f"/enterprises/{code}", json=dossier, headers=caller)).status_code == 200
        yield client


async def log(intake, headers, **params) -> list[dict]:
    reply = await intake.get("/access-log", params=params, headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


async def test_a_dossier_read_is_logged_for_its_station_and_the_supervisor_above_it(intake):
    assert (await intake.get(f"/enterprises/{HUNNAN}", headers=auth.CLERK)).status_code == 200
    assert (await intake.get(f"/enterprises/{TIEXI_CODE}", headers=TIEXI_CLERK)).status_code == 200
    assert (await intake.get(f"/enterprises/{PANYU_CODE}", headers=auth.OTHER_CLERK)).status_code == 200
    today = china_today(datetime.now(UTC)).isoformat()

    [line] = await log(intake, auth.HEAD, **{"from": today, "to": today})
    assert (line["subject_name"], line["role"], line["purpose"], line["kind"], line["ref"], line["refs"]) == (
        "张晓燕",
        "clerk",
        "enterprise.read",
        "enterprise",
        HUNNAN,
        [HUNNAN],
    )
    assert line["station_id"] == events.STATION and line["subject"]
    # Another station's head sees only their own station's reads; the city's supervisor sees both of its stations.
    assert [r["ref"] for r in await log(intake, TIEXI_HEAD)] == [TIEXI_CODE]
    assert [r["ref"] for r in await log(intake, auth.OTHER_HEAD)] == [PANYU_CODE]
    assert {r["ref"] for r in await log(intake, auth.SUPERVISOR)} == {HUNNAN, TIEXI_CODE}
    assert [r["ref"] for r in await log(intake, auth.SUPERVISOR, station_id=TIEXI)] == [TIEXI_CODE]
    assert {r["ref"] for r in await log(intake, auth.OTHER_SUPERVISOR)} == {PANYU_CODE}
    # Outside the period, nothing; a station outside the scope is as unknown as any other (404).
    tomorrow = (china_today(datetime.now(UTC)) + timedelta(days=1)).isoformat()
    assert await log(intake, auth.HEAD, **{"from": tomorrow}) == []
    named = await intake.get("/access-log", params={"station_id": TIEXI}, headers=auth.HEAD)
    assert named.status_code == 404
    backwards = await intake.get("/access-log", params={"from": tomorrow, "to": today}, headers=auth.HEAD)
    assert backwards.status_code == 422 and "to" in backwards.text
    # A dossier not found was not read: no line.
    missing = events.credit_code("91210112MA0U00013")
    assert (await intake.get(f"/enterprises/{missing}", headers=auth.CLERK)).status_code == 404
    assert len(await log(intake, auth.HEAD)) == 1


async def test_a_search_is_one_line_per_station_it_showed(intake):
    assert (await intake.get("/enterprises", headers=auth.SUPERVISOR)).status_code == 200
    assert (await intake.get("/enterprises", params={"q": "不存在"}, headers=auth.HEAD)).status_code == 200
    [hunnan_search, empty] = sorted(await log(intake, auth.HEAD), key=lambda r: r["refs"] == [])
    assert (hunnan_search["purpose"], hunnan_search["role"], hunnan_search["refs"]) == (
        "enterprise.list",
        "supervisor",
        [HUNNAN],
    )
    assert (empty["purpose"], empty["subject_name"], empty["refs"], empty["ref"]) == (
        "enterprise.list",
        "周站长",
        [],
        None,
    )
    [tiexi_search] = await log(intake, TIEXI_HEAD)
    assert tiexi_search["refs"] == [TIEXI_CODE]
    assert await log(intake, auth.OTHER_HEAD) == []  # the supervisor's search never reached Guangzhou's dossiers


async def test_a_demand_read_names_its_contact_and_is_logged(intake):
    submitted = await intake.post("/demands", json=events.demand_form(), headers=auth.CLERK)
    demand_id = submitted.json()["demand_id"]
    assert (await intake.get(f"/demands/{demand_id}", headers=auth.HEAD)).json()["contact_phone"]
    assert (await intake.get(f"/demands/{demand_id}", headers=auth.OTHER_HEAD)).status_code == 404
    [line] = [r for r in await log(intake, auth.SUPERVISOR) if r["kind"] == "demand"]
    assert (line["purpose"], line["ref"], line["subject_name"], line["station_id"]) == (
        "demand.read",
        demand_id,
        "周站长",
        events.STATION,
    )
    assert [r for r in await log(intake, auth.OTHER_HEAD) if r["kind"] == "demand"] == []


async def test_the_log_refuses_update_and_delete(intake):
    assert (await intake.get(f"/enterprises/{HUNNAN}", headers=auth.HEAD)).status_code == 200
    for sql in ("UPDATE access_log SET subject = 'nobody'", "DELETE FROM access_log"):
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await infra.fetch(intake.db, sql)
    assert [r["subject_name"] for r in await log(intake, auth.HEAD)] == ["周站长"]
