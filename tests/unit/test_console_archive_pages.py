"""The console's 档案 list and 周报 pages with the archive faked behind an httpx transport (nothing runs): the search
goes to the archive's GET /dossiers as typed (q, sealed_from, sealed_to) and is paged there, a search the archive
refuses is named at its field; the weekly report shows visits made and special tasks (overdue first, as the archive
orders them), per station for a supervisor, and says so when a report kept before they were recorded has none."""

import re
from urllib.parse import parse_qs, urlsplit

import httpx

from services.console.app import create_app
from services.console.settings import Settings

STATION = "210100/210112/hunnan-01"
POINT = "210100/210112/hunnan-01/p1"
STATIONS = [{"station_id": STATION, "name": "沈阳市浑南区一站式质量服务站", "level": 2}]
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def dossier(n: int, **fields) -> dict:
    return {
        "demand_id": f"00000000-0000-0000-0000-{n:012d}",
        "station_id": STATION,
        "tracking_no": f"2026-{n:06d}",
        "archive_no": f"DA-HUNNAN-01-2026-{n:04d}",
        "sealed_at": "2026-11-20T02:00:00+00:00",
        "retained_until": "2036-11-20",
        "on_hold": False,
        "disposed_at": None,
        "outcome": "resolved",
        **fields,
    }


def figures(visits: dict | None, special_tasks: dict | None) -> dict:
    empty = {"total": 0, "by_category": [], "by_channel": []}
    return {
        "counted": dict.fromkeys(("received", "dispatched", "resolved", "overdue", "rated"), empty),
        "ratings": {"by_overall": [], "valid": 0, "voided": 0, "satisfied": 0, "satisfaction_rate": None},
        "closed": [],
        "visits_collected": 1,
        "visits": visits,
        "special_tasks": special_tasks,
    }


VISITS = {
    "total": 3,
    "enterprises": 2,
    "by_station": [
        {"station_id": STATION, "label": "浑南站", "count": 2},
        {"station_id": POINT, "label": "浑南站创新园服务点", "count": 1},
    ],
    "listed": [
        {
            "visit_id": "10000000-0000-0000-0000-000000000001",
            "visited_on": "2026-11-17",
            "station_id": STATION,
            "station": "浑南站",
            "enterprise_name": "沈阳新松精密机械有限公司",
            "credit_code": "91210112MA0U00001J",
            "staff": ["张晓燕", "王工"],
            "findings": "计量器具超期未检，需建立台账",
        }
    ],
    "not_listed": 2,
}
TASKS = {
    "as_of": "2026-11-23",
    "tasks": 2,
    "parts": 2,
    "progress_reports": 1,
    "completed": 1,
    "overdue": 1,
    "open": [
        {
            "task_id": "20000000-0000-0000-0000-000000000001",
            "station_id": STATION,
            "station": "浑南站",
            "title": "电梯安全专项检查",
            "issued_by": "王建国",  # the person who issued it (tracking's issued_by_name), not a unit
            "due_on": "2026-10-01",
            "deadline": "2026-10-09",
            "state": "overdue",
            "state_label": "已逾期",
            "completed_on": None,
            "reports": 0,
        },
        {
            "task_id": "20000000-0000-0000-0000-000000000002",
            "station_id": STATION,
            "station": "浑南站",
            "title": "计量器具专项检查",
            "issued_by": None,
            "due_on": "2026-11-30",
            "deadline": "2026-11-30",
            "state": "done",
            "state_label": "已完成",
            "completed_on": "2026-11-19",
            "reports": 2,
        },
    ],
    "reports": [
        {
            "report_id": "30000000-0000-0000-0000-000000000001",
            "task_id": "20000000-0000-0000-0000-000000000002",
            "station_id": STATION,
            "station": "浑南站",
            "title": "计量器具专项检查",
            "kind": "completion",
            "kind_label": "完成报告",
            "reported_at": "2026-11-19T03:00:00+00:00",
            "reported_by": "周站长",
            "text": "已核查重点企业 12 家",
        }
    ],
}


class FakeArchive:
    """The archive (and the directory the sign-in page reads) as far as these pages need them."""

    def __init__(self, report: dict | None = None, dossiers: list[dict] | None = None) -> None:
        self.report = report
        self.dossiers = dossiers or []
        self.queries: list[dict[str, list[str]]] = []

    def transports(self) -> dict[str, httpx.MockTransport]:
        return {name: httpx.MockTransport(self.handle) for name in ("intake", "dispatch", "archive")}

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/stations":
            return httpx.Response(200, json=STATIONS)
        if path == "/organizations":
            return httpx.Response(200, json=[])
        if path == "/dossiers":
            query = parse_qs(urlsplit(str(request.url)).query)
            self.queries.append(query)
            if query.get("sealed_to") == ["2026-01-01"]:
                error = {"field": "sealed_to", "message": "封存日期止 2026-01-01 早于起 2026-02-01，请检查期间"}
                return httpx.Response(
                    422, json={"code": "invalid", "message": error["message"], "message_en": "x", "errors": [error]}
                )
            offset, limit = int(query["offset"][0]), int(query["limit"][0])
            return httpx.Response(200, json=self.dossiers[offset : offset + limit])
        if path.startswith("/weekly-reports/") and self.report is not None:
            return httpx.Response(200, json=self.report)
        return httpx.Response(404, json={"code": "not_found", "message": "未找到", "message_en": "not found"})


def weekly(figures_: dict, subtree: bool = False) -> dict:
    return {
        "scope": "210100" if subtree else STATION,
        "scope_name": "沈阳市" if subtree else "浑南站",
        "week": "2026-W47",
        "week_label": "2026年第47周（11月16日—11月22日）",
        "subtree": subtree,
        "stored": True,
        "complete": True,
        "generated_at": "2026-11-23T00:05:00+00:00",
        "generated_by": "scheduler",
        "figures": figures_,
        "plans": [],
    }


async def open_page(fake: FakeArchive, person: str, path: str, **params) -> httpx.Response:
    app = create_app(Settings(), transports=fake.transports())
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console.test") as client,
    ):
        page = await client.get("/signin")
        token = CSRF.search(page.text).group(1)
        reply = await client.post("/signin", data={"csrf_token": token, "person": person, "next": "/ledger"})
        assert reply.status_code == 303, reply.text
        return await client.get(path, params=params)


def main_of(page: httpx.Response) -> str:
    return page.text.split("<main", 1)[1].split("</main>", 1)[0]


async def test_the_archive_list_asks_the_archive_to_search_and_page():
    fake = FakeArchive(dossiers=[dossier(n) for n in range(1, 26)])
    first = await open_page(fake, f"clerk:{STATION}", "/archive", q=" 2026-0000 ", sealed_from="2026-11-01")
    assert first.status_code == 200, first.text
    assert fake.queries[-1] == {"q": ["2026-0000"], "sealed_from": ["2026-11-01"], "limit": ["21"], "offset": ["0"]}
    body = main_of(first)
    assert body.count('data-testid="dossier-row"') == 20
    assert "最近封存" not in body  # no scanning of the newest dossiers any more
    assert 'value="2026-0000"' in body and 'value="2026-11-01"' in body  # the search stays in its fields
    assert 'href="/archive?q=2026-0000&amp;sealed_from=2026-11-01&amp;page=2" rel="next"' in body
    assert "企业" not in body.split("<thead>", 1)[1].split("</thead>", 1)[0]  # the rows carry no enterprise

    second = await open_page(fake, f"clerk:{STATION}", "/archive", q="2026-0000", sealed_from="2026-11-01", page="2")
    assert fake.queries[-1]["offset"] == ["20"]
    assert main_of(second).count('data-testid="dossier-row"') == 5 and 'rel="next"' not in main_of(second)
    assert 'href="/archive?q=2026-0000&amp;sealed_from=2026-11-01&amp;page=1" rel="prev"' in main_of(second)

    plain = await open_page(fake, f"head:{STATION}", "/archive")
    assert fake.queries[-1] == {"limit": ["21"], "offset": ["0"]}
    assert "清除" not in main_of(plain)


async def test_a_search_the_archive_refuses_is_named_at_its_field():
    fake = FakeArchive(dossiers=[dossier(1)])
    page = await open_page(fake, f"clerk:{STATION}", "/archive", sealed_from="2026-02-01", sealed_to="2026-01-01")
    assert page.status_code == 422
    error = re.search(r'data-field="sealed_to">([^<]+)<', page.text)
    assert error and "早于起" in error.group(1), page.text
    assert 'value="2026-02-01"' in page.text
    assert "没有找到" not in page.text and 'data-testid="dossier-row"' not in page.text


async def test_the_enterprise_is_named_when_the_rows_carry_it():
    code = "91210112MA0U00001J"
    rows = [dossier(1, enterprise_name="沈阳新松精密机械有限公司", credit_code=code)]
    page = await open_page(FakeArchive(dossiers=rows), f"clerk:{STATION}", "/archive", q=code.lower())
    body = main_of(page)
    assert re.search(r'data-testid="archive-enterprise">企业：<strong>沈阳新松精密机械有限公司<', body), body
    assert '<td data-label="企业">沈阳新松精密机械有限公司</td>' in body


async def test_the_weekly_report_shows_visits_and_special_tasks():
    fake = FakeArchive(report=weekly(figures(VISITS, TASKS)))
    page = await open_page(fake, f"head:{STATION}", "/weekly-reports", week="2026-W47")
    assert page.status_code == 200, page.text
    body = main_of(page)
    assert "unavailable" not in body and "暂无数据" not in body and "not available" not in body
    visits = body.split('data-testid="weekly-visits"', 1)[1].split("</section>", 1)[0]
    assert "本周走访 <strong>3</strong> 次，涉及企业 <strong>2</strong> 家" in visits
    # Two stations in the report (the station and its service point): each row names its station.
    assert "浑南站 2 次；浑南站创新园服务点 1 次" in visits
    assert visits.count('data-testid="visit-row"') == 1
    assert "沈阳新松精密机械有限公司" in visits and "张晓燕、王工" in visits and "计量器具超期未检" in visits
    assert "另有 2 次走访未列出" in visits
    tasks = body.split('data-testid="weekly-tasks"', 1)[1].split("</section>", 1)[0]
    assert "本周在办专项工作 <strong>2</strong> 项" in tasks and "逾期未完成 1 个" in tasks
    assert re.findall(r'data-testid="task-row" data-state="(\w+)"', tasks) == ["overdue", "done"]  # overdue first
    assert "截至本周末" in tasks
    assert "2026-10-01" in tasks and "遇节假日顺延至 2026-10-09" in tasks  # deadline differs from due date
    assert "顺延至 2026-11-30" not in tasks  # same day: not repeated
    assert '<span class="badge warn">已逾期</span>' in tasks and "已完成" in tasks and "2026-11-19" in tasks
    assert "<th>下达人</th>" in tasks and '<td data-label="下达人">王建国</td>' in tasks  # a person, so 下达人
    assert '<td data-label="下达人">—</td>' in tasks  # assignment never received: no issuer
    assert 'data-kind="completion"' in tasks and "2026-11-19 11:00" in tasks  # China time
    assert "已核查重点企业 12 家" in tasks and "周站长" in tasks


async def test_a_station_report_of_one_station_names_no_station_column():
    one = {**VISITS, "by_station": VISITS["by_station"][:1]}
    tasks = {**TASKS, "open": TASKS["open"], "reports": []}
    fake = FakeArchive(report=weekly(figures(one, tasks)))
    body = main_of(await open_page(fake, f"clerk:{STATION}", "/weekly-reports", week="2026-W47"))
    assert "<th>服务站</th>" not in body and 'data-testid="visits-by-station"' not in body


async def test_a_supervisors_report_lists_visits_per_station():
    fake = FakeArchive(report=weekly(figures({**VISITS, "by_station": VISITS["by_station"][:1]}, TASKS), True))
    body = main_of(await open_page(fake, "supervisor:210100", "/weekly-reports", week="2026-W47"))
    assert 'data-testid="visits-by-station"' in body and "<th>服务站</th>" in body


async def test_a_report_kept_before_visits_were_recorded_says_so():
    fake = FakeArchive(report=weekly(figures(None, None)))
    page = await open_page(fake, f"head:{STATION}", "/weekly-reports", week="2026-W40")
    assert page.status_code == 200, page.text
    body = main_of(page)
    assert "本周报生成时档案服务尚未记录走访" in body and "本周报生成时档案服务尚未记录专项工作" in body
    assert 'data-testid="visit-row"' not in body and 'data-testid="task-row"' not in body
    assert 'data-testid="figure-received"' in body  # the rest of the report as before


async def test_the_weekly_report_marks_late_entries():
    """A visit dated, or a task report made, before the week it was received in is marked 补录 (`late`)."""
    [row] = VISITS["listed"]
    late_visit = {**row, "visit_id": "10000000-0000-0000-0000-000000000002", "visited_on": "2026-11-13", "late": True}
    visits = {**VISITS, "late": 1, "listed": [{**row, "late": False}, late_visit]}
    [made] = TASKS["reports"]
    tasks = {
        **TASKS,
        "late_reports": 1,
        "reports": [{**made, "reported_at": "2026-11-15T15:50:00+00:00", "late": True}],
    }
    body = main_of(
        await open_page(
            FakeArchive(report=weekly(figures(visits, tasks))), f"head:{STATION}", "/weekly-reports", week="2026-W47"
        )
    )
    shown = body.split('data-testid="weekly-visits"', 1)[1].split("</section>", 1)[0]
    assert "本周走访 <strong>3</strong> 次（含补录 1 次）" in shown
    rows = shown.split('data-testid="visit-row"')[1:]
    assert ["late-mark" in r for r in rows] == [False, True] and "2026-11-13" in rows[1]
    assert "走访日期在本周之前、本周才收到" in shown
    reports = body.split('data-testid="task-reports"', 1)[1].split("</table>", 1)[0]
    assert '2026-11-15 23:50 <span class="badge" data-testid="late-mark">补录</span>' in reports
    assert "填报时间在本周之前、本周才收到" in body

    # A report kept before entries were marked (no `late` keys): nothing marked.
    plain = main_of(
        await open_page(
            FakeArchive(report=weekly(figures(VISITS, TASKS))), f"head:{STATION}", "/weekly-reports", week="2026-W47"
        )
    )
    assert "补录" not in plain
