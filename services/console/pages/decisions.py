"""处理决定: the decisions dispatch takes on a demand, on a page of their own beside the demand's page.

- 退单 by the current assignee (the organization, the responsible staff member, or the head on behalf of a department
  or the station's staff), with its reason: the demand goes back to the top of the head's queue;
- 改派 by the head (the assignment form of the queue, which also takes a demand being handled);
- 转办 by the head to another government department, which the station keeps following;
- 否定备案 by the head: the demand ends refused, with the reason and the legal or policy basis;
- 并单 by the head: a repeated demand of the same enterprise merged into its open original, chosen from the
  enterprise's other open demands.

Each form posts here; done, back to the demand's page with a message. Out of the caller's scope the page is 404.
"""

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shared.auth import STAFF, Role
from shared.contracts import printed_tracking_no

from ..client import ServiceError, Services
from ..forms import FormData, pick
from ..web import Api, Caller, allowed, render
from . import casework as cw
from .demands import FormState

router = APIRouter()
FORMS = ("return", "refer", "refuse", "merge")


async def _merge_candidates(api: Services, caller: Caller, case: dict) -> list[dict]:
    """The same enterprise's other open demands (by credit code, else by name), the originals one may merge into."""
    query = case.get("credit_code") or case.get("enterprise_name")
    if caller.role is not Role.head or not query or not cw.may_close(case, caller.role):
        return []
    try:
        rows = await api.ledger(caller.token, q=query, limit=50)
    except ServiceError as exc:
        if exc.status != 422:  # a name the search refuses: no candidates, the rest of the page stands
            raise
        return []
    return [
        r
        for r in rows
        if r["demand_id"] != case["demand_id"]
        and r.get("status") in cw.OPEN
        and (not case.get("credit_code") or r.get("credit_code") in (None, case["credit_code"]))
    ]


async def decisions_view(
    request: Request,
    api: Services,
    caller: Caller,
    demand_id: UUID,
    forms: dict[str, FormState] | None = None,
    status_code: int = 200,
) -> Response:
    case = await api.tracking_sheet(caller.token, demand_id)
    shown = {
        "return": cw.may_return(case, caller.person),
        "rematch": cw.may_rematch(case, caller.role),
        "refer": cw.may_refer(case, caller.role),
        "refuse": cw.may_close(case, caller.role),
        "merge": cw.may_close(case, caller.role),
    }
    # A refusal for a form the page no longer shows (the demand moved on meanwhile) goes on top.
    refusals = [
        message
        for name, state in (forms or {}).items()
        if not shown.get(name)
        for message in (*state.errors.general, *state.errors.fields.values())
    ]
    return render(
        request,
        "decisions.html",
        status_code=status_code,
        case=case,
        demand_id=demand_id,
        shown=shown,
        refusals=refusals,
        candidates=await _merge_candidates(api, caller, case),
        forms=cw.states(FORMS, forms),
    )


@router.get("/demands/{demand_id}/decisions")
async def decisions_page(request: Request, demand_id: UUID, api: Api, caller=allowed(*STAFF, Role.org)) -> Response:
    return await decisions_view(request, api, caller, demand_id)


def _view(request: Request, api: Services, caller: Caller, demand_id: UUID) -> cw.View:
    async def view(forms: dict[str, FormState], status: int) -> Response:
        return await decisions_view(request, api, caller, demand_id, forms, status)

    return view


@router.post("/demands/{demand_id}/return")
async def give_back(request: Request, demand_id: UUID, api: Api, caller=allowed(*STAFF, Role.org)) -> Response:
    async def act(form: FormData, key: str) -> cw.Done:
        returned = await api.give_back(caller.token, demand_id, pick(form, cw.RETURN_FIELDS), key)
        return f"已退单：{returned['assignee_name']} 的派单已退回，需求回到站长的派单队列待改派。", None, None

    view = _view(request, api, caller, demand_id)
    # The organization no longer sees the demand once it is given back: it goes back to its list.
    done = "/ledger" if caller.role is Role.org else f"/demands/{demand_id}"
    return await cw.submit(request, "return", cw.RETURN_FIELDS, act, view, done)


@router.post("/demands/{demand_id}/referral")
async def refer(request: Request, demand_id: UUID, api: Api, caller=allowed(Role.head)) -> Response:
    async def act(form: FormData, key: str) -> cw.Done:
        done = await api.refer(caller.token, demand_id, pick(form, cw.REFER_FIELDS), key)
        return f"已转办：{done['assignee_name']}，跟进期限 {done['due_on']}；本站继续跟进。", None, None

    view = _view(request, api, caller, demand_id)
    return await cw.submit(request, "refer", cw.REFER_FIELDS, act, view, f"/demands/{demand_id}")


@router.post("/demands/{demand_id}/refusal")
async def refuse(request: Request, demand_id: UUID, api: Api, caller=allowed(Role.head)) -> Response:
    async def act(form: FormData, key: str) -> cw.Done:
        await api.refuse(caller.token, demand_id, pick(form, cw.REFUSE_FIELDS), key)
        return "已否定备案：该需求不予服务，原因与依据已记录，将归档。", None, None

    view = _view(request, api, caller, demand_id)
    return await cw.submit(request, "refuse", cw.REFUSE_FIELDS, act, view, f"/demands/{demand_id}")


@router.post("/demands/{demand_id}/merge")
async def merge(request: Request, demand_id: UUID, api: Api, caller=allowed(Role.head)) -> Response:
    async def act(form: FormData, key: str) -> cw.Done:
        done = await api.merge(caller.token, demand_id, pick(form, cw.MERGE_FIELDS), key)
        into = (done.get("closing") or {}).get("merged_into")
        original = printed_tracking_no(
            done["station_id"], (done.get("closing") or {}).get("merged_into_tracking_no", "")
        )
        link = f"/demands/{into}" if into else None
        return f"已并单：并入原需求 {original}。", link, "查看原需求" if link else None

    view = _view(request, api, caller, demand_id)
    return await cw.submit(request, "merge", cw.MERGE_FIELDS, act, view, f"/demands/{demand_id}")
