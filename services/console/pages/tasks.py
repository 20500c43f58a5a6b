"""专项工作 (002 §9.6): a supervisor assigns a task to the stations of its area (all of them, or those it ticks) with
a due date and references to its documents; each station reports progress and, once, completion on its own part;
both follow it in the list (completion across the stations) and on the task's page (every station's part, with its
reports, warnings, chases and 督办).

Organizations and operations have no part in special tasks (the service answers 403). A task outside the caller's
area is 404.
"""

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shared.auth import READERS, STAFF, Role, in_scope

from ..forms import FormData, Pager
from ..web import Api, Caller, allowed, render
from . import casework as cw
from .demands import FormState

router = APIRouter()
_TABS = {"": "全部", "open": "有未完成", "overdue": "有逾期", "done": "全部完成"}
REPORT_KINDS = {"progress": "进度填报", "completion": "完成报告（之后不能再填报）"}


@router.get("/special-tasks")
async def tasks(
    request: Request, api: Api, caller=allowed(*READERS), state: str | None = None, page: str | None = None
) -> Response:
    current = state if state in _TABS else ""
    pager = Pager.of(page)
    rows, more = pager.cut(await api.special_tasks(caller.token, state=current or None, **pager.params))
    return render(
        request,
        "special_tasks.html",
        rows=rows,
        tabs=_TABS,
        current=current,
        pager=pager,
        more=more,
        may_assign=caller.role is Role.supervisor,
    )


# --- assigning (the supervisor) ---


async def _new_view(
    request: Request, api, caller: Caller, forms: dict[str, FormState] | None = None, status_code: int = 200
) -> Response:
    scope = caller.station or ""
    stations = [s for s in await api.stations(caller.token) if in_scope(s["station_id"], scope)]
    return render(
        request,
        "special_task_new.html",
        status_code=status_code,
        stations=stations,
        forms=cw.states(("task",), forms, {"task": {"station_ids": []}}),
        rows=range(cw.ATTACHMENT_ROWS),
    )


# Before /special-tasks/{task_id}: "new" is no task id.
@router.get("/special-tasks/new")
async def new_task(request: Request, api: Api, caller=allowed(Role.supervisor)) -> Response:
    return await _new_view(request, api, caller)


@router.post("/special-tasks/new")
async def assign_task(request: Request, api: Api, caller=allowed(Role.supervisor)) -> Response:
    made: dict = {}

    async def act(form: FormData, key: str) -> cw.Done:
        made.update(await api.assign_special_task(caller.token, cw.task_body(form), key))
        return (
            f"已下达专项工作「{made['title']}」：{len(made['stations'])} 个服务站，截止 {made['deadline']}。",
            None,
            None,
        )

    async def view(forms: dict[str, FormState], status: int) -> Response:
        return await _new_view(request, api, caller, forms, status)

    return await cw.submit(request, "task", cw.TASK_FIELDS, act, view, lambda: f"/special-tasks/{made['task_id']}")


# --- one task, and the station's report ---


async def task_view(
    request: Request,
    api,
    caller: Caller,
    task_id: UUID,
    forms: dict[str, FormState] | None = None,
    status_code: int = 200,
) -> Response:
    task = await api.special_task(caller.token, task_id)
    own = next((p for p in task["stations"] if p["station_id"] == caller.station), None)
    may_report = caller.role in STAFF and own is not None and own["state"] != "done"
    refusals = (
        []
        if may_report
        else [m for s in (forms or {}).values() for m in (*s.errors.general, *s.errors.fields.values())]
    )
    return render(
        request,
        "special_task.html",
        status_code=status_code,
        task=task,
        own=own,
        may_report=may_report,
        refusals=refusals,
        kinds=REPORT_KINDS,
        rows=range(cw.ATTACHMENT_ROWS),
        forms=cw.states(("report",), forms, {"report": {"kind": "progress"}}),
    )


@router.get("/special-tasks/{task_id}")
async def task(request: Request, task_id: UUID, api: Api, caller=allowed(*READERS)) -> Response:
    return await task_view(request, api, caller, task_id)


@router.post("/special-tasks/{task_id}/reports")
async def report(request: Request, task_id: UUID, api: Api, caller=allowed(*STAFF)) -> Response:
    async def act(form: FormData, key: str) -> cw.Done:
        part = await api.report_special_task(caller.token, task_id, cw.report_body(form), key)
        kind = "完成报告" if form.get("kind") == "completion" else "进度"
        return f"已填报{kind}：本站状态「{part['state_label']}」。", None, None

    async def view(forms: dict[str, FormState], status: int) -> Response:
        return await task_view(request, api, caller, task_id, forms, status)

    return await cw.submit(request, "report", cw.REPORT_FIELDS, act, view, f"/special-tasks/{task_id}")
