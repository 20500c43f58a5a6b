"""What is done on a demand's page after it was handled: 办结 (tracking), the survey's rating link and a paper
rating (evaluation), 核实 of a 不满意 rating and so 重办 (tracking), 申诉复核 of a rating (evaluation).

Each form posts here; the route calls one service and, done, returns to the demand's page with a message. A form
the service refuses (422: a field; 409: the state changed meanwhile) comes back on the page with the service's
Chinese message next to its field, what was typed kept. Roles that may not act do not see the form
(rounds.py) and are refused here, as the services refuse them.
"""

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from shared.auth import STAFF, Role
from shared.contracts import FINAL_ROUND, Overall

from ..client import ServiceError, Services
from ..forms import (
    RATING_FIELDS,
    RESOLVE_FIELDS,
    VERIFY_FIELDS,
    VOID_FIELDS,
    FormData,
    place_errors,
    rating_body,
    resolution_body,
    verification_body,
    void_body,
)
from ..rounds import FINDINGS, OUTCOMES
from ..web import Api, Caller, allowed, cn_datetime, flash, is_htmx, redirect
from .demands import FormState, demand_view

router = APIRouter()
Round = Annotated[int, Path(ge=1, le=FINAL_ROUND)]
Done = tuple[str, str | None, str | None]  # the message, and a link with its label


async def _submit(
    request: Request,
    api: Services,
    caller: Caller,
    demand_id: UUID,
    name: str,
    shown: tuple[str, ...],
    act: Callable[[FormData, str], Awaitable[Done]],
) -> Response:
    form = await request.form()
    # The key was made when the form was shown: a double click or a resent form acts once (where the service
    # takes the key).
    key = str(form.get("idempotency_key") or "") or str(uuid.uuid4())
    try:
        text, link, label = await act(form, key)
    except ServiceError as exc:
        if exc.status not in (409, 422):
            raise
        values = {n: str(form.get(n) or "") for n in shown} | {"idempotency_key": key}
        if exc.status == 409:  # the state changed meanwhile: this key may not be reused
            values["idempotency_key"] = str(uuid.uuid4())
        state = FormState(values, place_errors(exc.field_errors(), shown, exc.message))
        # htmx swaps only 2xx replies: the page with the form's errors comes back as 200 to it.
        status = 200 if is_htmx(request) else exc.status
        return await demand_view(request, api, caller, demand_id, forms={name: state}, status_code=status)
    flash(request, "ok", text, link, label)
    return redirect(request, f"/demands/{demand_id}")


@router.post("/demands/{demand_id}/resolution")
async def resolve(request: Request, demand_id: UUID, api: Api, caller=allowed(*STAFF, Role.org)) -> Response:
    async def act(form: FormData, key: str) -> Done:
        body = resolution_body(form)
        case = await api.resolve(caller.token, demand_id, body, key)
        return f"第 {case['round']} 轮已办结：{OUTCOMES.get(body.get('outcome', ''), '')}。", None, None

    return await _submit(request, api, caller, demand_id, "resolve", RESOLVE_FIELDS, act)


@router.post("/demands/{demand_id}/verification")
async def verify(request: Request, demand_id: UUID, api: Api, caller=allowed(Role.clerk, Role.head)) -> Response:
    async def act(form: FormData, key: str) -> Done:
        body = verification_body(form)
        case = await api.verify(caller.token, demand_id, body, key)
        finding = FINDINGS.get(body.get("finding", ""), "")
        if case.get("reopening_id"):
            due = case.get("handling_due_on") or case.get("due_on") or "—"
            text = (
                f"核实结论：{finding}。需求进入第 {case['round']} 轮（{case['status_label']}），"
                f"重办期限 {due}，已回到站长的派单队列。"
            )
        else:
            text = f"核实结论：{finding}。已记录，需求将归档。"
        return text, None, None

    return await _submit(request, api, caller, demand_id, "verify", VERIFY_FIELDS, act)


@router.post("/demands/{demand_id}/survey/link")
async def rating_link(request: Request, demand_id: UUID, api: Api, caller=allowed(*STAFF)) -> Response:
    async def act(form: FormData, key: str) -> Done:
        link = await api.rating_link(caller.token, demand_id, key)
        text = f"已生成一次性评价链接（有效期至 {cn_datetime(link['expires_at'])}），请发送给企业（勿公开）。"
        if link.get("also_valid"):
            text += (
                f"本轮此前发出的 {link['also_valid']} 个评价链接仍然有效；企业用其中任一链接评价后，其余链接全部失效。"
            )
        return text, link["url"], link["url"]

    return await _submit(request, api, caller, demand_id, "link", (), act)


@router.post("/demands/{demand_id}/survey/rating")
async def paper_rating(request: Request, demand_id: UUID, api: Api, caller=allowed(*STAFF)) -> Response:
    async def act(form: FormData, key: str) -> Done:
        # Items 6–9 only where the form showed them: an organization served the demand.
        body = rating_body(form, technician_items=form.get("technician_items") == "yes")
        survey = await api.paper_rating(caller.token, demand_id, body, key)
        overall = body["answers"].get("overall", "")
        label = {o.value: o.label for o in Overall}.get(overall, overall)
        return f"已录入第 {survey['round']} 轮纸质评价表：总体评价「{label}」。", None, None

    return await _submit(request, api, caller, demand_id, "rating", RATING_FIELDS, act)


@router.post("/demands/{demand_id}/survey/ratings/{round}/void")
async def void_rating(
    request: Request, demand_id: UUID, round: Round, api: Api, caller=allowed(Role.supervisor)
) -> Response:
    async def act(form: FormData, key: str) -> Done:
        rating = await api.void_rating(caller.token, demand_id, round, void_body(form), key)
        return f"第 {rating['round']} 轮评价已作废（申诉复核），评价保留，不再计入满意度。", None, None

    return await _submit(request, api, caller, demand_id, f"void-{round}", VOID_FIELDS, act)
