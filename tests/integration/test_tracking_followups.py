"""Follow-ups (跟进记录), appointments and the printed tracking sheet end to end: all five services on the real
broker and databases. Staff and the assigned organization record follow-ups; FollowUpRecorded reaches the
broker; another station and another organization see nothing; the appointments list follows station scope and
the assignment; the sheet prints in Chinese (the PDF read back with pypdf)."""

import contextlib
import io
import json
from datetime import UTC, datetime, timedelta

import aio_pika
import pytest
from pypdf import PdfReader

from shared.calendar import china_today
from shared.contracts import EXCHANGE, FollowUpRecorded
from tests.support import auth, events, infra
from tests.support.system import System, running_system

pytestmark = pytest.mark.integration

TIEXI_CLERK = auth.bearer("clerk", "210100/210106/tiexi-01", name="铁西窗口")
COLUMNS = ("企业需求", "牵头科室", "责任人", "开始时间", "结束时间", "处理过程及结果")


@pytest.fixture
async def system(amqp, databases):
    async with running_system(amqp, databases) as system:
        yield system


@contextlib.asynccontextmanager
async def listening(amqp: str, routing_key: str):
    """A queue of the test's own bound to the events exchange: what the relay really published."""
    connection = await aio_pika.connect(amqp)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(exchange, routing_key)
        yield queue


async def received(queue, n: int) -> list[FollowUpRecorded]:
    got: list[FollowUpRecorded] = []

    async def more():
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            got.append(FollowUpRecorded.from_json(message.body))
        return len(got) >= n

    await infra.eventually(more, timeout=30, what=f"{n} FollowUpRecorded on the broker")
    return got


def today():
    return china_today(datetime.now(UTC))


def appointment(days: int = 1, **overrides) -> dict:
    on = (today() + timedelta(days=days)).isoformat()
    return {"on": on, "at": "09:30", "place": "企业二号车间", "attendees": "张晓燕、李工"} | overrides


async def follow(system: System, demand, body: dict, headers=auth.HEAD, key: str | None = None):
    headers = {**headers, **({"Idempotency-Key": key} if key else {})}
    return await system.clients["tracking"].post(f"/demands/{demand}/follow-ups", json=body, headers=headers)


def pdf_text(pdf: bytes) -> str:
    return "".join("".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())


async def test_staff_and_the_assigned_organization_follow_a_case(system, amqp):
    t = system.clients["tracking"]
    demand = await system.submit()
    await system.assign(demand)  # to org-01

    async with listening(amqp, FollowUpRecorded.routing_key) as queue:
        by_head = await follow(system, demand, {"kind": "contact", "text": "电话联系企业，确认送检时间"})
        assert by_head.status_code == 201, by_head.text
        meeting = {"kind": "appointment", "text": "现场检定压力表", "appointment": appointment(1)}
        by_org = await follow(system, demand, meeting, headers=auth.ORG)
        assert by_org.status_code == 201, by_org.text
        assert by_org.json()["recorded_by_org"] == "org-01" and by_org.json()["appointment"]["at"] == "09:30:00"
        published = await received(queue, 2)
    assert {str(e.follow_up_id) for e in published} == {by_head.json()["follow_up_id"], by_org.json()["follow_up_id"]}
    assert {e.demand_id for e in published} == {demand}
    [org_event] = [e for e in published if e.recorded_by_org == "org-01"]
    assert org_event.appointment.place == "企业二号车间" and org_event.recorded_by == "市计量测试院"

    # Who reads them: the station, its supervisor, the organization assigned; in the order recorded.
    for reader in (auth.CLERK, auth.SUPERVISOR, auth.ORG):
        rows = (await t.get(f"/demands/{demand}/follow-ups", headers=reader)).json()
        assert [r["kind"] for r in rows] == ["contact", "appointment"], rows
    timeline = (await t.get(f"/demands/{demand}", headers=auth.HEAD)).json()["timeline"]
    texts = [e["text"] for e in timeline]
    assert "周站长 联系企业：电话联系企业，确认送检时间" in texts
    assert any(x.startswith("市计量测试院 预约：现场检定压力表（") for x in texts)

    # Another station of the city, another organization: as if the demand did not exist; a supervisor only reads.
    for stranger in (TIEXI_CLERK, auth.OTHER_HEAD, auth.OTHER_ORG):
        assert (await follow(system, demand, {"kind": "contact", "text": "越权"}, stranger)).status_code == 404
        assert (await t.get(f"/demands/{demand}/follow-ups", headers=stranger)).status_code == 404
        assert (await t.get(f"/demands/{demand}/sheet.pdf", headers=stranger)).status_code == 404
    assert (await follow(system, demand, {"kind": "contact", "text": "督促"}, auth.SUPERVISOR)).status_code == 403

    # Bad input changes nothing and says why, in both languages, naming the field.
    no_date = await follow(system, demand, {"kind": "appointment", "text": "见面"})
    assert no_date.status_code == 422 and "appointment" in no_date.text and "预约" in no_date.text
    past = await follow(system, demand, meeting | {"appointment": appointment(-1)})
    assert past.status_code == 422 and "appointment.on" in past.text, past.text
    nul = await follow(system, demand, {"kind": "contact", "text": "a\x00b"})
    assert nul.status_code == 422

    # A retry with the same Idempotency-Key records once.
    first = await follow(system, demand, {"kind": "coordination", "text": "协调样品运输"}, key="follow-up-retry-1")
    again = await follow(system, demand, {"kind": "coordination", "text": "协调样品运输"}, key="follow-up-retry-1")
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    rows = await infra.fetch(
        system.databases["tracking"], "SELECT kind FROM follow_ups WHERE demand_id = $1 ORDER BY recorded_at", demand
    )
    assert [r["kind"] for r in rows] == ["contact", "appointment", "coordination"]
    outbox = await infra.fetch(
        system.databases["tracking"], "SELECT payload FROM outbox WHERE routing_key = 'demand.followed_up'"
    )
    assert len(outbox) == 3 and {json.loads(r["payload"])["demand_id"] for r in outbox} == {str(demand)}

    # The row is a record: the database refuses to change it.
    with pytest.raises(Exception, match="append-only"):
        await infra.fetch(system.databases["tracking"], "UPDATE follow_ups SET text = 'x' WHERE demand_id = $1", demand)

    # After resolution only an explanation (004 §6.4.2).
    await system.resolve(demand)
    late = await follow(system, demand, {"kind": "contact", "text": "再联系"})
    assert late.status_code == 409 and "解释说明" in late.text
    explained = await follow(system, demand, {"kind": "explanation", "text": "向企业说明检定结论"}, auth.ORG)
    assert explained.status_code == 201, explained.text


async def test_the_appointments_list_follows_scope_and_assignment(system):
    t = system.clients["tracking"]
    with_org = await system.submit()
    await system.assign(with_org)  # org-01
    kept = await system.submit()  # waits for dispatch: the station's own
    other = {"enterprise": {"name": "广州番禺电子科技有限公司", "credit_code": events.credit_code("91440113MA5A00001")}}
    other_city = await system.submit(events.OTHER_STATION, headers=auth.OTHER_CLERK, **other)
    await system.assign(other_city, org="org-02", headers=auth.OTHER_HEAD)

    for demand, headers, days in ((with_org, auth.ORG, 2), (kept, auth.CLERK, 1), (other_city, auth.OTHER_HEAD, 3)):
        body = {"kind": "appointment", "text": "上门服务", "appointment": appointment(days)}
        reply = await follow(system, demand, body, headers=headers)
        assert reply.status_code == 201, reply.text
    later = {"kind": "appointment", "text": "复查", "appointment": appointment(30, at=None)}
    assert (await follow(system, kept, later)).status_code == 201

    async def listed(headers, **params) -> list[dict]:
        reply = await t.get("/appointments", params=params, headers=headers)
        assert reply.status_code == 200, reply.text
        return reply.json()

    # The station's appointments, soonest first, for the next two weeks; printed tracking numbers.
    rows = await listed(auth.HEAD)
    assert [r["demand_id"] for r in rows] == [str(kept), str(with_org)]
    assert all(r["tracking_no"].startswith("hunnan-01-") for r in rows)
    assert rows[0]["enterprise_name"] == "沈阳精密仪器有限公司" and rows[0]["recorded_by"] == "张晓燕"
    assert rows[1]["recorded_by"] == "市计量测试院" and rows[1]["at"] == "09:30:00"
    assert [r["demand_id"] for r in await listed(auth.SUPERVISOR)] == [str(kept), str(with_org)]
    until = (today() + timedelta(days=40)).isoformat()
    assert len(await listed(auth.HEAD, to=until)) == 3
    start = (today() + timedelta(days=2)).isoformat()
    assert [r["demand_id"] for r in await listed(auth.CLERK, **{"from": start, "to": until})] == [
        str(with_org),
        str(kept),
    ]
    # An organization: only the cases assigned to it now. Another station, another city: their own.
    assert [r["demand_id"] for r in await listed(auth.ORG)] == [str(with_org)]
    assert [r["demand_id"] for r in await listed(auth.OTHER_ORG)] == [str(other_city)]
    assert [r["demand_id"] for r in await listed(auth.OTHER_HEAD)] == [str(other_city)]
    assert await listed(TIEXI_CLERK) == []
    assert (
        await t.get("/appointments", params={"station_id": events.OTHER_STATION}, headers=auth.HEAD)
    ).status_code == 404
    backwards = await t.get("/appointments", params={"from": until, "to": start}, headers=auth.HEAD)
    assert backwards.status_code == 422
    assert (await t.get("/appointments", headers=auth.ADMIN)).status_code == 403


async def test_the_sheet_prints_in_chinese(system):
    t = system.clients["tracking"]
    demand = await system.submit()
    await system.assign(demand)
    reply = await follow(system, demand, {"kind": "problem", "text": "压力表铅封破损，需企业确认"}, auth.ORG)
    assert reply.status_code == 201

    pdf = await t.get(f"/demands/{demand}/sheet.pdf", headers=auth.ORG)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = pdf_text(pdf.content)
    for words in (
        "需求处理跟踪单",
        "服务对象",
        "跟踪单号",
        *COLUMNS,
        "压力表铅封破损，需企业确认",
        "沈阳精密仪器有限公司",
    ):
        assert words in text, words
    assert "hunnan-01-" in text and "受理需求" in text

    page = await t.get(f"/demands/{demand}/sheet.html", headers=auth.SUPERVISOR)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "市计量测试院 发现问题：压力表铅封破损，需企业确认" in page.text

    metrics = (await t.get("/metrics")).text
    assert f'qs_follow_ups_recorded_total{{kind="problem",station_id="{events.STATION}"}} 1.0' in metrics
