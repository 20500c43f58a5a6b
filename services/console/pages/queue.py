"""派单队列: dispatch's queue (green channel first, then re-handlings (重办) by their deadline, then demands given back,
then the oldest), and the head's assignment form for each demand, with the ranked candidates dispatch offers
(organizations, and the station's departments and staff for the categories the demand names). A re-handling shows
its fixed deadline and who had it in the round before, preselected in the form.

Without JavaScript the form is a page of its own (/queue/{id}/assign); with htmx it opens inside the queue.
"""

import uuid
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shared.auth import READERS, Role
from shared.contracts import GreenChannel, HandlingMode

from ..client import ServiceError, Services
from ..forms import ASSIGN_FIELDS, Errors, Pager, assignment_body, place_errors
from ..web import Api, Caller, allowed, flash, is_htmx, redirect, render

router = APIRouter()

HANDLING_MODES = {
    HandlingMode.independent: "独立办理",
    HandlingMode.joint: "共同办理",
    HandlingMode.coordinated: "协调办理",
}
ASSIGNEE_KINDS = {
    "organization": "服务机构",
    "staff": "本站科室或人员",
    "first_responder": "首问负责（受理人自办）",
}


def default_kind(candidates: dict) -> str:
    """What the form offers first: the catalogue's usual handler (the station's own staff or an organization) when
    dispatch lists someone of that kind, else whoever it lists, else the first responder."""
    offered = {"organization": bool(candidates["candidates"]), "staff": bool(candidates["departments"])}
    preferred = "staff" if candidates.get("suggested_route") == "station" else "organization"
    for kind in (preferred, *offered):
        if offered[kind]:
            return kind
    return "first_responder"


def previous_choice(demand: dict, candidates: dict) -> dict:
    """重办: the form offers the round before's assignee first (to send it back to them, or choose another), when
    dispatch can still assign to them: an organization it lists as a candidate, a member of the station's roster,
    the first responder. Otherwise nothing is preselected and the head chooses."""
    previous = demand.get("previous_assignee") if demand.get("rehandling") else None
    if not previous:
        return {}
    kind, who = previous.get("kind"), previous.get("id")
    if kind == "organization" and any(c["org_id"] == who for c in candidates["candidates"]):
        return {"assignee_kind": "organization", "assignee_id": who}
    if kind == "staff":
        for d in candidates["departments"]:
            if any(s["staff_id"] == who for s in d.get("staff") or []):
                return {"assignee_kind": "staff", "department_id": d["department_id"], "responsible_id": who}
    if kind == "first_responder":
        return {"assignee_kind": "first_responder"}
    return {}


@router.get("/queue")
async def queue(request: Request, api: Api, caller=allowed(*READERS), page: str | None = None) -> Response:
    pager = Pager.of(page)
    items, more = pager.cut(await api.queue(caller.token, status="waiting", **pager.params))
    return render(
        request,
        "queue.html",
        items=items,
        pager=pager,
        more=more,
        may_assign=caller.role is Role.head,
        green_labels={g.value: g.label for g in GreenChannel},
    )


async def _assign_page(
    request: Request,
    api: Services,
    caller: Caller,
    demand_id: UUID,
    *,
    values: dict | None = None,
    errors: Errors | None = None,
    status_code: int = 200,
) -> Response:
    demand = await api.dispatch_demand(caller.token, demand_id)
    candidates = await api.candidates(caller.token, demand_id)
    fields = (
        {
            "assignee_kind": default_kind(candidates),
            "handling_mode": HandlingMode.independent.value,
            "idempotency_key": str(uuid.uuid4()),
        }
        | previous_choice(demand, candidates)
        | (values or {})
    )
    template = "_assign_form.html" if is_htmx(request) else "assign.html"
    return render(
        request,
        template,
        status_code=status_code,
        demand=demand,
        demand_id=demand_id,
        candidates=candidates,
        values=fields,
        errors=errors or Errors(),
        modes=HANDLING_MODES,
        kinds=ASSIGNEE_KINDS,
        green_labels={g.value: g.label for g in GreenChannel},
    )


@router.get("/queue/{demand_id}/assign")
async def assign_form(request: Request, demand_id: UUID, api: Api, caller=allowed(Role.head)) -> Response:
    return await _assign_page(request, api, caller, demand_id)


@router.post("/queue/{demand_id}/assign")
async def assign(request: Request, demand_id: UUID, api: Api, caller=allowed(Role.head)) -> Response:
    form = await request.form()
    body = assignment_body(form)
    # The key was made when the form was shown: a double click or a resent form assigns once.
    key = str(form.get("idempotency_key") or "") or str(uuid.uuid4())
    try:
        done = await api.assign(caller.token, demand_id, body, key)
    except ServiceError as exc:
        if exc.status not in (409, 422):
            raise
        values = {name: str(form.get(name) or "") for name in ASSIGN_FIELDS} | {"idempotency_key": key}
        if exc.status == 409:  # e.g. assigned meanwhile by someone else: this key may not be reused
            values["idempotency_key"] = str(uuid.uuid4())
        errors = place_errors(exc.field_errors(), ASSIGN_FIELDS, exc.message)
        # htmx swaps only 2xx replies: the form with its errors comes back as 200 to it, as 409/422 to a browser.
        status = 200 if is_htmx(request) else exc.status
        return await _assign_page(request, api, caller, demand_id, values=values, errors=errors, status_code=status)
    flash(
        request,
        "ok",
        f"已派单：{done['assignee_name']}，办结期限 {done['due_on']}",
        f"/demands/{demand_id}",
        "查看跟踪单",
    )
    return redirect(request, "/queue")
