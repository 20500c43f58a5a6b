"""档案管理: a station's retention (保管期限), the legal hold on one dossier (法律保全, its form on the dossier's page),
the audited disposal of dossiers past retention (销毁申请、核对、确认), the hash chain's verification (档案校验), and
the two access logs (查阅日志): the archive's (who read, exported or changed what in the archive) and intake's (who
read which enterprise's data or demand contact).

Who may do what is the services' (services/archive/api.py, services/intake/access_log/api.py), and each page asks
for the same roles so nobody meets a page that can only fail: the retention is read by the station's staff and its
supervisors and set by the head (own station) or operations (any station); holds are the head's; a disposal is
requested and confirmed by the head and read by the supervisor; the chain is verified by the head (own station),
the supervisor (its area) and operations (all); the logs are read by the head and the supervisor. A station
outside the caller's scope is 404, as the services answer it. Pages under /archive-… (as /archive-books) so that
none is read as a dossier's /archive/{demand_id}.
"""

from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shared.auth import READERS, STAFF, Role, in_scope

from ..client import ServiceError, Services
from ..forms import Errors, FormData, Pager, pick, place_errors, text
from ..web import Api, Caller, allowed, render
from . import casework as cw
from .demands import FormState, blank

router = APIRouter()

RETENTION_FIELDS = ("years", "reason")
HOLD_FIELDS = ("reason",)
DISPOSAL_FIELDS = ("reason",)
CONFIRM_FIELDS = ("confirm",)

# The archive's and intake's access logs name what was done by a code (the archive's `action`, intake's `purpose`);
# these are the labels the page shows and the 操作 filter offers. The services send codes only, so the console keeps
# the labels; tests/unit/test_console_archive.py fails when either service writes a code that has none here.
ACTIONS = {
    "dossier.read": "查阅档案",
    "dossier.list": "查阅档案目录",
    "weekly_report.read": "查阅周报（含走访记录）",
    "export.service_record": "导出服务记录表",
    "export.service_record_pdf": "导出服务记录表 PDF",
    "export.dossier": "导出档案全文",
    "export.dossier_pdf": "导出档案全文 PDF",
    "export.book_pdf": "导出档案册 PDF",
    "export.book_xlsx": "导出档案册 Excel",
    "retention.set": "设置保管期限",
    "hold.set": "法律保全",
    "hold.lift": "解除保全",
    "disposal.request": "销毁申请",
    "disposal.confirm": "确认销毁",
}
READS = {
    "enterprise.read": "查阅企业档案",
    "enterprise.list": "查找企业",
    "visit.read": "查阅走访记录",
    "visit.list": "走访记录列表",
    "demand.read": "查阅需求（含联系人）",
    "demand.list": "需求列表",
    "notice.read": "受理通知书",
    "ledger.export": "导出需求台账",
}
KINDS = {"enterprise": "企业数据", "demand": "需求"}
LOGS = {"archive": "档案查阅日志", "intake": "受理查阅日志"}
LOG_FILTERS = {"archive": ("station_id", "demand_id", "action", "from", "to"), "intake": ("station_id", "from", "to")}


# --- pure ---


def int_or_raw(raw: str | None) -> int | str | None:
    """A whole number as the API takes it; anything else as typed, for the API to refuse at its field."""
    if raw is None:
        return None
    return int(raw) if raw.isdigit() else raw


def retention_body(form: FormData) -> dict:
    body = pick(form, ("reason",))
    years = int_or_raw(text(form, "years"))
    if years is not None:
        body["years"] = years
    return body


def confirmation_body(form: FormData) -> dict:
    """确认销毁: only a ticked box confirms; unticked sends nothing, and the archive names the field."""
    return {"confirm": True} if text(form, "confirm") == "yes" else {}


def chain_summary(reports: list[dict]) -> dict:
    """How many stations' chains were checked, and which are broken (the page says this first)."""
    broken = [r["station_id"] for r in reports if not r.get("intact")]
    return {"stations": len(reports), "broken": broken, "dossiers": sum(int(r.get("dossiers") or 0) for r in reports)}


def log_filters(tab: str, query: dict[str, str | None]) -> dict[str, str]:
    """The filters the tab's API takes, as typed (trimmed); empty ones left out."""
    return {n: v.strip() for n in LOG_FILTERS[tab] if isinstance(v := query.get(n), str) and v.strip()}


# --- shared by the pages ---


async def stations_of(api: Services, caller: Caller) -> list[dict]:
    """The stations the caller may choose between: its area's (supervisor), all (operations), its own (staff)."""
    stations = await api.stations(caller.token)
    if caller.role is Role.admin:
        return stations
    scope = caller.station or ""
    return [s for s in stations if in_scope(s["station_id"], scope)]


def _station_names(stations: list[dict]) -> dict[str, str]:
    return {s["station_id"]: s["name"] for s in stations}


def _choose(caller: Caller, station: str | None) -> str | None:
    """The station a page is about: a head's and clerk's own (whatever the query says), else the one chosen."""
    if caller.role in STAFF:
        return caller.station
    return (station or "").strip() or None


def _not_found() -> ServiceError:
    return ServiceError(404, "未找到", "not found", code="not_found")


# --- 保管期限 ---


async def retention_view(
    request: Request,
    api: Services,
    caller: Caller,
    station: str | None,
    form: FormState | None = None,
    status_code: int = 200,
) -> Response:
    choices = [] if caller.role in STAFF else await stations_of(api, caller)
    station_id = _choose(caller, station)
    if station_id and caller.role not in STAFF and not any(s["station_id"] == station_id for s in choices):
        raise _not_found()  # a station outside the caller's area (or none such): as the archive answers it
    current = await api.retention(caller.token, station_id) if station_id else None
    may_set = current is not None and caller.role in (Role.head, Role.admin)
    if form is None:
        form = blank(years=str(current["years"]) if current else "")
    return render(
        request,
        "archive_retention.html",
        status_code=status_code,
        current=current,
        station_id=station_id,
        station_name=caller.person.scope_name
        if caller.role in STAFF
        else _station_names(choices).get(station_id or ""),
        choices=choices,
        may_set=may_set,
        form=form,
    )


@router.get("/archive-retention")
async def retention_page(
    request: Request, api: Api, caller=allowed(*READERS, Role.admin), station: str | None = None
) -> Response:
    return await retention_view(request, api, caller, station)


@router.post("/archive-retention")
async def set_retention(request: Request, api: Api, caller=allowed(Role.head, Role.admin)) -> Response:
    form = await request.form()
    station = _choose(caller, text(form, "station"))

    async def act(posted: FormData, _key: str) -> cw.Done:
        if not station:
            raise ServiceError(
                422, "请选择服务站", "choose a station", errors=[{"field": "", "message": "请选择服务站"}]
            )
        saved = await api.set_retention(caller.token, station, retention_body(posted))
        return f"保管期限已设为 {saved['years']} 年：已封存的档案按较长者保管，从不缩短。", None, None

    async def view(forms: dict[str, FormState], status: int) -> Response:
        return await retention_view(request, api, caller, station, forms["retention"], status)

    done = "/archive-retention" + ("" if caller.role is Role.head else "?" + urlencode({"station": station or ""}))
    return await cw.submit(request, "retention", RETENTION_FIELDS, act, view, done)


# --- 法律保全 (the form is on the dossier's page, archive_dossier.html; a refusal comes back on a page of its own) ---


def _hold_view(request: Request, demand_id: UUID, releasing: bool) -> cw.View:
    async def view(forms: dict[str, FormState], status: int) -> Response:
        return render(
            request,
            "archive_hold.html",
            status_code=status,
            demand_id=demand_id,
            releasing=releasing,
            hold_form=forms["hold"],
        )

    return view


@router.post("/archive/{demand_id}/hold")
async def set_hold(request: Request, demand_id: UUID, api: Api, caller=allowed(Role.head)) -> Response:
    async def act(form: FormData, _key: str) -> cw.Done:
        await api.set_hold(caller.token, demand_id, pick(form, HOLD_FIELDS))
        return "已设置法律保全：保全期间该档案不得销毁。", None, None

    view = _hold_view(request, demand_id, releasing=False)
    return await cw.submit(request, "hold", HOLD_FIELDS, act, view, f"/archive/{demand_id}#holds")


@router.post("/archive/{demand_id}/hold/release")
async def lift_hold(request: Request, demand_id: UUID, api: Api, caller=allowed(Role.head)) -> Response:
    async def act(form: FormData, _key: str) -> cw.Done:
        await api.lift_hold(caller.token, demand_id, pick(form, HOLD_FIELDS))
        return "已解除法律保全：该档案保管期满后可依程序销毁。", None, None

    view = _hold_view(request, demand_id, releasing=True)
    return await cw.submit(request, "hold", HOLD_FIELDS, act, view, f"/archive/{demand_id}#holds")


# --- 档案销毁 ---


async def disposals_view(
    request: Request,
    api: Services,
    caller: Caller,
    page: str | None,
    form: FormState | None = None,
    status_code: int = 200,
) -> Response:
    pager = Pager.of(page)
    rows, more = pager.cut(await api.disposals(caller.token, **pager.params))
    return render(
        request,
        "archive_disposals.html",
        status_code=status_code,
        rows=rows,
        pager=pager,
        more=more,
        may_request=caller.role is Role.head,
        form=form or blank(),
    )


@router.get("/archive-disposals")
async def disposals_page(
    request: Request, api: Api, caller=allowed(Role.head, Role.supervisor), page: str | None = None
) -> Response:
    return await disposals_view(request, api, caller, page)


@router.post("/archive-disposals")
async def request_disposal(request: Request, api: Api, caller=allowed(Role.head)) -> Response:
    made: dict = {}

    async def act(form: FormData, _key: str) -> cw.Done:
        made.update(await api.request_disposal(caller.token, pick(form, DISPOSAL_FIELDS)))
        n = len(made.get("items") or [])
        return f"已生成销毁申请，列出 {n} 份已过保管期限且未被保全的档案：请逐份核对后确认销毁。", None, None

    async def view(forms: dict[str, FormState], status: int) -> Response:
        return await disposals_view(request, api, caller, None, forms["disposal"], status)

    def done() -> str:
        return f"/archive-disposals/{made['disposal_id']}"

    return await cw.submit(request, "disposal", DISPOSAL_FIELDS, act, view, done)


async def disposal_view(
    request: Request,
    api: Services,
    caller: Caller,
    disposal_id: UUID,
    form: FormState | None = None,
    status_code: int = 200,
) -> Response:
    disposal = await api.disposal(caller.token, disposal_id)
    return render(
        request,
        "archive_disposal.html",
        status_code=status_code,
        disposal=disposal,
        may_confirm=caller.role is Role.head and not disposal.get("confirmed_at") and bool(disposal.get("items")),
        form=form or blank(),
    )


@router.get("/archive-disposals/{disposal_id}")
async def disposal_page(
    request: Request, disposal_id: UUID, api: Api, caller=allowed(Role.head, Role.supervisor)
) -> Response:
    return await disposal_view(request, api, caller, disposal_id)


@router.post("/archive-disposals/{disposal_id}/confirmation")
async def confirm_disposal(request: Request, disposal_id: UUID, api: Api, caller=allowed(Role.head)) -> Response:
    async def act(form: FormData, _key: str) -> cw.Done:
        done = await api.confirm_disposal(caller.token, disposal_id, confirmation_body(form))
        kept = len(done.get("skipped") or [])
        tail = f"；{kept} 份因新设保全或延长保管期限而保留" if kept else ""
        return f"已销毁 {len(done.get('records') or [])} 份档案（内容已删除，档案号与哈希永久保留）{tail}。", None, None

    async def view(forms: dict[str, FormState], status: int) -> Response:
        return await disposal_view(request, api, caller, disposal_id, forms["confirm"], status)

    done = f"/archive-disposals/{disposal_id}"
    return await cw.submit(request, "confirm", CONFIRM_FIELDS, act, view, done)


# --- 档案校验 ---


@router.get("/archive-chain")
async def chain_page(
    request: Request,
    api: Api,
    caller=allowed(Role.head, Role.supervisor, Role.admin),
    station: str | None = None,
    run: str | None = None,
) -> Response:
    """The check runs when asked (校验 recomputes every hash of the stations in scope); a head checks its own
    station, a supervisor its area or one station of it, operations every station or one."""
    stations = await stations_of(api, caller)
    station_id = None if caller.role is Role.head else _choose(caller, station)
    if station_id and not any(s["station_id"] == station_id for s in stations):
        raise _not_found()
    reports = await api.verify_chain(caller.token, station_id) if run else None
    return render(
        request,
        "archive_chain.html",
        reports=reports,
        summary=chain_summary(reports) if reports is not None else None,
        names=_station_names(stations),
        choices=[] if caller.role is Role.head else stations,
        station_id=station_id or "",
    )


# --- 查阅日志 ---


@router.get("/access-log")
async def access_log_page(
    request: Request,
    api: Api,
    caller=allowed(Role.head, Role.supervisor),
    tab: str | None = None,
    page: str | None = None,
) -> Response:
    current = tab if tab in LOGS else "archive"
    query = dict(request.query_params.items())
    filters = log_filters(current, query)
    if caller.role is Role.head:
        filters.pop("station_id", None)  # the head's own station: the services scope it
    pager = Pager.of(page)
    rows: list[dict] = []
    more = False
    errors = Errors()
    status = 200
    try:
        rows, more = pager.cut(await api.access_log(current, caller.token, **filters, **pager.params))
    except ServiceError as exc:
        if exc.status != 422:
            raise
        errors = place_errors(exc.field_errors(), LOG_FILTERS[current], exc.message)
        status = 422
    choices = [] if caller.role is Role.head else await stations_of(api, caller)
    return render(
        request,
        "access_log.html",
        status_code=status,
        tabs=LOGS,
        current=current,
        rows=rows,
        filters=filters,
        errors=errors,
        choices=choices,
        names=_station_names(choices),
        pager=pager,
        more=more,
        page_params={"tab": current, **filters},
        actions=ACTIONS,
        reads=READS,
        kinds=KINDS,
    )
