"""工作日历 (operations): corrections to the working-day calendar — a 法定节假日 that the calendar package does not
know yet, or a 调休上班日 — made in intake, which announces them to every service that counts working days.

The page lists the corrections in force in one year (intake's GET /calendar?year=, the current China year unless
another is chosen), each with a button to remove it, beside the forms to add or remove one.
"""

from datetime import UTC, date, datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shared.auth import Role
from shared.calendar import china_today, is_workday

from ..client import ServiceError, Services
from ..forms import Errors, FormData, place_errors, text
from ..web import Api, Caller, allowed, flash, is_htmx, redirect, render

router = APIRouter()
CALENDAR_FIELDS = ("day", "is_workday", "note")
KINDS = {"false": "休息日（法定节假日）", "true": "工作日（调休上班）"}


def _day(raw: str) -> date:
    if not raw:
        raise ServiceError(422, "请选择日期", "choose a day", errors=[{"field": "day", "message": "请选择日期"}])
    try:
        return date.fromisoformat(raw)
    except ValueError:
        message = "日期格式应为 YYYY-MM-DD"
        raise ServiceError(422, message, "bad date", errors=[{"field": "day", "message": message}]) from None


def _this_year() -> int:
    return china_today(datetime.now(UTC)).year


def _year(raw: str | None) -> int | None:
    """The year asked for, when it is a number (intake says which years it keeps); else None: this year."""
    return int(raw) if raw and raw.isdigit() and len(raw) <= 4 else None


def _values(form: FormData) -> dict[str, str]:
    return {n: text(form, n) or "" for n in CALENDAR_FIELDS}


async def _page(
    request: Request,
    api: Services,
    caller: Caller,
    values: dict,
    errors: Errors | None = None,
    removing: Errors | None = None,
    status_code: int = 200,
    year: int | None = None,
) -> Response:
    this_year = _this_year()
    shown = year or this_year
    year_problem = None
    try:
        corrections = await api.workdays(caller.token, shown)
    except ServiceError as exc:
        if exc.status != 422 or shown == this_year:
            raise
        # A year intake keeps no calendar for: said above this year's list.
        year_problem, shown = "；".join(exc.field_errors().values()) or exc.message, this_year
        corrections = await api.workdays(caller.token, shown)
    return render(
        request,
        "calendar.html",
        status_code=status_code,
        values=values,
        errors=errors or Errors(),
        removing=removing or Errors(),
        kinds=KINDS,
        year=shown,
        year_problem=year_problem,
        years=range(this_year - 1, this_year + 6),
        corrections=corrections,
    )


@router.get("/calendar")
async def calendar(request: Request, api: Api, caller=allowed(Role.admin), year: str | None = None) -> Response:
    return await _page(request, api, caller, {"is_workday": "false"}, year=_year(year))


@router.post("/calendar")
async def save(request: Request, api: Api, caller=allowed(Role.admin)) -> Response:
    values = _values(await request.form())
    day: date | None = None
    try:
        day = _day(values["day"])
        if values["is_workday"] not in KINDS:
            message = "请选择该日为工作日或休息日"
            raise ServiceError(422, message, "choose", errors=[{"field": "is_workday", "message": message}])
        body = {"is_workday": values["is_workday"] == "true", "note": values["note"]}
        await api.save_workday(caller.token, day.isoformat(), body)
    except ServiceError as exc:
        if exc.status not in (403, 409, 422):
            raise
        errors = place_errors(exc.field_errors(), CALENDAR_FIELDS, exc.message)
        status = 200 if is_htmx(request) else exc.status
        return await _page(request, api, caller, values, errors, status_code=status, year=day.year if day else None)
    flash(request, "ok", f"已将 {day.isoformat()} 调整为{KINDS[values['is_workday']]}，各服务按此重新计算工作日。")
    return redirect(request, f"/calendar?year={day.year}")


@router.post("/calendar/remove")
async def remove(request: Request, api: Api, caller=allowed(Role.admin)) -> Response:
    raw = text(await request.form(), "day") or ""
    day: date | None = None
    try:
        day = _day(raw)
        await api.remove_workday(caller.token, day.isoformat())
    except ServiceError as exc:
        if exc.status not in (403, 404, 409, 422):
            raise
        fields = exc.field_errors() or {"day": exc.message}  # 404: that day has no correction
        removing = place_errors(fields, ("day",), exc.message)
        values = {"is_workday": "false", "remove_day": raw}
        status = 200 if is_htmx(request) else exc.status
        return await _page(
            request, api, caller, values, removing=removing, status_code=status, year=day.year if day else None
        )
    counted = "工作日" if is_workday(day) else "休息日"
    flash(request, "ok", f"已撤销 {day.isoformat()} 的调整，该日按国家日历计为{counted}。")
    return redirect(request, f"/calendar?year={day.year}")
