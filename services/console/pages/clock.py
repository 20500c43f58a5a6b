"""时限: every deadline of a case (响应, 办结 or 重办, 督办回复, 核实), its pauses (挂起) and extensions (延期), on a
page of their own beside the demand's page; the head's list of extension requests (延期审批); the station's clock
settings (本站时限设置).

The handler of a case (the station's staff, or the organization it is assigned to) pauses it with a reason (the
due date moves by the working days paused), resumes it, and asks for an extension before the deadline; the head
approves or refuses it, and an approved one moves the handling deadline. Out of the caller's scope the page is 404.
"""

from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shared.auth import READERS, STAFF, Role, in_scope
from shared.contracts import PauseReason

from ..client import ServiceError, Services
from ..forms import FormData, Pager, pick, text
from ..web import Api, Caller, allowed, render
from . import casework as cw
from .demands import FormState

router = APIRouter()
PAUSE_REASONS = {r.value: r.label for r in PauseReason}
EXTENSION_STATUS = {"pending": "待审批", "approved": "已同意", "refused": "不同意"}
CLOCK_LABELS = {
    "response_days": ("响应时限", "受理至首次派单，工作日（1–30）"),
    "warn_days": ("预警提前", "期限前几个工作日预警（0–10）"),
    "escalate_after_days": ("报上级督办", "超期几个工作日后报区县督办（1–30）"),
    "reply_days": ("督办回复时限", "收到督办后几个工作日内回复（1–30）"),
    "verify_days": ("核实时限", "评价为不满意后几个工作日内核实（1–30）"),
    "rehandling_days": ("重办时限", "核实属实后重新办理至办结，工作日，自次日起算（1–30）"),
    "revisit_days": ("回访时限", "办结（或评价为不满意）后几个工作日内回访（1–30）"),
    "revisit_sample_rate": ("抽样回访比例（%）", "需求已满足的办结需求中抽取回访的比例；不满意与未满足的一律回访"),
}


# --- a case's deadlines ---


async def deadlines_view(
    request: Request,
    api: Services,
    caller: Caller,
    demand_id: UUID,
    forms: dict[str, FormState] | None = None,
    status_code: int = 200,
) -> Response:
    case = await api.tracking_sheet(caller.token, demand_id)
    clock = await api.clock(caller.token, demand_id)
    pending = cw.pending_extensions(clock, caller.role)
    handles = cw.may_handle_clock(case, caller.role)
    shown = {
        "pause": handles and not clock.get("paused_since"),
        "resume": handles and bool(clock.get("paused_since")),
        "extension": cw.may_ask_extension(case, clock, caller.role),
        **{f"decision-{e['extension_id']}": True for e in pending},
    }
    refusals = [
        message
        for name, state in (forms or {}).items()
        if not shown.get(name)
        for message in (*state.errors.general, *state.errors.fields.values())
    ]
    names = ("pause", "resume", "extension", *(f"decision-{e['extension_id']}" for e in pending))
    return render(
        request,
        "deadlines.html",
        status_code=status_code,
        case=case,
        clock=clock,
        demand_id=demand_id,
        shown=shown,
        pending=pending,
        refusals=refusals,
        forms=cw.states(names, forms, {"pause": {"reason_kind": PauseReason.materials.value}}),
        pause_reasons=PAUSE_REASONS,
        extension_status=EXTENSION_STATUS,
        may_supervise=cw.may_supervise(case, caller.role),
    )


@router.get("/demands/{demand_id}/deadlines")
async def deadlines_page(request: Request, demand_id: UUID, api: Api, caller=allowed(*READERS, Role.org)) -> Response:
    return await deadlines_view(request, api, caller, demand_id)


def _view(request: Request, api: Services, caller: Caller, demand_id: UUID) -> cw.View:
    async def view(forms: dict[str, FormState], status: int) -> Response:
        return await deadlines_view(request, api, caller, demand_id, forms, status)

    return view


@router.post("/demands/{demand_id}/deadlines/pause")
async def pause(request: Request, demand_id: UUID, api: Api, caller=allowed(*STAFF, Role.org)) -> Response:
    async def act(form: FormData, key: str) -> cw.Done:
        body = pick(form, cw.PAUSE_FIELDS)
        await api.pause(caller.token, demand_id, body, key)
        label = PAUSE_REASONS.get(body.get("reason_kind", ""), "")
        return f"已挂起（{label}）：办结期限暂停计算，恢复计时后按挂起的工作日顺延。", None, None

    done = f"/demands/{demand_id}/deadlines"
    return await cw.submit(request, "pause", cw.PAUSE_FIELDS, act, _view(request, api, caller, demand_id), done)


@router.post("/demands/{demand_id}/deadlines/resume")
async def resume(request: Request, demand_id: UUID, api: Api, caller=allowed(*STAFF, Role.org)) -> Response:
    async def act(form: FormData, key: str) -> cw.Done:
        clock = await api.resume(caller.token, demand_id, pick(form, cw.RESUME_FIELDS), key)
        return f"已恢复计时，办结期限为 {clock.get('handling_due_on') or '—'}。", None, None

    done = f"/demands/{demand_id}/deadlines"
    return await cw.submit(request, "resume", cw.RESUME_FIELDS, act, _view(request, api, caller, demand_id), done)


@router.post("/demands/{demand_id}/deadlines/extension")
async def request_extension(request: Request, demand_id: UUID, api: Api, caller=allowed(*STAFF, Role.org)) -> Response:
    async def act(form: FormData, key: str) -> cw.Done:
        body = pick(form, cw.EXTENSION_FIELDS)
        await api.request_extension(caller.token, demand_id, body, key)
        return f"已提交延期申请（延至 {body.get('new_due_on')}），待站长审批。", None, None

    view = _view(request, api, caller, demand_id)
    done = f"/demands/{demand_id}/deadlines"
    return await cw.submit(request, "extension", cw.EXTENSION_FIELDS, act, view, done)


@router.post("/demands/{demand_id}/deadlines/extensions/{extension_id}/decision")
async def decide_extension(
    request: Request, demand_id: UUID, extension_id: UUID, api: Api, caller=allowed(Role.head)
) -> Response:
    async def act(form: FormData, key: str) -> cw.Done:
        body = cw.decision_body(form)
        clock = await api.decide_extension(caller.token, demand_id, extension_id, body, key)
        if body.get("approved") is True:
            return f"已同意延期，办结期限为 {clock.get('handling_due_on') or '—'}。", None, None
        return "已不同意延期，办结期限不变。", None, None

    view = _view(request, api, caller, demand_id)
    done = f"/demands/{demand_id}/deadlines"
    return await cw.submit(request, f"decision-{extension_id}", cw.DECISION_FIELDS, act, view, done)


# --- the extension requests of the station (延期审批) ---

_EXTENSION_TABS = {"pending": "待审批", "approved": "已同意", "refused": "不同意", "": "全部"}


@router.get("/extensions")
async def extensions(
    request: Request, api: Api, caller=allowed(*READERS), status: str | None = None, page: str | None = None
) -> Response:
    current = status if status in _EXTENSION_TABS else "pending"
    pager = Pager.of(page)
    rows, more = pager.cut(await api.extensions(caller.token, status=current or None, **pager.params))
    return render(
        request,
        "extensions.html",
        rows=rows,
        tabs=_EXTENSION_TABS,
        current=current,
        pager=pager,
        more=more,
        may_decide=caller.role is Role.head,
        extension_status=EXTENSION_STATUS,
    )


# --- the station's clock (本站时限设置) ---


async def _stations_of(api: Services, caller: Caller) -> list[dict]:
    """The stations whose clock the caller may open: the own one (staff), those of the area (supervisor), all
    (operations)."""
    stations = await api.stations(caller.token)
    if caller.role is Role.admin:
        return stations
    scope = caller.station or ""
    return [s for s in stations if in_scope(s["station_id"], scope)]


async def settings_view(
    request: Request,
    api: Services,
    caller: Caller,
    station: str | None,
    form: FormState | None = None,
    status_code: int = 200,
) -> Response:
    choices = [] if caller.role in STAFF else await _stations_of(api, caller)
    station_id = caller.station if caller.role in STAFF else station
    current = None
    if station_id and (caller.role in STAFF or any(s["station_id"] == station_id for s in choices)):
        current = await api.station_clock(caller.token, station_id)
    elif station_id:  # a station outside the caller's area (or none such): as the services answer it
        raise ServiceError(404, "未找到", "not found", code="not_found")
    if form is None and current is not None:
        own = current.get("own") or {}
        values = {k: "" if own.get(k) is None else str(own[k]) for k in CLOCK_LABELS}
        if own.get("revisit_sample_rate") is not None:
            values["revisit_sample_rate"] = f"{own['revisit_sample_rate'] * 100:g}"
        form = FormState(values)
    return render(
        request,
        "clock_settings.html",
        status_code=status_code,
        station_id=station_id,
        current=current,
        choices=choices,
        rows=_setting_rows(current) if current else [],
        may_edit=caller.role in (Role.head, Role.admin),
        form=form or FormState(),
    )


def _shown(name: str, value: float | int) -> str:
    return f"{value * 100:g}%" if name == "revisit_sample_rate" else f"{value:g}"


def _setting_rows(current: dict) -> list[dict]:
    """Each setting as the page shows it: its label and hint, the value in force and the service's default."""
    return [
        {
            "name": name,
            "label": label,
            "hint": hint,
            "current": _shown(name, current[name]),
            "default": _shown(name, current["defaults"][name]),
            "step": "any" if name == "revisit_sample_rate" else "1",
        }
        for name, (label, hint) in CLOCK_LABELS.items()
    ]


@router.get("/clock-settings")
async def clock_settings(
    request: Request, api: Api, caller=allowed(*READERS, Role.admin), station: str | None = None
) -> Response:
    return await settings_view(request, api, caller, station)


@router.post("/clock-settings")
async def set_clock_settings(request: Request, api: Api, caller=allowed(Role.head, Role.admin)) -> Response:
    form = await request.form()
    station = caller.station if caller.role is Role.head else text(form, "station")

    async def act(posted: FormData, _key: str) -> cw.Done:
        if not station:
            raise ServiceError(
                422, "请选择服务站", "choose a station", errors=[{"field": "", "message": "请选择服务站"}]
            )
        await api.set_station_clock(caller.token, station, cw.clock_settings_body(posted))
        return "本站时限设置已保存，办理中的需求按新设置重新计算期限。", None, None

    async def view(forms: dict[str, FormState], status: int) -> Response:
        return await settings_view(request, api, caller, station, forms["settings"], status)

    done = "/clock-settings" + ("" if caller.role is Role.head else "?station=" + quote(station or "", safe=""))
    return await cw.submit(request, "settings", tuple(CLOCK_LABELS), act, view, done)
