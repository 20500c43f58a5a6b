"""预警、催办、督办 through the real broker with a frozen clock.

The system runs in this process, so `time_machine.travel` moves every service's clock at once and the scheduler's
round (`supervision.usecases.scan`) is called directly at the chosen instants; a second unit of work on its own pool
is a second replica. The background round is slowed to once an hour so only the test's rounds fire.
"""

import asyncio
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import pytest
import time_machine

from services.tracking.store import Store
from services.tracking.supervision import usecases
from shared.calendar import CHINA, add_working_days, china_today, is_workday
from shared.db.pool import create_pool
from shared.db.uow import UnitOfWork
from tests.support import apps, auth, events, infra
from tests.support.system import running_system

pytestmark = pytest.mark.integration

CAPTURE = "test.tracking.supervision"
ROUTING_KEYS = ("demand.warned", "demand.chased", "demand.supervised", "demand.supervision_answered")


@pytest.fixture
async def system(amqp, databases):
    async with running_system(amqp, databases, tracking={"scan_every_seconds": 3600}) as system:
        for key in ROUTING_KEYS:
            await apps.capture_queue(amqp, CAPTURE, key)
        system.amqp = amqp
        yield system


def runtime(system):
    return system.apps["tracking"].state.runtime


async def overrides(system) -> dict[date, bool]:
    async with runtime(system).uow.begin() as tx:
        return await tx.store.calendar_overrides()


def at(day: date, hour: int = 10) -> datetime:
    """An instant on a China date."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=CHINA)


async def scan_at(system, day: date, *uows: UnitOfWork, hour: int = 10) -> None:
    """One scheduler round at `day` on each unit of work given (the app's own by default), all at once."""
    rt = runtime(system)
    with time_machine.travel(at(day, hour), tick=True):
        await asyncio.gather(*(usecases.scan(u, rt.settings) for u in (uows or (rt.uow,))))


async def handling_due(system, demand_id: UUID) -> date:
    async def known():
        rows = await infra.fetch(
            system.databases["tracking"],
            "SELECT COALESCE(handling_due_on, due_on) AS due FROM cases WHERE demand_id = $1",
            demand_id,
        )
        return rows and rows[0]["due"]

    return await infra.eventually(known, what="the handling deadline")


async def alerts(system, demand_id: UUID) -> list[tuple[str, str, str | None]]:
    rows = await infra.fetch(
        system.databases["tracking"],
        "SELECT kind, deadline, level FROM alerts WHERE demand_id = $1 ORDER BY alert_id",
        demand_id,
    )
    return [(r["kind"], r["deadline"], r["level"]) for r in rows]


async def claims(system) -> int:
    """Alert ids taken so far: a round that tries to fire something already fired would take one."""
    rows = await infra.fetch(system.databases["tracking"], "SELECT last_value, is_called FROM alerts_alert_id_seq")
    return rows[0]["last_value"] if rows[0]["is_called"] else 0


async def supervisions(system, demand_id: UUID) -> list[dict]:
    rows = await infra.fetch(
        system.databases["tracking"],
        "SELECT * FROM supervisions WHERE demand_id = $1 ORDER BY issued_at, level DESC",
        demand_id,
    )
    return [dict(r) for r in rows]


async def outbox(system, demand_id: UUID) -> Counter:
    rows = await infra.fetch(
        system.databases["tracking"], "SELECT routing_key FROM outbox WHERE demand_id = $1", demand_id
    )
    return Counter(r["routing_key"] for r in rows if r["routing_key"] in ROUTING_KEYS)


class Broker:
    """What reached the broker on the capturing queue, kept across drains."""

    def __init__(self, system) -> None:
        self.system = system
        self.seen: Counter = Counter()

    async def has(self, expected: Counter, *demands: UUID) -> None:
        """Wait until the broker carried exactly `expected` (routing key -> count) for each of `demands`."""

        async def arrived():
            for message in await apps.drain(self.system.amqp, CAPTURE):
                body = apps.body_of(message)
                self.seen[(message.routing_key, body["demand_id"])] += 1
            return all(self.counts(d) == expected for d in demands)

        await infra.eventually(arrived, timeout=20, what=f"{dict(expected)} on the broker")

    def counts(self, demand_id: UUID) -> Counter:
        return Counter({k: n for (k, d), n in self.seen.items() if d == str(demand_id)})


async def second_replica(system):
    """Another tracking replica's unit of work: its own pool on the same database."""
    pool = await create_pool(runtime(system).settings.resolved_app_database_url, min_size=1, max_size=4)
    uow = UnitOfWork("tracking", Store)
    uow.bind(pool)
    return uow, pool


async def test_warning_chase_and_escalation_each_fire_once_on_two_replicas(system):
    broker = Broker(system)
    demands = []
    for _ in range(3):
        demand_id = await system.submit()
        await system.assign(demand_id)
        demands.append(demand_id)
    d1, d2, d3 = demands
    due = {await handling_due(system, d) for d in demands}
    assert len(due) == 1, due
    (due_on,) = due
    cal = await overrides(system)
    # The working day before the deadline: one working day left, within the default warn_days (1).
    warn_day = due_on - timedelta(days=1)
    while not is_workday(warn_day, cal):
        warn_day -= timedelta(days=1)
    assert warn_day >= china_today(datetime.now(UTC))
    replica2, pool = await second_replica(system)
    try:
        # Both replicas scan at once, twice: each warning fires exactly once.
        await scan_at(system, warn_day, runtime(system).uow, replica2)
        await scan_at(system, warn_day, runtime(system).uow, replica2, hour=16)
    finally:
        await pool.close()
    for d in demands:
        assert await alerts(system, d) == [("warning", "handling", None)]
        assert await outbox(system, d) == Counter({"demand.warned": 1})
    await broker.has(Counter({"demand.warned": 1}), *demands)
    # Nothing new to fire: the round tries nothing (no alert id taken, so no INSERT attempted).
    taken = await claims(system)
    await scan_at(system, warn_day, hour=18)
    assert await claims(system) == taken

    # The day after the deadline: chased; two working days late: the district's 督办.
    await scan_at(system, due_on + timedelta(days=1))
    late = add_working_days(due_on, 2, cal)
    await scan_at(system, late)
    await scan_at(system, late, hour=17)
    for d in demands:
        assert await alerts(system, d) == [
            ("warning", "handling", None),
            ("chase", "handling", None),
            ("supervision", "handling", "district"),
        ]
    await broker.has(Counter({"demand.warned": 1, "demand.chased": 1, "demand.supervised": 1}), *demands)
    (district,) = await supervisions(system, d1)
    assert (district["level"], district["supervisor_scope"], district["issued_by"]) == (
        "district",
        "210100/210112",
        "system",
    )
    assert district["reply_due_on"] == add_working_days(late, 2, cal)
    assert district["deadline"] == "handling" and f"办结时限 {due_on.isoformat()}" in district["comment"]
    sheet = await system.clients["tracking"].get(f"/demands/{d1}", headers=auth.HEAD)
    texts = [e["text"] for e in sheet.json()["timeline"]]
    assert any(t.startswith("预警：办结时限") for t in texts) and any(t.startswith("催办：办结时限") for t in texts)
    assert any(t.startswith("区县督办：system") for t in texts), texts

    # d2's station answers in time; d1's and d3's do not: past the reply date they go up to the city.
    (d2_district,) = await supervisions(system, d2)
    reply_day = district["reply_due_on"]
    with time_machine.travel(at(reply_day), tick=True):
        clerk = auth.bearer("clerk", events.STATION, name="张晓燕")
        answered = await system.clients["tracking"].post(
            f"/supervisions/{d2_district['supervision_id']}/answer", json={"answer": "机构已出具报告"}, headers=clerk
        )
        assert answered.status_code == 200, answered.text
        assert answered.json()["status"] == "answered"
    past_reply = reply_day + timedelta(days=1)
    await scan_at(system, past_reply)
    await scan_at(system, past_reply, hour=18)
    for d in (d1, d3):
        first, city = await supervisions(system, d)
        assert first["escalated_at"] is not None and first["answered_at"] is None
        assert (city["level"], city["supervisor_scope"], city["escalated_from"]) == (
            "city",
            "210100",
            first["supervision_id"],
        )
        assert city["reply_due_on"] == add_working_days(past_reply, 2, cal)
    assert [s["level"] for s in await supervisions(system, d2)] == ["district"]
    await broker.has(Counter({"demand.warned": 1, "demand.chased": 1, "demand.supervised": 2}), d1, d3)
    await broker.has(
        Counter({"demand.warned": 1, "demand.chased": 1, "demand.supervised": 1, "demand.supervision_answered": 1}),
        d2,
    )

    # The city's 督办 unanswered too: chased once, and no further.
    _, city = await supervisions(system, d1)
    after_city = city["reply_due_on"] + timedelta(days=1)
    await scan_at(system, after_city)
    taken = await claims(system)
    await scan_at(system, after_city + timedelta(days=7))  # an unanswered city 督办 is no longer picked up
    assert await claims(system) == taken
    assert (await alerts(system, d1))[-2:] == [("supervision", "reply", "city"), ("chase", "reply", "city")]
    await broker.has(Counter({"demand.warned": 1, "demand.chased": 2, "demand.supervised": 2}), d1, d3)
    metrics = (await system.clients["tracking"].get("/metrics")).text
    assert 'qs_supervisions_total{level="city",station_id="210100/210112/hunnan-01"} 2.0' in metrics


async def test_catching_up_after_three_days_down_and_supervision_by_hand(system):
    broker = Broker(system)
    d4 = await system.submit()
    await system.assign(d4)
    d5 = await system.submit()
    await system.assign(d5)
    due_on = await handling_due(system, d4)
    cal = await overrides(system)
    today = china_today(datetime.now(UTC))
    tracking = system.clients["tracking"]

    # 督办 by hand: a district supervisor's (reply tomorrow's working day), a city supervisor's (default reply date).
    district_supervisor = auth.bearer("supervisor", "210100/210112", name="浑南区市场监管局")
    reply = add_working_days(today, 1, cal)
    body = {"comment": "请说明办理进展", "reply_due_on": reply.isoformat()}
    by_district = await tracking.post(f"/demands/{d5}/supervisions", json=body, headers=district_supervisor)
    assert by_district.status_code == 201, by_district.text
    assert (by_district.json()["level"], by_district.json()["supervisor_scope"]) == ("district", "210100/210112")
    # Sent twice with one Idempotency-Key (a retry after a lost reply): one 督办.
    retried = auth.SUPERVISOR | {"Idempotency-Key": "city-supervision-1"}
    by_city = await tracking.post(f"/demands/{d5}/supervisions", json={"comment": "市局督办"}, headers=retried)
    assert by_city.status_code == 201, by_city.text
    again = await tracking.post(f"/demands/{d5}/supervisions", json={"comment": "市局督办"}, headers=retried)
    assert again.status_code == 201 and again.json() == by_city.json(), again.text
    assert [s["level"] for s in await supervisions(system, d5)] == ["district", "city"]
    assert (by_city.json()["level"], by_city.json()["reply_due_on"]) == (
        "city",
        add_working_days(today, 2, cal).isoformat(),
    )
    for headers, status in ((auth.OTHER_SUPERVISOR, 404), (auth.HEAD, 403), (auth.ORG, 403)):
        refused = await tracking.post(f"/demands/{d5}/supervisions", json=body, headers=headers)
        assert refused.status_code == status, refused.text
    too_soon = await tracking.post(
        f"/demands/{d5}/supervisions", json=body | {"reply_due_on": today.isoformat()}, headers=auth.SUPERVISOR
    )
    assert too_soon.status_code == 422 and too_soon.json()["errors"][0]["field"] == "reply_due_on", too_soon.text

    # The station answers the city's; once.
    city_id = by_city.json()["supervision_id"]
    elsewhere = auth.bearer("clerk", "210100/210106/tiexi-01", name="铁西窗口")
    assert (
        await tracking.post(f"/supervisions/{city_id}/answer", json={"answer": "x"}, headers=elsewhere)
    ).status_code == 404
    assert (
        await tracking.post(f"/supervisions/{city_id}/answer", json={"answer": "x"}, headers=auth.SUPERVISOR)
    ).status_code == 403
    answered = await tracking.post(f"/supervisions/{city_id}/answer", json={"answer": "已完成检定"}, headers=auth.HEAD)
    assert answered.status_code == 200 and answered.json()["answered_by"] == "周站长", answered.text
    again = await tracking.post(f"/supervisions/{city_id}/answer", json={"answer": "再答"}, headers=auth.CLERK)
    assert again.status_code == 409, again.text

    # Every deadline of the case is visible: each 督办's reply deadline beside the response and handling ones.
    clock = await tracking.get(f"/demands/{d5}/clock", headers=auth.CLERK)
    replies = {d["supervision_id"]: d for d in clock.json()["deadlines"] if d["kind"] == "reply"}
    assert replies[city_id]["status"] == "met" and replies[city_id]["met_on"] == today.isoformat(), replies
    district = replies[by_district.json()["supervision_id"]]
    assert (district["status"], district["level"], district["due_on"]) == ("open", "district", body["reply_due_on"])

    # Lists: the station's and the supervisors' own, filtered by status; another station's and city's see nothing.
    async def listed(headers, **params) -> set[str]:
        reply = await tracking.get("/supervisions", params=params, headers=headers)
        assert reply.status_code == 200, reply.text
        return {s["supervision_id"] for s in reply.json()}

    both = {by_district.json()["supervision_id"], city_id}
    assert await listed(auth.CLERK) == both == await listed(auth.SUPERVISOR) == await listed(district_supervisor)
    assert await listed(auth.HEAD, status="open") == {by_district.json()["supervision_id"]}
    assert await listed(auth.HEAD, status="answered") == {city_id}
    assert await listed(elsewhere) == set() == await listed(auth.OTHER_SUPERVISOR) == await listed(auth.OTHER_HEAD)
    assert (await tracking.get("/supervisions", headers=auth.ORG)).status_code == 403

    # The scheduler is down from now until three working days after the deadline: one round catches up with the
    # chase and the 督办 (no warning for a deadline already passed) and escalates the unanswered district 督办.
    back = add_working_days(due_on, 3, cal)
    await scan_at(system, back)
    assert await alerts(system, d4) == [("chase", "handling", None), ("supervision", "handling", "district")]
    d5_alerts = await alerts(system, d5)
    assert sorted(d5_alerts, key=str) == sorted(
        [("chase", "handling", None), ("supervision", "handling", "district"), ("supervision", "reply", "city")],
        key=str,
    )
    await scan_at(system, back, hour=16)
    assert len(await alerts(system, d4)) == 2 and len(await alerts(system, d5)) == 3
    await broker.has(Counter({"demand.chased": 1, "demand.supervised": 1}), d4)
    await broker.has(
        Counter({"demand.chased": 1, "demand.supervised": 4, "demand.supervision_answered": 1}), d5
    )  # two by hand, the automatic district one, and the escalation of the district supervisor's
    rows = {s["supervision_id"]: s for s in await supervisions(system, d5)}
    manual = rows[UUID(by_district.json()["supervision_id"])]
    assert manual["escalated_at"] is not None
    (escalation,) = [s for s in rows.values() if s["escalated_from"] == manual["supervision_id"]]
    assert (escalation["level"], escalation["issued_by"]) == ("city", "system")
    with time_machine.travel(at(back), tick=True):
        head = auth.bearer("head", events.STATION, name="周站长")
        late = await tracking.post(
            f"/supervisions/{manual['supervision_id']}/answer", json={"answer": "迟复"}, headers=head
        )
        assert late.status_code == 409, late.text
        escalated = await tracking.get("/supervisions", params={"status": "escalated"}, headers=head)
        assert {s["supervision_id"] for s in escalated.json()} == {str(manual["supervision_id"])}
