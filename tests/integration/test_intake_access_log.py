"""Intake's access log: every read of an enterprise's data (its dossier 一企一册, a search, a visit) or of a demand's
contact (the demand, a list of demands, the acceptance notice as a page or a PDF, a ledger export) is a line written
with the read (who, when, what, why); a head reviews the station's lines, a supervisor the subtree's; the table
refuses UPDATE and DELETE."""

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


async def _demand(intake, headers=auth.CLERK, station: str = events.STATION) -> str:
    reply = await intake.post("/demands", json=events.demand_form(station), headers=headers)
    assert reply.status_code == 201, reply.text
    return reply.json()["demand_id"]


def _of(lines: list[dict], purpose: str) -> list[dict]:
    return [r for r in lines if r["purpose"] == purpose]


async def test_a_list_of_demands_names_every_demand_it_showed(intake):
    first, second = await _demand(intake), await _demand(intake)
    panyu = await _demand(intake, auth.OTHER_CLERK, events.OTHER_STATION)
    shown = (await intake.get("/demands", headers=auth.SUPERVISOR)).json()
    assert {d["demand_id"] for d in shown} == {first, second} and shown[0]["contact_phone"]
    [line] = _of(await log(intake, auth.HEAD), "demand.list")
    assert (line["kind"], line["role"], line["station_id"], line["ref"], set(line["refs"])) == (
        "demand",
        "supervisor",
        events.STATION,
        None,
        {first, second},
    )
    # One station of the scope: its demands; nothing shown is one line for the station asked.
    assert (await intake.get("/demands", params={"station_id": TIEXI}, headers=auth.SUPERVISOR)).json() == []
    [tiexi] = _of(await log(intake, TIEXI_HEAD), "demand.list")
    assert (tiexi["station_id"], tiexi["refs"], tiexi["subject_name"]) == (TIEXI, [], "沈阳市市场监管局")
    # A station outside the scope is not found and was not read; Guangzhou's demands were never shown in Shenyang.
    outside = await intake.get("/demands", params={"station_id": events.OTHER_STATION}, headers=auth.HEAD)
    assert outside.status_code == 404
    assert _of(await log(intake, auth.OTHER_HEAD), "demand.list") == []
    assert len(_of(await log(intake, auth.SUPERVISOR), "demand.list")) == 2
    # Its own station's head lists it: a line in Guangzhou only.
    assert [d["demand_id"] for d in (await intake.get("/demands", headers=auth.OTHER_HEAD)).json()] == [panyu]
    [own] = _of(await log(intake, auth.OTHER_HEAD), "demand.list")
    assert (own["ref"], own["refs"], own["subject_name"]) == (panyu, [panyu], "梁站长")


async def test_the_notice_as_a_page_and_as_a_pdf_is_a_read_of_the_demand(intake):
    demand_id = await _demand(intake)
    page = await intake.get(f"/demands/{demand_id}/notice", headers=auth.CLERK)
    assert page.status_code == 200 and "王建国" in page.text
    pdf = await intake.get(f"/demands/{demand_id}/notice.pdf", headers=auth.HEAD)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert (await intake.get(f"/demands/{demand_id}/notice.pdf", headers=auth.OTHER_HEAD)).status_code == 404
    lines = _of(await log(intake, auth.SUPERVISOR), "notice.read")
    assert [(r["subject_name"], r["kind"], r["ref"], r["refs"], r["station_id"]) for r in lines] == [
        ("周站长", "demand", demand_id, [demand_id], events.STATION),  # newest first
        ("张晓燕", "demand", demand_id, [demand_id], events.STATION),
    ]
    assert _of(await log(intake, auth.OTHER_HEAD), "notice.read") == []


async def test_a_ledger_export_is_one_line_per_station_naming_every_demand_in_it(intake):
    mine = {await _demand(intake), await _demand(intake)}
    await _demand(intake, auth.OTHER_CLERK, events.OTHER_STATION)
    csv = await intake.get("/ledger.csv", headers=auth.HEAD)
    assert csv.status_code == 200 and csv.text.count("王建国") == 2
    xlsx = await intake.get("/ledger.xlsx", params={"station_id": events.STATION}, headers=auth.SUPERVISOR)
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")
    lines = _of(await log(intake, auth.HEAD), "ledger.export")
    assert [(r["subject_name"], r["kind"], r["ref"], set(r["refs"])) for r in lines] == [
        ("沈阳市市场监管局", "demand", None, mine),
        ("周站长", "demand", None, mine),
    ]
    # An export is not also a list, and Guangzhou's head finds no export of its demands.
    assert _of(await log(intake, auth.HEAD), "demand.list") == []
    assert _of(await log(intake, auth.OTHER_HEAD), "ledger.export") == []


async def test_a_visit_read_or_listed_is_a_read_of_the_enterprise_it_names(intake):
    today = china_today(datetime.now(UTC)).isoformat()
    visited = {}
    for code, name, caller in (
        (HUNNAN, "沈阳新松精密机械有限公司", auth.CLERK),
        (TIEXI_CODE, "铁西重工有限公司", TIEXI_CLERK),
    ):
        body = {
            "credit_code": code,
            "enterprise_name": name,
            "staff": ["走访人"],
            "visited_on": today,
            "findings": "需计量",
        }
        reply = await intake.post("/visits", json=body, headers=caller)
        assert reply.status_code == 201, reply.text
        visited[code] = reply.json()["visit_id"]
    assert _of(await log(intake, auth.SUPERVISOR), "visit.list") == []  # recording is no read

    assert len((await intake.get("/visits", headers=auth.SUPERVISOR)).json()) == 2
    lines = _of(await log(intake, auth.SUPERVISOR), "visit.list")
    assert sorted((r["station_id"], r["kind"], r["ref"], r["refs"]) for r in lines) == [
        (TIEXI, "enterprise", TIEXI_CODE, [TIEXI_CODE]),
        (events.STATION, "enterprise", HUNNAN, [HUNNAN]),
    ]
    assert (await intake.get(f"/visits/{visited[HUNNAN]}", headers=auth.HEAD)).status_code == 200
    assert (await intake.get(f"/visits/{visited[HUNNAN]}", headers=TIEXI_HEAD)).status_code == 404
    [read] = _of(await log(intake, auth.HEAD), "visit.read")
    assert (read["subject_name"], read["kind"], read["ref"], read["station_id"]) == (
        "周站长",
        "enterprise",
        HUNNAN,
        events.STATION,
    )
    # Tiexi's head sees the supervisor's list of its visit, not Hunnan's read nor the refused one.
    assert [(r["purpose"], r["ref"]) for r in await log(intake, TIEXI_HEAD)] == [("visit.list", TIEXI_CODE)]
