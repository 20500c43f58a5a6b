"""回访: the station's re-visit task list (待回访 / 回访超期 / 已回访) and recording a re-visit.

Tracking makes the tasks (the working day after a resolution: always for a 不满意 rating and a need not met, for the
others at the station's sample rate) and says when one is done; the console lists them (tracking's GET /revisits,
paged, by status and kind) and records a re-visit on a page of its own, reached from the list or the demand's page:
how (电话 / 上门 / 留言), when, whom, what the enterprise said, whether its need was met. The station's clerks and head
record; its supervisors read the list; organizations have none (tracking answers 403, and the page does too).
"""

import asyncio
import uuid
from datetime import UTC, datetime
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shared.auth import READERS, STAFF

from ..client import ServiceError, Services
from ..forms import Errors, Pager, place_errors
from ..web import Api, Caller, allowed, flash, is_htmx, redirect, render
from .care_forms import REVISIT_FIELDS, REVISIT_METHODS, local_minute, revisit_body

router = APIRouter()

STATUS_TABS = {"": "全部", "due": "待回访", "overdue": "回访超期", "done": "已回访"}
KINDS = {"dissatisfied": "差评回访", "not_met": "未满足需求回访", "sample": "抽样回访"}


@router.get("/revisits")
async def task_list(
    request: Request,
    api: Api,
    caller=allowed(*READERS),
    status: str | None = None,
    kind: str | None = None,
    page: str | None = None,
) -> Response:
    current = status if status in STATUS_TABS else ""
    chosen = kind if kind in KINDS else ""
    pager = Pager.of(page)
    rows, more = pager.cut(
        await api.revisit_tasks(caller.token, status=current or None, kind=chosen or None, **pager.params)
    )
    return render(
        request,
        "revisits.html",
        tabs=STATUS_TABS,
        current=current,
        kinds=KINDS,
        kind=chosen,
        rows=rows,
        pager=pager,
        more=more,
        may_record=caller.role in STAFF,
    )


async def _record_page(
    request: Request,
    api: Services,
    caller: Caller,
    demand_id: UUID,
    *,
    values: dict | None = None,
    errors: Errors | None = None,
    status_code: int = 200,
) -> Response:
    sheet, found = await asyncio.gather(
        api.tracking_sheet(caller.token, demand_id), api.demand_revisits(caller.token, demand_id)
    )
    fields = {
        "idempotency_key": str(uuid.uuid4()),
        "method": "phone",
        "reached": "yes",
        "revisited_at": local_minute(datetime.now(UTC)),
    } | (values or {})
    return render(
        request,
        "revisit.html",
        status_code=status_code,
        case=sheet,
        found=found,
        demand_id=demand_id,
        values=fields,
        errors=errors or Errors(),
        methods=REVISIT_METHODS,
        may_record=caller.role in STAFF,
    )


@router.get("/revisits/{demand_id}")
async def record_form(request: Request, demand_id: UUID, api: Api, caller=allowed(*READERS)) -> Response:
    return await _record_page(request, api, caller, demand_id)


@router.post("/revisits/{demand_id}")
async def record(request: Request, demand_id: UUID, api: Api, caller=allowed(*STAFF)) -> Response:
    form = await request.form()
    key = str(form.get("idempotency_key") or "") or str(uuid.uuid4())  # made when the form was shown
    try:
        done = await api.record_revisit(caller.token, demand_id, revisit_body(form), key)
    except ServiceError as exc:
        if exc.status not in (409, 422):
            raise
        values = {n: str(form.get(n) or "") for n in REVISIT_FIELDS} | {"idempotency_key": key}
        if exc.status == 409:
            values["idempotency_key"] = str(uuid.uuid4())
        errors = place_errors(exc.field_errors(), REVISIT_FIELDS, exc.message)
        status = 200 if is_htmx(request) else exc.status
        return await _record_page(request, api, caller, demand_id, values=values, errors=errors, status_code=status)
    if not done["reached"]:
        text = f"已记录{done['method_label']}：未联系上企业，回访任务保持待办。"
    elif done.get("voluntary"):
        text = f"已记录{done['method_label']}（主动回访，不计入回访率）。"
    else:
        finished = [t["kind_label"] for t in done.get("tasks") or [] if t.get("status") == "done"]
        text = f"已记录{done['method_label']}" + (f"，完成{'、'.join(dict.fromkeys(finished))}任务" if finished else "")
        text += "。"
    flash(request, "ok", text, f"/demands/{demand_id}#revisits", "查看需求")
    return redirect(request, "/revisits")
