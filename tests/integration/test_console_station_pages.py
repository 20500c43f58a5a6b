"""The console's station pages against the running system (the five services in-process, real PostgreSQL and
RabbitMQ): 走访 (a clerk records a visit and finds it), 企业档案 (a clerk registers an enterprise and puts it in an
industrial chain and a park), 人员与科室 (the head adds a department and a staff member), the intake ledger's
download through the console, and the calendar's list of corrections (operations). Each also checks the refusals:
a role that may not, and another station that must not see.

As tests/integration/test_console.py: the console's calls go through httpx's ASGI transport into `fresh_system`'s
apps; each person signs in on the development page with a cookie jar of their own.
"""

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import openpyxl
import pytest

from shared.calendar import china_today
from tests.support import auth, events
from tests.support import console as console_support
from tests.support.console import browser, csrf_of, sign_in
from tests.support.system import System, fresh_system

pytestmark = pytest.mark.integration

CLERK = f"clerk:{events.STATION}"
HEAD = f"head:{events.STATION}"
OTHER_CLERK = f"clerk:{events.OTHER_STATION}"
OTHER_HEAD = f"head:{events.OTHER_STATION}"
SUPERVISOR = "supervisor:210100"
ORG = "org:org-01"
ADMIN = "admin"


@pytest.fixture(scope="module")
async def system():
    async with fresh_system() as system:
        yield system


@pytest.fixture(scope="module")
async def console(system: System):
    async with console_support.running(system) as app:
        yield app


def _key(page) -> str:
    return re.search(r'name="idempotency_key" value="([^"]+)"', page.text).group(1)


def _field_error(page, field: str) -> str:
    found = re.search(rf'<p class="field-error"[^>]*data-field="{re.escape(field)}">([^<]+)</p>', page.text)
    assert found, f"no error at {field}: " + page.text[:3000]
    return found.group(1)


def _main(page) -> str:
    return page.text.split("<main", 1)[1].split("</main>", 1)[0]


async def _pages(system: System, path: str, headers: dict) -> list[dict]:
    reply = await system.clients["intake"].get(path, params={"limit": 500}, headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


# --- 走访 ---


async def test_a_clerk_records_a_visit_and_sees_it_and_no_other_station_does(system, console):
    today = china_today(datetime.now(UTC)).isoformat()
    code = events.credit_code("91210112MA0U00021")
    async with browser(console) as client:
        await sign_in(client, CLERK)
        ledger = await client.get("/ledger")
        assert 'href="/visits"' in ledger.text and 'href="/enterprises"' in ledger.text  # 走访, 企业档案 in the nav
        assert 'href="/staff"' not in ledger.text  # 人员与科室: the head's
        form = await client.get("/visits/new")
        assert form.status_code == 200, form.text
        assert f'value="{today}"' in form.text  # dated today (China) unless changed
        fields = {
            "csrf_token": csrf_of(form),
            "idempotency_key": _key(form),
            "enterprise_name": "沈阳走访测试机械有限公司",
            "credit_code": code,
            "staff": "张晓燕、李明",
            "visited_on": today,
            "findings": "",
        }
        wrong = await client.post("/visits/new", data=fields)
        assert wrong.status_code == 422, wrong.text
        assert _field_error(wrong, "findings") == "必填项缺失"
        assert 'value="沈阳走访测试机械有限公司"' in wrong.text  # what was typed stays
        assert not [v for v in await _pages(system, "/visits", auth.CLERK) if v["credit_code"] == code]

        fields["findings"] = "企业有 12 台压力表待检定，希望了解团体标准自我声明公开"
        done = await client.post("/visits/new", data=fields)
        assert done.status_code == 303, done.text
        location = done.headers["location"]
        assert re.fullmatch(r"/visits/[0-9a-f-]{36}", location), location
        visit_id = location.rsplit("/", 1)[1]
        resent = await client.post("/visits/new", data=fields)  # a double click: the same key records it once
        assert resent.status_code == 303 and resent.headers["location"] == location

        page = await client.get(location)
        assert page.status_code == 200, page.text
        assert "已记录" in page.text and "沈阳走访测试机械有限公司" in page.text
        assert "12 台压力表待检定" in page.text and "张晓燕、李明" in page.text
        listed = await client.get("/visits")
        assert f'data-visit="{visit_id}"' in listed.text

        # The demand collected on the visit: registered from the visit's page, the enterprise filled in.
        assert f'href="/demands/new?visit_id={visit_id}"' in page.text
        form = await client.get(f"/demands/new?visit_id={visit_id}")
        assert form.status_code == 200, form.text
        assert f'name="visit_id" value="{visit_id}"' in form.text and 'value="沈阳走访测试机械有限公司"' in form.text
        demand = {
            "csrf_token": csrf_of(form),
            "idempotency_key": _key(form),
            "enterprise.name": "沈阳走访测试机械有限公司",
            "enterprise.credit_code": code,
            "contact.name": "赵六",
            "contact.phone": "13804007777",
            "items": "metrology.calibration",
            "description": "12 台压力表需要检定",
            "channel": "visit",
            "visit_id": visit_id,
        }
        registered = await client.post("/demands/new", data=demand)
        assert registered.status_code == 303, registered.text
        demand_id = registered.headers["location"].removeprefix("/demands/")
        assert demand_id in (await client.get(location)).text  # listed on the visit's page

    assert len([v for v in await _pages(system, "/visits", auth.CLERK) if v["credit_code"] == code]) == 1
    stored = await system.clients["intake"].get(f"/visits/{visit_id}", headers=auth.HEAD)
    assert stored.status_code == 200, stored.text
    assert stored.json()["staff"] == ["张晓燕", "李明"] and stored.json()["visited_on"] == today

    async with browser(console) as client:  # another station: not listed, its page is 404
        await sign_in(client, OTHER_CLERK)
        listed = await client.get("/visits")
        assert listed.status_code == 200, listed.text
        assert 'data-testid="visits"' in listed.text or 'data-testid="no-visits"' in listed.text  # the list shown
        assert visit_id not in listed.text
        foreign = await client.get(f"/visits/{visit_id}")
        assert foreign.status_code == 404
        assert "沈阳走访测试机械有限公司" not in _main(foreign)

    async with browser(console) as client:  # a supervisor reads its area's visits (in its nav), records none
        await sign_in(client, SUPERVISOR)
        listed = await client.get("/visits")
        assert listed.status_code == 200, listed.text
        assert '<a href="/visits" aria-current="page">走访</a>' in listed.text
        assert 'href="/enterprises"' in listed.text  # 企业档案 in the nav too
        row = re.search(rf'<tr data-testid="visit-row" data-visit="{visit_id}">(.*?)</tr>', listed.text, re.S)
        assert row and events.STATION in row.group(1)  # named with its station
        assert 'href="/visits/new"' not in listed.text
        assert (await client.get("/visits/new")).status_code == 403

    async with browser(console) as client:  # an organization records no visits and reads none
        await sign_in(client, ORG)
        assert (await client.get("/visits")).status_code == 403
        assert (await client.get("/visits/new")).status_code == 403


# --- 企业档案 ---


async def test_a_clerk_registers_an_enterprise_and_puts_it_in_a_chain_and_a_park(system, console):
    code = events.credit_code("91210112MA0U00022")
    name = "沈阳产业链测试装备有限公司"
    async with browser(console) as client:
        await sign_in(client, CLERK)
        form = await client.get("/enterprises/new")
        assert form.status_code == 200, form.text
        fields = {"csrf_token": csrf_of(form), "credit_code": "91210112MA0U0002", "name": name, "size": "small"}
        wrong = await client.post("/enterprises/new", data=fields)
        assert wrong.status_code == 422, wrong.text
        assert "18 位" in _field_error(wrong, "credit_code")
        fields["credit_code"] = code
        made = await client.post("/enterprises/new", data=fields | {"contacts.0.name": "孙经理"})
        assert made.status_code == 303, made.text
        assert made.headers["location"] == f"/enterprises/{code}"
        again = await client.post("/enterprises/new", data=fields)  # registering never overwrites
        assert again.status_code == 422 and "已在本站建档" in _field_error(again, "credit_code")

    # Tables the form does not show, put there by intake's API: an edit keeps them.
    dossier = (await system.clients["intake"].get(f"/enterprises/{code}", headers=auth.CLERK)).json()
    body = {k: dossier[k] for k in ("name", "size", "contacts")}
    body["products"] = [{"name": "数控机床主轴", "standard_no": "Q/SYJM 001-2026"}]
    body["special_equipment"] = [{"kind": "压力容器", "quantity": 2}]
    put = await system.clients["intake"].put(f"/enterprises/{code}", json=body, headers=auth.CLERK)
    assert put.status_code == 200, put.text

    async with browser(console) as client:
        await sign_in(client, CLERK)
        edit = await client.get(f"/enterprises/{code}/edit")
        assert edit.status_code == 200, edit.text
        assert 'value="孙经理"' in edit.text
        fields = {
            "csrf_token": csrf_of(edit),
            "name": name,
            "size": "small",
            "industry": "通用设备制造业",
            "employees": "120",
            "in_park": "true",
            "park_name": "",
            "chain": "高端装备产业链",
            "chain_leader": "true",
            "town": "浑南装备专业镇",
            "contacts.0.name": "孙经理",
            "contacts.0.phone": "13804005555",
        }
        wrong = await client.post(f"/enterprises/{code}/edit", data=fields)
        assert wrong.status_code == 422, wrong.text
        assert "园区名称" in _field_error(wrong, "park_name")
        assert 'value="高端装备产业链"' in wrong.text  # what was typed stays
        fields["park_name"] = "浑南高新技术产业开发区"
        saved = await client.post(f"/enterprises/{code}/edit", data=fields)
        assert saved.status_code == 303, saved.text

        page = await client.get(f"/enterprises/{code}")
        assert "已保存" in page.text
        chain = re.search(r'data-testid="enterprise-chain">(.*?)</dd>', page.text).group(1)
        assert "高端装备产业链" in chain and "链主" in chain
        assert "浑南高新技术产业开发区" in re.search(r'data-testid="enterprise-park">(.*?)</dd>', page.text).group(1)
        assert "数控机床主轴" in page.text and "压力容器" in page.text
        by_chain = await client.get("/enterprises", params={"chain": "高端装备产业链"})
        assert f'data-code="{code}"' in by_chain.text
        assert by_chain.text.count('data-testid="enterprise-row"') == 1
        by_park = await client.get("/enterprises", params={"park": "浑南高新技术产业开发区"})
        assert f'data-code="{code}"' in by_park.text

    stored = (await system.clients["intake"].get(f"/enterprises/{code}", headers=auth.HEAD)).json()
    assert (stored["chain"], stored["chain_leader"], stored["town"]) == ("高端装备产业链", True, "浑南装备专业镇")
    assert (stored["in_park"], stored["park_name"], stored["employees"]) == (True, "浑南高新技术产业开发区", 120)
    assert [p["name"] for p in stored["products"]] == ["数控机床主轴"]
    assert [(s["kind"], s["quantity"]) for s in stored["special_equipment"]] == [("压力容器", 2)]
    assert stored["contacts"][0]["phone"] == "+8613804005555"

    async with browser(console) as client:  # another station: not listed, 404, and its edit writes nothing
        await sign_in(client, OTHER_CLERK)
        found = await client.get("/enterprises", params={"q": code})
        assert (
            found.status_code == 200 and f'data-code="{code}"' not in found.text and "没有符合条件的企业" in found.text
        )
        assert (await client.get(f"/enterprises/{code}")).status_code == 404
        form = await client.get("/enterprises/new")
        foreign = await client.post(
            f"/enterprises/{code}/edit", data={"csrf_token": csrf_of(form), "name": "篡改", "chain": "别的链"}
        )
        assert foreign.status_code == 404
    assert (await system.clients["intake"].get(f"/enterprises/{code}", headers=auth.HEAD)).json()["chain"] == (
        "高端装备产业链"
    )
    other = await system.clients["intake"].get(f"/enterprises/{code}", headers=auth.OTHER_CLERK)
    assert other.status_code == 404  # nor was a dossier made at the other station

    async with browser(console) as client:  # a supervisor finds and reads the dossier but may not write it
        await sign_in(client, SUPERVISOR)
        found = await client.get("/enterprises", params={"chain": "高端装备产业链"})
        assert found.status_code == 200 and f'data-code="{code}"' in found.text, found.text
        assert '<a href="/enterprises" aria-current="page">企业档案</a>' in found.text  # in the supervisor's nav
        assert (await client.get(f"/enterprises/{code}")).status_code == 200
        assert (await client.get(f"/enterprises/{code}/edit")).status_code == 403


# --- 人员与科室 ---


async def test_the_head_adds_a_department_and_a_staff_member_and_a_clerk_may_not(system, console):
    await system.knows_stations("dispatch", events.STATION, events.OTHER_STATION)
    roster = f"/stations/{events.STATION}"
    async with browser(console) as client:
        await sign_in(client, HEAD)
        page = await client.get("/staff")
        assert page.status_code == 200, page.text
        assert '<a href="/staff" aria-current="page">人员与科室</a>' in page.text  # in the head's nav
        form = await client.get("/staff/departments/new")
        fields = {"csrf_token": csrf_of(form), "department_id": "Metrology!", "name": "计量科", "active": "true"}
        wrong = await client.post("/staff/departments/new", data=fields)
        assert wrong.status_code == 422 and "科室编号" in _field_error(wrong, "department_id")
        fields["department_id"] = "console-metrology"
        made = await client.post("/staff/departments/new", data=fields | {"categories": ["metrology", "testing"]})
        assert made.status_code == 303, made.text

        form = await client.get("/staff/members/new")
        assert 'value="console-metrology"' in form.text  # the new department is offered
        fields = {
            "csrf_token": csrf_of(form),
            "staff_id": "console-li",
            "name": "李计量",
            "department_id": "console-metrology",
            "categories": ["metrology"],
            "phone": "12345",
            "active": "true",
        }
        wrong = await client.post("/staff/members/new", data=fields)
        assert wrong.status_code == 422 and "电话号码无效" in _field_error(wrong, "phone")
        assert 'value="metrology" checked' in wrong.text and 'value="李计量"' in wrong.text  # what was chosen stays
        made = await client.post("/staff/members/new", data=fields | {"phone": "13804006666"})
        assert made.status_code == 303, made.text
        page = await client.get("/staff")
        assert "已登记人员「李计量」" in page.text
        assert 'data-department="console-metrology"' in page.text and 'data-staff="console-li"' in page.text

        edit = await client.get("/staff/members/console-li")  # deactivated: kept, not deleted
        stop = {k: v for k, v in fields.items() if k not in ("staff_id", "active")} | {"phone": "13804006666"}
        stopped = await client.post("/staff/members/console-li", data=stop | {"csrf_token": csrf_of(edit)})
        assert stopped.status_code == 303, stopped.text

    members = (await system.clients["dispatch"].get(f"{roster}/staff", headers=auth.HEAD)).json()
    li = next(m for m in members if m["staff_id"] == "console-li")
    assert (li["name"], li["department_id"], li["active"], li["phone"]) == (
        "李计量",
        "console-metrology",
        False,
        "+8613804006666",
    )
    departments = (await system.clients["dispatch"].get(f"{roster}/departments", headers=auth.HEAD)).json()
    metrology = next(d for d in departments if d["department_id"] == "console-metrology")
    assert metrology["categories"] == ["metrology", "testing"] and metrology["active"]

    async with browser(console) as client:  # a clerk neither opens nor writes the roster
        await sign_in(client, CLERK)
        assert (await client.get("/staff")).status_code == 403
        form = await client.get("/visits/new")
        refused = await client.post(
            "/staff/members/new",
            data={"csrf_token": csrf_of(form), "staff_id": "console-sneak", "name": "冒名", "active": "true"},
        )
        assert refused.status_code == 403
    members = (await system.clients["dispatch"].get(f"{roster}/staff", headers=auth.HEAD)).json()
    assert "console-sneak" not in {m["staff_id"] for m in members}

    async with browser(console) as client:  # another station's head sees its own roster only
        await sign_in(client, OTHER_HEAD)
        page = await client.get("/staff")
        assert page.status_code == 200, page.text
        assert "console-li" not in page.text and "console-metrology" not in page.text
        assert (await client.get("/staff/members/console-li")).status_code == 404


# --- the intake ledger, downloaded ---


async def test_the_ledger_downloads_as_excel_and_csv_through_the_console(system, console):
    own = "沈阳台账导出测试有限公司"
    other = "番禺台账导出测试有限公司"
    await system.submit(enterprise={"name": own, "credit_code": events.credit_code("91210112MA0U00023")})
    await system.submit(
        events.OTHER_STATION,
        headers=auth.OTHER_CLERK,
        enterprise={"name": other, "credit_code": events.credit_code("91440113MA5A00023")},
    )
    async with browser(console) as client:
        await sign_in(client, CLERK)
        ledger = await client.get("/ledger")
        assert 'href="/ledger.xlsx"' in ledger.text and 'href="/ledger.csv"' in ledger.text

        xlsx = await client.get("/ledger.xlsx")
        assert xlsx.status_code == 200, xlsx.text
        assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
        assert xlsx.headers["content-disposition"].startswith("attachment")
        sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
        cells = [str(c) for row in sheet.iter_rows(values_only=True) for c in row if c is not None]
        assert "企业名称" in cells and own in cells and other not in cells

        today = china_today(datetime.now(UTC))
        period = {"since": (today - timedelta(days=1)).isoformat(), "until": (today + timedelta(days=1)).isoformat()}
        text = (await client.get("/ledger.csv", params=period)).content.decode("utf-8-sig")
        table = list(csv.reader(io.StringIO(text)))
        assert table[0][2] == "企业名称" and own in {row[2] for row in table[1:]}
        assert other not in text

        bad = await client.get("/ledger.xlsx", params={"since": "2026-13-40"})
        assert bad.status_code == 303 and bad.headers["location"] == "/ledger"
        shown = await client.get("/ledger")
        assert "导出失败：受理日期起" in shown.text

    async with browser(console) as client:  # the other station's file holds its own demands only
        await sign_in(client, OTHER_CLERK)
        sheet = openpyxl.load_workbook(io.BytesIO((await client.get("/ledger.xlsx")).content)).active
        cells = [str(c) for row in sheet.iter_rows(values_only=True) for c in row if c is not None]
        assert other in cells and own not in cells

    async with browser(console) as client:  # an organization is offered no export and refused one
        await sign_in(client, ORG)
        ledger = await client.get("/ledger")
        assert ledger.status_code == 200, ledger.text
        assert 'id="ledger-results"' in ledger.text  # the ledger itself is shown
        assert "/ledger.xlsx" not in ledger.text and "/ledger.csv" not in ledger.text
        assert (await client.get("/ledger.xlsx")).status_code == 403


# --- 工作日历 ---


async def test_the_admin_sees_the_years_calendar_corrections_and_removes_one(system, console):
    day = china_today(datetime.now(UTC)) + timedelta(days=75)
    async with browser(console) as client:
        await sign_in(client, ADMIN)
        page = await client.get("/calendar")
        assert page.status_code == 200, page.text
        fields = {"csrf_token": csrf_of(page), "day": day.isoformat(), "is_workday": "", "note": "临时停工日"}
        refused = await client.post("/calendar", data=fields)  # a refused form lists the typed day's year
        assert refused.status_code == 422 and "请选择" in _field_error(refused, "is_workday")
        assert f"<h2>{day.year} 年的调整</h2>" in refused.text and 'value="临时停工日"' in refused.text
        fields["is_workday"] = "false"
        saved = await client.post("/calendar", data=fields)
        assert saved.status_code == 303, saved.text
        assert saved.headers["location"] == f"/calendar?year={day.year}"

        page = await client.get(saved.headers["location"])
        row = re.search(rf'<tr data-testid="calendar-row" data-day="{day.isoformat()}">(.*?)</tr>', page.text, re.S)
        assert row, page.text
        assert "休息日（法定节假日）" in row.group(1) and "临时停工日" in row.group(1)
        other_year = await client.get("/calendar", params={"year": str(day.year + 1)})
        assert f'data-day="{day.isoformat()}"' not in other_year.text
        too_early = await client.get("/calendar", params={"year": "1999"})  # intake judges the year
        assert too_early.status_code == 200, too_early.text
        assert "年份应在" in re.search(r'data-testid="year-problem">([^<]+)<', too_early.text).group(1)
        assert f"<h2>{china_today(datetime.now(UTC)).year} 年的调整</h2>" in too_early.text  # this year instead

        removed = await client.post("/calendar/remove", data={"csrf_token": csrf_of(page), "day": day.isoformat()})
        assert removed.status_code == 303, removed.text
        page = await client.get(removed.headers["location"])
        assert "已撤销" in page.text and f'data-day="{day.isoformat()}"' not in page.text

    listed = await system.clients["intake"].get("/calendar", params={"year": day.year}, headers=auth.CLERK)
    assert listed.status_code == 200 and day.isoformat() not in listed.text

    async with browser(console) as client:  # the page is operations'
        await sign_in(client, HEAD)
        assert (await client.get("/calendar")).status_code == 403
