"""需求台账: tracking's ledger as the work lists a station opens every morning, searchable and paged.

Only what the caller may see is listed (tracking answers in the caller's scope: a clerk's and a head's station,
a supervisor's area, an organization's assignments).

The page also offers intake's ledger export (需求台账 as 004 附录B lays it out, CSV or Excel, optionally for a period
of receipt): /ledger.csv and /ledger.xlsx here stream intake's file through the console with the person's token
(the browser never calls a service); station staff and supervisors may, organizations not (intake answers 403).
"""

from dataclasses import dataclass
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shared.auth import READERS, Role

from ..client import ServiceError
from ..forms import Pager
from ..web import Api, allowed, flash, is_htmx, redirect, render

router = APIRouter()


@dataclass(frozen=True)
class Tab:
    key: str  # tracking's `list` value; "" is the whole ledger
    label: str


_TABS = {
    "": "全部",
    "mine": "我的",
    "due_soon": "即将到期",
    "overdue": "已超期",
    "paused": "挂起中",
    "awaiting_reply": "待回复督办",
    "to_verify": "待核实",
}
# Which lists each role works from: "mine" means the person's own (staff) or the organization's (org). 待核实 lists
# every 不满意 rating of the station waiting for its head or first responder (a supervisor watches it; an
# organization has none to verify).
_ROLE_TABS = {
    Role.clerk: ("", "mine", "due_soon", "overdue", "paused", "awaiting_reply", "to_verify"),
    Role.head: ("", "mine", "due_soon", "overdue", "paused", "awaiting_reply", "to_verify"),
    Role.supervisor: ("", "due_soon", "overdue", "paused", "awaiting_reply", "to_verify"),
    Role.org: ("", "due_soon", "overdue", "paused"),
}


def tabs(role: Role) -> list[Tab]:
    return [Tab(k, _TABS[k]) for k in _ROLE_TABS[role]]


@router.get("/ledger")
async def ledger(
    request: Request,
    api: Api,
    caller=allowed(*READERS, Role.org),
    list: str | None = None,
    q: str | None = None,
    page: str | None = None,
) -> Response:
    offered = tabs(caller.role)
    current = list if list in {t.key for t in offered} else ""
    query = (q or "").strip()[:100]
    pager = Pager.of(page)
    problem = None
    try:
        rows = await api.ledger(caller.token, list=current or None, q=query or None, **pager.params)
    except ServiceError as exc:
        if exc.status != 422:
            raise
        rows, problem = [], "；".join(exc.field_errors().values()) or exc.message  # e.g. a search word it refuses
    rows, more = pager.cut(rows)
    template = "_ledger_results.html" if is_htmx(request) and request.headers.get("HX-Target") else "ledger.html"
    return render(
        request,
        template,
        tabs=offered,
        current=current,
        q=query,
        rows=rows,
        pager=pager,
        more=more,
        problem=problem,
        title=_TABS[current] if current else "需求台账",
        may_export=caller.role in READERS,
    )


_EXPORT_FIELDS = {"since": "受理日期起", "until": "受理日期止", "station_id": "服务站"}


@router.get("/ledger.{fmt}")
async def ledger_export(
    request: Request,
    fmt: Literal["csv", "xlsx"],
    api: Api,
    caller=allowed(*READERS),
    since: str | None = None,
    until: str | None = None,
    station_id: str | None = None,
) -> Response:
    """需求台账 as CSV (UTF-8, /ledger.csv) or an Excel workbook (/ledger.xlsx), from intake; any other ending names
    no page (404)."""
    period = {k: (v or "").strip() or None for k, v in (("since", since), ("until", until), ("station_id", station_id))}
    try:
        doc = await api.intake_ledger(caller.token, fmt, **period)
    except ServiceError as exc:
        if exc.status != 422:
            raise
        # A period intake refuses (a date it cannot read, or out of range): said on the ledger, field by field.
        said = [f"{_EXPORT_FIELDS.get(k, k)}：{v}" if k else v for k, v in exc.field_errors().items()]
        flash(request, "error", "导出失败：" + ("；".join(said) or exc.message))
        return redirect(request, "/ledger")
    headers = {"Content-Disposition": doc.disposition or f'attachment; filename="ledger.{fmt}"'}
    return Response(doc.content, media_type=doc.media_type, headers=headers)
