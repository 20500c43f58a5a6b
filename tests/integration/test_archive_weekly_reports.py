"""The weekly report (周报) on the real broker and database: a seeded week whose events sit at its China edges
(Sunday 23:30 and Monday 00:30 Asia/Shanghai), the scheduler under a frozen clock on each side of Monday 00:00,
figures against hand counts, the head's plan, a supervisor's subtree, HTML and PDF."""

import io
from datetime import UTC, datetime, time, timedelta
from uuid import uuid4

import pytest
import time_machine
from pypdf import PdfReader

from services.archive.reports import usecases as reports
from services.archive.reports.domain import Week
from shared.calendar import CHINA
from shared.contracts import Channel, Overall, StationRegistered
from tests.support import auth, events, infra
from tests.support import export_histories as h
from tests.support.apps import make_app, publish_event

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

TIEXI = "210100/210106/tiexi-01"
ROBOT = h.firm("沈阳新松精密机械有限公司", "91210112MA0U00005", chain="机器人", town="浑南装备小镇")
GEARS = h.firm("沈阳精工齿轮有限公司", "91210112MA0U00006")


def edges() -> tuple[datetime, datetime]:
    """Sunday 23:30 and the Monday 00:30 after it, in China, the Sunday at least a week before today."""
    today = datetime.now(UTC).astimezone(CHINA).date()
    sunday = today - timedelta(days=today.isoweekday() % 7 + 7)
    late = datetime.combine(sunday, time(23, 30), CHINA)
    return late, late + timedelta(hours=1)


@pytest.fixture
async def archive(amqp, databases):
    db = databases("archive")
    app = make_app("archive", amqp_url=amqp, database_url=db)
    async with infra.running(app) as client:
        client.db, client.app, client.amqp = db, app, amqp
        yield client


async def registered(client, *stations: tuple[str, str]) -> None:
    for station_id, name in stations:
        parts = station_id.split("/")
        event = StationRegistered(
            correlation_id=uuid4(), station_id=station_id, name=name, level=3, ancestors=[], parent_id=None
        )
        assert len(parts) == 3
        await publish_event(client.amqp, event)

    async def known():
        rows = await infra.fetch(client.db, "SELECT station_id FROM station_tree")
        return {r["station_id"] for r in rows} >= {s for s, _ in stations}

    await infra.eventually(known, what="the archive to learn the stations")


async def logged(client, events_: list) -> None:
    for e in events_:
        await publish_event(client.amqp, e)
    ids = [e.event_id for e in events_]

    async def all_logged():
        rows = await infra.fetch(client.db, "SELECT 1 FROM event_log WHERE event_id = ANY($1::uuid[])", ids)
        return len(rows) == len(ids)

    await infra.eventually(all_logged, timeout=60, what="every event logged")


def totals(report: dict) -> dict:
    return {k: v["total"] for k, v in report["figures"]["counted"].items()}


async def test_the_weekly_report_counts_by_china_week_and_the_scheduler_makes_it_once_the_week_is_over(archive):
    late, early = edges()
    week, next_week = Week.of(late.date()), Week.of(early.date())
    assert next_week == week.next()
    await registered(archive, (events.STATION, "浑南区一站式质量服务站"), (TIEXI, "铁西区质量服务站"))
    # Submitted Saturday 22:30, assigned 23:30, resolved Sunday 22:30, rated Sunday 23:30: all in `week`.
    a = h.rated_history(ROBOT, late - timedelta(days=1, hours=1), Overall.very_satisfied, channel=Channel.visit)
    # Submitted Sunday 23:30 (`week`); assigned Monday 00:30, resolved Monday 23:30, rated Tuesday 00:30 (`next_week`).
    b = h.rated_history(GEARS, late, Overall.satisfied, serial=2, categories=(h.METROLOGY, h.TESTING))
    # Submitted Monday 00:30 China, which is still Sunday 16:30 in UTC: `next_week`; refused an hour later.
    c = h.submitted(GEARS, early, serial=3, channel=Channel.phone)
    # Chased on Sunday (its handling deadline passed on Saturday): overdue in `week`.
    d = h.submitted(ROBOT, late - timedelta(days=20), serial=4, categories=(h.STANDARDS,))
    d_assigned = h.assigned(d, late - timedelta(days=20, hours=-1))
    chase = h.chased(d, late.date(), late)
    tiexi = h.submitted(ROBOT, late - timedelta(hours=2), station=TIEXI, serial=1)
    await logged(archive, [*a, *b, c, h.refused(c, early + timedelta(hours=1)), d, d_assigned, chase, tiexi])
    runtime = archive.app.state.runtime

    # Sunday 23:30 in China: the week is not over, the scheduler reports the week before it (nothing for ours).
    with time_machine.travel(late, tick=True):
        await reports.generate_due(runtime.uow, runtime.settings)
    kept = await infra.fetch(archive.db, "SELECT station_id, iso_year, iso_week FROM weekly_reports")
    assert {(r["iso_year"], r["iso_week"]) for r in kept} == {(week.previous().year, week.previous().week)}
    # Monday 00:30 in China (Sunday 16:30 UTC): the week is over, its reports are made, one per station.
    with time_machine.travel(early, tick=True):
        await reports.generate_due(runtime.uow, runtime.settings)
        await reports.generate_due(runtime.uow, runtime.settings)  # another replica, or the next round: no second
    kept = await infra.fetch(
        archive.db,
        "SELECT station_id, generated_by FROM weekly_reports WHERE iso_year = $1 AND iso_week = $2",
        week.year,
        week.week,
    )
    assert sorted(r["station_id"] for r in kept) == sorted([events.STATION, TIEXI])
    assert {r["generated_by"] for r in kept} == {"scheduler"}

    report = (await archive.get(f"/weekly-reports/{week}", headers=auth.HEAD)).json()
    assert report["stored"] and report["complete"] and report["generated_by"] == "scheduler"
    assert report["scope_name"] == "浑南区一站式质量服务站"
    assert totals(report) == {"received": 2, "dispatched": 1, "resolved": 1, "overdue": 1, "rated": 1}
    received = report["figures"]["counted"]["received"]
    assert {c["label"]: c["count"] for c in received["by_category"]} == {"计量": 2, "检验检测": 1}
    assert {c["label"]: c["count"] for c in received["by_channel"]} == {"主动进企业": 1, "窗口": 1}
    overdue = report["figures"]["counted"]["overdue"]
    assert overdue["by_category"] == [{"label": "标准化", "count": 1}]
    assert report["figures"]["ratings"]["satisfaction_rate"] == 1.0 and report["figures"]["visits_collected"] == 1
    # No visit or special task was received: none counted (tests/integration/test_archive_station_work.py has them).
    assert report["figures"]["visits"]["total"] == 0 and report["figures"]["special_tasks"]["parts"] == 0
    assert "unavailable" not in report["figures"]

    after = (await archive.get(f"/weekly-reports/{next_week}", headers=auth.CLERK)).json()
    assert totals(after) == {"received": 1, "dispatched": 1, "resolved": 1, "overdue": 0, "rated": 1}
    assert after["figures"]["closed"][0] == {"label": "否定备案", "count": 1}

    # The head writes next week's plan; the clerk may not; the report shows it, printed too.
    plan = {"plan": "走访浑南装备小镇 5 家企业\n开展计量宣传日活动"}
    assert (await archive.put(f"/weekly-reports/{week}/plan", json=plan, headers=auth.CLERK)).status_code == 403
    written = await archive.put(f"/weekly-reports/{week}/plan", json=plan, headers=auth.HEAD)
    assert written.status_code == 200, written.text
    assert written.json()["plans"][0]["text"] == plan["plan"] and written.json()["stored"]
    html = (await archive.get(f"/weekly-reports/{week}/report.html", headers=auth.HEAD)).text
    assert "走访浑南装备小镇 5 家企业" in html and "本周走访 0 次" in html and "not available" not in html
    pdf = await archive.get(f"/weekly-reports/{week}/report.pdf", headers=auth.HEAD)
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    for expected in (
        "服务站工作周报",
        "浑南区一站式质量服务站",
        "受理需求",
        "超期",
        "下周工作计划",
        "开展计量宣传日活动",
    ):
        assert expected in text, expected

    # The city's supervisor: the same report over its subtree (Tiexi's demand too), with every station's plan.
    city = (await archive.get(f"/weekly-reports/{week}", headers=auth.SUPERVISOR)).json()
    assert city["subtree"] and totals(city)["received"] == 3
    assert [p["station"] for p in city["plans"]] == ["浑南区一站式质量服务站"]
    one = await archive.get(f"/weekly-reports/{week}", params={"station_id": TIEXI}, headers=auth.SUPERVISOR)
    assert totals(one.json())["received"] == 1
    # Another station's report by name is 404 for a station's staff; a week that has not begun is refused.
    assert (
        await archive.get(f"/weekly-reports/{week}", params={"station_id": TIEXI}, headers=auth.HEAD)
    ).status_code == 404
    future = Week.of(datetime.now(UTC).astimezone(CHINA).date()).next().next()
    refused = await archive.get(f"/weekly-reports/{future}", headers=auth.HEAD)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "week"
    listed = (await archive.get("/weekly-reports", headers=auth.HEAD)).json()
    assert {(r["station_id"], r["week"]) for r in listed} >= {(events.STATION, str(week))}
