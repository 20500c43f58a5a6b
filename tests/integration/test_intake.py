"""Intake for real: the complete form, its validation, idempotency, catalogue versions, notices, online channel."""

import asyncio
import csv
import io
import json
from datetime import UTC, datetime
from uuid import UUID

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from shared.calendar import CHINA, china_today
from tests.support import auth, events, infra
from tests.support.apps import make_app

pytestmark = pytest.mark.integration

LEGACY = events.credit_code()[:-1] + ("0" if events.credit_code()[-1] != "0" else "1")


@pytest.fixture
async def intake(amqp, databases):
    db = databases("intake")
    app = make_app("intake", amqp_url=amqp, database_url=db, public_rate_limit="1000/minute")
    async with infra.running(app) as client:
        client.db = db
        yield client


def form(**changes):
    data = events.demand_form()
    for key, value in changes.items():
        if value is ...:
            data.pop(key)
        else:
            data[key] = value
    return data


INVALID = [
    ("enterprise.credit_code", form(enterprise={"name": "某公司", "credit_code": "12345"})),
    ("enterprise.credit_code", form(enterprise={"name": "某公司", "credit_code": "9121011IMA0U00001X"})),
    ("contact.phone", form(contact={"name": "王", "phone": "12345"})),
    ("contact.phone", form(contact={"name": "王", "phone": "138001380001"})),
    ("items", form(items=[{"code": "astrology.horoscope"}])),
    ("items", form(items=[])),
    ("items", form(items=...)),
    ("description", form(description=...)),
    ("description", form(description="字" * 4001)),
    ("enterprise.name", form(enterprise={"name": "名" * 201, "credit_code": events.credit_code()})),
    ("channel", form(channel="fax")),
    ("channel", form(channel=3)),
    ("items.0.materials_received", form(items=[{"code": "metrology.calibration", "materials_received": ["户口本"]}])),
    ("details.special_equipment", form(details={"special_equipment": [{"kind": "锅炉", "quantity": 2}]})),
    (
        "details.instruments.0.last_traced_on",
        form(details={"instruments": [{"name": "压力表", "last_traced_on": "昨天"}]}),
    ),
    ("green_channel_reason", form(green_channel="major_project")),
    ("station_id", form(station_id="hunnan")),
    ("extra_field", form(extra_field="x")),
    ("received_at", form(received_at="2026-11-20T09:00:00")),  # a time without its zone is ambiguous
]


@pytest.mark.parametrize(("field", "body"), INVALID, ids=[f for f, _ in INVALID])
async def test_bad_input_names_the_field_in_both_languages_and_changes_nothing(intake, field, body):
    reply = await intake.post("/demands", json=body, headers=auth.CLERK)
    assert reply.status_code == 422, reply.text
    errors = reply.json()["errors"]
    assert field in [e["field"] for e in errors], errors
    error = next(e for e in errors if e["field"] == field)
    assert error["message"] and error["message_en"] and error["message"] != error["message_en"]
    assert reply.json()["message"] == "请求数据有误" or reply.json()["code"] == "validation_error"
    for table in (
        "demands",
        "outbox WHERE demand_id IS NOT NULL",
        "tracking_counters",
        "enterprises",
        "idempotent_requests",
    ):
        assert await infra.fetch(intake.db, f"SELECT 1 FROM {table}") == [], table


async def test_letter_first_codes_are_accepted_and_legacy_codes_flagged(intake):
    letter_first = events.credit_code("N2210112MA0U00001")
    ok = await intake.post(
        "/demands", json=form(enterprise={"name": "某社会组织", "credit_code": letter_first}), headers=auth.CLERK
    )
    legacy = await intake.post(
        "/demands", json=form(enterprise={"name": "老企业", "credit_code": LEGACY}), headers=auth.CLERK
    )
    assert ok.status_code == legacy.status_code == 201
    assert ok.json()["credit_code_flag"] is None
    assert legacy.json()["credit_code_flag"] == "check_failed"


async def test_a_retried_submission_yields_one_demand_and_one_event(intake):
    headers = {**auth.CLERK, "Idempotency-Key": "window-3-20261122-0007"}
    first = await intake.post("/demands", json=form(), headers=headers)
    again = await intake.post("/demands", json=form(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()  # the same demand, tracking number and status link
    assert len(await infra.fetch(intake.db, "SELECT 1 FROM demands")) == 1
    assert len(await infra.fetch(intake.db, "SELECT 1 FROM outbox WHERE demand_id IS NOT NULL")) == 1
    other = await intake.post("/demands", json=form(description="另一件事"), headers=headers)
    assert other.status_code == 409 and other.json()["code"] == "idempotency_conflict"


async def test_the_submission_event_carries_the_whole_form(intake):
    code = events.credit_code()
    dossier = {"name": "沈阳精密仪器有限公司", "address": "沈阳市浑南区创新路 188 号", "in_park": False}
    assert (await intake.put(f"/enterprises/{code}", json=dossier, headers=auth.CLERK)).status_code == 200
    details = {"instruments": [{"name": "压力表", "measuring_range": "0–1.6 MPa", "serial_no": "P-01"}]}
    items = [{"code": "metrology.calibration", "remarks": "36 台，可上门", "materials_received": ["营业执照复印件"]}]
    demand = (await intake.post("/demands", json=form(items=items, details=details), headers=auth.CLERK)).json()
    assert demand["address"] == dossier["address"]
    [row] = await infra.fetch(intake.db, "SELECT event_id, payload FROM outbox WHERE routing_key = 'demand.submitted'")
    event = json.loads(row["payload"])
    assert event["address"] == "沈阳市浑南区创新路 188 号" and event["details"] == demand["details"]
    [instrument] = event["details"]["instruments"]
    assert instrument.items() >= details["instruments"][0].items()  # the table as filled in (blanks as null)
    [item] = event["items"]
    assert item["remarks"] == "36 台，可上门" and item["materials_received"] == ["营业执照复印件"]
    assert "营业执照复印件" in item["materials"] and len(item["materials"]) > 1
    [kept] = await infra.fetch(intake.db, "SELECT submitted_event_id FROM demands")
    assert kept["submitted_event_id"] == row["event_id"]  # later events from intake name it as their cause


async def test_concurrent_retries_with_one_key_yield_one_demand(intake):
    headers = {**auth.CLERK, "Idempotency-Key": "terminal-7-retry-burst"}
    replies = await asyncio.gather(*(intake.post("/demands", json=form(), headers=headers) for _ in range(5)))
    assert [r.status_code for r in replies] == [201] * 5
    assert len({r.json()["demand_id"] for r in replies}) == 1
    assert len(await infra.fetch(intake.db, "SELECT 1 FROM demands")) == 1


async def test_a_demand_keeps_the_catalogue_entry_in_force_when_it_was_submitted(intake):
    before = (await intake.post("/demands", json=form(), headers=auth.CLERK)).json()
    entry = next(e for e in (await intake.get("/catalogue")).json() if e["code"] == "metrology.calibration")
    edited = {
        **{k: entry[k] for k in ("category", "label", "description", "materials", "handled_by")},
        "time_limit_days": entry["time_limit_days"] + 7,
    }
    reply = await intake.put("/catalogue/items/metrology.calibration", json=edited, headers=auth.ADMIN)
    assert reply.status_code == 200 and reply.json()["version"] == entry["version"] + 1
    after = (await intake.post("/demands", json=form(), headers=auth.CLERK)).json()

    kept = (await intake.get(f"/demands/{before['demand_id']}", headers=auth.CLERK)).json()
    assert kept["items"][0]["time_limit_days"] == entry["time_limit_days"]
    assert kept["items"][0]["version"] == entry["version"]
    assert kept["expected_on"] == before["expected_on"]
    assert after["items"][0]["time_limit_days"] == entry["time_limit_days"] + 7
    [row] = await infra.fetch(intake.db, "SELECT payload FROM outbox WHERE demand_id = $1", UUID(before["demand_id"]))
    assert json.loads(row["payload"])["items"][0]["time_limit_days"] == entry["time_limit_days"]  # carried on

    # A city's override changes new demands of its stations only.
    await intake.put(
        "/catalogue/overrides/metrology.calibration", json={"scope": "210100", "time_limit_days": 4}, headers=auth.ADMIN
    )
    shenyang = (await intake.get("/catalogue", params={"station_id": events.STATION})).json()
    guangzhou = (await intake.get("/catalogue", params={"station_id": events.OTHER_STATION})).json()
    assert next(e for e in shenyang if e["code"] == "metrology.calibration")["time_limit_days"] == 4
    assert (
        next(e for e in guangzhou if e["code"] == "metrology.calibration")["time_limit_days"]
        == entry["time_limit_days"] + 7
    )


async def test_the_acceptance_notice_tells_everything_once(intake):
    demand = (
        await intake.post(
            "/demands",
            headers=auth.CLERK,
            json=form(
                items=[{"code": "metrology.calibration", "materials_received": []}],
                green_channel="new_tech_enterprise",
                green_channel_reason="2026 年新设立的高新技术企业",
            ),
        )
    ).json()
    html = (await intake.get(f"/demands/{demand['demand_id']}/notice", headers=auth.CLERK)).text
    assert demand["printed_tracking_no"] == "hunnan-01-" + demand["tracking_no"]
    assert f"跟踪单号：<strong>{demand['printed_tracking_no']}</strong>" in html and "受理通知书" in html
    for material in demand["items"][0]["materials_needed"]:
        assert material in html
    pdf = await intake.get(f"/demands/{demand['demand_id']}/notice.pdf", headers=auth.CLERK)
    assert pdf.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert demand["printed_tracking_no"] in text and "受理通知书" in text and "沈阳精密仪器有限公司" in text
    year, month, day = demand["expected_on"].split("-")
    assert f"{year}年{month}月{day}日" in text
    # The enterprise downloads the same notice through its own link.
    token = demand["status_url"].rsplit("/", 1)[1]
    own = await intake.get(f"/public/status/{token}/notice.pdf")
    assert (
        own.status_code == 200
        and demand["printed_tracking_no"] in PdfReader(io.BytesIO(own.content)).pages[0].extract_text()
    )


async def test_the_online_channel_ignores_station_and_status_fields_and_links_reach_one_demand(intake):
    body = {k: v for k, v in form().items() if k != "station_id"}
    body |= {
        "station_id": events.OTHER_STATION,
        "status": "archived",
        "progress": "rated",
        "channel": "window",
        "first_responder": "冒名者",
        "tracking_no": "2026-999999",
    }
    first = await intake.post(f"/public/stations/{events.STATION}/demands", json=body)
    second = await intake.post(f"/public/stations/{events.STATION}/demands", json=body)
    assert first.status_code == second.status_code == 201, first.text
    rows = await infra.fetch(
        intake.db,
        "SELECT station_id, channel, status, progress, first_responder, tracking_no FROM demands ORDER BY tracking_no",
    )
    assert {(r["station_id"], r["channel"], r["status"], r["progress"], r["first_responder"]) for r in rows} == {
        (events.STATION, "website", "open", "submitted", "网上申报")
    }
    assert [r["tracking_no"] for r in rows] == [first.json()["tracking_no"], second.json()["tracking_no"]]

    one = (await intake.get(first.json()["status_url"].replace("http://127.0.0.1:8001", ""))).json()
    two = (await intake.get(second.json()["status_url"].replace("http://127.0.0.1:8001", ""))).json()
    assert one["tracking_no"] == first.json()["tracking_no"] and two["tracking_no"] == second.json()["tracking_no"]
    assert set(one) == {
        "tracking_no",
        "printed_tracking_no",
        "station_name",
        "station_phone",
        "items",
        "progress",
        "progress_label",
        "handled_by",
        "ending",
        "can_withdraw",
        "submitted_at",
        "expected_on",
        "paused",
        "clock_label",
        "pauses",
        "extensions",
        "notice_reissued_at",
        "archive_no",
        "round",
        "rehandling",
        "verification",
        "steps",
        "rating_url",
        "rating_expires_at",
    }  # nothing about anyone else
    assert [(s["key"], bool(s["at"])) for s in one["steps"]] == [
        ("submitted", True),
        ("assigned", False),
        ("resolved", False),
        ("rated", False),
        ("archived", False),
    ]
    assert (one["rating_url"], one["rating_expires_at"]) == (None, None)  # nothing to rate yet
    assert (one["progress"], one["progress_label"], one["handled_by"], one["can_withdraw"]) == (
        "submitted",
        "已受理",
        None,
        True,
    )
    forged = first.json()["status_url"].rsplit("/", 1)[1][:-2] + "xx"
    assert (await intake.get(f"/public/status/{forged}")).status_code == 404
    unknown_station = await intake.post("/public/stations/210100/210112/nowhere-01/demands", json=body)
    assert unknown_station.status_code == 422


async def test_the_online_channel_is_rate_limited(amqp, databases):
    app = make_app("intake", amqp_url=amqp, database_url=databases("intake"), public_rate_limit="3/minute")
    async with infra.running(app) as client:
        body = {k: v for k, v in form().items() if k != "station_id"}
        codes = [
            (await client.post(f"/public/stations/{events.STATION}/demands", json=body)).status_code for _ in range(4)
        ]
    assert codes == [201, 201, 201, 429]


async def test_a_second_demand_for_the_same_need_is_flagged_as_a_possible_duplicate(intake):
    first = (await intake.post("/demands", json=form(), headers=auth.CLERK)).json()
    second = (await intake.post("/demands", json=form(), headers=auth.CLERK)).json()
    different = (await intake.post("/demands", json=form(items=[{"code": "ip.trademark"}]), headers=auth.CLERK)).json()
    assert first["possible_duplicate_of"] is None
    assert second["possible_duplicate_of"] == first["demand_id"]
    assert different["possible_duplicate_of"] is None


async def test_the_enterprise_dossier_with_detail_tables_and_search(intake):
    code = events.credit_code("91210112MA0U00005")
    dossier = {
        "name": "沈阳新松精密机械有限公司",
        "legal_representative": "刘强",
        "industry": "通用设备制造",
        "size": "medium",
        "employees": 320,
        "output_value_wan": 18500.5,
        "main_products": "精密减速机",
        "address": "沈阳市浑南区",
        "in_park": True,
        "park_name": "浑南高新区",
        "town": "浑南装备小镇",
        "chain": "机器人",
        "chain_leader": True,
        "own_labs": 2,
        "labs_cover_own_testing": False,
        "contacts": [{"name": "赵丽", "title": "质量部长", "phone": "13940012345", "email": "zhaoli@example.com"}],
        "products": [{"name": "RV 减速机", "standard_name": "机器人用精密减速器", "standard_no": "GB/T 37165-2018"}],
        "instruments": [
            {
                "name": "三坐标测量机",
                "accuracy_class": "MPE 1.9 μm",
                "traceability": "calibration",
                "last_traced_on": "2026-03-01",
                "valid_until": "2027-03-01",
            }
        ],
        "special_equipment": [{"kind": "压力容器", "quantity": 2, "next_inspection_on": "2027-05-01"}],
        "operator_exams": [{"trade": "叉车司机", "people": 4, "category": "K"}],
    }
    saved = await intake.put(f"/enterprises/{code}", json=dossier, headers=auth.CLERK)
    assert saved.status_code == 200, saved.text
    assert saved.json()["contacts"][0]["phone"] == "+8613940012345"
    for query in ({"q": "新松"}, {"q": code}, {"park": "浑南高新区"}, {"chain": "机器人"}, {"town": "浑南装备小镇"}):
        found = (await intake.get("/enterprises", params=query, headers=auth.HEAD)).json()
        assert [e["credit_code"] for e in found] == [code], query
    assert (await intake.get("/enterprises", params={"q": "新松"}, headers=auth.OTHER_HEAD)).json() == []
    bad = await intake.put(f"/enterprises/{code}", json={**dossier, "park_name": None}, headers=auth.CLERK)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "park_name"
    bad_mail = await intake.put(
        f"/enterprises/{code}", json={**dossier, "contacts": [{"name": "赵", "email": "x@"}]}, headers=auth.CLERK
    )
    assert bad_mail.status_code == 422 and bad_mail.json()["errors"][0]["field"] == "contacts.0.email"


async def test_a_visit_and_the_demands_collected_during_it(intake):
    visit = (
        await intake.post(
            "/visits",
            headers=auth.CLERK,
            json={
                "credit_code": events.credit_code(),
                "enterprise_name": "沈阳精密仪器有限公司",
                "staff": ["张晓燕", "周站长"],
                "visited_on": china_today(datetime.now(UTC)).isoformat(),
                "findings": "计量器具超期未检，需建立台账",
            },
        )
    ).json()
    demand = (
        await intake.post("/demands", json=form(channel="visit", visit_id=visit["visit_id"]), headers=auth.CLERK)
    ).json()
    seen = (await intake.get(f"/visits/{visit['visit_id']}", headers=auth.HEAD)).json()
    assert [d["tracking_no"] for d in seen["demands"]] == [demand["tracking_no"]]
    assert (await intake.get(f"/visits/{visit['visit_id']}", headers=auth.OTHER_HEAD)).status_code == 404
    foreign = await intake.post(
        "/demands", json=form(station_id=events.OTHER_STATION, visit_id=visit["visit_id"]), headers=auth.OTHER_CLERK
    )
    assert foreign.status_code == 422 and foreign.json()["errors"][0]["field"] == "visit_id"


async def test_the_intake_ledger_exports_with_the_seed_columns(intake):
    mine = (await intake.post("/demands", json=form(), headers=auth.CLERK)).json()
    await intake.post("/demands", json=form(station_id=events.OTHER_STATION), headers=auth.OTHER_CLERK)
    # The ledger is kept in China dates: at 00:30 in China the UTC date of `submitted_at` is still yesterday.
    today = datetime.fromisoformat(mine["submitted_at"]).astimezone(CHINA).date().isoformat()
    csv_reply = await intake.get("/ledger.csv", params={"since": today, "until": today}, headers=auth.HEAD)
    table = list(csv.reader(io.StringIO(csv_reply.content.decode("utf-8-sig"))))
    assert table[0] == [
        "序号",
        "日期",
        "企业名称",
        "企业联系人",
        "联系电话",
        "企业需求类型",
        "企业需求",
        "首位工作人员",
        "跟踪单号",
    ]
    # printed as on the notice, the station's code first; the other station's demand is not in it
    assert [row[8] for row in table[1:]] == [mine["printed_tracking_no"]]
    assert table[1][1] == today == china_today(datetime.now(UTC)).isoformat()
    assert mine["tracking_no"].startswith(today[:4] + "-")  # numbered in China's year, also on New Year's night
    sheet = load_workbook(io.BytesIO((await intake.get("/ledger.xlsx", headers=auth.HEAD)).content)).active
    assert [c.value for c in sheet[2]][-1] == "跟踪单号" and sheet.cell(row=3, column=9).value == mine[
        "printed_tracking_no"
    ]
    # Text a spreadsheet would execute stays text.
    await intake.post(
        "/demands",
        headers=auth.CLERK,
        json=form(enterprise={"name": '=HYPERLINK("http://evil.example","点击")', "credit_code": events.credit_code()}),
    )
    sheet = load_workbook(io.BytesIO((await intake.get("/ledger.xlsx", headers=auth.HEAD)).content)).active
    names = [sheet.cell(row=r, column=3) for r in range(3, sheet.max_row + 1)]
    assert all(c.data_type == "s" for c in names) and any(str(c.value).startswith("'=HYPERLINK") for c in names)
    empty = await intake.get("/ledger.csv", params={"since": "2020-01-01", "until": "2020-12-31"}, headers=auth.HEAD)
    assert len(list(csv.reader(io.StringIO(empty.content.decode("utf-8-sig"))))) == 1
