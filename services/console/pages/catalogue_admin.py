"""服务目录 (operations): the catalogue in force at a station (or city-wide), item by item, with the scope of any
override that applies, and the form to override an item's committed time limit or materials for a city or a station
(intake's PUT /catalogue/overrides/{item}; a new override is a new version, the earlier stays for the record).

Intake answers the catalogue publicly and takes overrides from operations only; it keeps no list of the overrides
apart from the catalogue each station sees, so that is what the page shows.
"""

import re

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shared.auth import Role

from ..client import ServiceError, Services
from ..forms import Errors, FormData, place_errors
from ..web import Api, Caller, allowed, flash, is_htmx, redirect, render

router = APIRouter()
OVERRIDE_FIELDS = ("scope", "time_limit_days", "materials")
HANDLED_BY = {"station": "服务站", "organization": "服务机构", "department": "职能部门"}
_ITEM = re.compile(r"^[a-z_]+\.[a-z_]+$")


def override_body(form: FormData) -> dict:
    """As intake takes it: an empty time limit or materials box keeps the item's own."""
    body: dict = {}
    scope = (form.get("scope") or "").strip()
    if scope:
        body["scope"] = scope
    days = (form.get("time_limit_days") or "").strip()
    if days:
        body["time_limit_days"] = int(days) if days.isdigit() else days  # as typed: intake says what is wrong
    lines = [x.strip() for x in (form.get("materials") or "").splitlines() if x.strip()]
    if lines:
        body["materials"] = lines
    return body


async def _stations(api: Services, caller: Caller) -> list[dict]:
    return sorted(await api.stations(caller.token), key=lambda s: s["station_id"])


def _known(stations: list[dict], station: str | None) -> str | None:
    return station if station and any(s["station_id"] == station for s in stations) else None


@router.get("/service-catalogue")
async def catalogue(request: Request, api: Api, caller=allowed(Role.admin), station: str | None = None) -> Response:
    stations = await _stations(api, caller)
    chosen = _known(stations, station)
    rows = await api.catalogue(chosen)
    return render(
        request, "catalogue_admin.html", rows=rows, stations=stations, station=chosen or "", handled_by=HANDLED_BY
    )


async def _override_page(
    request: Request,
    api: Services,
    caller: Caller,
    item_code: str,
    station: str | None,
    values: dict | None = None,
    errors: Errors | None = None,
    status_code: int = 200,
) -> Response:
    stations = await _stations(api, caller)
    chosen = _known(stations, station)
    entry = next((e for e in await api.catalogue(chosen) if e["code"] == item_code), None)
    if entry is None:
        raise ServiceError(404, "未找到该服务项目", "catalogue item not found", code="not_found")
    shown = {"scope": chosen or "", "time_limit_days": "", "materials": ""} | (values or {})
    return render(
        request,
        "catalogue_override.html",
        status_code=status_code,
        entry=entry,
        station=chosen or "",
        values=shown,
        errors=errors or Errors(),
    )


@router.get("/service-catalogue/{item_code}")
async def override_form(
    request: Request, item_code: str, api: Api, caller=allowed(Role.admin), station: str | None = None
) -> Response:
    return await _override_page(request, api, caller, item_code, station)


@router.post("/service-catalogue/{item_code}")
async def save_override(request: Request, item_code: str, api: Api, caller=allowed(Role.admin)) -> Response:
    form = await request.form()
    station = (form.get("station") or "").strip() or None
    if not _ITEM.match(item_code):
        raise ServiceError(404, "未找到该服务项目", "catalogue item not found", code="not_found")
    try:
        saved = await api.save_override(caller.token, item_code, override_body(form))
    except ServiceError as exc:
        if exc.status not in (409, 422):
            raise
        values = {n: str(form.get(n) or "") for n in OVERRIDE_FIELDS}
        errors = place_errors(exc.field_errors(), OVERRIDE_FIELDS, exc.message)
        status = 200 if is_htmx(request) else exc.status
        return await _override_page(request, api, caller, item_code, station, values, errors, status)
    flash(request, "ok", f"已保存 {saved['scope']} 的目录调整（{item_code}，第 {saved['version']} 版）。")
    return redirect(request, "/service-catalogue" + (f"?station={station}" if station else ""))
