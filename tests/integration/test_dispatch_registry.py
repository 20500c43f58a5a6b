"""The service-organization registry (服务机构库) through dispatch's HTTP API, on the real database and broker.

`running_system` has admitted org-01 (市计量测试院, all of Shenyang) and org-02 (另一检测机构, Guangzhou).
"""

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.dispatch.organizations.usecases import check_assignable, record_rating, record_resolution
from shared.calendar import CHINA, china_today
from shared.contracts import Answers, Outcome, Overall, Rated, RatingSource, Resolved
from shared.contracts.envelope import Cause
from shared.errors import DomainError, Invalid
from tests.support import auth, events, infra
from tests.support.system import System, organization, running_system

pytestmark = pytest.mark.integration

HUNNAN = events.STATION
TIEXI = "210100/210106/tiexi-01"
TIEXI_CLERK = auth.bearer("clerk", TIEXI, name="铁西窗口")
DISTRICT = auth.bearer("supervisor", "210100/210112", name="浑南区市场监管局")


def today() -> date:
    return china_today(datetime.now(UTC))


def code(n: int) -> str:
    """A distinct credit code (without its check character) per test organization."""
    return f"12210100MB{n:07d}"


def with_dates(body: dict, qualifications: list[date], agreement_until: date) -> dict:
    """The entry with one qualification (Q-0, Q-1, …) valid until each day, and its agreement until another."""
    template = body["qualifications"][0]
    quals = [
        template | {"certificate_no": f"Q-{i}", "valid_until": d.isoformat()} for i, d in enumerate(qualifications)
    ]
    return body | {
        "qualifications": quals,
        "agreement": body["agreement"] | {"valid_until": agreement_until.isoformat()},
    }


@pytest.fixture
async def system(amqp, databases):
    async with running_system(amqp, databases) as system:
        yield system


async def admit(system: System, org_id: str, body: dict, headers=auth.ADMIN) -> dict:
    reply = await system.clients["dispatch"].put(f"/organizations/{org_id}", json=body, headers=headers)
    assert reply.status_code in (200, 201), reply.text
    return reply.json()


async def set_status(system: System, org_id: str, headers=auth.ADMIN, **body) -> httpx.Response:
    return await system.clients["dispatch"].put(f"/organizations/{org_id}/status", json=body, headers=headers)


async def ids(system: System, path: str, headers: dict) -> set[str]:
    reply = await system.clients["dispatch"].get(path, headers=headers)
    assert reply.status_code == 200, (path, reply.text)
    return {o["org_id"] for o in reply.json()}


# --- admission, edits, status, audit ---------------------------------------------------------------------


async def test_admission_edits_and_status_changes_are_audited(system):
    d = system.clients["dispatch"]
    url = "/organizations/org-hn-ip"
    entry = organization("浑南知识产权服务中心", code(101), [HUNNAN], categories=["ip"])

    created = await d.put(url, json=entry, headers=auth.HEAD)  # a station keeps its own organizations
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "admitted" and created.json()["credit_code"].startswith(code(101))
    again = await d.put(url, json=entry, headers=auth.HEAD)
    assert again.status_code == 200 and again.json() == created.json()  # the same body twice: one state

    edited = await d.put(url, json=entry | {"name": "浑南知识产权维权援助中心"}, headers=auth.SUPERVISOR)
    assert edited.status_code == 200 and edited.json()["name"] == "浑南知识产权维权援助中心"

    until = (today() + timedelta(days=14)).isoformat()
    suspended = await set_status(system, "org-hn-ip", status="suspended", reason="投诉核查中", until=until)
    assert suspended.status_code == 200, suspended.text
    assert (suspended.json()["status"], suspended.json()["suspended_until"]) == ("suspended", until)
    assert (await set_status(system, "org-hn-ip", status="suspended", reason="投诉核查中", until=until)).is_success
    reinstated = await set_status(system, "org-hn-ip", auth.HEAD, status="admitted", reason="核查无问题")
    assert reinstated.status_code == 200 and reinstated.json()["suspended_until"] is None
    exited = await set_status(system, "org-hn-ip", status="exited", reason="协议到期不再续签")
    assert exited.status_code == 200 and exited.json()["status"] == "exited"

    # 退出 is final: no status change, no edit.
    final = await set_status(system, "org-hn-ip", status="admitted", reason="重新准入")
    assert final.status_code == 409 and "已退出" in final.json()["message"]
    assert (await d.put(url, json=entry, headers=auth.ADMIN)).status_code == 409

    history = await d.get(url + "/history", headers=auth.CLERK)
    assert history.status_code == 200, history.text
    rows = history.json()
    assert [r["action"] for r in rows] == ["admitted", "edited", "suspended", "reinstated", "exited"]
    assert (rows[0]["actor_role"], rows[0]["actor_name"], rows[0]["before"]) == ("head", "周站长", None)
    assert (
        rows[1]["before"]["name"] == "浑南知识产权服务中心" and rows[1]["after"]["name"] == "浑南知识产权维权援助中心"
    )
    assert rows[2]["reason"] == "投诉核查中" and rows[2]["after"]["suspended_until"] == until
    assert rows[3]["actor_role"] == "head" and rows[4]["reason"] == "协议到期不再续签"

    # The database keeps the audit itself: a row cannot be altered or removed.
    conn = await asyncpg.connect(system.databases["dispatch"])
    try:
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute("UPDATE organization_audit SET reason = 'x'")
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute("DELETE FROM organization_audit")
    finally:
        await conn.close()


async def test_bad_entries_are_refused_with_the_field_and_change_nothing(system):
    d = system.clients["dispatch"]
    good = organization("沈阳特种设备检测研究院", code(102), ["210100"], categories=["special_equipment"])
    wrong = "0" if good["credit_code"][-1] != "0" else "1"
    bad_code = good | {"credit_code": good["credit_code"][:-1] + wrong}
    cases = [
        ("credit_code", bad_code),
        ("categories.0", good | {"categories": ["metrolgy"]}),
        ("items.0", good | {"items": ["metrology.calibration"]}),
        ("areas.0", good | {"areas": ["shenyang"]}),
        ("qualifications", good | {"qualifications": []}),
        ("contacts.0.phone", good | {"contacts": [{"name": "李工", "phone": "12345"}]}),
    ]
    for field, body in cases:
        reply = await d.put("/organizations/org-se", json=body, headers=auth.ADMIN)
        assert reply.status_code == 422, (field, reply.text)
        assert field in {e["field"] for e in reply.json()["errors"]}, (field, reply.json())
    reserved = await d.put("/organizations/expiring", json=good, headers=auth.ADMIN)
    assert reserved.status_code == 422
    assert (await d.get("/organizations/org-se", headers=auth.ADMIN)).status_code == 404

    await admit(system, "org-se", good)
    taken = await d.put("/organizations/org-se-copy", json=good, headers=auth.ADMIN)
    assert taken.status_code == 409, taken.text
    assert "另一家机构" in taken.json()["message"] and "org-se" not in taken.json()["message"]  # maybe out of scope
    no_reason = await set_status(system, "org-se", status="suspended")
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "reason"
    assert (await set_status(system, "org-nobody", status="suspended", reason="x")).status_code == 404


async def test_two_organizations_saved_at_once_under_one_credit_code_make_one_and_a_409(system):
    d = system.clients["dispatch"]
    body = organization("同码检测所", code(117), [HUNNAN], categories=["testing"])
    replies = await asyncio.gather(
        *(d.put(f"/organizations/{org_id}", json=body, headers=auth.ADMIN) for org_id in ("org-twin-a", "org-twin-b"))
    )
    assert sorted(r.status_code for r in replies) == [201, 409], [r.text for r in replies]
    [conflict] = [r.json() for r in replies if r.status_code == 409]
    assert conflict["message"] == "该统一社会信用代码已登记为另一家机构"
    rows = await infra.fetch(
        system.databases["dispatch"], "SELECT org_id FROM organizations WHERE credit_code = $1", body["credit_code"]
    )
    assert len(rows) == 1


async def test_who_may_admit_and_change_an_organization(system):
    d = system.clients["dispatch"]
    own = organization("浑南计量服务站点", code(103), [HUNNAN], categories=["metrology"])
    await admit(system, "org-hn", own, auth.HEAD)
    tiexi = organization("铁西检测中心", code(104), [TIEXI], categories=["testing"])
    city = organization("市计量测试院", "12210100MB0000001", ["210100"])
    for headers, org_id, body, want in (
        (auth.CLERK, "org-hn", own, 403),  # a clerk reads, never writes
        (auth.ORG, "org-01", own, 403),
        (auth.HEAD, "org-01", city, 403),  # the city's
        (auth.HEAD, "org-tx", tiexi, 403),  # another station's
        (auth.HEAD, "org-hn", own | {"areas": ["210100"]}, 403),  # a station may not widen its own to the city
        (DISTRICT, "org-01", city, 403),
        (auth.OTHER_HEAD, "org-hn", own, 404),  # another city's head does not even see it
        (auth.OTHER_SUPERVISOR, "org-hn", own, 404),
    ):
        reply = await d.put(f"/organizations/{org_id}", json=body, headers=headers)
        assert reply.status_code == want, (org_id, want, reply.text)
    for headers, org_id, want in (
        (auth.HEAD, "org-01", 403),
        (auth.OTHER_HEAD, "org-hn", 404),
        (auth.CLERK, "org-hn", 403),
    ):
        reply = await set_status(system, org_id, headers, status="suspended", reason="整改")
        assert reply.status_code == want, (org_id, want, reply.text)
    assert (await set_status(system, "org-01", DISTRICT, status="suspended", reason="整改")).status_code == 403
    assert (await set_status(system, "org-hn", DISTRICT, status="suspended", reason="整改")).status_code == 200
    assert (await admit(system, "org-tx", tiexi, auth.SUPERVISOR))["areas"] == [TIEXI]


# --- reading: scope, filters, the organization's own users ------------------------------------------------


async def test_each_caller_sees_the_organizations_serving_its_scope(system):
    await admit(system, "org-hn", organization("浑南知识产权服务中心", code(105), [HUNNAN], categories=["ip"]))
    await admit(system, "org-tx", organization("铁西检测中心", code(106), [TIEXI], categories=["testing"]))
    assert (await set_status(system, "org-tx", status="suspended", reason="整改")).is_success

    assert await ids(system, "/organizations", auth.HEAD) == {"org-01", "org-hn"}
    assert await ids(system, "/organizations", auth.CLERK) == {"org-01", "org-hn"}
    assert await ids(system, "/organizations", TIEXI_CLERK) == {"org-01", "org-tx"}
    assert await ids(system, "/organizations", auth.OTHER_HEAD) == {"org-02"}
    assert await ids(system, "/organizations", auth.SUPERVISOR) == {"org-01", "org-hn", "org-tx"}
    assert await ids(system, "/organizations", DISTRICT) == {"org-01", "org-hn"}
    assert await ids(system, "/organizations", auth.OTHER_SUPERVISOR) == {"org-02"}
    assert await ids(system, "/organizations", auth.ADMIN) == {"org-01", "org-02", "org-hn", "org-tx"}

    assert await ids(system, f"/organizations?station_id={TIEXI}", auth.SUPERVISOR) == {"org-01", "org-tx"}
    assert await ids(system, f"/organizations?station_id={events.OTHER_STATION}", auth.ADMIN) == {"org-02"}
    outside = await system.clients["dispatch"].get(f"/organizations?station_id={TIEXI}", headers=auth.HEAD)
    assert outside.status_code == 404
    assert await ids(system, "/organizations?category=ip", auth.HEAD) == {"org-01", "org-hn"}
    assert await ids(system, "/organizations?category=metrology", auth.HEAD) == {"org-01"}
    assert await ids(system, "/organizations?status=suspended", auth.SUPERVISOR) == {"org-tx"}
    assert await ids(system, "/organizations?limit=1&offset=1", auth.ADMIN) <= {"org-01", "org-02", "org-hn", "org-tx"}

    d = system.clients["dispatch"]
    for headers, org_id, want in (
        (auth.HEAD, "org-tx", 404),
        (TIEXI_CLERK, "org-hn", 404),
        (TIEXI_CLERK, "org-01", 200),
        (auth.OTHER_HEAD, "org-01", 404),
        (auth.OTHER_SUPERVISOR, "org-hn", 404),
        (auth.SUPERVISOR, "org-tx", 200),
        (auth.ADMIN, "org-02", 200),
    ):
        for path in (f"/organizations/{org_id}", f"/organizations/{org_id}/history"):
            assert (await d.get(path, headers=headers)).status_code == want, (path, want)


async def test_an_organizations_users_see_their_own_profile_and_nothing_else(system):
    d = system.clients["dispatch"]
    assert await ids(system, "/organizations", auth.ORG) == {"org-01"}
    assert await ids(system, "/organizations", auth.OTHER_ORG) == {"org-02"}
    own = await d.get("/organizations/org-01", headers=auth.ORG)
    assert own.status_code == 200 and own.json()["record"]["completed"] == 0
    assert (await d.get("/organizations/org-01/history", headers=auth.ORG)).json()[0]["action"] == "admitted"
    for path in ("/organizations/org-02", "/organizations/org-02/history"):
        assert (await d.get(path, headers=auth.ORG)).status_code == 404
    assert (await d.get("/organizations/org-01", headers=auth.OTHER_ORG)).status_code == 404
    assert (await d.get(f"/organizations?station_id={HUNNAN}", headers=auth.ORG)).status_code == 404
    demand = await system.submit()
    assert (await d.get(f"/demands/{demand}/candidates", headers=auth.ORG)).status_code == 403


# --- assignment rules --------------------------------------------------------------------------------------


async def test_only_an_admitted_qualified_organization_serving_the_station_is_assignable(system):
    uow = system.apps["dispatch"].state.runtime.uow
    day = today()
    due = day + timedelta(days=10)

    async def check(org_id: str = "org-01", station: str = HUNNAN, due_on=due, **kw):
        args = {"categories": ["metrology"], "item_codes": ["metrology.calibration"]} | kw
        async with uow.begin() as tx:
            return await check_assignable(tx, org_id=org_id, station_id=station, due_on=due_on, today=day, **args)

    assert (await check()).name == "市计量测试院"
    with pytest.raises(Invalid) as unknown:
        await check("org-nobody")
    assert unknown.value.field == "assignee_id"
    with pytest.raises(DomainError, match="does not serve this station"):
        await check(station=events.OTHER_STATION)

    soon = day + timedelta(days=3)
    entry = organization("即将到期检测所", code(107), [HUNNAN], categories=["metrology"])
    await admit(system, "org-soon", with_dates(entry, [soon], day + timedelta(days=365)))
    assert (await check("org-soon", due_on=soon)).org_id == "org-soon"  # valid through the due date itself
    with pytest.raises(DomainError, match="expires on") as expiring:
        await check("org-soon", due_on=soon + timedelta(days=1))
    assert "早于办结期限" in expiring.value.zh
    with pytest.raises(DomainError, match="does not serve category testing"):
        await check("org-soon", categories=["testing"], item_codes=[])

    # A station's own organization serves the service points registered below it, whatever their ids.
    station_point = "210100/210114/hunnan-yuhong"  # in another district by its id
    point = {"name": "浑南站于洪企业服务点", "level": 4, "parent_id": HUNNAN, "has_window": False}
    registered = await system.clients["intake"].put(f"/stations/{station_point}", json=point, headers=auth.ADMIN)
    assert registered.status_code == 200, registered.text
    with pytest.raises(DomainError, match="does not serve this station"):
        await check("org-soon", station="210100/210114/yuhong-01", due_on=soon)

    async def serves_point():
        try:
            return await check("org-soon", station=station_point, due_on=soon)
        except DomainError:
            return None

    await infra.eventually(serves_point, what="dispatch to learn the registry's tree")

    reply = await set_status(system, "org-01", auth.SUPERVISOR, status="suspended", reason="资质复查", until=None)
    assert reply.status_code == 200, reply.text
    with pytest.raises(DomainError, match="suspended") as suspended:
        await check()
    assert "已暂停" in suspended.value.zh and "资质复查" in suspended.value.zh
    demand = await system.submit()
    body = {"assignee_kind": "organization", "assignee_id": "org-01"}
    refused = await system.clients["dispatch"].post(f"/demands/{demand}/assignments", json=body, headers=auth.HEAD)
    assert refused.status_code == 409 and "已暂停" in refused.json()["message"], refused.text
    unknown = await system.clients["dispatch"].post(
        f"/demands/{demand}/assignments", json=body | {"assignee_id": "org-nobody"}, headers=auth.HEAD
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "assignee_id", unknown.text
    assert (await set_status(system, "org-01", auth.SUPERVISOR, status="admitted")).status_code == 200
    assert (await check()).org_id == "org-01"
    await system.assign(demand)  # and assigned, under its registered name
    seen = await system.clients["dispatch"].get(f"/demands/{demand}", headers=auth.HEAD)
    assert seen.json()["assignments"][0]["assignee_name"] == "市计量测试院"


# --- the running record and candidates -----------------------------------------------------------------


async def record_of(system: System, org_id: str) -> dict:
    reply = await system.clients["dispatch"].get(f"/organizations/{org_id}", headers=auth.HEAD)
    assert reply.status_code == 200, reply.text
    return reply.json()["record"]


async def test_the_running_record_counts_events_once_in_any_order(system):
    await admit(system, "org-rec", organization("记录检测所", code(116), [HUNNAN], categories=["metrology"]))
    demand_id = await system.submit()
    await system.assign(demand_id, org="org-rec")
    seen = (await system.clients["dispatch"].get(f"/demands/{demand_id}", headers=auth.HEAD)).json()
    due = date.fromisoformat(seen["assignments"][0]["due_on"])
    cause = Cause(uuid4(), uuid4(), HUNNAN, demand_id, seen["tracking_no"])
    late = datetime.combine(due + timedelta(days=1), time(10), CHINA)

    def rating(overall: Overall, at: datetime) -> Rated:
        answers = Answers(overall=overall)
        return cause.caused(Rated, round=1, answers=answers, source=RatingSource.paper, rated_at=at)

    resolved = cause.caused(
        Resolved, round=1, assignment_no=1, outcome=Outcome.met, summary="已出具证书", resolved_by="记录检测所",
        resolved_at=late,
    )  # fmt: skip
    uow = system.apps["dispatch"].state.runtime.uow
    assert await uow.handle(rating(Overall.satisfied, late), record_rating)  # the rating first
    assert (await record_of(system, "org-rec"))["rated"] == 0  # nothing to credit until its resolution
    assert await uow.handle(resolved, record_resolution)
    assert not await uow.handle(resolved, record_resolution)  # redelivered: a no-op
    record = await record_of(system, "org-rec")
    assert {k: record[k] for k in ("completed", "on_time", "rated", "satisfied")} == {
        "completed": 1,
        "on_time": 0,  # resolved the day after its due date, in China
        "rated": 1,
        "satisfied": 1,
    }
    assert record["on_time_rate"] == 0.0 and record["satisfaction_rate"] == 1.0
    await uow.handle(rating(Overall.dissatisfied, late + timedelta(hours=1)), record_rating)  # re-rated later
    await uow.handle(rating(Overall.very_satisfied, late - timedelta(hours=1)), record_rating)  # a stale one
    assert (await record_of(system, "org-rec"))["satisfied"] == 0


async def post_rating(system: System, demand_id: UUID, overall: str) -> None:
    reply = await system.clients["evaluation"].post(
        f"/surveys/{demand_id}/rating", json={"answers": {"overall": overall}}, headers=auth.CLERK
    )
    assert reply.status_code == 201, reply.text


async def test_candidates_are_ranked_by_their_running_record(system):
    metrology = {"categories": ["metrology"]}
    day = today()
    good_entry = organization("甲计量校准有限公司", code(108), [HUNNAN], **metrology)
    agreement_ends = day + timedelta(days=400)
    await admit(system, "org-good", with_dates(good_entry, [day + timedelta(days=3650)], agreement_ends))
    await admit(system, "org-poor", organization("乙计量技术服务公司", code(109), ["210100/210112"], **metrology))
    await admit(system, "org-busy", organization("丙计量检测有限公司", code(110), [HUNNAN], **metrology))
    await admit(system, "org-paused", organization("丁计量所", code(111), [HUNNAN], **metrology))
    assert (await set_status(system, "org-paused", status="suspended", reason="投诉核查中")).is_success
    await admit(system, "org-ip", organization("浑南知识产权服务中心", code(112), [HUNNAN], categories=["ip"]))
    await admit(system, "org-tx", organization("铁西计量站", code(113), [TIEXI], **metrology))

    good = await system.submit()
    await system.assign(good, org="org-good")
    await system.resolve(good)
    await system.rate(good)  # 满意, archived
    poor = await system.submit()
    await system.assign(poor, org="org-poor")
    await system.resolve(poor)
    await post_rating(system, poor, "dissatisfied")
    busy = await system.submit()
    await system.assign(busy, org="org-busy")  # open, not resolved

    waiting = await system.submit()
    path = f"/demands/{waiting}/candidates"

    def counted(reply: dict) -> bool:
        records = {c["org_id"]: c for c in reply["candidates"]}
        return {"org-good", "org-poor"} <= set(records) and all(
            records[o]["rated"] == 1 for o in ("org-good", "org-poor")
        )

    reply = await system.get_when("dispatch", path, counted, "the records to count the ratings")
    ranked = [c["org_id"] for c in reply["candidates"]]
    assert ranked == ["org-good", "org-01", "org-busy", "org-poor"], reply["candidates"]
    first = reply["candidates"][0]
    assert (first["rank"], first["completed"], first["on_time"], first["satisfied"]) == (1, 1, 1, 1)
    assert first["on_time_rate"] == 1.0 and first["score"] > reply["candidates"][1]["score"]
    busy_row = next(c for c in reply["candidates"] if c["org_id"] == "org-busy")
    assert busy_row["open_load"] == 1 and busy_row["completed"] == 0
    assert {n["org_id"]: n["reason"] for n in reply["not_eligible"]}.keys() == {"org-paused"}
    assert "已暂停" in reply["not_eligible"][0]["reason"]
    assert reply["categories"] == ["metrology"] and reply["item_codes"] == ["metrology.calibration"]
    assert (reply["suggested_route"], reply["suggested_route_label"]) == ("organization", "服务机构办理")
    assert [(r["code"], r["handled_by"]) for r in reply["routes"]] == [("metrology.calibration", "organization")]
    assert isinstance(reply["departments"], list)

    # A due date the head proposes is the one qualifications and agreements are checked against.
    on_the_day = await system.clients["dispatch"].get(f"{path}?due_on={agreement_ends}", headers=auth.HEAD)
    assert on_the_day.json()["due_on"] == agreement_ends.isoformat()
    assert "org-good" in {c["org_id"] for c in on_the_day.json()["candidates"]}
    after = await system.clients["dispatch"].get(
        f"{path}?due_on={agreement_ends + timedelta(days=1)}", headers=auth.HEAD
    )
    refused = {n["org_id"]: n["reason"] for n in after.json()["not_eligible"]}
    assert "org-good" not in {c["org_id"] for c in after.json()["candidates"]} and "服务协议" in refused["org-good"]
    implausible = await system.clients["dispatch"].get(f"{path}?due_on=2999-01-01", headers=auth.HEAD)
    assert implausible.status_code == 422

    for headers, want in (
        (auth.SUPERVISOR, 200),
        (auth.CLERK, 200),
        (TIEXI_CLERK, 404),
        (auth.OTHER_HEAD, 404),
        (auth.OTHER_SUPERVISOR, 404),
        (auth.ADMIN, 403),
        (auth.OTHER_ORG, 403),
    ):
        assert (await system.clients["dispatch"].get(path, headers=headers)).status_code == want, want
    unknown = await system.clients["dispatch"].get(f"/demands/{uuid4()}/candidates", headers=auth.HEAD)
    assert unknown.status_code == 404


# --- expiry -----------------------------------------------------------------------------------------------


async def test_qualifications_and_agreements_expiring_soon_are_listed_and_counted(system):
    day = today()
    entry = organization("临期检测所", code(114), [HUNNAN], categories=["testing"])
    await admit(
        system,
        "org-exp",
        with_dates(entry, [day + timedelta(days=10), day + timedelta(days=31)], day + timedelta(days=30)),
    )
    d = system.clients["dispatch"]

    reply = await d.get("/organizations/expiring?within_days=30", headers=auth.HEAD)
    assert reply.status_code == 200, reply.text
    rows = [(r["org_id"], r["what"], r["number"], r["days_left"]) for r in reply.json()]
    assert rows == [("org-exp", "qualification", "Q-0", 10), ("org-exp", "agreement", entry["agreement"]["number"], 30)]
    assert (await d.get("/organizations/expiring?within_days=5", headers=auth.HEAD)).json() == []
    assert (await d.get("/organizations/expiring", headers=auth.OTHER_HEAD)).json() == []  # another city's
    assert (await d.get("/organizations/expiring", headers=auth.ORG)).json() == []  # only its own
    assert {r["org_id"] for r in (await d.get("/organizations/expiring", headers=auth.ADMIN)).json()} == {"org-exp"}
    assert (await d.get("/organizations/expiring?within_days=-1", headers=auth.HEAD)).status_code == 422

    # The metric counts from the database's own China date, like every store counter.
    rows = await infra.fetch(system.databases["dispatch"], "SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date AS d")
    db_day = rows[0]["d"]
    metric = organization("指标检测所", code(115), ["210100"], categories=["testing"])
    far = db_day + timedelta(days=3650)
    await admit(
        system, "org-metric", with_dates(metric, [db_day + timedelta(days=5), db_day + timedelta(days=40)], far)
    )

    async def exported():
        text = (await d.get("/metrics")).text
        for family in text_string_to_metric_families(text):
            if family.name == "qs_org_qualifications_expiring":
                return {s.labels["org_id"]: s.value for s in family.samples if s.labels.get("org_id") == "org-metric"}
        return None

    assert await infra.eventually(exported, what="the expiring-qualifications metric") == {"org-metric": 1.0}
