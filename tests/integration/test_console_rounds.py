"""The console's pages after resolution against the running system (the five services in-process, real PostgreSQL
and RabbitMQ): the organization resolves from the demand's page, a clerk issues rating links and transcribes a
不满意 paper rating, the first responder verifies it as founded from the 待核实 list, the head finds the demand in
the queue as 重办 with its fixed deadline and previous assignee, and a supervisor voids the first round's rating.
The services' replies are the real ones, so the pages read the shapes the APIs answer.
"""

import re
from uuid import UUID

import httpx
import pytest

from tests.support import auth, events
from tests.support import console as console_support
from tests.support.console import browser, csrf_of, sign_in
from tests.support.system import System, fresh_system

pytestmark = pytest.mark.integration

CLERK = f"clerk:{events.STATION}"
HEAD = f"head:{events.STATION}"
ORG = "org:org-01"
SUPERVISOR = "supervisor:210100"
# The console's development clerk of the station, as the services know them (people.py): registering through the
# API with this token makes them the demand's first responder, as registering on the console's form would.
CLERK_NAME = "沈阳市浑南区一站式质量服务站服务专员"
AS_CONSOLE_CLERK = auth.bearer("clerk", events.STATION, name=CLERK_NAME, subject=f"clerk-{events.STATION}")
ANOTHER_CLERK = auth.bearer("clerk", events.STATION, name="张晓燕", subject="clerk-zhang")


@pytest.fixture(scope="module")
async def system():
    async with fresh_system() as system:
        yield system


@pytest.fixture(scope="module")
async def console(system: System):
    async with console_support.running(system) as app:
        yield app


def key_of(page: httpx.Response, testid: str) -> str:
    form = page.text.split(f'data-testid="{testid}"', 1)[1]
    return re.search(r'name="idempotency_key" value="([^"]+)"', form).group(1)


async def post_form(client: httpx.AsyncClient, demand_id: UUID, action: str, testid: str, **fields) -> httpx.Response:
    """Open the demand's page and send one of its forms, as a browser would."""
    page = await client.get(f"/demands/{demand_id}")
    assert page.status_code == 200 and f'data-testid="{testid}"' in page.text, page.text[:3000]
    data = {"csrf_token": csrf_of(page), "idempotency_key": key_of(page, testid)} | fields
    return await client.post(f"/demands/{demand_id}/{action}", data=data)


async def to_verify(system: System, demand_id: UUID) -> None:
    await system.get_when(
        "tracking",
        "/ledger?list=to_verify",
        lambda rows: any(r["demand_id"] == str(demand_id) for r in rows),
        "the case in the 待核实 list",
    )


async def test_a_dissatisfied_rating_from_the_pages_to_re_handling_in_the_queue(system, console):
    demand_id = await system.submit(headers=AS_CONSOLE_CLERK, first_responder=CLERK_NAME)
    await system.assign(demand_id)

    async with browser(console) as org:  # 办结 by the organization, from the demand's page
        await sign_in(org, ORG)
        done = await post_form(
            org, demand_id, "resolution", "resolve-form", outcome="met", summary="已出具校准证书", round="1"
        )
        assert done.status_code == 303, done.text
        assert "第 1 轮已办结：需求已满足" in (await org.get(done.headers["location"])).text
    await system.get_when("evaluation", f"/surveys/{demand_id}", lambda s: s["status"] == "open", "the survey to open")

    async with browser(console) as clerk:
        await sign_in(clerk, CLERK)
        # Two rating links: the second says the first still works until one of them is used.
        first = await post_form(clerk, demand_id, "survey/link", "link-form")
        assert first.status_code == 303
        page = await clerk.get(first.headers["location"])
        assert re.search(r'data-testid="flash-link">[^<]*/public/ratings/', page.text), page.text
        assert "个评价链接仍然有效" not in page.text
        second = await post_form(clerk, demand_id, "survey/link", "link-form")
        assert "本轮此前发出的 1 个评价链接仍然有效" in (await clerk.get(second.headers["location"])).text

        # The paper form: item 10 left out is refused at its field; then 不满意.
        paper = {"technician_items": "yes", "answers.station_service": "2", "answers.problem_solved": "no"}
        wrong = await post_form(clerk, demand_id, "survey/rating", "rating-form", **paper)
        assert wrong.status_code == 422, wrong.text
        assert re.search(r'<p class="field-error" data-field="answers.overall">[^<]+</p>', wrong.text)
        rated = await post_form(
            clerk, demand_id, "survey/rating", "rating-form", **paper, **{"answers.overall": "dissatisfied"}
        )
        assert rated.status_code == 303, rated.text
        page = await clerk.get(f"/demands/{demand_id}")
        row = page.text.split('data-testid="rating-row"', 1)[1].split("</tr>", 1)[0]
        assert "不满意" in row and "纸质评价表录入" in row and CLERK_NAME in row

        # 待核实: the list, then the page's form (the clerk is the first responder).
        await to_verify(system, demand_id)
        ledger = await clerk.get("/ledger", params={"list": "to_verify"})
        assert f"/demands/{demand_id}" in ledger.text and "待核实</span>" in ledger.text
        page = await clerk.get(f"/demands/{demand_id}")
        assert "核实时限" in page.text and 'data-testid="to-verify"' in page.text
        blank = await post_form(clerk, demand_id, "verification", "verify-form", finding="founded")
        assert blank.status_code == 422
        assert re.search(r'data-field="reason">[^<]+</p>', blank.text), blank.text
        verified = await post_form(
            clerk,
            demand_id,
            "verification",
            "verify-form",
            finding="founded",
            reason="电话回访企业负责人，证书信息确有错误",
            evidence="回访录音",
        )
        assert verified.status_code == 303, verified.text
        page = await clerk.get(verified.headers["location"])
        assert "需求进入第 2 轮（重办待派）" in page.text
        assert 'data-testid="round"' in page.text and "重办待派" in page.text
        due = re.search(r'data-testid="rehandling-due">(\d{4}-\d{2}-\d{2})<', page.text).group(1)
        assert 'data-testid="verify-form"' not in page.text

    case = await system.get_when("tracking", f"/demands/{demand_id}", lambda c: c["round"] == 2, "round 2")
    assert case["handling_due_on"] == due
    await system.get_when(
        "dispatch",
        "/queue",
        lambda items: any(i["demand_id"] == str(demand_id) and i["rehandling"] for i in items),
        "the 重办 in the queue",
    )
    async with browser(console) as head:
        await sign_in(head, HEAD)
        queue = await head.get("/queue")
        item = queue.text.split(f'data-demand="{demand_id}"', 1)[1].split("</li>", 1)[0]
        assert "重办待派 · 第 2 轮" in item and f"重办期限 <strong>{due}</strong>" in item
        assert "上一轮承办：市计量测试院" in item
        form = await head.get(f"/queue/{demand_id}/assign")
        assert f'data-testid="rehandling-due">{due}<' in form.text and 'name="due_on"' not in form.text
        assert re.search(r'<option value="org-01" selected>', form.text)

    async with browser(console) as supervisor:  # 申诉复核 of round 1's rating: settled by the founded 核实
        await sign_in(supervisor, SUPERVISOR)
        page = await supervisor.get(f"/demands/{demand_id}")
        assert 'data-testid="verify-form"' not in page.text and 'data-testid="resolve-form"' not in page.text
        assert 'data-testid="void-form-1"' not in page.text
        refused = await supervisor.post(
            f"/demands/{demand_id}/survey/ratings/1/void",
            data={"csrf_token": csrf_of(page), "idempotency_key": "void-after-reopening", "reason": "经复核为误评"},
        )
        assert refused.status_code == 409 and "需求已重办，不能再申诉作废" in refused.text


async def test_a_clerk_who_did_not_receive_the_demand_gets_no_verification_form_and_tracking_refuses_them(
    system, console
):
    demand_id = await system.submit(headers=ANOTHER_CLERK)
    await system.assign(demand_id)
    await system.resolve(demand_id)
    reply = await system.clients["evaluation"].post(
        f"/surveys/{demand_id}/rating", json={"answers": {"overall": "dissatisfied"}}, headers=auth.HEAD
    )
    assert reply.status_code == 201, reply.text
    await to_verify(system, demand_id)
    async with browser(console) as clerk:
        await sign_in(clerk, CLERK)
        page = await clerk.get(f"/demands/{demand_id}")
        assert 'data-testid="to-verify"' in page.text and 'data-testid="verify-form"' not in page.text
        forged = await clerk.post(
            f"/demands/{demand_id}/verification",
            data={"csrf_token": csrf_of(page), "finding": "unfounded", "reason": "x"},
        )
        assert forged.status_code == 403 and "首问负责人" in forged.text
    async with browser(console) as head:  # the head may
        await sign_in(head, HEAD)
        page = await head.get(f"/demands/{demand_id}")
        assert 'data-testid="verify-form"' in page.text
        done = await post_form(
            head, demand_id, "verification", "verify-form", finding="unreachable", reason="三次致电均无人接听"
        )
        assert done.status_code == 303
        page = await head.get(done.headers["location"])
        assert "核实结论：无法联系企业。已记录，需求将归档。" in page.text
        assert "无法联系企业" in page.text.split('data-testid="verification-state"', 1)[1].split("</dd>", 1)[0]
