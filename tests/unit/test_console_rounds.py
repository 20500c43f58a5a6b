"""The console's pages after resolution, with the services faked behind httpx transports (nothing runs): who sees
which form (办结, 核实, 评价链接, 纸质评价录入, 申诉复核), what each form sends to which service with its
Idempotency-Key, the services' refusals back next to the fields in Chinese, the 待核实 list, and 重办 in the
dispatch queue and its assignment form."""

import json
import re
from copy import deepcopy

import httpx
import pytest

from services.console import rounds
from services.console.app import create_app
from services.console.forms import rating_body, resolution_body, verification_body, void_body
from services.console.pages.queue import previous_choice
from services.console.session import Person
from services.console.settings import Settings
from shared.auth import Role

STATION = "210100/210112/hunnan-01"
CLERK = f"clerk:{STATION}"
HEAD = f"head:{STATION}"
SUPERVISOR = "supervisor:210100"
ORG = "org:org-01"
CLERK_NAME = "沈阳市浑南区一站式质量服务站服务专员"
DEMAND = "6f1c0c4e-8a55-4b8e-9d7e-2f7b1c2d3e4f"
STATIONS = [{"station_id": STATION, "name": "沈阳市浑南区一站式质量服务站", "level": 2}]
ORGS = [{"org_id": "org-01", "name": "市计量测试院", "status_label": "已准入"}]
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

CASE = {
    "demand_id": DEMAND,
    "station_id": STATION,
    "tracking_no": "2026-000042",
    "printed_tracking_no": "hunnan-01-2026-000042",
    "status": "rated",
    "status_label": "已评价",
    "overdue": False,
    "round": 1,
    "enterprise_name": "沈阳核实测试有限公司",
    "items": [{"code": "metrology.calibration", "label": "计量器具校准"}],
    "description": "压力表校准",
    "first_responder": CLERK_NAME,
    "submitted_at": "2026-11-20T02:00:00Z",
    "assignee_name": "市计量测试院",
    "outcome": "met",
    "summary": "已出具证书",
    "resolved_at": "2026-11-23T02:00:00Z",
    "overall": "dissatisfied",
    "rated_at": "2026-11-24T02:00:00Z",
    "awaiting_verification": True,
    "verify_due_on": "2026-11-26",
    "finding": None,
    "verified_at": None,
    "rating_voided_at": None,
    "reopened_at": None,
    "co_handlers": [],
    "timeline": [],
}
CLOCK = {
    "deadlines": [
        {"kind": "response", "label": "响应时限", "due_on": "2026-11-21", "status": "met", "status_label": "已按期"},
        {
            "kind": "verification",
            "label": "核实时限",
            "due_on": "2026-11-26",
            "status": "open",
            "status_label": "计时中",
            "round": 1,
        },
    ],
    "pauses": [],
    "extensions": [],
}
RATING = {
    "round": 1,
    "final": False,
    "answers": {"overall": "dissatisfied", "station_service": 2, "problem_solved": False},
    "overall": "dissatisfied",
    "overall_label": "不满意",
    "national_level": "dissatisfied",
    "national_level_label": "不满意",
    "source": "paper",
    "recorded_by": CLERK_NAME,
    "rated_at": "2026-11-24T02:00:00Z",
    "voided": False,
    "voided_at": None,
    "voided_by": None,
    "void_reason": None,
}
SURVEY = {
    "demand_id": DEMAND,
    "station_id": STATION,
    "tracking_no": "2026-000042",
    "round": 1,
    "served_by_org": True,
    "status": "rated",
    "voided_rounds": [],
    "ratings": [RATING],
}
QUEUE_ITEM = {
    "demand_id": DEMAND,
    "station_id": STATION,
    "tracking_no": "2026-000042",
    "enterprise_name": "沈阳核实测试有限公司",
    "categories": [{"code": "metrology", "label": "计量服务"}],
    "description": "压力表校准",
    "channel": "window",
    "first_responder": CLERK_NAME,
    "time_limit_days": 10,
    "submitted_at": "2026-11-20T02:00:00Z",
    "status": "waiting",
    "status_label": "重办待派",
    "round": 2,
    "assignment_count": 1,
    "green_channel": None,
    "returned": False,
    "rehandling": True,
    "due_on": "2026-12-03",
    "reopening": {"reason": "企业反映证书信息有误"},
    "previous_assignee": {"kind": "organization", "id": "org-01", "name": "市计量测试院"},
    "assignments": [],
}
CANDIDATES = {
    "candidates": [
        {"org_id": "org-02", "name": "另一检测机构", "rank": 1, "score": 90, "open_load": 0, "on_time_rate": None},
        {"org_id": "org-01", "name": "市计量测试院", "rank": 2, "score": 80, "open_load": 1, "on_time_rate": 1.0},
    ],
    "not_eligible": [],
    "departments": [],
    "suggested_route": "organization",
    "suggested_route_label": "服务机构",
    "due_on": "2026-12-03",
}


def _error(status: int, zh: str, field: str | None = None) -> httpx.Response:
    body = {"code": "x", "message": zh, "message_en": "x"}
    if field:
        body["errors"] = [{"field": field, "type": "x", "message": f"{zh}（{field}）", "message_en": "x"}]
    return httpx.Response(status, json=body)


class Fake:
    """The services as far as these pages need them; every call is kept (method, service, path, headers, body)."""

    def __init__(self, case: dict | None = None, survey: dict | None = None) -> None:
        self.case = deepcopy(case or CASE)
        self.survey = deepcopy(survey if survey is not None else SURVEY)
        self.calls: list[tuple[str, str, str, httpx.Headers, object]] = []
        self.urls: list[httpx.URL] = []
        self.answer: dict[tuple[str, str], httpx.Response] = {}  # (method, path) -> a reply to give instead

    def transports(self) -> dict[str, httpx.MockTransport]:
        return {
            name: httpx.MockTransport(lambda r, name=name: self.handle(name, r))
            for name in ("intake", "dispatch", "tracking", "evaluation", "archive")
        }

    def posted(self, path: str) -> list[tuple]:
        return [c for c in self.calls if c[0] == "POST" and c[2] == path]

    def handle(self, service: str, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        body = json.loads(request.content) if request.content else None
        self.calls.append((method, service, path, request.headers, body))
        self.urls.append(request.url)
        if (method, path) in self.answer:
            return self.answer[(method, path)]
        if path == "/stations":
            return httpx.Response(200, json=STATIONS)
        if path == "/organizations":
            return httpx.Response(200, json=ORGS)
        if service == "tracking" and path == "/ledger":
            return httpx.Response(200, json=[self.case])
        if service == "tracking" and path == f"/demands/{DEMAND}":
            return httpx.Response(200, json=self.case)
        if service == "tracking" and path == f"/demands/{DEMAND}/clock":
            return httpx.Response(200, json=CLOCK)
        if service == "tracking" and path == f"/demands/{DEMAND}/verification":
            reopened = body.get("finding") == "founded"
            return httpx.Response(
                201,
                json=self.case
                | {
                    "round": 2 if reopened else 1,
                    "status_label": "重办待派" if reopened else "已评价",
                    "handling_due_on": "2026-12-03",
                    "verification_id": "00000000-0000-0000-0000-0000000000a1",
                    "reopening_id": "00000000-0000-0000-0000-0000000000a2" if reopened else None,
                },
            )
        if service == "tracking" and path == f"/demands/{DEMAND}/resolution":
            return httpx.Response(200, json=self.case | {"status": "resolved"})
        if service == "evaluation" and path == f"/surveys/{DEMAND}":
            return httpx.Response(200, json=self.survey)
        if service == "evaluation" and path == f"/surveys/{DEMAND}/link":
            return httpx.Response(
                201,
                json={
                    "url": "http://127.0.0.1:8004/public/ratings/tok",
                    "expires_at": "2026-12-24T02:00:00Z",
                    "also_valid": 2,
                },
            )
        if service == "evaluation" and path == f"/surveys/{DEMAND}/rating":
            return httpx.Response(201, json={k: v for k, v in self.survey.items() if k != "ratings"})
        if service == "evaluation" and path == f"/surveys/{DEMAND}/ratings/1/void":
            return httpx.Response(200, json=RATING | {"voided": True})
        if service == "dispatch" and path == "/queue":
            return httpx.Response(200, json=[QUEUE_ITEM])
        if service == "dispatch" and path == f"/demands/{DEMAND}":
            return httpx.Response(200, json=QUEUE_ITEM)
        if service == "dispatch" and path == f"/demands/{DEMAND}/candidates":
            return httpx.Response(200, json=CANDIDATES)
        return _error(404, "未找到")


@pytest.fixture
def fake() -> Fake:
    return Fake()


class Signed:
    """A signed-in browser on the console with `fake` behind it."""

    def __init__(self, fake: Fake, person: str) -> None:
        self.fake, self.person = fake, person

    async def __aenter__(self) -> httpx.AsyncClient:
        self.app = create_app(Settings(), transports=self.fake.transports())
        self.lifespan = self.app.router.lifespan_context(self.app)
        await self.lifespan.__aenter__()
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://console.test")
        page = await self.client.get("/signin")
        reply = await self.client.post(
            "/signin",
            data={"csrf_token": CSRF.search(page.text).group(1), "person": self.person, "next": "/ledger"},
        )
        assert reply.status_code == 303, reply.text
        return self.client

    async def __aexit__(self, *exc) -> None:
        await self.client.aclose()
        await self.lifespan.__aexit__(*exc)


def csrf(page: httpx.Response) -> str:
    return CSRF.search(page.text).group(1)


def key_of(page: httpx.Response, testid: str) -> str:
    form = page.text.split(f'data-testid="{testid}"', 1)[1]
    return re.search(r'name="idempotency_key" value="([^"]+)"', form).group(1)


# --- pure rules and bodies ---


def test_the_forms_bodies_are_what_the_services_take():
    class Form(dict):
        def getlist(self, key):
            return [self[key]] if key in self else []

    assert verification_body(Form(finding="founded", reason=" 企业反映属实 ", evidence="")) == {
        "finding": "founded",
        "reason": "企业反映属实",
    }
    assert resolution_body(Form(outcome="met", summary="已出具证书", round="2")) == {
        "outcome": "met",
        "summary": "已出具证书",
        "round": 2,
    }
    assert resolution_body(Form(summary="", round="x")) == {}
    paper = Form(
        {
            "answers.station_service": "4",
            "answers.facilities": "5",
            "answers.problem_solved": "no",
            "answers.overall": "dissatisfied",
            "answers.comments": "",
        }
    )
    assert rating_body(paper, technician_items=True) == {
        "answers": {"station_service": 4, "facilities": 5, "problem_solved": False, "overall": "dissatisfied"}
    }
    # Items 6–9 are not sent where no organization served (the form does not show them).
    assert "facilities" not in rating_body(paper, technician_items=False)["answers"]
    # What the form could not have sent goes on for the API to refuse at its field.
    assert rating_body(Form({"answers.station_service": "9x"}), True) == {"answers": {"station_service": "9x"}}
    assert void_body(Form(reason="恶意评价")) == {"reason": "恶意评价"}


def test_who_may_verify_resolve_rate_and_void():
    head = Person(subject="head-x", name="站长", role="head", station=STATION)
    first = Person(subject=f"clerk-{STATION}", name=CLERK_NAME, role="clerk", station=STATION)
    other = Person(subject="clerk-other", name="另一位服务专员", role="clerk", station=STATION)
    boss = Person(subject="supervisor-210100", name="市局", role="supervisor", station="210100")
    assert rounds.may_verify(CASE, head) and rounds.may_verify(CASE, first)
    assert not rounds.may_verify(CASE, other) and not rounds.may_verify(CASE, boss)
    assert not rounds.may_verify(CASE | {"awaiting_verification": False}, head)
    # Tracking's account id, when its sheet shows it, decides over the name.
    assert rounds.may_verify(CASE | {"first_responder_id": "clerk-other"}, other)
    assert not rounds.may_verify(CASE | {"first_responder_id": "clerk-other"}, first)
    assert not rounds.may_verify(CASE | {"first_responder_id": None}, first)

    assigned = CASE | {"status": "assigned"}
    assert all(rounds.may_resolve(assigned, r) for r in (Role.clerk, Role.head, Role.org))
    assert not rounds.may_resolve(assigned, Role.supervisor) and not rounds.may_resolve(CASE, Role.org)
    assert rounds.may_rate(SURVEY | {"status": "open"}, Role.clerk)
    assert not rounds.may_rate(SURVEY, Role.clerk) and not rounds.may_rate(SURVEY | {"status": "open"}, Role.org)
    assert rounds.may_void(RATING, Role.supervisor) and not rounds.may_void(RATING | {"voided": True}, Role.supervisor)
    assert not rounds.may_void(RATING, Role.head)
    assert not rounds.may_void(RATING, Role.supervisor, SURVEY | {"round": RATING["round"] + 1})


def test_the_page_refreshes_itself_only_while_the_services_catch_up():
    resolved = CASE | {"status": "resolved", "rated_at": None, "overall": None}
    assert rounds.awaiting_sync(resolved, SURVEY | {"status": "waiting"})  # the survey opens on Resolved
    assert not rounds.awaiting_sync(resolved, SURVEY | {"status": "open"})
    assert rounds.awaiting_sync(resolved, SURVEY)  # rated in evaluation, not yet in tracking
    assert not rounds.awaiting_sync(CASE, SURVEY)
    assert rounds.awaiting_sync(CASE | {"round": 2, "status": "reopened"}, SURVEY)  # survey still in round 1
    assert not rounds.awaiting_sync(CASE, None)


def test_a_re_handling_offers_the_previous_assignee_first():
    assert previous_choice(QUEUE_ITEM, CANDIDATES) == {"assignee_kind": "organization", "assignee_id": "org-01"}
    gone = CANDIDATES | {"candidates": CANDIDATES["candidates"][:1]}
    assert previous_choice(QUEUE_ITEM, gone) == {}  # no longer eligible: the head chooses
    staff = QUEUE_ITEM | {"previous_assignee": {"kind": "staff", "id": "s-1", "name": "李工"}}
    roster = CANDIDATES | {"departments": [{"department_id": "d-1", "name": "计量科", "staff": [{"staff_id": "s-1"}]}]}
    assert previous_choice(staff, roster) == {"assignee_kind": "staff", "department_id": "d-1", "responsible_id": "s-1"}
    assert previous_choice(QUEUE_ITEM | {"rehandling": False}, CANDIDATES) == {}


# --- pages ---


async def test_the_head_and_the_first_responder_see_the_verification_form_and_others_do_not(fake):
    for person, shown in ((HEAD, True), (CLERK, True), (SUPERVISOR, False), (ORG, False)):
        async with Signed(fake, person) as client:
            page = await client.get(f"/demands/{DEMAND}")
            assert page.status_code == 200, page.text
            assert ('data-testid="verify-form"' in page.text) is shown, person
            assert "待核实" in page.text and "核实时限" in page.text
    other = Fake(CASE | {"first_responder": "张晓燕"})  # received by another clerk
    async with Signed(other, CLERK) as client:
        page = await client.get(f"/demands/{DEMAND}")
        assert 'data-testid="verify-form"' not in page.text and "待核实" in page.text


async def test_each_role_sees_the_forms_it_may_use(fake):
    fake.case |= {"status": "assigned", "status_label": "办理中", "awaiting_verification": False, "rated_at": None}
    fake.survey |= {"status": "open", "ratings": []}
    async with Signed(fake, CLERK) as client:
        page = await client.get(f"/demands/{DEMAND}")
        for testid in ("resolve-form", "link-form", "rating-form"):
            assert f'data-testid="{testid}"' in page.text, testid
        assert "技术设施" in page.text  # items 6–9: an organization served
        assert 'name="round" value="1"' in page.text
    async with Signed(fake, ORG) as client:
        page = await client.get(f"/demands/{DEMAND}")
        assert 'data-testid="resolve-form"' in page.text
        assert 'data-testid="survey"' not in page.text  # evaluation answers readers only
    async with Signed(fake, SUPERVISOR) as client:
        page = await client.get(f"/demands/{DEMAND}")
        for testid in ("resolve-form", "link-form", "rating-form", "verify-form"):
            assert f'data-testid="{testid}"' not in page.text, testid
    fake.survey |= {"served_by_org": False}
    async with Signed(fake, HEAD) as client:
        page = await client.get(f"/demands/{DEMAND}")
        assert 'data-testid="rating-form"' in page.text and "技术设施" not in page.text


async def test_a_resolved_round_waiting_for_its_assignment_is_shown_as_not_open_yet(fake):
    """Evaluation has the resolution but not yet the assignment it answers: no form, no claim about items 6–9."""
    fake.case |= {"status": "resolved", "resolved_at": "2026-09-30T04:00:00+00:00", "rated_at": None}
    fake.survey |= {"status": "waiting", "awaiting_assignment": True, "served_by_org": False, "ratings": []}
    async with Signed(fake, HEAD) as client:
        page = await client.get(f"/demands/{DEMAND}")
        assert "已办结，承办信息同步后开放评价" in page.text and "第 6–9 项不适用" not in page.text
        for testid in ("link-form", "rating-form"):
            assert f'data-testid="{testid}"' not in page.text, testid


async def test_the_survey_shows_each_rounds_rating_with_its_labels_and_a_supervisor_may_void_it(fake):
    fake.survey |= {
        "round": 2,
        "ratings": [
            RATING | {"voided": True, "voided_by": "市局", "voided_at": "2026-11-25T02:00:00Z", "void_reason": "误评"},
            RATING
            | {
                "round": 2,
                "final": True,
                "overall": "average",
                "overall_label": "一般",
                "national_level": "basically_satisfied",
                "national_level_label": "基本满意",
                "source": "online",
                "recorded_by": None,
            },
        ],
    }
    async with Signed(fake, SUPERVISOR) as client:
        page = await client.get(f"/demands/{DEMAND}")
        rows = page.text.split('data-testid="rating-row"')[1:]
        assert "第 1 轮" in rows[0] and "已作废" in rows[0] and "误评" in rows[0]
        assert "一般" in rows[1] and "基本满意" in rows[1] and "最终评价" in rows[1] and "企业在线评价" in rows[1]
        assert "★★☆☆☆" in page.text  # item 1 of round 1, in stars
        # Only the rating not voided yet can be voided.
        assert 'data-testid="void-form-2"' in page.text and 'data-testid="void-form-1"' not in page.text
    async with Signed(fake, HEAD) as client:
        page = await client.get(f"/demands/{DEMAND}")
        assert "void-form" not in page.text


async def test_verifying_sends_the_finding_with_its_key_and_reopens(fake):
    async with Signed(fake, HEAD) as client:
        page = await client.get(f"/demands/{DEMAND}")
        key = key_of(page, "verify-form")
        form = {"csrf_token": csrf(page), "idempotency_key": key, "finding": "founded", "reason": "企业反映属实"}
        reply = await client.post(f"/demands/{DEMAND}/verification", data=form)
        assert reply.status_code == 303 and reply.headers["location"] == f"/demands/{DEMAND}"
        [(_, service, _, headers, body)] = fake.posted(f"/demands/{DEMAND}/verification")
        assert service == "tracking" and headers["idempotency-key"] == key
        assert body == {"finding": "founded", "reason": "企业反映属实"}
        after = await client.get(reply.headers["location"])
        assert "需求进入第 2 轮（重办待派），重办期限 2026-12-03" in after.text


async def test_a_refused_verification_comes_back_with_the_error_at_its_field(fake):
    path = f"/demands/{DEMAND}/verification"
    async with Signed(fake, HEAD) as client:
        page = await client.get(f"/demands/{DEMAND}")
        key = key_of(page, "verify-form")
        fake.answer[("POST", path)] = _error(422, "缺少必填项", "reason")
        form = {"csrf_token": csrf(page), "idempotency_key": key, "finding": "unfounded", "evidence": "录音"}
        wrong = await client.post(path, data=form)
        assert wrong.status_code == 422
        assert re.search(r'<p class="field-error" id="verify-reason-error" data-field="reason">缺少必填项', wrong.text)
        assert 'value="unfounded" checked' in wrong.text and ">录音</textarea>" in wrong.text  # kept
        assert key_of(wrong, "verify-form") == key  # the same request, corrected, keeps its key
        # htmx: the same page as 200 (htmx swaps only 2xx)
        again = await client.post(path, data=form, headers={"HX-Request": "true"})
        assert again.status_code == 200 and 'data-field="reason"' in again.text
        # 409: the state changed meanwhile — the message above the form, a fresh key.
        fake.answer[("POST", path)] = _error(409, "该评价已核实（情况不属实），不能重复核实")
        late = await client.post(path, data=form | {"reason": "x"})
        assert late.status_code == 409 and "不能重复核实" in late.text
        assert key_of(late, "verify-form") != key
        # 403 from tracking (not the first responder): the service's refusal, as a page.
        fake.answer[("POST", path)] = _error(403, "只有站长或该需求的首问负责人可以核实评价")
        refused = await client.post(path, data=form | {"reason": "x"})
        assert refused.status_code == 403 and "首问负责人" in refused.text


async def test_roles_that_may_not_act_are_refused_before_any_service_is_called(fake):
    async with Signed(fake, SUPERVISOR) as client:
        token = csrf(await client.get(f"/demands/{DEMAND}"))
        for path in ("verification", "resolution", "survey/link", "survey/rating"):
            reply = await client.post(f"/demands/{DEMAND}/{path}", data={"csrf_token": token, "reason": "x"})
            assert reply.status_code == 403, path
    async with Signed(fake, CLERK) as client:
        token = csrf(await client.get(f"/demands/{DEMAND}"))
        reply = await client.post(f"/demands/{DEMAND}/survey/ratings/1/void", data={"csrf_token": token, "reason": "x"})
        assert reply.status_code == 403
        # Without the CSRF token nothing is posted either.
        assert (await client.post(f"/demands/{DEMAND}/verification", data={"finding": "founded"})).status_code == 403
    assert [c for c in fake.calls if c[0] == "POST" and c[1] != "intake"] == []


async def test_a_rating_link_is_shown_once_with_the_note_on_earlier_links(fake):
    fake.survey |= {"status": "open", "ratings": []}
    async with Signed(fake, CLERK) as client:
        page = await client.get(f"/demands/{DEMAND}")
        reply = await client.post(
            f"/demands/{DEMAND}/survey/link",
            data={"csrf_token": csrf(page), "idempotency_key": key_of(page, "link-form")},
        )
        assert reply.status_code == 303
        after = await client.get(f"/demands/{DEMAND}")
        assert "http://127.0.0.1:8004/public/ratings/tok" in after.text and "2026-12-24 10:00" in after.text
        assert "本轮此前发出的 2 个评价链接仍然有效" in after.text


async def test_a_paper_rating_is_transcribed_and_its_errors_land_at_the_items(fake):
    fake.survey |= {"status": "open", "ratings": []}
    path, api = f"/demands/{DEMAND}/survey/rating", f"/surveys/{DEMAND}/rating"
    async with Signed(fake, CLERK) as client:
        page = await client.get(f"/demands/{DEMAND}")
        form = {
            "csrf_token": csrf(page),
            "idempotency_key": key_of(page, "rating-form"),
            "technician_items": "yes",
            "answers.station_service": "2",
            "answers.problem_solved": "no",
            "answers.comments": "证书信息有误",
        }
        fake.answer[("POST", api)] = _error(422, "缺少必填项", "answers.overall")
        wrong = await client.post(path, data=form)
        assert wrong.status_code == 422 and 'data-field="answers.overall"' in wrong.text
        assert '<option value="2" selected>' in wrong.text and ">证书信息有误</textarea>" in wrong.text
        del fake.answer[("POST", api)]
        done = await client.post(path, data=form | {"answers.overall": "dissatisfied"})
        assert done.status_code == 303
        body = fake.posted(api)[-1][4]
        assert body == {
            "answers": {
                "station_service": 2,
                "problem_solved": False,
                "overall": "dissatisfied",
                "comments": "证书信息有误",
            }
        }
        assert "总体评价「不满意」" in (await client.get(f"/demands/{DEMAND}")).text


async def test_a_supervisor_voids_a_round_with_a_reason(fake):
    async with Signed(fake, SUPERVISOR) as client:
        page = await client.get(f"/demands/{DEMAND}")
        key = key_of(page, "void-form-1")
        reply = await client.post(
            f"/demands/{DEMAND}/survey/ratings/1/void",
            data={"csrf_token": csrf(page), "idempotency_key": key, "reason": "经核查为误评"},
        )
        assert reply.status_code == 303
        [(_, service, _, headers, body)] = fake.posted(f"/surveys/{DEMAND}/ratings/1/void")
        assert service == "evaluation" and headers["idempotency-key"] == key and body == {"reason": "经核查为误评"}
        assert "第 1 轮评价已作废" in (await client.get(f"/demands/{DEMAND}")).text
        # A round that cannot exist names no page.
        assert (
            await client.post(f"/demands/{DEMAND}/survey/ratings/3/void", data={"csrf_token": csrf(page)})
        ).status_code == 404


async def test_resolving_sends_the_round_the_page_showed(fake):
    fake.case |= {"status": "assigned", "round": 2, "rated_at": None, "awaiting_verification": False}
    async with Signed(fake, ORG) as client:
        page = await client.get(f"/demands/{DEMAND}")
        assert "办结（第 2 轮 · 重办）" in page.text
        reply = await client.post(
            f"/demands/{DEMAND}/resolution",
            data={
                "csrf_token": csrf(page),
                "idempotency_key": key_of(page, "resolve-form"),
                "outcome": "met",
                "summary": "重新出具证书",
                "round": "2",
            },
        )
        assert reply.status_code == 303
        assert fake.posted(f"/demands/{DEMAND}/resolution")[-1][4] == {
            "outcome": "met",
            "summary": "重新出具证书",
            "round": 2,
        }


async def test_the_to_verify_list_is_a_tab_of_the_ledger_for_station_staff(fake):
    async with Signed(fake, CLERK) as client:
        page = await client.get("/ledger", params={"list": "to_verify"})
        assert page.status_code == 200 and 'aria-current="page">待核实<' in page.text
        assert '2026-11-26 <span class="muted small">核实</span>' in page.text  # the verification deadline
        assert "待核实</span>" in page.text.split('data-testid="ledger-row"', 1)[1]
        assert [u for u in fake.urls if u.path == "/ledger"][-1].params["list"] == "to_verify"
    async with Signed(fake, ORG) as client:
        page = await client.get("/ledger")
        assert "待核实" not in page.text.split('class="tabs"', 1)[1].split("</nav>", 1)[0]


async def test_the_queue_marks_a_re_handling_and_its_form_shows_the_fixed_deadline(fake):
    async with Signed(fake, HEAD) as client:
        queue = await client.get("/queue")
        item = queue.text.split('data-testid="queue-item"', 1)[1]
        assert "重办待派 · 第 2 轮" in item and "重办期限 <strong>2026-12-03</strong>" in item
        assert "上一轮承办：市计量测试院" in item and "企业反映证书信息有误" in item
        form = await client.get(f"/queue/{DEMAND}/assign")
        assert 'data-testid="rehandling-due">2026-12-03' in form.text
        assert 'data-testid="previous-assignee">市计量测试院' in form.text
        assert 'name="due_on"' not in form.text  # fixed: nothing to choose, nothing sent
        assert re.search(r'<option value="org-01" selected>', form.text)  # the previous assignee, preselected
