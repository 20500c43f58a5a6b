"""Special tasks (专项工作, 002 §9.6) through the running system: a supervisor assigns to its subtree, stations
report, the supervisor sees completion across its stations and nobody else sees anything; every task and every report
is announced exactly once on the real broker (SpecialTaskAssigned, SpecialTaskReported), retries with an
Idempotency-Key included; the scan under a frozen clock warns, chases and supervises (督办) each part exactly once, by
each station's own clock settings, with two replicas scanning at once and after downtime."""

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

import asyncpg
import pytest
import time_machine

from services.tracking.store import Store
from services.tracking.tasks import usecases as tasks
from shared.calendar import CHINA, add_working_days, china_today
from shared.contracts import SpecialTaskAssigned, SpecialTaskReported
from shared.db.pool import create_pool
from shared.db.uow import UnitOfWork
from tests.support import auth, events, infra
from tests.support.apps import body_of, capture_queue, drain
from tests.support.system import running_system

pytestmark = pytest.mark.integration

HUNNAN = events.STATION  # 210100/210112/hunnan-01
XINSONG = "210100/210112/hunnan-xinsong"  # an enterprise station below Hunnan's
TIEXI = "210100/210106/tiexi-01"
PANYU = events.OTHER_STATION

CITY = auth.SUPERVISOR  # 210100
DISTRICT = auth.bearer("supervisor", "210100/210112", name="浑南区市场监管局")
TIEXI_CLERK = auth.bearer("clerk", TIEXI, name="铁西窗口")
CAPTURE = "test.tracking.special-tasks"  # bound like a consumer's queue to special_task.*


def _today() -> date:
    return china_today(datetime.now(UTC))


def task_form(**fields) -> dict:
    return {
        "title": "2026年计量器具专项检查",
        "description": "请各站于截止日前完成辖区内重点企业计量器具台账核查，并填报进度。",
        "due_on": add_working_days(_today(), 5).isoformat(),
        "attachments": [
            {"name": "通知", "ref": "沈市监发〔2026〕12号"},
            {"name": "检查表", "ref": "https://scjg.shenyang.gov.cn/zwgk/2026/jl-12.html"},
        ],
        **fields,
    }


def _field(reply) -> str:
    return reply.json()["errors"][0]["field"]


async def _announced(system) -> tuple[list[SpecialTaskAssigned], list[SpecialTaskReported]]:
    """Every special-task event tracking published, once the relay has published all it wrote (outbox)."""

    async def relayed() -> int | None:
        rows = await infra.fetch(
            system.databases["tracking"],
            "SELECT published_at FROM outbox WHERE routing_key LIKE 'special_task.%'",
        )
        return len(rows) if all(r["published_at"] for r in rows) else None

    written = await infra.eventually(relayed, timeout=30, what="the special-task events relayed")
    bodies = [(m.routing_key, body_of(m)) for m in await drain(system.amqp, CAPTURE)]
    assert len(bodies) == written, bodies
    assigned = [SpecialTaskAssigned.model_validate(b) for k, b in bodies if k == SpecialTaskAssigned.routing_key]
    reported = [SpecialTaskReported.model_validate(b) for k, b in bodies if k == SpecialTaskReported.routing_key]
    assert len(assigned) + len(reported) == len(bodies)
    return assigned, reported


async def test_a_supervisor_assigns_stations_report_and_only_the_scope_sees_it(amqp, databases):
    async with running_system(amqp, databases) as system:
        await capture_queue(system.amqp, CAPTURE, "special_task.*")
        await system.knows_stations("tracking", HUNNAN, XINSONG, TIEXI, PANYU)
        t = system.clients["tracking"]
        shenyang = {
            r["station_id"]
            for r in await infra.fetch(
                system.databases["tracking"],
                "SELECT station_id FROM station_tree WHERE qs_covers('210100', station_id)",
            )
        }
        assert {HUNNAN, XINSONG, TIEXI} <= shenyang and PANYU not in shenyang

        # The city assigns to all of its stations; a retry with the same key gets the same task.
        key = {"Idempotency-Key": "special-task-jl-2026"}
        made = await t.post("/special-tasks", json=task_form(), headers=CITY | key)
        assert made.status_code == 201, made.text
        city_task = made.json()
        assert {s["station_id"] for s in city_task["stations"]} == shenyang
        assert all(s["state"] == "open" and s["reports"] == [] for s in city_task["stations"])
        assert city_task["issuer_scope"] == "210100" and city_task["attachments"][0]["ref"] == "沈市监发〔2026〕12号"
        again = await t.post("/special-tasks", json=task_form(), headers=CITY | key)
        assert again.status_code == 201 and again.json()["task_id"] == city_task["task_id"]
        reused = await t.post("/special-tasks", json=task_form(title="另一项任务"), headers=CITY | key)
        assert reused.status_code == 409
        city_id = city_task["task_id"]

        # A district assigns within its district only, and never into the past.
        outside = await t.post("/special-tasks", json=task_form(station_ids=[HUNNAN, TIEXI]), headers=DISTRICT)
        assert outside.status_code == 422 and _field(outside) == "station_ids", outside.text
        assert TIEXI in outside.json()["errors"][0]["message"] and outside.json()["errors"][0]["message_en"]
        past = (_today() - timedelta(days=1)).isoformat()
        late = await t.post("/special-tasks", json=task_form(due_on=past), headers=DISTRICT)
        assert late.status_code == 422 and _field(late) == "due_on", late.text
        bad = await t.post(
            "/special-tasks",
            json=task_form(attachments=[{"name": "x", "ref": "javascript:alert(1)"}]),
            headers=DISTRICT,
        )
        assert bad.status_code == 422 and _field(bad) == "attachments.0.ref", bad.text
        made = await t.post("/special-tasks", json=task_form(title="浑南区质量提升专项"), headers=DISTRICT)
        assert made.status_code == 201, made.text
        district_task = made.json()
        assert {s["station_id"] for s in district_task["stations"]} == {HUNNAN, XINSONG}
        district_id = district_task["task_id"]

        # Nobody else assigns: operations do not direct stations; staff and organizations neither.
        for headers in (auth.ADMIN, auth.HEAD, auth.CLERK, auth.ORG):
            assert (await t.post("/special-tasks", json=task_form(), headers=headers)).status_code == 403

        # Hunnan reports progress and completion, then nothing more; Tiexi reports progress on the city's task.
        progress = {
            "kind": "progress",
            "text": "已完成 12 家企业台账核查",
            "attachments": [{"name": "台账", "ref": "JL-2026-001"}],
        }
        report_key = {"Idempotency-Key": "report-jl-2026-1"}
        first = await t.post(f"/special-tasks/{city_id}/reports", json=progress, headers=auth.CLERK | report_key)
        assert first.status_code == 201, first.text
        assert first.json()["state"] == "open" and first.json()["reports"][0]["reported_by_name"] == "张晓燕"
        retried = await t.post(f"/special-tasks/{city_id}/reports", json=progress, headers=auth.CLERK | report_key)
        assert (retried.status_code, retried.json()) == (201, first.json())  # one report, announced once
        done = await t.post(
            f"/special-tasks/{city_id}/reports", json={"kind": "completion", "text": "全部完成"}, headers=auth.HEAD
        )
        assert done.status_code == 201 and done.json()["state"] == "done", done.text
        assert [r["kind"] for r in done.json()["reports"]] == ["progress", "completion"]
        assert done.json()["completed_by"] == "周站长"
        after = await t.post(f"/special-tasks/{city_id}/reports", json=progress, headers=auth.CLERK)
        assert after.status_code == 409, after.text
        tiexi = await t.post(f"/special-tasks/{city_id}/reports", json=progress, headers=TIEXI_CLERK)
        assert tiexi.status_code == 201 and tiexi.json()["station_id"] == TIEXI
        not_tiexis = await t.post(f"/special-tasks/{district_id}/reports", json=progress, headers=TIEXI_CLERK)
        assert not_tiexis.status_code == 404
        for headers in (CITY, auth.ADMIN, auth.ORG):
            assert (
                await t.post(f"/special-tasks/{city_id}/reports", json=progress, headers=headers)
            ).status_code == 403

        # The city sees completion across all its stations, and the district's task too.
        listed = {r["task_id"]: r for r in (await t.get("/special-tasks", headers=CITY)).json()}
        assert set(listed) == {city_id, district_id}
        c = listed[city_id]
        assert (c["stations_total"], c["stations_done"], c["stations_overdue"]) == (len(shenyang), 1, 0)
        assert listed[district_id]["stations_total"] == 2 and listed[city_id]["own"] is None
        detail = (await t.get(f"/special-tasks/{city_id}", headers=CITY)).json()
        assert {s["station_id"] for s in detail["stations"]} == shenyang
        by_station = {s["station_id"]: s for s in detail["stations"]}
        assert by_station[HUNNAN]["state"] == "done" and by_station[TIEXI]["state"] == "open"
        assert len(by_station[TIEXI]["reports"]) == 1
        done_only = (await t.get("/special-tasks", params={"state": "done"}, headers=CITY)).json()
        assert done_only == []

        # The district sees the city's task for its own stations only.
        listed = {r["task_id"]: r for r in (await t.get("/special-tasks", headers=DISTRICT)).json()}
        assert set(listed) == {city_id, district_id}
        assert (listed[city_id]["stations_total"], listed[city_id]["stations_done"]) == (2, 1)
        seen = (await t.get(f"/special-tasks/{city_id}", headers=DISTRICT)).json()
        assert {s["station_id"] for s in seen["stations"]} == {HUNNAN, XINSONG}

        # A station sees the tasks given to it with its own status, and only its own part.
        mine = (await t.get("/special-tasks", headers=TIEXI_CLERK)).json()
        assert [r["task_id"] for r in mine] == [city_id]
        assert mine[0]["own"]["state"] == "open" and mine[0]["stations_total"] == 1
        seen = (await t.get(f"/special-tasks/{city_id}", headers=TIEXI_CLERK)).json()
        assert [s["station_id"] for s in seen["stations"]] == [TIEXI]
        assert (await t.get(f"/special-tasks/{district_id}", headers=TIEXI_CLERK)).status_code == 404
        hunnan = {r["task_id"]: r for r in (await t.get("/special-tasks", headers=auth.CLERK)).json()}
        assert hunnan[city_id]["own"]["state"] == "done" and hunnan[district_id]["own"]["state"] == "open"

        # Another city sees nothing; organizations and operations are refused.
        assert (await t.get("/special-tasks", headers=auth.OTHER_SUPERVISOR)).json() == []
        assert (await t.get("/special-tasks", headers=auth.OTHER_HEAD)).json() == []
        for headers in (auth.OTHER_SUPERVISOR, auth.OTHER_HEAD):
            assert (await t.get(f"/special-tasks/{city_id}", headers=headers)).status_code == 404
        for headers in (auth.ORG, auth.ADMIN):
            assert (await t.get("/special-tasks", headers=headers)).status_code == 403
            assert (await t.get(f"/special-tasks/{city_id}", headers=headers)).status_code == 403

        # Each task was announced once with every station it went to, each report once (the retries add nothing).
        assigned, reported = await _announced(system)
        by_task = {str(e.task_id): e for e in assigned}
        assert len(assigned) == 2 and set(by_task) == {city_id, district_id}
        city = by_task[city_id]
        assert set(city.stations) == shenyang and len(city.stations) == len(shenyang)
        assert (city.issuer_scope, city.issued_by, city.title) == (
            "210100",
            "沈阳市市场监管局",
            task_form()["title"],
        )
        assert city.due_on.isoformat() == city_task["due_on"] and city.description == task_form()["description"]
        assert city.correlation_id == city.task_id and city.causation_id is None
        assert sorted(by_task[district_id].stations) == sorted([HUNNAN, XINSONG])
        assert by_task[district_id].issuer_scope == "210100/210112"
        assert [(str(e.task_id), e.station_id, e.kind.value, e.reported_by, e.text) for e in reported] == [
            (city_id, HUNNAN, "progress", "张晓燕", progress["text"]),
            (city_id, HUNNAN, "completion", "周站长", "全部完成"),
            (city_id, TIEXI, "progress", "铁西窗口", progress["text"]),
        ]
        report_ids = {r["report_id"] for s in detail["stations"] for r in s["reports"]}
        assert {str(e.report_id) for e in reported} == report_ids
        assert all(e.title == task_form()["title"] and e.correlation_id == e.task_id for e in reported)

        # Reports are append-only in the database itself.
        owner = await asyncpg.connect(system.databases["tracking"])
        try:
            await owner.execute("SELECT set_config('qs.scope', '*', false)")
            with pytest.raises(asyncpg.RaiseError, match="append-only"):
                await owner.execute("DELETE FROM task_reports")
        finally:
            await owner.close()


def _noon(day: date) -> datetime:
    return datetime.combine(day, time(12), CHINA)


async def _alerts(system, task_id: str) -> list[tuple[str, str]]:
    rows = await infra.fetch(
        system.databases["tracking"],
        "SELECT station_id, kind FROM task_alerts WHERE task_id = $1 ORDER BY station_id, kind",
        UUID(task_id),
    )
    return [(r["station_id"], r["kind"]) for r in rows]


async def test_overdue_parts_are_warned_chased_and_supervised_once_by_two_replicas(amqp, databases):
    async with running_system(amqp, databases) as system:
        await system.knows_stations("tracking", HUNNAN, TIEXI)
        t = system.clients["tracking"]
        runtime = system.apps["tracking"].state.runtime
        settings = runtime.settings
        assert (settings.warn_days, settings.escalate_after_days) == (1, 2)
        other = UnitOfWork("tracking", Store)  # a second replica's unit of work, on its own pool
        pool = await create_pool(settings.resolved_app_database_url)
        other.bind(pool)

        async def both_scan() -> None:
            await asyncio.gather(tasks.scan(runtime.uow, settings), tasks.scan(other, settings))

        try:
            today = _today()
            due = add_working_days(today, 2)
            made = await t.post(
                "/special-tasks", json=task_form(due_on=due.isoformat(), station_ids=[HUNNAN, TIEXI]), headers=CITY
            )
            assert made.status_code == 201, made.text
            task_id = made.json()["task_id"]
            # Tiexi's head wants its warnings on the due day only (0, as for demands); Hunnan keeps the default 1.
            kept = await t.put(f"/stations/{TIEXI}/clock", json={"warn_days": 0}, headers=auth.ADMIN)
            assert kept.status_code == 200, kept.text
            await both_scan()
            assert await _alerts(system, task_id) == []  # two working days left: nothing yet

            with time_machine.travel(_noon(add_working_days(today, 1)), tick=False):
                await both_scan()
                await both_scan()
            assert await _alerts(system, task_id) == [(HUNNAN, "warning")]
            with time_machine.travel(_noon(due), tick=False):
                await both_scan()
                await both_scan()
            assert sorted(await _alerts(system, task_id)) == sorted([(HUNNAN, "warning"), (TIEXI, "warning")])

            done = await t.post(
                f"/special-tasks/{task_id}/reports", json={"kind": "completion", "text": "已完成"}, headers=auth.HEAD
            )
            assert done.status_code == 201, done.text

            with time_machine.travel(_noon(add_working_days(due, 1)), tick=False):
                await both_scan()
                await both_scan()
                # One working day late: Tiexi is chased, once; Hunnan, done, is not.
                assert sorted(await _alerts(system, task_id)) == sorted(
                    [(HUNNAN, "warning"), (TIEXI, "warning"), (TIEXI, "chase")]
                )
                listed = (await t.get("/special-tasks", headers=auth.bearer("supervisor", "210100"))).json()
                row = next(r for r in listed if r["task_id"] == task_id)
                assert (row["stations_total"], row["stations_done"], row["stations_overdue"]) == (2, 1, 1)

            supervised_on = add_working_days(due, 2)
            with time_machine.travel(_noon(supervised_on), tick=False):
                await both_scan()
                await both_scan()
                detail = (await t.get(f"/special-tasks/{task_id}", headers=auth.bearer("supervisor", "210100"))).json()
            parts = {s["station_id"]: s for s in detail["stations"]}
            assert parts[TIEXI]["state"] == "overdue" and parts[HUNNAN]["state"] == "done"
            assert [a["kind"] for a in parts[TIEXI]["alerts"]] == ["warning", "chase", "supervision"]
            supervision = parts[TIEXI]["alerts"][2]
            assert supervision["to_scope"] == "210100" and supervision["deadline"] == due.isoformat()
            assert supervision["kind_label"] == "督办"
            assert parts[TIEXI]["alerts"][1]["to_scope"] == TIEXI
            assert [a["kind"] for a in parts[HUNNAN]["alerts"]] == ["warning"]

            # A scheduler down from before the deadline until days after it catches up once: chase and 督办,
            # no warning (it is too late for one), and nothing twice.
            late_task = await t.post(
                "/special-tasks",
                json=task_form(title="迟到的扫描", due_on=add_working_days(today, 1).isoformat(), station_ids=[HUNNAN]),
                headers=CITY,
            )
            assert late_task.status_code == 201, late_task.text
            late_id = late_task.json()["task_id"]
            with time_machine.travel(_noon(add_working_days(today, 6)), tick=False):
                await both_scan()
                await both_scan()
            assert await _alerts(system, late_id) == [(HUNNAN, "chase"), (HUNNAN, "supervision")]

            metrics = (await t.get("/metrics")).text
            assert f'qs_special_task_alerts_total{{kind="supervision",station_id="{TIEXI}"}} 1.0' in metrics, metrics[
                -2000:
            ]
            assert f'qs_special_task_parts{{state="overdue",station_id="{TIEXI}"}} 1.0' in metrics
        finally:
            await pool.close()
