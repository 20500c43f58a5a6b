"""投诉 (staff side): recording a complaint received by phone, letter, at the window or by message; the complaints list;
a complaint's page, where the station's head moves it through its stages (受理 → 确认 → 调查 → 处理 → 答复投诉人 →
结案, GB/T 19012), each shown with who did it, when, and by when the next one is due.

Intake decides who sees what: the station's head and its supervisors every complaint of their scope, a clerk those
they recorded, an organization one about itself once answered (without the complainant). Another station's complaint
is 404, as intake answers it. Only the head moves a complaint (intake answers 403 to anyone else).
"""

import uuid
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shared.auth import STAFF, Role

from ..client import ServiceError, Services
from ..forms import Errors, Pager, place_errors
from ..web import Api, Caller, allowed, flash, is_htmx, redirect, render
from .care_forms import (
    COMPLAINT_CHANNELS,
    COMPLAINT_FIELDS,
    COMPLAINT_SUBJECTS,
    STAGE_ACTIONS,
    STAGE_FIELDS,
    STAGE_LABELS,
    complaint_body,
    stage_body,
)

router = APIRouter()
READERS = (Role.clerk, Role.head, Role.supervisor, Role.org)  # as intake's GET /complaints
OVERDUE = {"": "全部", "true": "已超时限", "false": "未超时限"}


async def _organizations(api: Services, caller: Caller) -> list[dict]:
    """The registry's organizations, to name one a complaint is about; none when it cannot be read (the id can
    still be typed)."""
    try:
        return await api.organizations(caller.token)
    except ServiceError as exc:
        if exc.status == 401:
            raise
        return []


@router.get("/complaints")
async def complaint_list(
    request: Request,
    api: Api,
    caller=allowed(*READERS),
    stage: str | None = None,
    subject: str | None = None,
    overdue: str | None = None,
    page: str | None = None,
) -> Response:
    filters = {
        "stage": stage if stage in STAGE_LABELS else "",
        "subject": subject if subject in COMPLAINT_SUBJECTS else "",
        "overdue": overdue if overdue in OVERDUE else "",
    }
    pager = Pager.of(page)
    rows, more = pager.cut(
        await api.complaints(caller.token, **{k: v or None for k, v in filters.items()}, **pager.params)
    )
    return render(
        request,
        "complaints.html",
        rows=rows,
        pager=pager,
        more=more,
        filters=filters,
        stages=STAGE_LABELS,
        subjects=COMPLAINT_SUBJECTS,
        overdue_choices=OVERDUE,
        may_record=caller.role in STAFF,
    )


async def _new_page(
    request: Request,
    api: Services,
    caller: Caller,
    values: dict | None = None,
    errors: Errors | None = None,
    status_code: int = 200,
) -> Response:
    fields = {"idempotency_key": str(uuid.uuid4()), "channel": "phone", "subject": "station"} | (values or {})
    return render(
        request,
        "complaint_new.html",
        status_code=status_code,
        values=fields,
        errors=errors or Errors(),
        channels=COMPLAINT_CHANNELS,
        subjects=COMPLAINT_SUBJECTS,
        organizations=await _organizations(api, caller),
    )


@router.get("/complaints/new")
async def new_form(request: Request, api: Api, caller=allowed(*STAFF)) -> Response:
    return await _new_page(request, api, caller)


@router.post("/complaints/new")
async def record(request: Request, api: Api, caller=allowed(*STAFF)) -> Response:
    form = await request.form()
    key = str(form.get("idempotency_key") or "") or str(uuid.uuid4())  # made when the form was shown
    try:
        done = await api.record_complaint(caller.token, complaint_body(form), key)
    except ServiceError as exc:
        if exc.status not in (409, 422):
            raise
        values = {n: str(form.get(n) or "") for n in COMPLAINT_FIELDS} | {"idempotency_key": key}
        if exc.status == 409:
            values["idempotency_key"] = str(uuid.uuid4())
        errors = place_errors(exc.field_errors(), COMPLAINT_FIELDS, exc.message)
        status = 200 if is_htmx(request) else exc.status
        return await _new_page(request, api, caller, values, errors, status)
    flash(request, "ok", f"投诉已登记，编号 {done['complaint_no']}，{_next_text(done)}")
    return redirect(request, f"/complaints/{done['complaint_id']}")


def _next_text(complaint: dict) -> str:
    nxt = complaint.get("next_stage")
    if not nxt:
        return "已结案。"
    action = STAGE_ACTIONS[nxt][0]
    return f"下一环节「{action}」期限 {complaint.get('due_on') or '—'}。"


async def _complaint_page(
    request: Request,
    api: Services,
    caller: Caller,
    complaint_id: UUID,
    *,
    values: dict | None = None,
    errors: Errors | None = None,
    status_code: int = 200,
) -> Response:
    complaint = await api.complaint(caller.token, complaint_id)
    nxt = complaint.get("next_stage")
    may_move = caller.role is Role.head and nxt is not None
    # What the complaint is about may be corrected until it is resolved (处理); an organization must be named
    # by the registry's id before it can be resolved.
    may_correct = may_move and nxt in ("acknowledged", "investigated", "resolved")
    organizations = await _organizations(api, caller) if may_correct else []
    current = {
        "subject": complaint["subject"],
        "subject_id": complaint.get("subject_id") or "",
        "subject_name": complaint.get("subject_name") or "",
    }
    fields = {"idempotency_key": str(uuid.uuid4()), "stage": nxt or "", **current} | (values or {})
    return render(
        request,
        "complaint.html",
        status_code=status_code,
        complaint=complaint,
        values=fields,
        was=current,
        errors=errors or Errors(),
        may_move=may_move,
        may_correct=may_correct,
        action=STAGE_ACTIONS.get(nxt or "", ("", "")),
        stages=STAGE_LABELS,
        subjects=COMPLAINT_SUBJECTS,
        organizations=organizations,
    )


@router.get("/complaints/{complaint_id}")
async def complaint_page(request: Request, complaint_id: UUID, api: Api, caller=allowed(*READERS)) -> Response:
    return await _complaint_page(request, api, caller, complaint_id)


@router.post("/complaints/{complaint_id}/stages")
async def move(request: Request, complaint_id: UUID, api: Api, caller=allowed(Role.head)) -> Response:
    form = await request.form()
    key = str(form.get("idempotency_key") or "") or str(uuid.uuid4())
    try:
        done = await api.move_complaint(caller.token, complaint_id, stage_body(form), key)
    except ServiceError as exc:
        if exc.status not in (409, 422):
            raise
        values = {n: str(form.get(n) or "") for n in STAGE_FIELDS} | {"idempotency_key": key}
        if exc.status == 409:  # moved meanwhile: the page shows the stage it is at now
            values = {"idempotency_key": str(uuid.uuid4())}
        errors = place_errors(exc.field_errors(), STAGE_FIELDS, exc.message)
        status = 200 if is_htmx(request) else exc.status
        return await _complaint_page(
            request, api, caller, complaint_id, values=values, errors=errors, status_code=status
        )
    flash(request, "ok", f"投诉 {done['complaint_no']}：{done['stage_label']}。{_next_text(done)}")
    return redirect(request, f"/complaints/{complaint_id}")
