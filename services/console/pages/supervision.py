"""督办: a supervisor (市局 or 区局) issues one on a case still being handled at a station of its area, with its
opinion and a reply date; the station (its clerk or head) answers it; both follow the list of 督办 — the station its
own, the supervisor its area's, the scheduler's automatic ones (超期督办) among them.

Out of the caller's scope a case is 404, as the services answer it.
"""

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shared.auth import READERS, STAFF, Role

from ..client import Services
from ..forms import FormData, Pager, pick
from ..web import Api, Caller, allowed, render
from . import casework as cw
from .demands import FormState

router = APIRouter()
_TABS = {"": "全部", "open": "待回复", "answered": "已回复", "escalated": "已升级"}


# --- issuing (the supervisor) ---


async def supervise_view(
    request: Request,
    api: Services,
    caller: Caller,
    demand_id: UUID,
    forms: dict[str, FormState] | None = None,
    status_code: int = 200,
) -> Response:
    case = await api.tracking_sheet(caller.token, demand_id)
    clock = await api.clock(caller.token, demand_id)
    shown = cw.may_supervise(case, caller.role)
    refusals = (
        [] if shown else [m for s in (forms or {}).values() for m in (*s.errors.general, *s.errors.fields.values())]
    )
    return render(
        request,
        "supervise.html",
        status_code=status_code,
        case=case,
        demand_id=demand_id,
        replies=[d for d in clock.get("deadlines") or [] if d.get("kind") == "reply"],
        shown=shown,
        refusals=refusals,
        forms=cw.states(("supervise",), forms),
    )


@router.get("/demands/{demand_id}/supervise")
async def supervise_page(request: Request, demand_id: UUID, api: Api, caller=allowed(Role.supervisor)) -> Response:
    return await supervise_view(request, api, caller, demand_id)


@router.post("/demands/{demand_id}/supervise")
async def supervise(request: Request, demand_id: UUID, api: Api, caller=allowed(Role.supervisor)) -> Response:
    async def act(form: FormData, key: str) -> cw.Done:
        made = await api.supervise(caller.token, demand_id, pick(form, cw.SUPERVISE_FIELDS), key)
        text = f"已发出{made['level_label']}：{made['printed_tracking_no']}，服务站须于 {made['reply_due_on']} 前回复。"
        return text, "/supervisions", "查看督办清单"

    async def view(forms: dict[str, FormState], status: int) -> Response:
        return await supervise_view(request, api, caller, demand_id, forms, status)

    return await cw.submit(request, "supervise", cw.SUPERVISE_FIELDS, act, view, f"/demands/{demand_id}")


# --- the list, and the station's answer ---


async def list_view(
    request: Request,
    api: Services,
    caller: Caller,
    status: str | None,
    page: str | None,
    forms: dict[str, FormState] | None = None,
    status_code: int = 200,
) -> Response:
    current = status if status in _TABS else ""
    pager = Pager.of(page)
    rows, more = pager.cut(await api.supervisions(caller.token, status=current or None, **pager.params))
    may_answer = caller.role in STAFF
    answerable = [r["supervision_id"] for r in rows if may_answer and r["status"] == "open"]
    posted = dict(forms or {})
    # An answer refused for a 督办 no longer open (answered or escalated meanwhile) goes on top.
    refusals = [
        m
        for name, s in posted.items()
        if name.removeprefix("answer-") not in answerable
        for m in (*s.errors.general, *s.errors.fields.values())
    ]
    return render(
        request,
        "supervisions.html",
        status_code=status_code,
        rows=rows,
        tabs=_TABS,
        current=current,
        pager=pager,
        more=more,
        answerable=answerable,
        refusals=refusals,
        forms=cw.states((f"answer-{s}" for s in answerable), posted),
    )


@router.get("/supervisions")
async def supervisions(
    request: Request, api: Api, caller=allowed(*READERS), status: str | None = None, page: str | None = None
) -> Response:
    return await list_view(request, api, caller, status, page)


@router.post("/supervisions/{supervision_id}/answer")
async def answer(request: Request, supervision_id: UUID, api: Api, caller=allowed(*STAFF)) -> Response:
    async def act(form: FormData, _key: str) -> cw.Done:
        done = await api.answer_supervision(caller.token, supervision_id, pick(form, cw.ANSWER_FIELDS))
        return f"已回复督办：{done['printed_tracking_no']}。", f"/demands/{done['demand_id']}", "查看跟踪单"

    async def view(forms: dict[str, FormState], status: int) -> Response:
        return await list_view(request, api, caller, "open", None, forms, status)

    name = f"answer-{supervision_id}"
    return await cw.submit(request, name, cw.ANSWER_FIELDS, act, view, "/supervisions?status=answered")
