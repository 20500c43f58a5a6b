"""The clock of a case end to end: all five services on the real broker and databases, on a frozen clock.

Around 春节 2026 (15–23 February a holiday, 14 and 28 February make-up working days): the assigned organization
pauses its case, the clerk resumes it after the holiday and the handling deadline moves by the paused working
days; an extension approved and one refused by the head; a request after the deadline is a 409; another
organization does not find the case. Every event tracking publishes is read back from the broker.
"""

import contextlib
from datetime import date, datetime, timedelta
from uuid import UUID

import aio_pika
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared.calendar import CHINA, add_working_days, is_workday
from shared.contracts import EXCHANGE, CasePaused, CaseResumed, ExtensionDecided, ExtensionRequested
from tests.support import auth, events, infra
from tests.support.system import running_system

pytestmark = pytest.mark.integration

THURSDAY_BEFORE_THE_HOLIDAY = datetime(2026, 2, 12, 9, 0, tzinfo=CHINA)
WEDNESDAY_AFTER_THE_HOLIDAY = datetime(2026, 2, 25, 9, 0, tzinfo=CHINA)


class Callers:
    """Tokens minted at the test clock's time (the shared ones are minted at import, maybe in another year)."""

    def __init__(self) -> None:
        self.clerk = auth.bearer("clerk", events.STATION, name="张晓燕")
        self.head = auth.bearer("head", events.STATION, name="周站长")
        self.org = auth.bearer("org", org="org-01", name="市计量测试院")
        self.other_org = auth.bearer("org", org="org-02", name="另一检测机构")
        self.other_head = auth.bearer("head", events.OTHER_STATION, name="梁站长")
        self.admin = auth.bearer("admin", name="运维")


@contextlib.asynccontextmanager
async def listening(amqp: str, *routing_keys: str):
    """A queue of the test's own bound to the events exchange: what the relay really published."""
    connection = await aio_pika.connect(amqp)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(exclusive=True)
        for key in routing_keys:
            await queue.bind(exchange, key)
        yield queue


async def received(queue, want: dict[type, int]) -> dict[type, list]:
    types = {t.routing_key: t for t in want}
    got: dict[type, list] = {t: [] for t in want}

    async def more():
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            kind = types[message.routing_key]
            got[kind].append(kind.from_json(message.body))
        return all(len(got[t]) >= n for t, n in want.items())

    await infra.eventually(more, timeout=30, what=f"{want} on the broker")
    return got


@pytest.fixture
async def system(amqp, databases, time_machine):
    async with running_system(amqp, databases) as system:  # organizations admitted with today's tokens
        time_machine.move_to(THURSDAY_BEFORE_THE_HOLIDAY, tick=True)
        yield system


async def _assigned(system, who: Callers) -> tuple[UUID, date]:
    demand_id = await system.submit(headers=who.clerk)
    await system.assign(demand_id, headers=who.head)
    clock = (await system.clients["tracking"].get(f"/demands/{demand_id}/clock", headers=who.clerk)).json()
    return demand_id, date.fromisoformat(clock["handling_due_on"])


async def test_a_pause_over_the_holiday_moves_the_handling_deadline(system, amqp, time_machine):
    tracking, who = system.clients["tracking"], Callers()
    async with listening(amqp, CasePaused.routing_key, CaseResumed.routing_key) as queue:
        demand_id, due_on = await _assigned(system, who)

        # Another organization does not find it; the one assigned pauses it, once.
        body = {"reason_kind": "sample", "reason": "等待企业送样"}
        assert (
            await tracking.post(f"/demands/{demand_id}/pauses", json=body, headers=who.other_org)
        ).status_code == 404
        paused = await tracking.post(f"/demands/{demand_id}/pauses", json=body, headers=who.org)
        assert paused.status_code == 201, paused.text
        clock = paused.json()
        assert clock["paused_since"] is not None and clock["handling_due_on"] == due_on.isoformat()
        handling = next(d for d in clock["deadlines"] if d["kind"] == "handling")
        assert handling["status"] == "paused"
        again = await tracking.post(f"/demands/{demand_id}/pauses", json=body, headers=who.clerk)
        assert again.status_code == 409 and "已挂起" in again.json()["message"], again.text
        ledger = await tracking.get("/ledger", params={"list": "paused"}, headers=who.clerk)
        assert ledger.status_code == 200, ledger.text
        assert str(demand_id) in {c["demand_id"] for c in ledger.json()}

        # After the holiday: 12, 13, 14 (make-up Saturday) and 24 February were paused, 4 working days.
        time_machine.move_to(WEDNESDAY_AFTER_THE_HOLIDAY, tick=True)
        who = Callers()
        resumed = await tracking.post(
            f"/demands/{demand_id}/resumption", json={"note": "样品已送达"}, headers=who.clerk
        )
        assert resumed.status_code == 200, resumed.text
        moved = add_working_days(due_on, 4)
        assert resumed.json()["handling_due_on"] == moved.isoformat()
        assert resumed.json()["paused_since"] is None
        [pause] = resumed.json()["pauses"]
        assert (pause["paused_by"], pause["resumed_by"], pause["working_days"]) == ("市计量测试院", "张晓燕", 4)
        assert pause["reason_label"] == "等待样品"

        got = await received(queue, {CasePaused: 1, CaseResumed: 1})
    [p], [r] = got[CasePaused], got[CaseResumed]
    assert (p.demand_id, p.reason_kind, p.paused_by) == (demand_id, "sample", "市计量测试院")
    assert (r.pause_id, r.causation_id, r.paused_working_days) == (p.pause_id, p.event_id, 4)
    assert r.handling_due_on == moved

    sheet = (await tracking.get(f"/demands/{demand_id}", headers=who.org)).json()
    texts = [e["text"] for e in sheet["timeline"]]
    assert any("挂起（等待样品）" in t for t in texts) and any(f"顺延至 {moved.isoformat()}" in t for t in texts)
    rows = await infra.fetch(
        system.databases["tracking"], "SELECT handling_due_on FROM cases WHERE demand_id = $1", demand_id
    )
    assert rows[0]["handling_due_on"] == moved


async def test_extensions_approved_refused_and_too_late(system, amqp, time_machine):
    tracking, who = system.clients["tracking"], Callers()
    async with listening(amqp, ExtensionRequested.routing_key, ExtensionDecided.routing_key) as queue:
        approved_id, due_on = await _assigned(system, who)
        refused_id, refused_due = await _assigned(system, who)
        later = (due_on + timedelta(days=14)).isoformat()

        asked = await tracking.post(
            f"/demands/{approved_id}/extensions", json={"new_due_on": later, "reason": "检测周期较长"}, headers=who.org
        )
        assert asked.status_code == 201, asked.text
        extension_id = asked.json()["extension_id"]
        pending = (await tracking.get("/extensions", params={"status": "pending"}, headers=who.head)).json()
        assert extension_id in {e["extension_id"] for e in pending}
        assert (await tracking.get("/extensions", headers=who.other_head)).json() == []
        decision = f"/demands/{approved_id}/extensions/{extension_id}/decision"
        assert (await tracking.post(decision, json={"approved": True}, headers=who.clerk)).status_code == 403
        decided = await tracking.post(decision, json={"approved": True, "comment": "同意"}, headers=who.head)
        assert decided.status_code == 200, decided.text
        assert decided.json()["handling_due_on"] == later
        handling = next(d for d in decided.json()["deadlines"] if d["kind"] == "handling")
        assert (handling["base_on"], handling["extension_id"]) == (later, extension_id)
        again = await tracking.post(decision, json={"approved": False}, headers=who.head)
        assert again.status_code == 409, again.text

        asked = await tracking.post(
            f"/demands/{refused_id}/extensions",
            json={"new_due_on": later, "reason": "企业要求推迟"},
            headers=who.clerk,
        )
        refused_ext = asked.json()["extension_id"]
        refused = await tracking.post(
            f"/demands/{refused_id}/extensions/{refused_ext}/decision",
            json={"approved": False, "comment": "请按期办结"},
            headers=who.head,
        )
        assert refused.status_code == 200, refused.text
        assert refused.json()["handling_due_on"] == refused_due.isoformat()
        assert [e["status"] for e in refused.json()["extensions"]] == ["refused"]

        got = await received(queue, {ExtensionRequested: 2, ExtensionDecided: 2})
    decisions = {e.demand_id: e for e in got[ExtensionDecided]}
    assert decisions[approved_id].approved and decisions[approved_id].reason == "检测周期较长"
    assert not decisions[refused_id].approved and decisions[refused_id].reason == "企业要求推迟"

    async def counted():
        text = (await tracking.get("/metrics")).text
        found = {}
        for family in text_string_to_metric_families(text):
            if family.name == "qs_case_extensions":  # the client drops the counter's _total
                found = {s.labels["decision"]: s.value for s in family.samples if s.name.endswith("_total")}
        return found if found.get("refused") else None

    assert await infra.eventually(counted, what="the extensions metric") == {"approved": 1.0, "refused": 1.0}

    # The day after the deadline (China time) it is too late to ask.
    time_machine.move_to(datetime.combine(refused_due + timedelta(days=1), datetime.min.time(), CHINA), tick=True)
    who = Callers()
    late = await tracking.post(
        f"/demands/{refused_id}/extensions",
        json={"new_due_on": (refused_due + timedelta(days=30)).isoformat(), "reason": "再次申请"},
        headers=who.clerk,
    )
    assert late.status_code == 409, late.text
    assert "延期申请须在办结期限届满前提出" in late.json()["message"]


async def test_an_extension_approved_after_a_pause_keeps_the_paused_days(system, amqp, time_machine):
    """Asked for before a pause and approved after it: the pause still moves the new date, so the approval never
    sets a deadline earlier than the one in force. A day off as the new date is a 422 on new_due_on."""
    tracking, who = system.clients["tracking"], Callers()
    async with listening(amqp, ExtensionDecided.routing_key) as queue:
        demand_id, due_on = await _assigned(system, who)
        day_off = next(due_on + timedelta(days=n) for n in range(1, 15) if not is_workday(due_on + timedelta(days=n)))
        refused = await tracking.post(
            f"/demands/{demand_id}/extensions", json={"new_due_on": day_off.isoformat(), "reason": "x"}, headers=who.org
        )
        assert refused.status_code == 422, refused.text
        assert "延期后的办结期限须为工作日" in refused.json()["message"], refused.text
        assert [e["field"] for e in refused.json()["errors"]] == ["new_due_on"], refused.text

        asked_for = add_working_days(due_on, 5)
        asked = await tracking.post(
            f"/demands/{demand_id}/extensions",
            json={"new_due_on": asked_for.isoformat(), "reason": "检测周期较长"},
            headers=who.org,
        )
        assert asked.status_code == 201, asked.text
        extension_id = asked.json()["extension_id"]
        body = {"reason_kind": "materials", "reason": "等待企业补充材料"}
        assert (await tracking.post(f"/demands/{demand_id}/pauses", json=body, headers=who.org)).status_code == 201

        # After the holiday: 12, 13, 14 (make-up Saturday) and 24 February were paused, 4 working days.
        time_machine.move_to(WEDNESDAY_AFTER_THE_HOLIDAY, tick=True)
        who = Callers()
        resumed = await tracking.post(f"/demands/{demand_id}/resumption", headers=who.clerk)
        assert resumed.status_code == 200, resumed.text
        in_force = add_working_days(due_on, 4)
        assert resumed.json()["handling_due_on"] == in_force.isoformat()

        decided = await tracking.post(
            f"/demands/{demand_id}/extensions/{extension_id}/decision",
            json={"approved": True, "comment": "同意"},
            headers=who.head,
        )
        assert decided.status_code == 200, decided.text
        moved = add_working_days(asked_for, 4)
        assert moved > in_force
        assert decided.json()["handling_due_on"] == moved.isoformat()
        handling = next(d for d in decided.json()["deadlines"] if d["kind"] == "handling")
        assert (handling["base_on"], handling["paused_working_days"]) == (asked_for.isoformat(), 4)
        got = await received(queue, {ExtensionDecided: 1})
    [event] = got[ExtensionDecided]
    assert (event.extension_id, event.assignment_no, event.due_on) == (UUID(extension_id), 1, in_force)
    rows = await infra.fetch(
        system.databases["tracking"], "SELECT handling_due_on FROM cases WHERE demand_id = $1", demand_id
    )
    assert rows[0]["handling_due_on"] == moved


async def test_a_late_calendar_correction_moves_an_open_cases_deadline(system):
    """Intake's correction reaches tracking over the broker; the open case's response deadline follows it, and
    follows its removal back."""
    tracking, who = system.clients["tracking"], Callers()
    demand_id = await system.submit(headers=who.clerk)
    clock = (await tracking.get(f"/demands/{demand_id}/clock", headers=who.clerk)).json()
    due_on = date.fromisoformat(clock["response_due_on"])
    assert due_on == add_working_days(THURSDAY_BEFORE_THE_HOLIDAY.date(), 1) == date(2026, 2, 13)

    async def response_due_on(expected: date):
        async def check():
            reply = await tracking.get(f"/demands/{demand_id}/clock", headers=who.clerk)
            return reply.json()["response_due_on"] == expected.isoformat()

        await infra.eventually(check, timeout=30, what=f"the response deadline to become {expected}")

    corrected = await system.clients["intake"].put(
        f"/calendar/{due_on}", json={"is_workday": False, "note": "测试调整"}, headers=who.admin
    )
    assert corrected.status_code == 204, corrected.text
    await response_due_on(date(2026, 2, 14))  # the make-up Saturday
    removed = await system.clients["intake"].delete(f"/calendar/{due_on}", headers=who.admin)
    assert removed.status_code == 204, removed.text
    await response_due_on(due_on)
