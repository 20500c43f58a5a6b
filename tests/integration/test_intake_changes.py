"""Intake after registration, for real: correction before dispatch, withdrawal, what the status link says of every
outcome (events on the real broker), and the working-day calendar as reference data (CalendarCorrected)."""

import json
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import pytest

from shared.calendar import china_today, is_workday
from shared.contracts import DemandSubmitted
from tests.support import auth, events, infra
from tests.support.apps import body_of, capture_queue, drain, make_app, publish_event
from tests.support.system import running_system

pytestmark = pytest.mark.integration

# Plain queues bound like consumers': with intake alone, its events must still be routable (the relay publishes
# "mandatory" and in order, so one unroutable event holds the rest), and they are seen here.
CAPTURED = {
    "demand.submitted": "test.submitted",
    "demand.corrected": "test.corrected",
    "demand.withdrawn": "test.withdrawn",
}


async def _capture(amqp: str) -> None:
    for routing_key, queue in CAPTURED.items():
        await capture_queue(amqp, queue, routing_key)


@pytest.fixture
async def intake(amqp, databases):
    await _capture(amqp)
    db = databases("intake")
    app = make_app("intake", amqp_url=amqp, database_url=db, public_rate_limit="1000/minute")
    async with infra.running(app) as client:
        client.db, client.amqp = db, amqp
        yield client


async def _submit(intake, **form) -> dict:
    reply = await intake.post("/demands", json=events.demand_form(**form), headers=auth.CLERK)
    assert reply.status_code == 201, reply.text
    return reply.json()


async def _submitted_event(intake, demand: dict) -> DemandSubmitted:
    [row] = await infra.fetch(
        intake.db,
        "SELECT payload FROM outbox WHERE demand_id = $1 AND routing_key = 'demand.submitted'",
        UUID(demand["demand_id"]),
    )
    return DemandSubmitted.model_validate(json.loads(row["payload"]))


def _path(url: str) -> str:
    return url.replace("http://127.0.0.1:8001", "")


async def _received(amqp: str, queue: str, count: int) -> list[dict]:
    """What reached a capture queue, once `count` messages have (and nothing more a moment later)."""
    seen: list[dict] = []

    async def check():
        seen.extend(body_of(m) for m in await drain(amqp, queue))
        return len(seen) >= count

    await infra.eventually(check, what=f"{count} message(s) on {queue}")
    seen.extend(body_of(m) for m in await drain(amqp, queue))
    return seen


async def _outbox(db: str, routing_key: str) -> list:
    return await infra.fetch(db, "SELECT payload FROM outbox WHERE routing_key = $1", routing_key)


# --------------------------------------------------------------------------- correction before dispatch


async def test_a_correction_before_dispatch_changes_the_demand_and_the_notice_and_is_published_once(intake):
    demand = await _submit(intake, details={"instruments": [{"name": "压力表", "serial_no": "P-01"}]})
    body = {
        "reason": "企业来电：联系人和台数登记有误",
        "contact": {"name": "李娜", "phone": "13904005678"},
        "items": [{"code": "metrology.calibration", "remarks": "压力表 40 台", "materials_received": []}],
        "description": "压力表 40 台需要检定校准",
        "details": {"instruments": [{"name": "压力表", "serial_no": "P-01"}, {"name": "压力表", "serial_no": "P-02"}]},
    }
    headers = {**auth.CLERK, "Idempotency-Key": "correction-window-3-0001"}
    url = f"/demands/{demand['demand_id']}/corrections"
    first = await intake.post(url, json=body, headers=headers)
    assert first.status_code == 201, first.text
    again = await intake.post(url, json=body, headers=headers)  # the reply was lost: the clerk retries
    assert again.status_code == 201 and again.json() == first.json()
    corrected = first.json()
    assert (corrected["contact_name"], corrected["contact_phone"]) == ("李娜", "+8613904005678")
    assert corrected["items"][0]["remarks"] == "压力表 40 台" and len(corrected["details"]["instruments"]) == 2
    assert corrected["corrected_at"] is not None
    [audit] = corrected["corrections"]
    assert audit["corrected_by"] == "张晓燕" and audit["reason"] == body["reason"]
    assert audit["changed"] == ["contact", "items", "description", "details"]
    assert audit["before"]["contact"] == {"name": "王建国", "phone": "+8613804001234"}
    assert audit["after"]["description"] == "压力表 40 台需要检定校准"
    # The same audit in the demand's own view; the database keeps it append-only.
    seen = (await intake.get(f"/demands/{demand['demand_id']}", headers=auth.HEAD)).json()
    assert seen["corrections"] == corrected["corrections"] and seen["description"] == body["description"]
    with pytest.raises(Exception, match="append-only"):
        await infra.fetch(intake.db, "UPDATE demand_corrections SET reason = 'x'")

    [row] = await _outbox(intake.db, "demand.corrected")
    published = json.loads(row["payload"])
    submitted = await _submitted_event(intake, demand)
    assert (published["correlation_id"], published["causation_id"]) == (
        str(submitted.correlation_id),
        str(submitted.event_id),
    )
    assert published["changed"] == audit["changed"] and published["contact"]["name"] == "李娜"
    assert published["items"][0]["materials"] and published["items"][0]["remarks"] == "压力表 40 台"
    [on_broker] = await _received(intake.amqp, "test.corrected", 1)
    assert on_broker["event_id"] == published["event_id"]

    # The notice is issued again from the corrected form.
    html = (await intake.get(f"/demands/{demand['demand_id']}/notice", headers=auth.CLERK)).text
    assert "李娜" in html and "压力表 40 台" in html and "重新出具" in html
    status = (await intake.get(_path(demand["status_url"]))).json()
    assert status["notice_reissued_at"] is not None

    conflict = await intake.post(url, json={**body, "description": "又改了"}, headers=headers)
    assert conflict.status_code == 409 and conflict.json()["code"] == "idempotency_conflict"
    unchanged = await intake.post(url, json=body, headers=auth.HEAD)
    assert unchanged.status_code == 409 and unchanged.json()["code"] == "unchanged"
    assert len(await _outbox(intake.db, "demand.corrected")) == 1


EQUIPMENT = {"special_equipment": [{"kind": "锅炉", "quantity": 1}]}
UNASKED = [{"code": "metrology.calibration", "materials_received": ["户口本"]}]
INVALID_CORRECTIONS = [
    ("reason", {"description": "改"}),
    ("", {"reason": "只写了原因"}),
    ("contact.phone", {"reason": "改电话", "contact": {"name": "李娜", "phone": "12345"}}),
    ("items", {"reason": "改项目", "items": [{"code": "astrology.horoscope"}]}),
    ("items", {"reason": "改项目", "items": []}),
    ("details.special_equipment", {"reason": "补明细", "details": EQUIPMENT}),
    ("items.0.materials_received", {"reason": "补材料", "items": UNASKED}),
    ("status", {"reason": "想改状态", "status": "archived"}),
]  # fmt: skip


@pytest.mark.parametrize(("field", "body"), INVALID_CORRECTIONS, ids=[f or "empty" for f, _ in INVALID_CORRECTIONS])
async def test_a_bad_correction_names_the_field_and_changes_nothing(intake, field, body):
    demand = await _submit(intake)
    reply = await intake.post(f"/demands/{demand['demand_id']}/corrections", json=body, headers=auth.CLERK)
    assert reply.status_code == 422, reply.text
    assert field in [e["field"] for e in reply.json()["errors"]]
    assert await infra.fetch(intake.db, "SELECT 1 FROM demand_corrections") == []
    assert await _outbox(intake.db, "demand.corrected") == []


async def test_a_correction_is_refused_once_intake_knows_the_demand_was_assigned(intake):
    demand = await _submit(intake)
    submitted = await _submitted_event(intake, demand)
    await publish_event(intake.amqp, events.assigned(submitted))

    async def assigned():
        seen = (await intake.get(f"/demands/{demand['demand_id']}", headers=auth.HEAD)).json()
        return seen["handling"]["assignment_no"] == 1

    await infra.eventually(assigned, what="intake to see the assignment")
    reply = await intake.post(
        f"/demands/{demand['demand_id']}/corrections",
        json={"reason": "派单后", "description": "改"},
        headers=auth.CLERK,
    )
    assert reply.status_code == 409 and reply.json()["code"] == "invalid_state", reply.text
    assert await _outbox(intake.db, "demand.corrected") == []


# --------------------------------------------------------------------------- withdrawal


async def test_the_station_withdraws_a_demand_once(intake):
    demand = await _submit(intake)
    url = f"/demands/{demand['demand_id']}/withdrawal"
    headers = {**auth.HEAD, "Idempotency-Key": "withdraw-2026-0001"}
    first = await intake.post(url, json={"reason": "企业电话告知已自行解决"}, headers=headers)
    again = await intake.post(url, json={"reason": "企业电话告知已自行解决"}, headers=headers)
    assert first.status_code == again.status_code == 200, first.text
    assert again.json() == first.json()
    assert (first.json()["status"], first.json()["progress"]) == ("closed", "withdrawn")
    assert first.json()["closure"]["closed_by"] == "周站长" and first.json()["closure"]["by_enterprise"] is False
    refused = await intake.post(url, json={"reason": "再撤一次"}, headers=auth.CLERK)
    assert refused.status_code == 409
    [published] = await _received(intake.amqp, "test.withdrawn", 1)
    assert (published["demand_id"], published["by_enterprise"], published["assignment_count"]) == (
        demand["demand_id"],
        False,
        0,
    )
    status = (await intake.get(_path(demand["status_url"]))).json()
    assert status["progress_label"] == "已撤回（服务站撤回）。理由：企业电话告知已自行解决"
    assert status["can_withdraw"] is False and status["ending"]["kind"] == "withdrawn"
    assert "周站长" not in json.dumps(status, ensure_ascii=False)  # who at the station decided stays inside
    # Withdrawn demands are no longer open: a new submission of the same need is not flagged as its duplicate.
    assert (await _submit(intake))["possible_duplicate_of"] is None


async def test_the_enterprise_withdraws_through_its_own_link_only_its_own_demand(intake):
    mine, other = await _submit(intake), await _submit(intake)
    token = mine["status_url"].rsplit("/", 1)[1]
    url = f"/public/status/{token}/withdrawal"
    headers = {"Idempotency-Key": "enterprise-retry-01"}
    first = await intake.post(url, json={"reason": "已另行委托检定机构"}, headers=headers)
    again = await intake.post(url, json={"reason": "已另行委托检定机构"}, headers=headers)
    assert first.status_code == again.status_code == 200, first.text
    assert first.json() == again.json()
    assert first.json()["progress"] == "withdrawn" and first.json()["tracking_no"] == mine["tracking_no"]
    assert first.json()["progress_label"] == "已撤回（企业申请撤回）。理由：已另行委托检定机构"
    assert (await intake.post(url, json={"reason": "再撤一次"})).status_code == 409
    [published] = await _received(intake.amqp, "test.withdrawn", 1)
    assert published["demand_id"] == mine["demand_id"] and published["by_enterprise"] is True
    assert published["closed_by"] == "沈阳精密仪器有限公司"
    untouched = (await intake.get(_path(other["status_url"]))).json()
    assert untouched["progress"] == "submitted" and untouched["can_withdraw"] is True
    forged = token[:-2] + ("xx" if not token.endswith("xx") else "yy")
    assert (await intake.post(f"/public/status/{forged}/withdrawal", json={"reason": "伪造"})).status_code == 404
    assert (await intake.post(url, json={"reason": "\u202e反转"})).status_code == 422


async def test_public_withdrawal_is_rate_limited(amqp, databases):
    await _capture(amqp)
    app = make_app("intake", amqp_url=amqp, database_url=databases("intake"), public_rate_limit="2/minute")
    async with infra.running(app) as client:
        demand = (await client.post("/demands", json=events.demand_form(), headers=auth.CLERK)).json()
        url = _path(demand["status_url"]) + "/withdrawal"
        codes = [(await client.post(url, json={"reason": "不需要了"})).status_code for _ in range(3)]
    assert codes == [200, 409, 429]


# --------------------------------------------------------------------------- what the status link says


async def _status_when(intake, demand: dict, progress: str) -> dict:
    async def check():
        status = (await intake.get(_path(demand["status_url"]))).json()
        return status if status["progress"] == progress else None

    return await infra.eventually(check, what=f"the status link to show {progress}")


async def test_the_status_link_tells_the_enterprise_every_outcome(intake):
    s = await _submitted_event(intake, demand := await _submit(intake))
    await publish_event(intake.amqp, events.assigned(s, no=1))
    status = await _status_when(intake, demand, "assigned")
    assert (status["progress_label"], status["handled_by"]) == ("办理中，承办单位：市计量测试院", "市计量测试院")

    returned = events.returned(s, 1, reason="超出本机构资质范围")
    await publish_event(intake.amqp, returned)
    status = await _status_when(intake, demand, "returned")
    assert status["progress_label"] == "已退回，正在重新安排承办单位"
    assert returned.reason not in json.dumps(status, ensure_ascii=False)

    rematch = events.assigned(s, no=2).model_copy(update={"assignee_id": "org-09", "assignee_name": "省特检院"})
    await publish_event(intake.amqp, rematch)
    status = await _status_when(intake, demand, "rematched")
    assert (status["progress_label"], status["handled_by"]) == ("已改派，现由省特检院承办", "省特检院")
    await publish_event(intake.amqp, events.returned(s, 1))  # a late, older return changes nothing
    await publish_event(intake.amqp, events.referred(s, 3))
    status = await _status_when(intake, demand, "referred")
    assert status["progress_label"] == "已转办至区发展和改革局，本站继续跟进"
    assert "刘科长" not in json.dumps(status, ensure_ascii=False)  # the referral's contact is the station's
    staff = (await intake.get(f"/demands/{demand['demand_id']}", headers=auth.HEAD)).json()
    assert staff["progress"] == "referred" and staff["handling"]["assignment_no"] == 3

    await publish_event(intake.amqp, events.refused(s, 3))
    status = await _status_when(intake, demand, "refused")
    assert status["progress_label"] == (
        "未予受理（否定备案）。理由：不属于质量基础设施服务范围；依据：《服务站工作规范》第 7.2 条"
    )
    assert status["ending"]["basis"] == "《服务站工作规范》第 7.2 条" and status["can_withdraw"] is False
    await publish_event(intake.amqp, events.archived(s))
    status = await _status_when(intake, demand, "archived")
    assert status["progress_label"].startswith("未予受理（否定备案）") and status["progress_label"].endswith("已归档")
    assert status["archive_no"] == "A2026-000001"


async def test_a_merge_and_a_late_assignment_in_any_order(intake):
    original = await _submit(intake)
    s = await _submitted_event(intake, duplicate := await _submit(intake))
    assert duplicate["possible_duplicate_of"] == original["demand_id"]
    into = await _submitted_event(intake, original)
    merged = events.merged(s, into, 1)
    late = events.assigned(s, no=1)
    await publish_event(intake.amqp, merged)
    status = await _status_when(intake, duplicate, "merged")
    assert status["progress_label"] == f"已与 {original['printed_tracking_no']} 合并办理"
    assert status["ending"]["merged_into_printed_tracking_no"] == original["printed_tracking_no"]
    await publish_event(intake.amqp, late)
    await publish_event(intake.amqp, merged)  # redelivered: the inbox absorbs it
    await publish_event(intake.amqp, events.refused(s))  # a second ending never replaces the first

    async def settled():
        staff = (await intake.get(f"/demands/{duplicate['demand_id']}", headers=auth.HEAD)).json()
        return staff if staff["handling"]["assignment_no"] == 1 else None

    staff = await infra.eventually(settled, what="the late assignment to be recorded")
    assert (staff["status"], staff["progress"], staff["closure"]["kind"]) == ("closed", "merged", "merged")
    assert staff["closure"]["merged_into"] == original["demand_id"]
    listed = (await intake.get("/demands", params={"status": "closed"}, headers=auth.HEAD)).json()
    assert [d["demand_id"] for d in listed] == [duplicate["demand_id"]]


# --------------------------------------------------------------------------- the calendar as reference data


def _a_workday_ahead() -> date:
    day = china_today(datetime.now(UTC)) + timedelta(days=400)
    while not is_workday(day, {}):
        day += timedelta(days=1)
    return day


async def test_calendar_corrections_reach_the_broker_on_change_and_on_start(amqp, databases):
    await capture_queue(amqp, "test.calendar", "calendar.corrected")
    db = databases("intake")
    day = _a_workday_ahead()
    async with infra.running(make_app("intake", amqp_url=amqp, database_url=db)) as intake:
        put = await intake.put(f"/calendar/{day}", json={"is_workday": False, "note": "临时调整"}, headers=auth.ADMIN)
        assert put.status_code == 204
        [event] = await _received(amqp, "test.calendar", 1)
        assert (event["day"], event["is_workday"], event["note"]) == (day.isoformat(), False, "临时调整")
        removed = await intake.delete(f"/calendar/{day + timedelta(days=1)}", headers=auth.ADMIN)
        assert removed.status_code == 404  # nothing to remove there
        assert (await intake.delete(f"/calendar/{day}", headers=auth.CLERK)).status_code == 403
    # A correction entered before the announcements existed (or whose announcement a consumer missed) is
    # announced when intake starts.
    await infra.fetch(db, "UPDATE calendar_overrides SET announced_at = NULL")
    async with infra.running(make_app("intake", amqp_url=amqp, database_url=db)) as intake:
        [event] = await _received(amqp, "test.calendar", 1)
        assert (event["day"], event["is_workday"]) == (day.isoformat(), False)
        assert (await intake.delete(f"/calendar/{day}", headers=auth.ADMIN)).status_code == 204
        [event] = await _received(amqp, "test.calendar", 1)
        assert (event["day"], event["is_workday"]) == (day.isoformat(), None)
    # And every correction again, removals too, every `registry_announce_minutes`.
    fast = make_app("intake", amqp_url=amqp, database_url=db, registry_announce_minutes=0.02)
    async with infra.running(fast):
        repeated = await _received(amqp, "test.calendar", 2)
        assert {(e["day"], e["is_workday"]) for e in repeated} == {(day.isoformat(), None)}


# --------------------------------------------------------------------------- with dispatch in the loop


async def test_a_correction_is_refused_after_dispatch_assigns_it(amqp, databases):
    await _capture(amqp)
    async with running_system(amqp, databases) as system:
        demand = await system.submit()
        intake = system.clients["intake"]
        fixed = await intake.post(
            f"/demands/{demand}/corrections",
            json={"reason": "补充台数", "description": "压力表 40 台"},
            headers=auth.CLERK,
        )
        assert fixed.status_code == 201, fixed.text
        await system.assign(demand)
        await system.get_when(
            "intake", f"/demands/{demand}", lambda d: d["progress"] == "assigned", "intake to see the assignment"
        )
        refused = await intake.post(
            f"/demands/{demand}/corrections", json={"reason": "再改", "description": "压力表 41 台"}, headers=auth.CLERK
        )
        assert refused.status_code == 409, refused.text
        status = (await intake.get(_path(system.status_urls[demand]))).json()
        assert status["progress_label"] == "办理中，承办单位：市计量测试院"
        assert len(await _outbox(system.databases["intake"], "demand.corrected")) == 1
