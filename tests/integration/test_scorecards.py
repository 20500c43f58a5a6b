"""Scorecards (issue 10; 001 §7.2.2.2, 002 §8.1.4) through the running system: tracking's handling figures, intake's
complaint figures, and the registry's review flag in dispatch, checked against figures counted by hand.

The seeded set is made with the clock travelled to March and April 2025 (each step's tokens minted there too), so
every date is long past whatever day the test runs on (demands never handled are late "now", whichever now):

hunnan-01 (张晓燕 is the clerk, her account the first responder unless the form names someone else)
  h1  received Mon 3 March 10:00, assigned to org-01 on 4 March (response due 4 March: in time), due 14 March,
      resolved 12 March (on time), rated 满意.
  h2  received 31 March 23:30 in China (15:30 UTC: a March demand), first responder named 李娜 (no account), assigned
      to org-01 on 1 April 10:00 (response due 1 April: in time), due 10 April, resolved 3 April.
  h3  received 1 April 00:30 in China (31 March in UTC: an April demand), never assigned (late to respond
      since 2 April).
  h4  received 3 March, assigned to org-01 on 4 March, due 7 March, resolved 6 March, rated 不满意 on 6 March
      (a 差评回访 task due in March, never done), verified founded on 7 March: reopened (重办),
      and in round 2 assigned to org-03.
tiexi-01 (铁西窗口 is the clerk)
  t1  received Wed 5 March, assigned to org-01 late on 10 March (response due 6 March), due 12 March, resolved late on
      14 March with the need not met (a re-visit task due 18 March), re-visited on 17 March (reached).
Complaints at hunnan-01 (intake)
  c1  filed 20 March about the staff member 张晓燕 (by name), on h1; never acknowledged (open, overdue now).
  c2  filed 31 March 23:50 in China about org-01, on h2; acknowledged, investigated, resolved as founded and answered
      on 1-2 April (open: not closed; overdue now for its closing).
  c3  filed 1 April 00:10 in China about the station (an April complaint).
"""

import contextlib
from datetime import date, datetime
from uuid import UUID

import pytest
import time_machine

from shared.calendar import CHINA
from tests.support import auth, events, infra
from tests.support.system import System, fresh_system, organization

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

HUNNAN = events.STATION  # 210100/210112/hunnan-01
TIEXI = "210100/210106/tiexi-01"
HUNNAN_NAME = "沈阳市浑南区一站式质量服务站"
TIEXI_NAME = "沈阳市铁西区一站式质量服务站"
ZHANG = f"clerk-{HUNNAN}"  # the account of tests.support.auth's clerk 张晓燕
TIEXI_CLERK = f"clerk-{TIEXI}"
DISTRICT_SUPERVISOR = auth.bearer("supervisor", "210100/210112", name="浑南区市场监管局")
MARCH = {"from": "2025-03-01", "to": "2025-03-31"}
APRIL = {"from": "2025-04-01", "to": "2025-04-30"}


def cn(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """An instant of 2025 given in China time."""
    return datetime(2025, month, day, hour, minute, tzinfo=CHINA)


@contextlib.contextmanager
def at(instant: datetime):
    """The whole process (every service's clock and the tokens minted inside) travelled to `instant`, ticking."""
    with time_machine.travel(instant, tick=True):
        yield


def head(station: str = HUNNAN) -> dict:
    return auth.bearer("head", station, name="周站长" if station == HUNNAN else "铁西站长")


def clerk(station: str = HUNNAN) -> dict:
    return auth.bearer("clerk", station, name="张晓燕" if station == HUNNAN else "铁西窗口")


async def submit(system: System, station: str, when: datetime, **form) -> UUID:
    with at(when):
        who = clerk(station)
        form.setdefault("first_responder", "张晓燕" if station == HUNNAN else "铁西窗口")
        reply = await system.clients["intake"].post(
            "/demands", json=events.demand_form(station=station, **form), headers=who
        )
        assert reply.status_code == 201, reply.text
        demand_id = UUID(reply.json()["demand_id"])
        await system.get_when("dispatch", f"/demands/{demand_id}", lambda d: True, "dispatch to see it", head(station))
        await system.get_when("tracking", f"/demands/{demand_id}", lambda d: True, "tracking to see it", head(station))
    return demand_id


async def assign(system: System, demand_id: UUID, station: str, when: datetime, due_on: date | None, org="org-01"):
    with at(when):
        body = {"assignee_kind": "organization", "assignee_id": org, "assignee_name": ORG_NAMES[org]}
        if due_on is not None:
            body["due_on"] = due_on.isoformat()
        reply = await system.clients["dispatch"].post(
            f"/demands/{demand_id}/assignments", json=body, headers=head(station)
        )
        assert reply.status_code == 201, reply.text
        await system.get_when(
            "tracking",
            f"/demands/{demand_id}",
            lambda c: c["status"] == "assigned" and c["assignee_id"] == org,
            "tracking to see the assignment",
            head(station),
        )


async def resolve(system: System, demand_id: UUID, station: str, when: datetime, outcome: str = "met") -> None:
    with at(when):
        reply = await system.clients["tracking"].post(
            f"/demands/{demand_id}/resolution", json={"outcome": outcome, "summary": "已办结"}, headers=head(station)
        )
        assert reply.status_code == 200, reply.text
        await system.get_when(
            "evaluation", f"/surveys/{demand_id}", lambda s: s["status"] == "open", "the survey", head(station)
        )


async def rate(system: System, demand_id: UUID, when: datetime, overall: str, until) -> None:
    with at(when):
        reply = await system.clients["evaluation"].post(
            f"/surveys/{demand_id}/rating", json={"answers": {"overall": overall}}, headers=clerk()
        )
        assert reply.status_code == 201, reply.text
        await system.get_when("tracking", f"/demands/{demand_id}", until, "tracking to see the rating", head())


ORG_NAMES = {"org-01": "市计量测试院", "org-03": "沈阳检测中心"}


async def seed(system: System) -> dict[str, UUID]:
    d: dict[str, UUID] = {}
    d["h1"] = await submit(system, HUNNAN, cn(3, 3, 10))
    d["h4"] = await submit(system, HUNNAN, cn(3, 3, 10, 5))
    d["t1"] = await submit(system, TIEXI, cn(3, 5, 10))
    d["h2"] = await submit(system, HUNNAN, cn(3, 31, 23, 30), first_responder="李娜")
    d["h3"] = await submit(system, HUNNAN, cn(4, 1, 0, 30))

    await assign(system, d["h1"], HUNNAN, cn(3, 4, 10), date(2025, 3, 14))
    await assign(system, d["h4"], HUNNAN, cn(3, 4, 10, 5), date(2025, 3, 7))
    await resolve(system, d["h4"], HUNNAN, cn(3, 6, 10))
    await rate(system, d["h4"], cn(3, 6, 15), "dissatisfied", lambda c: c["awaiting_verification"])
    with at(cn(3, 7, 10)):
        reply = await system.clients["tracking"].post(
            f"/demands/{d['h4']}/verification",
            json={"finding": "founded", "reason": "经电话核实，检定报告有误", "evidence": "电话记录"},
            headers=head(),
        )
        assert reply.status_code == 201, reply.text
        await system.get_when(
            "dispatch", f"/demands/{d['h4']}", lambda x: x.get("round") == 2, "dispatch to see round 2", head()
        )
    await assign(system, d["h4"], HUNNAN, cn(3, 10, 9), None, org="org-03")
    await assign(system, d["t1"], TIEXI, cn(3, 10, 10), date(2025, 3, 12))
    await resolve(system, d["h1"], HUNNAN, cn(3, 12, 10))
    await rate(system, d["h1"], cn(3, 12, 15), "satisfied", lambda c: c["status"] in ("rated", "archived"))
    await resolve(system, d["t1"], TIEXI, cn(3, 14, 10), outcome="not_met")
    with at(cn(3, 17, 10)):

        async def task_of_t1() -> bool:
            reply = await system.clients["tracking"].get(f"/demands/{d['t1']}/revisits", headers=head(TIEXI))
            return reply.status_code == 200 and bool(reply.json()["tasks"])

        await infra.eventually(task_of_t1, timeout=30, what="t1's re-visit task")
        reply = await system.clients["tracking"].post(
            f"/demands/{d['t1']}/revisits",
            json={
                "method": "phone",
                "revisited_at": cn(3, 17, 9, 30).isoformat(),
                "reached": True,
                "contact": "王建国",
                "enterprise_said": "已另找机构解决",
                "need_met": False,
            },
            headers=clerk(TIEXI),
        )
        assert reply.status_code == 201, reply.text
    await assign(system, d["h2"], HUNNAN, cn(4, 1, 10), date(2025, 4, 10))
    await resolve(system, d["h2"], HUNNAN, cn(4, 3, 10))
    return d


async def complain(system: System, when: datetime, **form) -> str:
    with at(when):
        body = {"channel": "phone", "complainant_name": "王建国", "complainant_contact": "13804001234"}
        body |= {"content": "服务态度差，推诿扯皮"} | form
        reply = await system.clients["intake"].post("/complaints", json=body, headers=clerk())
        assert reply.status_code == 201, reply.text
        return reply.json()["complaint_id"]


async def seed_complaints(system: System, d: dict[str, UUID]) -> None:
    await complain(system, cn(3, 20, 10), subject="staff", subject_name="张晓燕", demand_id=str(d["h1"]))
    c2 = await complain(
        system,
        cn(3, 31, 23, 50),
        subject="organization",
        subject_id="org-01",
        subject_name="市计量测试院",
        demand_id=str(d["h2"]),
    )
    for stage, when, extra in (
        ("acknowledged", cn(4, 1, 9), {}),
        ("investigated", cn(4, 1, 15), {}),
        ("resolved", cn(4, 2, 10), {"founded": True}),
        ("answered", cn(4, 2, 15), {}),
    ):
        with at(when):
            reply = await system.clients["intake"].post(
                f"/complaints/{c2}/stages", json={"stage": stage, "note": "已处理", **extra}, headers=head()
            )
            assert reply.status_code == 200, reply.text
    await complain(system, cn(4, 1, 0, 10), subject="station")


@pytest.fixture(scope="module")
async def system():
    # The review thresholds low and the window long, so the seeded March 2025 flags org-01 whatever day it is now.
    review = {
        "review_window_months": 36,
        "review_min_ratings": 2,
        "review_min_satisfaction_rate": 0.8,
        "review_min_completed": 3,
        "review_min_on_time_rate": 0.8,
        "review_founded_complaints": 1,
    }
    async with fresh_system(dispatch=review) as system:
        reply = await system.clients["dispatch"].put(
            "/organizations/org-03",
            json=organization("沈阳检测中心", "12210100MB0000003", ["210100"]),
            headers=auth.ADMIN,
        )
        assert reply.status_code in (200, 201), reply.text
        await system.knows_stations("tracking", HUNNAN, TIEXI)
        system.demands = await seed(system)
        await seed_complaints(system, system.demands)
        yield system


# --- tracking: the handling figures ------------------------------------------------------------------------------


def handling(
    received=0,
    responded=0,
    response_due=0,
    responded_in_time=0,
    resolved=0,
    handling_due=0,
    resolved_on_time=0,
    reopened=0,
    revisits_due=0,
    revisits_done=0,
) -> dict:
    """A row's figures with every rate computed from its counts (null without a denominator)."""

    def rate(n, d):
        return n / d if d else None

    return {
        "received": received,
        "responded": responded,
        "response_due": response_due,
        "responded_in_time": responded_in_time,
        "response_rate": rate(responded_in_time, response_due),
        "resolved": resolved,
        "handling_due": handling_due,
        "resolved_on_time": resolved_on_time,
        "on_time_rate": rate(resolved_on_time, handling_due),
        "reopened": reopened,
        "reopen_rate": rate(reopened, resolved),
        "revisits_due": revisits_due,
        "revisits_done": revisits_done,
        "revisit_rate": rate(revisits_done, revisits_due),
    }


# March, counted by hand. hunnan-01: received h1 h4 h2 (3); first assigned in March h1 h4, both by 4 March (h2's
# response was due and given on 1 April); first resolved h1 (12 March) and h4 (6 March), both by their deadlines
# (14 and 7 March), h4 reopened; one 差评回访 task (h4's), not done. tiexi-01: t1 received, assigned late,
# resolved late, its re-visit task done.
H_MARCH = handling(3, 2, 2, 2, 2, 2, 2, 1, 1, 0)
T_MARCH = handling(1, 1, 1, 0, 1, 1, 0, 0, 1, 1)
# April, hunnan-01: received h3; responded h2 (due and assigned 1 April); response due h2 and h3 (never assigned, late
# now); resolved h2 by its deadline.
H_APRIL = handling(1, 1, 2, 1, 1, 1, 1, 0, 0, 0)


def rows(*keyed: tuple[str, str, dict]) -> list[dict]:
    return [{"key": k, "label": label, **figures} for k, label, figures in keyed]


async def card(system: System, service: str, headers: dict, **params) -> dict:
    reply = await system.clients[service].get("/scorecards", params=params, headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


def reply(by: str, period: dict, station_id: str | None, *keyed) -> dict:
    return {"by": by, **period, "station_id": station_id, "rows": rows(*keyed)}


async def test_tracking_figures_per_station_for_a_month_cut_at_china_midnight(system):
    march = await card(system, "tracking", auth.SUPERVISOR, by="station", **MARCH)
    assert march == reply("station", MARCH, None, (TIEXI, TIEXI_NAME, T_MARCH), (HUNNAN, HUNNAN_NAME, H_MARCH))
    april = await card(system, "tracking", auth.SUPERVISOR, by="station", **APRIL)
    assert april == reply("station", APRIL, None, (HUNNAN, HUNNAN_NAME, H_APRIL))
    # Rows only for keys with something in the period: nothing happened in February.
    february = await card(system, "tracking", auth.SUPERVISOR, **{"from": "2025-02-01", "to": "2025-02-28"})
    assert february["rows"] == []
    # The station's clerk and head see their own station only; one station asked for by name.
    assert (await card(system, "tracking", auth.CLERK, **MARCH))["rows"] == rows((HUNNAN, HUNNAN_NAME, H_MARCH))
    named = await card(system, "tracking", auth.SUPERVISOR, station_id=TIEXI, **MARCH)
    assert named == reply("station", MARCH, TIEXI, (TIEXI, TIEXI_NAME, T_MARCH))


async def test_tracking_figures_per_first_responder_organization_and_category(system):
    staff = await card(system, "tracking", auth.SUPERVISOR, by="staff", **MARCH)
    # h1 and h4 are 张晓燕's by her account; h2 李娜's by name (a March receipt, nothing else in March); t1 铁西窗口's.
    zhang = handling(2, 2, 2, 2, 2, 2, 2, 1, 1, 0)
    assert staff == reply(
        "staff",
        MARCH,
        None,
        (TIEXI_CLERK, "铁西窗口", T_MARCH),
        (ZHANG, "张晓燕", zhang),
        ("李娜", "李娜", handling(received=1)),
    )
    # org-01 was first assigned h1 h4 t1 in March and h2 (received in March, assigned in April); it resolved the first
    # round of h1, h4 and t1, so h4 stays its own though org-03 holds the re-handling; both re-visit tasks follow its
    # resolutions. org-03 has nothing in March: no row.
    org01 = handling(4, 3, 3, 2, 3, 3, 2, 1, 2, 1)
    by_org = await card(system, "tracking", auth.SUPERVISOR, by="organization", **MARCH)
    assert by_org == reply("organization", MARCH, None, ("org-01", "市计量测试院", org01))
    # Every demand names metrology only: the category is the whole.
    by_category = await card(system, "tracking", auth.SUPERVISOR, by="category", **MARCH)
    assert by_category == reply("category", MARCH, None, ("metrology", "计量", org01))
    # The organization itself: its own row by organization, across the stations it served.
    assert await card(system, "tracking", auth.ORG, by="organization", **MARCH) == by_org
    assert (await card(system, "tracking", auth.OTHER_ORG, by="organization", **MARCH))["rows"] == []


# --- intake: the complaint figures ---------------------------------------------------------------------------------


def complaints(filed: int, open_: int, overdue: int) -> dict:
    return {"complaints": filed, "complaints_open": open_, "complaints_overdue": overdue}


async def test_intake_complaint_figures_per_dimension(system):
    # March: c1 (about 张晓燕, on h1) and c2 (about org-01, on h2, filed 23:50 on 31 March in China), both open and
    # overdue now; c3 was filed at 00:10 on 1 April in China.
    assert await card(system, "intake", auth.SUPERVISOR, by="station", **MARCH) == reply(
        "station", MARCH, None, (HUNNAN, HUNNAN_NAME, complaints(2, 2, 2))
    )
    assert await card(system, "intake", auth.SUPERVISOR, by="station", **APRIL) == reply(
        "station", APRIL, None, (HUNNAN, HUNNAN_NAME, complaints(1, 1, 1))
    )
    assert await card(system, "intake", auth.HEAD, by="staff", **MARCH) == reply(
        "staff", MARCH, None, ("张晓燕", "张晓燕", complaints(1, 1, 1))
    )
    by_org = reply("organization", MARCH, None, ("org-01", "市计量测试院", complaints(1, 1, 1)))
    assert await card(system, "intake", auth.HEAD, by="organization", **MARCH) == by_org
    assert await card(system, "intake", auth.HEAD, by="category", **MARCH) == reply(
        "category", MARCH, None, ("metrology", "计量", complaints(2, 2, 2))
    )
    # org-01 reads its row: c2 has been answered, so it counts; another organization has none.
    assert await card(system, "intake", auth.ORG, by="organization", **MARCH) == by_org
    assert (await card(system, "intake", auth.OTHER_ORG, by="organization", **MARCH))["rows"] == []


# --- who may read what, on both services ---------------------------------------------------------------------------


@pytest.mark.parametrize("service", ["tracking", "intake"])
async def test_scorecards_answer_each_caller_within_its_scope(system, service):
    client = system.clients[service]

    async def status(headers: dict, **params) -> int:
        return (await client.get("/scorecards", params={**MARCH, **params}, headers=headers)).status_code

    # A district supervisor sees its district's station, not the other district's; another city nothing.
    district = await card(system, service, DISTRICT_SUPERVISOR, **MARCH)
    assert [r["key"] for r in district["rows"]] == [HUNNAN]
    assert (await card(system, service, auth.OTHER_SUPERVISOR, **MARCH))["rows"] == []
    assert (await card(system, service, auth.OTHER_HEAD, by="staff", **MARCH))["rows"] == []
    # Another station asked for by name: as unknown as any other station's data.
    assert await status(auth.HEAD, station_id=TIEXI) == 404
    assert await status(DISTRICT_SUPERVISOR, station_id=TIEXI) == 404
    assert await status(auth.OTHER_SUPERVISOR, station_id=HUNNAN) == 404
    # An organization: by organization only; operations: never.
    for by in ("station", "staff", "category"):
        assert await status(auth.ORG, by=by) == 403
    assert await status(auth.ADMIN) == 403
    assert await status(auth.NONE) == 401
    # The period: China dates, never ending before it starts, at most 366 days; a 2024 leap year fits exactly.
    assert await status(auth.HEAD, **{"from": "2025-03-31", "to": "2025-03-01"}) == 422
    assert await status(auth.HEAD, **{"from": "2024-01-01", "to": "2025-01-01"}) == 422
    assert await status(auth.HEAD, **{"from": "2024-01-01", "to": "2024-12-31"}) == 200
    assert await status(auth.HEAD, by="nobody") == 422
    refused = await client.get("/scorecards", params={"from": "2025-04-01", "to": "2025-03-01"}, headers=auth.HEAD)
    [error] = refused.json()["errors"]
    assert error["field"] == "to" and "早于" in error["message"], refused.text


async def test_by_default_the_current_month_so_far(system):
    body = await card(system, "tracking", auth.HEAD)
    today = date.fromisoformat(body["to"])
    assert body["from"] == today.replace(day=1).isoformat()
    assert body["rows"] == []  # the seeded set is of 2025


# --- dispatch: the registry's review flag ----------------------------------------------------------------------------


async def test_the_registry_flags_an_organization_for_review_and_the_head_still_decides(system):
    dispatch = system.clients["dispatch"]
    # org-01 over the window: resolutions h1, h4 (round 1), t1, h2 — 3 of 4 on time (75% < 80%); valid ratings h1 满意
    # and h4 不满意 (50% < 80%); c2 found founded (1 >= 1).
    entry = (await dispatch.get("/organizations/org-01", headers=auth.HEAD)).json()
    review = entry["review"]
    assert review["flagged"] is True
    assert review["reasons"] == [
        "近36个月满意率 50%（1/2），低于 80%",
        "近36个月按时办结率 75%（3/4），低于 80%",
        "近36个月属实投诉 1 件，达到 1 件",
    ], review
    assert entry["status"] == "admitted"  # flagged, not suspended: the head decides
    # The list filtered by the flag; org-03 (one resolution at most, no rating, no complaint) is not flagged.
    flagged = (await dispatch.get("/organizations", params={"flagged": "true"}, headers=auth.HEAD)).json()
    assert [o["org_id"] for o in flagged] == ["org-01"]
    calm = (await dispatch.get("/organizations", params={"flagged": "false"}, headers=auth.ADMIN)).json()
    assert "org-01" not in {o["org_id"] for o in calm} and {"org-02", "org-03"} <= {o["org_id"] for o in calm}
    assert all(o["review"] == {"flagged": False, "reasons": [], "since": o["review"]["since"]} for o in calm)
    # The organization itself sees no flag and may not filter on it.
    own = (await dispatch.get("/organizations/org-01", headers=auth.ORG)).json()
    assert own["review"] is None
    refused = await dispatch.get("/organizations", params={"flagged": "true"}, headers=auth.ORG)
    assert refused.status_code == 403, refused.text
    # Another city's supervisor does not see org-01 at all, flagged or not.
    other = (await dispatch.get("/organizations", params={"flagged": "true"}, headers=auth.OTHER_SUPERVISOR)).json()
    assert other == []
