"""跟进记录 and 近期预约: recording a follow-up (or an appointment) on a demand's page, and the appointments list.

A follow-up is written by the station's clerks and head and by the organization the case is assigned to (tracking
checks the assignment); the form sits on the demand's page (_followups.html) and comes back there with tracking's
Chinese message next to its field when refused. The appointments list is tracking's GET /appointments: the coming
two weeks by default, any window up to a year, paged.
"""

import uuid
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shared.auth import READERS, STAFF, Role

from ..client import ServiceError
from ..forms import Pager, place_errors
from ..web import Api, allowed, flash, is_htmx, redirect, render
from .care_forms import FOLLOW_UP_FIELDS, FOLLOW_UP_KINDS, follow_up_body, hhmm
from .demands import FormState, demand_view

router = APIRouter()


@router.post("/demands/{demand_id}/follow-ups")
async def record(request: Request, demand_id: UUID, api: Api, caller=allowed(*STAFF, Role.org)) -> Response:
    form = await request.form()
    # The key was made when the form was shown: a double click or a resent form records once.
    key = str(form.get("idempotency_key") or "") or str(uuid.uuid4())
    body = follow_up_body(form)
    try:
        done = await api.record_follow_up(caller.token, demand_id, body, key)
    except ServiceError as exc:
        if exc.status not in (409, 422):
            raise
        values = {n: str(form.get(n) or "") for n in FOLLOW_UP_FIELDS} | {"idempotency_key": key}
        if exc.status == 409:  # the case moved on meanwhile: this key may not be reused
            values["idempotency_key"] = str(uuid.uuid4())
        state = FormState(values, place_errors(exc.field_errors(), FOLLOW_UP_FIELDS, exc.message))
        status = 200 if is_htmx(request) else exc.status  # htmx swaps only 2xx replies
        return await demand_view(request, api, caller, demand_id, forms={"followup": state}, status_code=status)
    text = f"已记录跟进：{done.get('kind_label') or FOLLOW_UP_KINDS.get(body.get('kind', ''), '')}"
    if appointment := done.get("appointment"):
        text += f"，预约 {appointment['on']} {hhmm(appointment.get('at'))} {appointment['place']}".rstrip()
    flash(request, "ok", text + "。")
    return redirect(request, f"/demands/{demand_id}")  # no #fragment: htmx would only scroll, not reload


@router.get("/appointments")
async def appointments(
    request: Request,
    api: Api,
    caller=allowed(*READERS, Role.org),
    start: str | None = None,
    end: str | None = None,
    page: str | None = None,
) -> Response:
    pager = Pager.of(page)
    query = {"from": (start or "").strip() or None, "to": (end or "").strip() or None}
    problem = None
    try:
        rows = await api.appointments(caller.token, **query, **pager.params)
    except ServiceError as exc:
        if exc.status != 422:
            raise
        rows, problem = [], "；".join(exc.field_errors().values()) or exc.message
    rows, more = pager.cut(rows)
    return render(
        request,
        "appointments.html",
        rows=rows,
        pager=pager,
        more=more,
        problem=problem,
        start=query["from"] or "",
        end=query["to"] or "",
        hhmm=hhmm,
    )
