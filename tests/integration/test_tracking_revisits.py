"""Re-visits (回访, issue 10) through the real services on the real broker and databases.

Three stations, one story each, so every figure on /metrics is the station's own and exact:
- Tiexi: a 不满意 rating makes a 差评回访 task; it appears the working day after, is due the working day after that,
  and is overdue past it (the test's clock travelled there for reading); staff only, in scope; an attempt that did
  not reach the enterprise keeps it open, a reached re-visit (retried with its Idempotency-Key) completes it; both are
  RevisitRecorded on the broker and lines of the tracking sheet; the archive seals them in the dossier's "revisits"
  section once the rating is verified unfounded. GET /kpis counts the task of the period.
- Hunnan: a need not met makes its task when tracking hears its own Resolved; a 不满意 rating after it adds the
  mandatory 差评回访 task; one reached re-visit after the dossier was sealed completes both and is attached by the
  archive's supplement, with a complaint about the demand; a complaint about no demand is acknowledged and not kept.
- Panyu (another city): at a sample rate of 1 a satisfied resolution is drawn (抽样回访); back at 0 a demand has no
  task, and its re-visit is voluntary, counted apart.

Dates are read from the events (the tasks' own), so the tests pass at any hour.
"""

import contextlib
import json
from datetime import date, datetime, time, timedelta
from uuid import UUID

import pytest
import time_machine
from prometheus_client.parser import text_string_to_metric_families

from services.archive import usecases as archive
from shared.calendar import CHINA, add_working_days, china_today
from shared.contracts import Resolved, RevisitMethod, RevisitRecorded, utcnow
from tests.support import aftercare_events as ae
from tests.support import auth, events, infra
from tests.support.apps import body_of, capture_queue, drain, publish_event
from tests.support.system import System, fresh_system

pytestmark = pytest.mark.integration

HUNNAN = events.STATION
TIEXI = "210100/210106/tiexi-01"
PANYU = events.OTHER_STATION
CAPTURE = "test.tracking.revisits"
KINDS = ("dissatisfied", "not_met", "sample")
seen_on_broker: list[dict] = []


def clerk(station: str) -> dict:
    return {HUNNAN: auth.CLERK, PANYU: auth.OTHER_CLERK}.get(station) or auth.bearer("clerk", station, name="铁西窗口")


def head(station: str) -> dict:
    """Minted when asked: under a travelled clock, a token minted before would be from another day."""
    return auth.bearer("head", station, name={HUNNAN: "周站长", PANYU: "梁站长"}.get(station, "铁西站长"))


@pytest.fixture(scope="module")
async def system():
    async with fresh_system() as system:
        await capture_queue(system.amqp, f"{CAPTURE}.demand.revisited", "demand.revisited")
        await system.knows_stations("tracking", HUNNAN, TIEXI, PANYU)
        yield system


@contextlib.contextmanager
def on(day: date):
    """The clock at noon in China on `day`, stopped (HTTP reads only: nothing waits on the services meanwhile)."""
    with time_machine.travel(datetime.combine(day, time(12), tzinfo=CHINA), tick=False):
        yield


async def submitted_and_assigned(system: System, station: str) -> UUID:
    other = {}
    if station == PANYU:
        other = {
            "enterprise": {"name": "广州番禺电子科技有限公司", "credit_code": events.credit_code("91440113MA5A00001")}
        }
    demand = await system.submit(station, headers=clerk(station), **other)
    await system.assign(demand, org="org-02" if station == PANYU else "org-01", headers=head(station))
    return demand


async def resolve(system: System, demand: UUID, station: str, outcome: str) -> None:
    reply = await system.clients["tracking"].post(
        f"/demands/{demand}/resolution", json={"outcome": outcome, "summary": "已出具检定证书"}, headers=head(station)
    )
    assert reply.status_code == 200, reply.text
    await system.get_when(
        "evaluation", f"/surveys/{demand}", lambda s: s["status"] == "open", "the survey to open", head(station)
    )


async def rate(system: System, demand: UUID, station: str, overall: str) -> None:
    reply = await system.clients["evaluation"].post(
        f"/surveys/{demand}/rating", json={"answers": {"overall": overall}}, headers=clerk(station)
    )
    assert reply.status_code == 201, reply.text
    await system.get_when(
        "tracking",
        f"/demands/{demand}",
        lambda c: c["overall"] == overall,
        "tracking to record the rating",
        head(station),
    )


async def verify_unfounded(system: System, demand: UUID, station: str) -> None:
    body = {"finding": "unfounded", "reason": "经电话核实，企业对结果无异议", "evidence": "电话回访记录"}
    reply = await system.clients["tracking"].post(f"/demands/{demand}/verification", json=body, headers=head(station))
    assert reply.status_code == 201, reply.text


async def tasks_of(system: System, demand: UUID, station: str, count: int) -> list[dict]:
    """The demand's tasks once there are `count` (a resolution's comes from tracking's own Resolved, on its way)."""
    found = await system.get_when(
        "tracking",
        f"/demands/{demand}/revisits",
        lambda r: len(r["tasks"]) == count,
        f"{count} re-visit task(s)",
        head(station),
    )
    return found["tasks"]


async def overrides(system: System) -> dict[date, bool]:
    rows = await infra.fetch(
        system.databases["tracking"], "SELECT day, is_workday FROM calendar_corrections WHERE is_workday IS NOT NULL"
    )
    return {r["day"]: r["is_workday"] for r in rows}


async def expected_dates(system: System, task: dict) -> tuple[str, str]:
    made_on = china_today(datetime.fromisoformat(task["triggered_at"]))
    days = await overrides(system)
    return add_working_days(made_on, 1, days).isoformat(), add_working_days(made_on, 2, days).isoformat()


async def figures(system: System, station: str) -> dict[tuple, float]:
    """The station's re-visit series on /metrics: (name, kind) or (name, reached, voluntary) -> value."""
    reply = await system.clients["tracking"].get("/metrics")
    assert reply.status_code == 200, reply.text
    found = {}
    for family in text_string_to_metric_families(reply.text):
        for s in family.samples:
            if s.name.startswith("qs_revisits_") and s.labels.get("station_id") == station:
                assert (s.labels["district"], s.labels["city"]) == tuple(station.split("/")[1::-1]), s
                rest = (s.labels["kind"],) if "kind" in s.labels else (s.labels["reached"], s.labels["voluntary"])
                found[(s.name, *rest)] = s.value
    return found


def tasks_figures(due=(0, 0, 0), done=(0, 0, 0), overdue=(0, 0, 0)) -> dict[tuple, float]:
    """Every kind's series of the three task families, (dissatisfied, not_met, sample) each."""
    out = {}
    for name, values in (
        ("qs_revisits_due_total", due),
        ("qs_revisits_done_total", done),
        ("qs_revisits_overdue", overdue),
    ):
        out |= {(name, kind): float(v) for kind, v in zip(KINDS, values, strict=True)}
    return out


def recorded_figures(**counts: int) -> dict[tuple, float]:
    """qs_revisits_recorded_total by (reached, voluntary): e.g. reached_not_voluntary=1."""
    out = {}
    for reached in ("true", "false"):
        for voluntary in ("true", "false"):
            key = ("reached" if reached == "true" else "missed") + ("_voluntary" if voluntary == "true" else "")
            out[("qs_revisits_recorded_total", reached, voluntary)] = float(counts.get(key, 0))
    return out


async def revisit(system: System, demand: UUID, headers: dict, key: str | None = None, **body):
    form = {
        "method": "phone",
        "revisited_at": utcnow().isoformat(),
        "reached": True,
        "contact": "王建国（企业质量负责人）",
        "enterprise_said": "证书已收到，问题已解决",
        "need_met": True,
    } | body
    extra = {"Idempotency-Key": key} if key else {}
    return await system.clients["tracking"].post(f"/demands/{demand}/revisits", json=form, headers=headers | extra)


async def on_broker(system: System, demand: UUID) -> list[RevisitRecorded]:
    seen_on_broker.extend(body_of(m) for m in await drain(system.amqp, f"{CAPTURE}.demand.revisited"))
    return [RevisitRecorded.model_validate(e) for e in seen_on_broker if e["demand_id"] == str(demand)]


async def archive_logged(system: System, demand: UUID, routing_key: str) -> list[dict]:
    rows = await infra.fetch(
        system.databases["archive"],
        "SELECT payload FROM event_log WHERE demand_id = $1 AND routing_key = $2 ORDER BY occurred_at",
        demand,
        routing_key,
    )
    return [json.loads(r["payload"]) if isinstance(r["payload"], str) else r["payload"] for r in rows]


async def listed(system: System, headers: dict, **params) -> list[dict]:
    reply = await system.clients["tracking"].get("/revisits", params=params, headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


async def test_a_dissatisfied_rating_is_re_visited_published_and_sealed_in_the_dossier(system):
    tracking = system.clients["tracking"]
    demand = await submitted_and_assigned(system, TIEXI)
    await resolve(system, demand, TIEXI, "met")
    await rate(system, demand, TIEXI, "dissatisfied")

    # The 差评回访 task, made with the rating: it appears on the working day after it, due the next.
    [task] = await tasks_of(system, demand, TIEXI, 1)
    appears_on, due_on = await expected_dates(system, task)
    assert (task["kind"], task["kind_label"], task["round"]) == ("dissatisfied", "差评回访", 1)
    assert (task["appears_on"], task["due_on"], task["attempts"], task["done_at"]) == (appears_on, due_on, 0, None)
    appears, due = date.fromisoformat(appears_on), date.fromisoformat(due_on)
    if china_today(utcnow()) < appears:  # not yet: nothing listed, nothing counted
        assert task["status"] == "upcoming"
        assert str(demand) not in {r["demand_id"] for r in await listed(system, head(TIEXI))}
        assert await figures(system, TIEXI) == tasks_figures()

    with on(appears):
        rows = await listed(system, head(TIEXI), status="due")
        assert [(r["demand_id"], r["kind"], r["status"], r["status_label"]) for r in rows] == [
            (str(demand), "dissatisfied", "due", "待回访")
        ]
        assert rows[0]["contact_phone"] == "+8613804001234" and rows[0]["tracking_no"].endswith("-000001")
        assert await listed(system, head(TIEXI), status="overdue") == []
        city = auth.bearer("supervisor", "210100", name="沈阳市市场监管局")
        assert str(demand) in {r["demand_id"] for r in await listed(system, city, kind="dissatisfied")}
        assert str(demand) not in {r["demand_id"] for r in await listed(system, head(HUNNAN))}
        org = auth.bearer("org", org="org-01", name="市计量测试院")
        assert (await tracking.get("/revisits", headers=org)).status_code == 403
        assert (await tracking.get("/revisits", params={"station_id": TIEXI}, headers=head(PANYU))).status_code == 404
        assert await figures(system, TIEXI) == tasks_figures(due=(1, 0, 0))
    with on(due + timedelta(days=1)):
        [late] = await listed(system, head(TIEXI), status="overdue")
        assert (late["demand_id"], late["status_label"]) == (str(demand), "回访超期")
        assert await figures(system, TIEXI) == tasks_figures(due=(1, 0, 0), overdue=(1, 0, 0))

    # Who may record one: the station's staff; supervisors and organizations are refused, another station finds
    # nothing. Bad input is refused with its field, and nothing is recorded.
    for headers, status in ((auth.SUPERVISOR, 403), (auth.ORG, 403), (auth.ADMIN, 403), (auth.HEAD, 404)):
        assert (await revisit(system, demand, headers)).status_code == status, headers
    for body, field in (
        ({"contact": None}, "contact"),
        ({"enterprise_said": None}, "enterprise_said"),
        ({"reached": False, "need_met": True}, "need_met"),
        ({"revisited_at": (utcnow() + timedelta(hours=1)).isoformat()}, "revisited_at"),
        ({"revisited_at": (utcnow() - timedelta(days=30)).isoformat()}, "revisited_at"),
        ({"revisited_at": "2026-11-19T10:00:00"}, "revisited_at"),  # no offset
        ({"method": "email"}, "method"),
    ):
        reply = await revisit(system, demand, clerk(TIEXI), **body)
        assert reply.status_code == 422, (body, reply.text)
        assert [e["field"] for e in reply.json()["errors"]] == [field], reply.text
        assert reply.json()["message"] and reply.json()["message_en"]
    assert await archive_logged(system, demand, "demand.revisited") == []

    # An attempt: recorded and published, the task stays open.
    missed = await revisit(
        system, demand, clerk(TIEXI), reached=False, contact=None, enterprise_said="电话无人接听", need_met=None
    )
    assert missed.status_code == 201, missed.text
    assert missed.json()["voluntary"] is False and missed.json()["tasks"][0]["done_at"] is None
    assert missed.json()["tasks"][0]["attempts"] == 1

    # Reached: the task is done; a retry with the same key answers the same re-visit and records nothing more.
    at = utcnow().isoformat()
    reached = await revisit(system, demand, head(TIEXI), key="revisit-tiexi-1", method="visit", revisited_at=at)
    assert reached.status_code == 201, reached.text
    again = await revisit(system, demand, head(TIEXI), key="revisit-tiexi-1", method="visit", revisited_at=at)
    assert again.status_code == 201 and again.json()["revisit_id"] == reached.json()["revisit_id"]
    other = await revisit(system, demand, head(TIEXI), key="revisit-tiexi-1", method="phone", revisited_at=at)
    assert other.status_code == 409 and other.json()["code"] == "idempotency_conflict", other.text
    done = reached.json()
    assert (done["method"], done["method_label"], done["reached"], done["need_met"]) == (
        "visit",
        "上门回访",
        True,
        True,
    )
    [after] = done["tasks"]
    assert after["status"] == "done" and after["done_at"] is not None and after["attempts"] == 2

    published = await infra.eventually(
        lambda: _two(on_broker(system, demand)), what="both RevisitRecorded on the broker"
    )
    first, second = sorted(published, key=lambda e: e.reached)
    assert (first.reached, first.need_met, first.enterprise_said) == (False, None, "电话无人接听")
    assert (second.method, second.round, second.contact) == (RevisitMethod.visit, 1, "王建国（企业质量负责人）")
    assert second.recorded_by == "铁西站长" and str(second.revisit_id) == done["revisit_id"]
    case = (await tracking.get(f"/demands/{demand}", headers=head(TIEXI))).json()
    texts = [e["text"] for e in case["timeline"]]
    assert any(
        t.startswith("铁西窗口 电话回访（") and "未联系上企业，电话无人接听；回访任务待再次回访" in t for t in texts
    )
    assert any("铁西站长 上门回访（" in t and "企业确认需求已满足；完成差评回访任务" in t for t in texts), texts

    with on(due + timedelta(days=1)):
        assert await figures(system, TIEXI) == tasks_figures(due=(1, 0, 0), done=(1, 0, 0)) | recorded_figures(
            reached=1, missed=1
        )
        assert await listed(system, head(TIEXI), status="overdue") == []
        kpis = await tracking.get(
            "/kpis", params={"station_id": TIEXI, "from": due_on, "to": due_on}, headers=head(TIEXI)
        )
        assert kpis.status_code == 200, kpis.text
        want = {
            "due": 1,
            "done": 1,
            "revisit_rate": 1.0,
            "dissatisfied_due": 1,
            "dissatisfied_done": 1,
            "dissatisfied_revisit_rate": 1.0,
            "overdue": 0,
            "voluntary": 0,
        }
        [station] = kpis.json()["stations"]
        assert station["revisits"] == want and kpis.json()["total"]["revisits"] == want
        before = await tracking.get(
            "/kpis", params={"station_id": TIEXI, "from": appears_on, "to": appears_on}, headers=head(TIEXI)
        )
        assert before.json()["total"]["revisits"]["due"] == (1 if appears_on == due_on else 0)

    # The archive keeps both in the sealed dossier, once the rating's verification lets it seal.
    await infra.eventually(
        lambda: _two(archive_logged(system, demand, "demand.revisited")), what="the archive to log both re-visits"
    )
    await verify_unfounded(system, demand, TIEXI)
    dossier = await system.get_when(
        "archive", f"/dossiers/{demand}", lambda d: True, "the dossier to be sealed", head(TIEXI)
    )
    assert [r["revisit_id"] for r in dossier["content"]["revisits"]] == [str(first.revisit_id), done["revisit_id"]]
    assert dossier["supplements"] == []


async def _two(found):
    found = await found
    return found if len(found) == 2 else None


async def test_a_need_not_met_then_a_dissatisfied_rating_make_two_tasks_one_re_visit_completes_both(system):
    demand = await submitted_and_assigned(system, HUNNAN)
    await resolve(system, demand, HUNNAN, "not_met")
    [not_met] = await tasks_of(system, demand, HUNNAN, 1)  # from tracking's own Resolved
    assert (not_met["kind"], not_met["kind_label"], not_met["sample_rate"]) == ("not_met", "未满足需求回访", None)
    assert (not_met["appears_on"], not_met["due_on"]) == await expected_dates(system, not_met)

    # The 不满意 rating comes after the task exists: its 差评回访 is mandatory all the same.
    await rate(system, demand, HUNNAN, "dissatisfied")
    tasks = await tasks_of(system, demand, HUNNAN, 2)
    assert [t["kind"] for t in tasks] == ["not_met", "dissatisfied"]
    dissatisfied = tasks[1]
    assert (dissatisfied["appears_on"], dissatisfied["due_on"]) == await expected_dates(system, dissatisfied)
    await verify_unfounded(system, demand, HUNNAN)
    sealed = await system.get_when("archive", f"/dossiers/{demand}", lambda d: True, "the dossier to be sealed")
    assert sealed["content"]["revisits"] == [] and sealed["content"]["complaints"] == []

    # One re-visit after the seal completes both; the archive logs it and its supplement attaches it.
    reply = await revisit(system, demand, auth.CLERK, need_met=False, enterprise_said="报告已收到，但问题仍未解决")
    assert reply.status_code == 201, reply.text
    assert [t["status"] for t in reply.json()["tasks"]] == ["done", "done"]
    assert reply.json()["voluntary"] is False
    last = max(date.fromisoformat(t["appears_on"]) for t in tasks)
    with on(last):
        assert await figures(system, HUNNAN) == tasks_figures(due=(1, 1, 0), done=(1, 1, 0)) | recorded_figures(
            reached=1
        )

    # Complaints: one about this demand goes into its record; one about no demand is acknowledged and not kept.
    [resolved] = await infra.fetch(
        system.databases["tracking"],
        "SELECT payload FROM outbox WHERE routing_key = 'demand.resolved' AND demand_id = $1",
        demand,
    )
    about = ae.complaint(Resolved.model_validate(json.loads(resolved["payload"])))
    general = ae.complaint()
    await publish_event(system.amqp, about)
    await publish_event(system.amqp, general)
    await infra.eventually(lambda: archive_logged(system, demand, "complaint.updated"), what="the complaint logged")
    await infra.eventually(lambda: archive_logged(system, demand, "demand.revisited"), what="the re-visit logged")
    await infra.eventually(
        lambda: _consumed(system, "archive.complaint.updated"), what="the general complaint acknowledged"
    )
    kept = await infra.fetch(
        system.databases["archive"], "SELECT 1 FROM event_log WHERE event_id = $1", general.event_id
    )
    assert kept == [] and await infra.queue_depth(system.amqp, "archive.complaint.updated.dlq") == 0

    _, added = await archive.audit(system.apps["archive"].state.runtime.uow, supplement=True)
    dossier = await system.get_when(
        "archive", f"/dossiers/{demand}", lambda d: d["supplements"], "the supplement to be attached"
    )
    attached = [e for s in dossier["supplements"] for e in s["content"]["events"]]
    assert {e["type"] for e in attached} == {"demand.revisited", "complaint.updated"}
    [kept_visit] = [e["payload"] for e in attached if e["type"] == "demand.revisited"]
    assert (kept_visit["revisit_id"], kept_visit["need_met"]) == (reply.json()["revisit_id"], False)
    assert dossier["content"]["revisits"] == []  # the sealed dossier itself never changes
    assert any(s.demand_id == demand for s in added)


async def _consumed(system: System, queue: str) -> bool:
    return await infra.queue_depth(system.amqp, queue) == 0


async def test_a_sampled_resolution_gets_a_task_and_a_demand_without_one_is_re_visited_voluntarily(system):
    tracking = system.clients["tracking"]
    every = await tracking.put(f"/stations/{PANYU}/clock", json={"revisit_sample_rate": 1}, headers=head(PANYU))
    assert every.status_code == 200, every.text
    assert (every.json()["revisit_sample_rate"], every.json()["revisit_days"]) == (1.0, 2)
    assert every.json()["own"]["revisit_sample_rate"] == 1.0 and every.json()["defaults"]["revisit_sample_rate"] == 0
    drawn = await submitted_and_assigned(system, PANYU)
    await resolve(system, drawn, PANYU, "met")
    [sample] = await tasks_of(system, drawn, PANYU, 1)
    assert (sample["kind"], sample["kind_label"], sample["sample_rate"]) == ("sample", "抽样回访", 1.0)

    none = await tracking.put(f"/stations/{PANYU}/clock", json={"revisit_sample_rate": 0}, headers=head(PANYU))
    assert none.status_code == 200 and none.json()["revisit_sample_rate"] == 0
    bad = await tracking.put(f"/stations/{PANYU}/clock", json={"revisit_sample_rate": 1.5}, headers=head(PANYU))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "revisit_sample_rate"
    undrawn = await submitted_and_assigned(system, PANYU)
    early = await revisit(system, undrawn, auth.OTHER_CLERK)
    assert early.status_code == 409 and "尚未办结" in early.json()["message"], early.text
    await resolve(system, undrawn, PANYU, "met")
    await rate(system, undrawn, PANYU, "satisfied")
    await infra.eventually(lambda: _done_with(system, undrawn), what="tracking to hear its own resolution", timeout=30)
    assert (await tracking.get(f"/demands/{undrawn}/revisits", headers=head(PANYU))).json()["tasks"] == []
    reply = await revisit(system, undrawn, auth.OTHER_CLERK, method="message")
    assert reply.status_code == 201, reply.text
    assert (reply.json()["voluntary"], reply.json()["tasks"]) == (True, [])
    case = (await tracking.get(f"/demands/{undrawn}", headers=head(PANYU))).json()
    assert any("何家豪 留言回访（" in e["text"] and e["text"].endswith("（主动回访）") for e in case["timeline"])

    appears_on = date.fromisoformat(sample["appears_on"])
    with on(appears_on):
        assert await figures(system, PANYU) == tasks_figures(due=(0, 0, 1)) | recorded_figures(reached_voluntary=1)
        revisited_on = china_today(datetime.fromisoformat(reply.json()["revisited_at"])).isoformat()
        period = {"station_id": PANYU, "from": revisited_on, "to": appears_on.isoformat()}
        kpis = (await tracking.get("/kpis", params=period, headers=head(PANYU))).json()
        assert kpis["total"]["revisits"]["voluntary"] == 1 and kpis["total"]["revisits"]["done"] == 0


async def _done_with(system: System, demand: UUID) -> bool:
    """Tracking has handled its own Resolved of the demand (its inbox holds it): nothing was made of it."""
    rows = await infra.fetch(
        system.databases["tracking"],
        """SELECT 1 FROM inbox i JOIN outbox o ON o.event_id = i.event_id
        WHERE i.consumer = 'tracking' AND o.routing_key = 'demand.resolved' AND o.demand_id = $1""",
        demand,
    )
    return bool(rows)
