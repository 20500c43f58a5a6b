"""Search and work lists over tracking's ledger (issue 9), on the real broker and databases.

Search: the five services (`running_system`), demands registered through intake at three stations (hunnan-01,
tiexi-01 of the same city, panyu-01 of another) with the same enterprise, so every key matches at every station:
each caller finds only what its role and scope let it see. Work lists: tracking alone, its states made with the
events it consumes (submitted long ago, assigned with a due date in the past, withdrawn) and with its own routes
(pause, 督办). Dates come from China's today and the working-day calendar (with tracking's copy of the
corrections), so the tests hold at any hour of any day.
"""

import contextlib
from datetime import date, datetime, timedelta
from uuid import UUID

import pytest

from shared.calendar import add_working_days, china_today
from shared.contracts import AssigneeKind, DemandSubmitted, utcnow
from tests.support import auth, events, infra
from tests.support.apps import make_app, publish_event
from tests.support.system import System, running_system

pytestmark = pytest.mark.integration

TIEXI = "210100/210106/tiexi-01"  # another station of the same city
TIEXI_CLERK = auth.bearer("clerk", TIEXI, name="铁西窗口")
# Who may see hunnan-01's demand A (assigned to org-01), and who may not.
SEE_A = {"clerk": auth.CLERK, "head": auth.HEAD, "supervisor": auth.SUPERVISOR, "org assigned": auth.ORG}
NOT_A = {
    "clerk of another station": TIEXI_CLERK,
    "head of another city": auth.OTHER_HEAD,
    "supervisor of another city": auth.OTHER_SUPERVISOR,
    "org not assigned": auth.OTHER_ORG,
}
B_ENTERPRISE = {"name": "浑南百分之百%检测有限公司", "credit_code": events.credit_code("91210112MA0U00002")}


async def found(system: System, headers: dict, **params) -> list[UUID]:
    reply = await system.clients["tracking"].get("/ledger", params=params, headers=headers)
    assert reply.status_code == 200, (params, reply.text)
    return [UUID(c["demand_id"]) for c in reply.json()]


async def listed_everywhere(system: System, wanted: dict[UUID, dict]) -> None:
    async def all_there():
        for demand_id, headers in wanted.items():
            if demand_id not in await found(system, headers):
                return False
        return True

    await infra.eventually(all_there, timeout=30, what="tracking to list every demand")


async def test_search_by_each_key_finds_the_demand_only_for_those_who_may_see_it(amqp, databases):
    async with running_system(amqp, databases) as system:
        a = await system.submit()  # 沈阳精密仪器有限公司, 13804001234, metrology.calibration
        await system.assign(a)  # to org-01
        # The same enterprise at another station of the city and at another city's: every key matches there too.
        tiexi = await system.submit(TIEXI, headers=TIEXI_CLERK)
        other_city = await system.submit(events.OTHER_STATION, headers=auth.OTHER_CLERK)
        await system.assign(other_city, org="org-02", headers=auth.OTHER_HEAD)
        # Another enterprise and item at A's station, with a `%` in its name.
        b = await system.submit(
            enterprise=B_ENTERPRISE,
            contact={"name": "李四", "phone": "13900001111"},
            items=[{"code": "diagnosis.health_check"}],
        )
        await listed_everywhere(
            system, {a: auth.HEAD, b: auth.HEAD, tiexi: auth.SUPERVISOR, other_city: auth.OTHER_SUPERVISOR}
        )

        sheet = (await system.clients["tracking"].get(f"/demands/{a}", headers=auth.HEAD)).json()
        assert sheet["printed_tracking_no"] == f"hunnan-01-{sheet['tracking_no']}"
        assert sheet["credit_code"] == events.credit_code() and sheet["contact_phone"] == "+8613804001234"
        assert [i["code"] for i in sheet["items"]] == ["metrology.calibration"]
        assert sheet["handling_due_on"] == sheet["due_on"] and sheet["paused_since"] is None
        assert sheet["response_due_on"] is not None and not sheet["overdue"]
        submitted_on = china_today(datetime.fromisoformat(sheet["submitted_at"]))

        keys = {
            "tracking number": {"q": sheet["tracking_no"]},
            "printed tracking number": {"q": sheet["printed_tracking_no"]},
            "part of the name": {"q": "精密仪器"},
            "credit code, any case": {"q": events.credit_code().lower()},
            "contact phone": {"q": "13804001234"},
            "item": {"item": "metrology.calibration"},
            "handler id": {"handler": "org-01"},
            "handler name": {"handler": "计量测试"},
            "submission dates": {"from": submitted_on.isoformat(), "to": submitted_on.isoformat()},
            "several keys at once": {"q": "精密", "item": "metrology.calibration", "status": "assigned"},
        }
        for key, params in keys.items():
            for who, headers in SEE_A.items():
                assert a in await found(system, headers, **params), (key, who)
            for who, headers in NOT_A.items():
                assert a not in await found(system, headers, **params), (key, who)
            # An organization finds only what is assigned to it, whatever it asks.
            assert set(await found(system, auth.ORG, **params)) <= {a}, key

        # The searches are not simply empty elsewhere: each station finds its own demand of the enterprise.
        for q in ("精密仪器", events.credit_code(), "13804001234"):
            assert await found(system, TIEXI_CLERK, q=q) == [tiexi]
            assert await found(system, auth.OTHER_HEAD, q=q) == [other_city]
            assert set(await found(system, auth.SUPERVISOR, q=q)) == {a, tiexi}
        tiexi_no = (await system.clients["tracking"].get(f"/demands/{tiexi}", headers=TIEXI_CLERK)).json()
        if tiexi_no["tracking_no"] == sheet["tracking_no"]:  # both first of the year (unless China's midnight fell)
            assert set(await found(system, auth.SUPERVISOR, q=sheet["tracking_no"])) == {a, tiexi}
            # printed with the station's code, the number is unique across the city
            assert await found(system, auth.SUPERVISOR, q=sheet["printed_tracking_no"]) == [a]
            assert await found(system, auth.SUPERVISOR, q=tiexi_no["printed_tracking_no"]) == [tiexi]

        # The filters narrow each other (AND) and each one narrows.
        assert await found(system, auth.HEAD, q="精密", status="submitted") == []
        assert await found(system, auth.HEAD, item="diagnosis.health_check") == [b]
        assert await found(system, auth.HEAD, q="13900001111") == [b]
        assert await found(system, auth.HEAD, handler="org-02") == []
        day_after, day_before = submitted_on + timedelta(days=1), submitted_on - timedelta(days=1)
        assert await found(system, auth.HEAD, **{"from": day_after.isoformat()}) == []
        assert await found(system, auth.HEAD, to=day_before.isoformat()) == []
        assert set(await found(system, auth.HEAD, to=submitted_on.isoformat())) == {a, b}
        assert await found(system, auth.ORG) == [a] and await found(system, auth.ORG, list="mine") == [a]
        assert await found(system, auth.OTHER_ORG, q="精密") == [other_city]  # org-02's, in the other city

        # LIKE wildcards match themselves.
        assert await found(system, auth.HEAD, q="%") == [b]
        assert await found(system, auth.HEAD, q="百分%检测") == []
        assert await found(system, auth.HEAD, q="百分之百%") == [b]
        for q in ("_", "%%", "\\", "精密%"):
            assert await found(system, auth.HEAD, q=q) == [], q
        assert await found(system, auth.HEAD, handler="%") == []

        # Malformed requests get a clear answer in both languages and change nothing.
        tracking = system.clients["tracking"]
        reply = await tracking.get(
            "/ledger", params={"from": submitted_on.isoformat(), "to": day_before.isoformat()}, headers=auth.HEAD
        )
        assert reply.status_code == 422, reply.text
        body = reply.json()
        assert "晚于" in body["message"] and "after" in body["message_en"]
        assert body["errors"][0]["field"] == "from"
        for params in (
            {"q": ""},
            {"q": "精密\n仪器"},
            {"q": "x" * 101},
            {"list": "everything"},
            {"from": "0001-01-01"},
        ):
            reply = await tracking.get("/ledger", params=params, headers=auth.HEAD)
            assert reply.status_code == 422, (params, reply.text)
            assert reply.json()["message"] and reply.json()["message_en"], params


# --------------------------------------------------------------------------------------------- work lists

CLERK_ID = "zhangxy"  # the clerk's account: the first responder and, once assigned to them, the handler
CLERK = auth.bearer("clerk", events.STATION, subject=CLERK_ID, name="张晓燕")


def demand(no: int, *, station: str = events.STATION, days_ago: int = 0, responder: str | None = None):
    s = events.submitted(station=station, tracking_no=f"2026-{no:06d}")
    return s.model_copy(update={"submitted_at": utcnow() - timedelta(days=days_ago), "first_responder_id": responder})


def assigned(s: DemandSubmitted, due_on: date, *, kind=AssigneeKind.organization, who: str = "org-01"):
    return events.assigned(s).model_copy(
        update={"due_on": due_on, "assignee_kind": kind, "assignee_id": who, "assignee_name": who}
    )


async def overrides(system: System) -> dict[date, bool]:
    """Tracking's copy of the calendar corrections: the lists count working days with it."""
    rows = await infra.fetch(
        system.databases["tracking"], "SELECT day, is_workday FROM calendar_corrections WHERE is_workday IS NOT NULL"
    )
    return {r["day"]: r["is_workday"] for r in rows}


@contextlib.asynccontextmanager
async def tracking_alone(amqp: str, databases):
    """Tracking on the real broker and its database. The states are made with events the other services did not
    publish (a due date in the past, a submission thirty days ago): they are not started, so none of them is fed
    demands it never saw. The scheduler scans on start, before any demand exists, and not again during the test:
    the 督办 listed are the supervisor's alone (the scheduler's own are tested with it)."""
    db = databases("tracking")
    app = make_app("tracking", amqp_url=amqp, database_url=db, scan_every_seconds=3600)
    async with infra.running(app) as client:
        yield System(clients={"tracking": client}, databases={"tracking": db}, amqp=amqp)


async def test_each_work_list_lists_the_right_demands_in_scope(amqp, databases):
    async with tracking_alone(amqp, databases) as system:
        tracking = system.clients["tracking"]
        today = china_today(utcnow())
        until = add_working_days(today, 1, await overrides(system))  # TRACKING_WARN_DAYS defaults to 1
        later = until + timedelta(days=30)
        yesterday = today - timedelta(days=1)

        received = demand(1, responder=CLERK_ID)  # not assigned yet: the clerk's, as first responder
        mine = demand(2)
        someone_elses = demand(3)
        due_today, due_last, due_later, late = demand(4), demand(5), demand(6), demand(7)
        unanswered = demand(8, days_ago=30)  # never assigned: the response deadline passed long ago
        withdrawn = demand(9)
        to_pause = demand(10)
        tiexi_late = demand(11, station=TIEXI)
        published = [
            received,
            mine,
            assigned(mine, later, kind=AssigneeKind.staff, who=CLERK_ID),
            someone_elses,
            assigned(someone_elses, later, kind=AssigneeKind.staff, who="lisi"),
            due_today,
            assigned(due_today, today),
            due_last,
            assigned(due_last, until),
            due_later,
            assigned(due_later, later),
            late,
            assigned(late, yesterday),
            unanswered,
            withdrawn,
            assigned(withdrawn, yesterday),
            events.withdrawn(withdrawn, assignment_count=1),
            to_pause,
            assigned(to_pause, yesterday),
            tiexi_late,
            assigned(tiexi_late, yesterday),
        ]
        for event in published:
            await publish_event(amqp, event)
        ids = {s.demand_id for s in published if isinstance(s, DemandSubmitted)}

        async def all_in():
            cases = await found(system, auth.SUPERVISOR, limit=100)
            return ids <= set(cases)

        await infra.eventually(all_in, timeout=30, what="tracking to see every demand")
        await infra.eventually(lambda: _withdrawn(tracking, withdrawn.demand_id), timeout=30, what="the withdrawal")

        async def listed(headers, name, **params):
            return await found(system, headers, list=name, **params)

        assert set(await listed(CLERK, "mine")) == {received.demand_id, mine.demand_id}
        assert set(await listed(auth.HEAD, "mine")) == set()
        # An organization's: what is assigned to it, at any station, open or not.
        org_cases = {c.demand_id for c in (due_today, due_last, due_later, late, withdrawn, to_pause, tiexi_late)}
        assert set(await listed(auth.ORG, "mine")) == org_cases

        assert await listed(auth.HEAD, "due_soon") == [due_today.demand_id, due_last.demand_id]  # due first
        # A station that warns on the day itself (its own warn_days) lists what is due today only.
        kept = await tracking.put(f"/stations/{events.STATION}/clock", json={"warn_days": 0}, headers=auth.HEAD)
        assert kept.status_code == 200, kept.text
        assert await listed(auth.HEAD, "due_soon") == [due_today.demand_id]
        kept = await tracking.put(f"/stations/{events.STATION}/clock", json={"warn_days": None}, headers=auth.HEAD)
        assert kept.status_code == 200, kept.text
        assert await listed(auth.HEAD, "due_soon") == [due_today.demand_id, due_last.demand_id]
        overdue = [unanswered.demand_id, late.demand_id, to_pause.demand_id]
        assert set(await listed(auth.HEAD, "overdue")) == set(overdue)
        assert (await listed(auth.HEAD, "overdue"))[0] == unanswered.demand_id  # the longest late first
        assert set(await listed(auth.SUPERVISOR, "overdue")) == {*overdue, tiexi_late.demand_id}
        assert await listed(TIEXI_CLERK, "overdue") == [tiexi_late.demand_id]
        assert await listed(auth.OTHER_HEAD, "overdue") == [] and await listed(auth.OTHER_SUPERVISOR, "overdue") == []
        assert set(await listed(auth.ORG, "overdue")) == {late.demand_id, to_pause.demand_id, tiexi_late.demand_id}
        assert await listed(auth.OTHER_ORG, "overdue") == []
        assert await listed(auth.HEAD, "overdue", status="submitted") == [unanswered.demand_id]
        assert await listed(auth.HEAD, "paused") == [] and await listed(auth.HEAD, "awaiting_reply") == []
        for case in (await tracking.get("/ledger", headers=auth.SUPERVISOR)).json():
            assert case["overdue"] == (UUID(case["demand_id"]) in {*overdue, tiexi_late.demand_id}), case

        # 挂起: the paused case leaves the overdue list for the paused one, and is not late while paused.
        reply = await tracking.post(
            f"/demands/{to_pause.demand_id}/pauses",
            json={"reason_kind": "materials", "reason": "等待企业补充材料"},
            headers=auth.HEAD,
        )
        assert reply.status_code == 201, reply.text
        await infra.eventually(
            lambda: _listed_now(system, auth.HEAD, "paused", [to_pause.demand_id]), what="the paused list"
        )
        assert set(await listed(auth.HEAD, "overdue")) == {unanswered.demand_id, late.demand_id}
        assert await listed(auth.ORG, "paused") == [to_pause.demand_id]
        assert await listed(auth.OTHER_HEAD, "paused") == [] and await listed(TIEXI_CLERK, "paused") == []
        sheet = (await tracking.get(f"/demands/{to_pause.demand_id}", headers=auth.HEAD)).json()
        assert sheet["paused_since"] is not None and not sheet["overdue"]

        # 督办: waiting for the station's reply until it answers.
        reply = await tracking.post(
            f"/demands/{late.demand_id}/supervisions",
            json={"comment": "请加快办理并说明超期原因", "reply_due_on": until.isoformat()},
            headers=auth.SUPERVISOR,
        )
        assert reply.status_code == 201, reply.text
        supervision = reply.json()
        for headers in (auth.HEAD, auth.CLERK, auth.SUPERVISOR):
            assert await listed(headers, "awaiting_reply") == [late.demand_id]
        for headers in (TIEXI_CLERK, auth.OTHER_HEAD, auth.OTHER_SUPERVISOR, auth.OTHER_ORG):
            assert await listed(headers, "awaiting_reply") == []
        reply = await tracking.post(
            f"/supervisions/{supervision['supervision_id']}/answer",
            json={"answer": "已联系企业，预计三日内办结"},
            headers=auth.HEAD,
        )
        assert reply.status_code in (200, 201), reply.text
        assert await listed(auth.HEAD, "awaiting_reply") == []


async def _withdrawn(client, demand_id: UUID) -> bool:
    reply = await client.get(f"/demands/{demand_id}", headers=auth.HEAD)
    return reply.status_code == 200 and reply.json()["status"] == "withdrawn"


async def _listed_now(system: System, headers: dict, name: str, expected: list[UUID]) -> bool:
    return await found(system, headers, list=name) == expected
