"""Complaints (投诉, issue 10) for real: PostgreSQL, RabbitMQ and the services as they run together.

A complaint recorded by the station goes through every stage, ComplaintUpdated reaches the broker at each, and
dispatch counts it in the organization's record (received, founded; the organization itself sees the figures and the
complaint only once the complainant has been answered). An enterprise complains through its status link and is told
the outcome there. Who sees which complaint, the numbering, the filters, bad input; the public channel's rate limits
and the figures on /metrics with intake alone.
"""

import json
from datetime import UTC, datetime
from uuid import UUID, uuid4

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared.calendar import china_today
from shared.contracts import ComplaintUpdated
from tests.support import auth, events, infra
from tests.support.apps import body_of, capture_queue, drain, make_app, publish
from tests.support.system import fresh_system, organization

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

STAGES = ["received", "acknowledged", "investigated", "resolved", "answered", "closed"]
HUNNAN = events.STATION  # 210100/210112/hunnan-01
TIEXI = "210100/210106/tiexi-01"
TIEXI_CLERK = auth.bearer("clerk", TIEXI, name="铁西窗口")
SECOND_CLERK = auth.bearer("clerk", HUNNAN, name="刘窗口", subject="clerk-liu")
CAPTURE = "test.complaints"
# An organization of this module's own, so its record starts at nothing whatever the other tests complain about.
ORG_ID = "org-c1"
ORG_USER = auth.bearer("org", org=ORG_ID, name="沈阳计量检测中心")


def _year() -> int:
    return china_today(datetime.now(UTC)).year


def _form(**kw) -> dict:
    return {
        "channel": "phone",
        "subject": "organization",
        "subject_id": ORG_ID,
        "subject_name": "沈阳计量检测中心",
        "complainant_name": "王建国",
        "complainant_contact": "13804001234",
        "content": "检定报告超期两周仍未出具",
    } | kw


@pytest.fixture(scope="module")
async def system():
    async with fresh_system(intake={"public_rate_limit": "1000/minute"}) as system:
        await capture_queue(system.amqp, CAPTURE, "complaint.updated")
        body = organization("沈阳计量检测中心", "12210100MB0000091", ["210100"])
        reply = await system.clients["dispatch"].put(f"/organizations/{ORG_ID}", json=body, headers=auth.ADMIN)
        assert reply.status_code == 201, reply.text
        system.captured = []
        yield system


async def _published(system, complaint_id: str, count: int) -> list[dict]:
    """The ComplaintUpdated events of one complaint that reached the broker, once `count` have, in order."""

    async def check():
        system.captured.extend(body_of(m) for m in await drain(system.amqp, CAPTURE))
        mine = [e for e in system.captured if e["complaint_id"] == complaint_id]
        return mine if len(mine) >= count else None

    found = await infra.eventually(check, what=f"{count} ComplaintUpdated of {complaint_id}")
    for event in found:
        ComplaintUpdated.model_validate(event)  # as a consumer reads it
    return found


async def _record(system, headers=auth.CLERK, **kw) -> dict:
    reply = await system.clients["intake"].post("/complaints", json=_form(**kw), headers=headers)
    assert reply.status_code == 201, reply.text
    return reply.json()


async def _move(system, complaint_id: str, stage: str, headers=auth.HEAD, **kw) -> httpx.Response:
    body = {"stage": stage, "note": kw.pop("note", f"{stage}：已办理")} | kw
    return await system.clients["intake"].post(f"/complaints/{complaint_id}/stages", json=body, headers=headers)


async def _record_of(system, headers) -> dict:
    reply = await system.clients["dispatch"].get(f"/organizations/{ORG_ID}", headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()["record"]


async def test_a_complaint_goes_through_every_stage_published_at_each_and_counted_by_dispatch(system):
    intake = system.clients["intake"]
    demand_id = await system.submit()
    demand = (await intake.get(f"/demands/{demand_id}", headers=auth.CLERK)).json()
    complaint = await _record(system, tracking_no=demand["tracking_no"])
    cid = complaint["complaint_id"]
    assert complaint["complaint_no"].startswith(f"T{_year()}-") and len(complaint["complaint_no"]) == 12
    assert (complaint["stage"], complaint["next_stage"], complaint["demand_id"]) == (
        "received",
        "acknowledged",
        str(demand_id),
    )
    assert (complaint["recorded_by"], complaint["enterprise_name"], complaint["overdue"]) == (
        "张晓燕",
        "沈阳精密仪器有限公司",
        False,
    )
    assert complaint["due_on"] > china_today(datetime.now(UTC)).isoformat()

    # received: dispatch counts it for the head at once, for the organization not before it is answered
    record = await system.get_when(
        "dispatch", f"/organizations/{ORG_ID}", lambda o: o["record"]["complaints"] == 1, "dispatch to count it"
    )
    assert record["record"]["complaints_founded"] == 0
    assert (await _record_of(system, ORG_USER))["complaints"] == 0
    assert (await intake.get(f"/complaints/{cid}", headers=ORG_USER)).status_code == 404

    assert (await _move(system, cid, "acknowledged", headers=auth.CLERK)).status_code == 403  # the head's
    for stage in STAGES[1:]:
        reply = await _move(system, cid, stage, founded=True if stage == "resolved" else None)
        assert reply.status_code == 200, reply.text
        assert reply.json()["stage"] == stage
    closed = reply.json()
    assert ([s["stage"] for s in closed["stages"]], closed["founded"], closed["due_on"]) == (STAGES, True, None)
    assert [s["by"] for s in closed["stages"]] == ["张晓燕", *["周站长"] * 5]
    assert (await _move(system, cid, "closed")).status_code == 409  # each stage once

    published = await _published(system, cid, 6)
    assert [e["stage"] for e in published] == STAGES
    assert all(e["complaint_no"] == complaint["complaint_no"] and e["subject_id"] == ORG_ID for e in published)
    assert [e["founded"] for e in published] == [None, None, None, True, True, True]
    assert all(
        later["causation_id"] == earlier["event_id"] for earlier, later in zip(published, published[1:], strict=False)
    )
    assert published[0]["correlation_id"] == str(
        (
            await infra.fetch(
                system.databases["intake"], "SELECT correlation_id FROM demands WHERE demand_id = $1", demand_id
            )
        )[0][0]
    )
    assert published[0]["note"] == "检定报告超期两周仍未出具" and published[-1]["due_on"] is None
    assert "王建国" not in json.dumps(published, ensure_ascii=False)  # the complainant never leaves intake

    # dispatch: received and founded; now the organization sees the figures and the complaint, read-only, anonymous
    await system.get_when(
        "dispatch",
        f"/organizations/{ORG_ID}",
        lambda o: o["record"]["complaints_founded"] == 1,
        "dispatch to count it founded",
    )
    assert await _record_of(system, ORG_USER) == await _record_of(system, auth.HEAD)
    seen = (await intake.get(f"/complaints/{cid}", headers=ORG_USER)).json()
    assert (seen["complainant_name"], seen["complainant_contact"], seen["stage"]) == (None, None, "closed")
    # Nor the demand: its tracking number would name the enterprise to the organization that handled it.
    assert (seen["demand_id"], seen["tracking_no"], seen["enterprise_name"]) == (None, None, None)
    assert [c["complaint_id"] for c in (await intake.get("/complaints", headers=ORG_USER)).json()] == [cid]
    assert (await _move(system, cid, "closed", headers=ORG_USER)).status_code == 403
    assert (await intake.get(f"/complaints/{cid}", headers=auth.OTHER_ORG)).status_code == 404

    # the consumer is idempotent and tolerates order: the first stage again (redelivered, then late under a new
    # id) changes nothing
    first = published[0]
    late = first | {"event_id": str(uuid4())}
    for event in (first, late):
        await publish(system.amqp, "complaint.updated", json.dumps(event).encode(), event["event_id"])

    async def consumed():
        rows = await infra.fetch(
            system.databases["dispatch"], "SELECT 1 FROM inbox WHERE event_id = $1", UUID(late["event_id"])
        )
        return bool(rows)

    await infra.eventually(consumed, what="dispatch to consume the late stage")
    assert (await _record_of(system, auth.HEAD))["complaints"] == 1
    assert (await _record_of(system, auth.HEAD))["complaints_founded"] == 1
    [row] = await infra.fetch(
        system.databases["dispatch"],
        "SELECT stage, founded FROM organization_complaints WHERE complaint_id = $1",
        UUID(cid),
    )
    assert tuple(row) == ("closed", True)


async def test_the_enterprise_complains_through_its_status_link_and_is_told_the_outcome_there(system):
    intake = system.clients["intake"]
    demand_id = await system.submit()
    await system.assign(demand_id)  # to org-01 (市计量测试院)
    path = "/public/status/" + system.status_urls[demand_id].split("/public/status/")[-1]
    await infra.eventually(lambda: _handled_by(intake, path), what="intake to learn who handles the demand")
    body = {"subject": "organization", "content": "检定人员迟到三小时，且未提前告知"}
    reply = await intake.post(f"{path}/complaints", json=body, headers={"Idempotency-Key": "complain-once-1"})
    assert reply.status_code == 201, reply.text
    filed = reply.json()
    again = await intake.post(f"{path}/complaints", json=body, headers={"Idempotency-Key": "complain-once-1"})
    assert again.json()["complaint_no"] == filed["complaint_no"]  # a retried filing is the same complaint
    assert (filed["stage"], filed["answer"], filed["progress_label"]) == (
        "received",
        None,
        "已收到您的投诉，等待服务站确认受理",
    )
    assert filed["station_name"] == "沈阳市浑南区一站式质量服务站"

    mine = [
        c
        for c in (await intake.get("/complaints", headers=auth.HEAD)).json()
        if c["complaint_no"] == filed["complaint_no"]
    ]
    [staff_view] = [c for c in mine if c["station_id"] == HUNNAN]
    cid = staff_view["complaint_id"]
    assert (staff_view["channel"], staff_view["subject_name"], staff_view["subject_id"]) == (
        "online",
        "市计量测试院",
        None,
    )
    assert (staff_view["complainant_name"], staff_view["demand_id"], staff_view["recorded_by"]) == (
        "王建国",
        str(demand_id),
        "网上投诉",
    )
    assert cid not in {c["complaint_id"] for c in (await intake.get("/complaints", headers=auth.CLERK)).json()}

    for stage in ("acknowledged", "investigated"):
        assert (await _move(system, cid, stage, note=f"内部记录：{stage}")).status_code == 200
    unidentified = await _move(system, cid, "resolved", founded=True)
    assert unidentified.status_code == 422 and unidentified.json()["errors"][0]["field"] == "subject_id", (
        unidentified.text
    )
    identified = await _move(system, cid, "resolved", founded=True, subject_id="org-01", note="内部记录：约谈机构")
    assert identified.status_code == 200 and identified.json()["subject_id"] == "org-01"
    progress = (await intake.get(f"{path}/complaints")).json()
    assert progress[0]["answer"] is None and progress[0]["progress_label"] == "已处理，即将答复您"
    answer = "经调查属实，已责成市计量测试院书面致歉，并于次日重新上门检定"
    assert (await _move(system, cid, "answered", note=answer)).status_code == 200

    [told] = (await intake.get(f"{path}/complaints")).json()
    assert (told["answer"], told["founded"], told["stage"]) == (answer, True, "answered")
    assert told["progress_label"] == "已答复：经调查，投诉属实"
    assert [s["stage"] for s in told["stages"]] == STAGES[:5]
    shown = json.dumps(told, ensure_ascii=False)
    assert "周站长" not in shown and "内部记录" not in shown  # no staff names, no internal notes
    published = await _published(system, cid, 5)
    assert [e["channel"] for e in published] == ["online"] * 5 and published[0]["stage_by"] == "网上投诉"
    assert published[0]["subject_id"] is None and published[3]["subject_id"] == "org-01"


async def _handled_by(intake, path: str) -> bool:
    return (await intake.get(path)).json()["handled_by"] == "市计量测试院"


async def test_who_sees_which_complaint_the_numbering_the_filters_and_bad_input(system):
    intake = system.clients["intake"]
    a = await _record(system, subject="staff", subject_id=None, subject_name="窗口工作人员", channel="window")
    b = await _record(system, headers=SECOND_CLERK, subject="station", subject_id=None, subject_name=None)
    c = await _record(system, headers=TIEXI_CLERK, channel="letter")
    year, serial = _year(), int(a["complaint_no"][-6:])
    assert b["complaint_no"] == f"T{year}-{serial + 1:06d}"  # gapless per station
    assert c["complaint_no"].startswith(f"T{year}-") and c["station_id"] == TIEXI
    assert (b["subject_id"], b["subject_name"]) == (HUNNAN, "沈阳市浑南区一站式质量服务站")

    async def ids(headers, **params) -> set[str]:
        reply = await intake.get("/complaints", params=params, headers=headers)
        assert reply.status_code == 200, reply.text
        return {x["complaint_id"] for x in reply.json()}

    new = {a["complaint_id"], b["complaint_id"], c["complaint_id"]}
    assert ids_of(await ids(auth.CLERK), new) == {a["complaint_id"]}
    assert ids_of(await ids(SECOND_CLERK), new) == {b["complaint_id"]}
    assert ids_of(await ids(auth.HEAD), new) == {a["complaint_id"], b["complaint_id"]}
    assert ids_of(await ids(auth.SUPERVISOR), new) == new
    assert ids_of(await ids(auth.SUPERVISOR, station_id=TIEXI), new) == {c["complaint_id"]}
    assert ids_of(await ids(auth.OTHER_HEAD), new) == set() and ids_of(await ids(auth.ORG), new) == set()
    assert (await intake.get("/complaints", headers=auth.ADMIN)).status_code == 403
    assert (await intake.get("/complaints", params={"station_id": TIEXI}, headers=auth.HEAD)).status_code == 404
    for reader, status in ((auth.HEAD, 404), (auth.OTHER_HEAD, 404), (TIEXI_CLERK, 200), (auth.SUPERVISOR, 200)):
        assert (await intake.get(f"/complaints/{c['complaint_id']}", headers=reader)).status_code == status
    assert (await intake.get(f"/complaints/{b['complaint_id']}", headers=auth.CLERK)).status_code == 404

    assert ids_of(await ids(auth.HEAD, subject="station"), new) == {b["complaint_id"]}
    assert ids_of(await ids(auth.HEAD, stage="received"), new) == {a["complaint_id"], b["complaint_id"]}
    assert (await _move(system, b["complaint_id"], "acknowledged")).status_code == 200
    assert ids_of(await ids(auth.HEAD, stage="acknowledged"), new) == {b["complaint_id"]}
    assert ids_of(await ids(auth.HEAD, overdue="true"), new) == set()
    # the clock moved on past b's limit (its due date, as the database keeps it, put back a month)
    await infra.fetch(
        system.databases["intake"],
        "UPDATE complaints SET due_on = due_on - 31 WHERE complaint_id = $1",
        UUID(b["complaint_id"]),
    )
    assert ids_of(await ids(auth.HEAD, overdue="true"), new) == {b["complaint_id"]}
    assert ids_of(await ids(auth.HEAD, overdue="false"), new) == {a["complaint_id"]}
    assert (await intake.get(f"/complaints/{b['complaint_id']}", headers=auth.HEAD)).json()["overdue"] is True

    # bad input names the field and changes nothing
    tiexi_demand = await system.submit(TIEXI, headers=TIEXI_CLERK)
    for body, field in (
        (_form(subject="staff", subject_id=None, subject_name=None), "subject_name"),
        (_form(demand_id=str(tiexi_demand)), "demand_id"),
        (_form(channel="online"), "channel"),
        (_form(content=""), "content"),
    ):
        reply = await intake.post("/complaints", json=body, headers=auth.CLERK)
        assert reply.status_code == 422 and field in json.dumps(reply.json()), (field, reply.text)
    assert (await _move(system, a["complaint_id"], "investigated")).status_code == 409  # not the next stage
    for stage in ("acknowledged", "investigated"):
        await _move(system, a["complaint_id"], stage)
    assert (await _move(system, a["complaint_id"], "resolved")).status_code == 422  # founded or not?
    assert (await _move(system, a["complaint_id"], "acknowledged", headers=auth.OTHER_HEAD)).status_code == 404
    assert (await _move(system, str(uuid4()), "acknowledged")).status_code == 404
    after = (await intake.get(f"/complaints/{a['complaint_id']}", headers=auth.HEAD)).json()
    assert after["stage"] == "investigated" and len(after["stages"]) == 3
    assert int((await _record(system))["complaint_no"][-6:]) == serial + 2  # refusals took no number


def ids_of(seen: set[str], new: set[str]) -> set[str]:
    """Of the complaints this test made, those seen (other tests of the module made their own)."""
    return seen & new


# --------------------------------------------------------------------------- intake alone: limits and figures

TREE = ("station_id", "district", "city")
LABELS = {
    "qs_complaints_total": (*TREE, "subject"),
    "qs_complaints_founded_total": (*TREE, "subject"),
    "qs_complaints_open": TREE,
    "qs_complaints_overdue": TREE,
}
H = (HUNNAN, "210112", "210100")
T = (TIEXI, "210106", "210100")


async def _intake_alone(amqp: str, db: str, **settings):
    for routing_key, queue in (("demand.submitted", "test.submitted"), ("complaint.updated", "test.complained")):
        await capture_queue(amqp, queue, routing_key)  # intake's relay publishes "mandatory": they must be routable
    return infra.running(make_app("intake", amqp_url=amqp, database_url=db, **settings))


async def _status_path(intake) -> str:
    reply = await intake.post("/demands", json=events.demand_form(), headers=auth.CLERK)
    assert reply.status_code == 201, reply.text
    return "/public/status/" + reply.json()["status_url"].split("/public/status/")[-1]


async def test_the_public_channel_is_rate_limited_per_address_and_per_link(amqp, databases):
    body = {"content": "窗口人员态度恶劣", "subject": "staff", "subject_name": "窗口工作人员"}
    db = databases("intake")
    async with await _intake_alone(amqp, db, complaint_link_rate_limit="2/day") as intake:
        path = await _status_path(intake)
        codes = [(await intake.post(f"{path}/complaints", json=body)).status_code for _ in range(3)]
        assert codes == [201, 201, 429]
        other = await _status_path(intake)
        assert (await intake.post(f"{other}/complaints", json=body)).status_code == 201  # another link's own count
    async with await _intake_alone(amqp, db, public_rate_limit="2/minute") as intake:
        codes = [(await intake.get(f"{path}/complaints")).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        assert (await intake.post(f"{path}/complaints", json=body)).status_code == 429


async def scrape(client: httpx.AsyncClient) -> dict[str, dict[tuple[str, ...], float]]:
    reply = await client.get("/metrics")
    assert reply.status_code == 200, reply.text
    figures: dict[str, dict[tuple[str, ...], float]] = {name: {} for name in LABELS}
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            if sample.name in LABELS:
                assert set(sample.labels) == set(LABELS[sample.name]), sample
                figures[sample.name][tuple(sample.labels[k] for k in LABELS[sample.name])] = sample.value
    return figures


async def test_the_figures_on_metrics_count_from_the_store(amqp, databases):
    db = databases("intake")
    async with await _intake_alone(amqp, db) as intake:
        post = intake.post
        org = (await post("/complaints", json=_form(), headers=auth.CLERK)).json()
        online = (
            await post(
                f"{await _status_path(intake)}/complaints",
                json={"subject": "organization", "subject_name": "市计量测试院", "content": "x"},
            )
        ).json()
        assert online["complaint_no"]
        await post("/complaints", json=_form(subject="station", subject_id=None), headers=TIEXI_CLERK)
        for stage in STAGES[1:]:
            reply = await _move_in(intake, org["complaint_id"], stage)
            assert reply.status_code == 200, reply.text
        [[tiexi_id]] = await infra.fetch(db, "SELECT complaint_id FROM complaints WHERE station_id = $1", TIEXI)
        await infra.fetch(db, "UPDATE complaints SET due_on = due_on - 31 WHERE complaint_id = $1", tiexi_id)
        figures = await scrape(intake)
        # every subject of a station with a complaint, 0 included; the subject as received
        assert figures["qs_complaints_total"] == {
            (*H, "organization"): 2,
            (*H, "staff"): 0,
            (*H, "station"): 0,
            (*T, "organization"): 0,
            (*T, "staff"): 0,
            (*T, "station"): 1,
        }
        assert figures["qs_complaints_founded_total"][(*H, "organization")] == 1
        assert sum(figures["qs_complaints_founded_total"].values()) == 1
        assert figures["qs_complaints_open"] == {H: 1, T: 1}  # the closed one is not open
        assert figures["qs_complaints_overdue"] == {H: 0, T: 1}
    # another replica, or the same after a restart, reports the same whole
    async with await _intake_alone(amqp, db) as again:
        assert await scrape(again) == figures


async def _move_in(intake, complaint_id: str, stage: str) -> httpx.Response:
    body = {"stage": stage, "note": f"{stage}：已办理"} | ({"founded": True} if stage == "resolved" else {})
    return await intake.post(f"/complaints/{complaint_id}/stages", json=body, headers=auth.HEAD)
