"""工作日历 (operations): corrections to the working-day calendar — a 法定节假日 that the calendar package does not
know yet, or a 调休上班日 — made in intake, which announces them to every service that counts working days.

Intake offers PUT and DELETE /calendar/{day} but no list of the corrections (see the note of this page's author):
the page says so rather than pretend, and shows for a chosen day what the shared calendar counts it as here.
"""

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shared.auth import Role
from shared.calendar import is_workday

from ..client import ServiceError
from ..forms import Errors, FormData, place_errors
from ..web import Api, allowed, flash, is_htmx, redirect, render

router = APIRouter()
CALENDAR_FIELDS = ("day", "is_workday", "note")
KINDS = {"false": "休息日（法定节假日）", "true": "工作日（调休上班）"}


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _day(raw: str) -> date:
    if not raw:
        raise ServiceError(422, "请选择日期", "choose a day", errors=[{"field": "day", "message": "请选择日期"}])
    try:
        return date.fromisoformat(raw)
    except ValueError:
        message = "日期格式应为 YYYY-MM-DD"
        raise ServiceError(422, message, "bad date", errors=[{"field": "day", "message": message}]) from None


def _page(request: Request, values: dict, errors: Errors | None = None, removing: Errors | None = None,
          status_code: int = 200) -> Response:  # fmt: skip
    return render(
        request,
        "calendar.html",
        status_code=status_code,
        values=values,
        errors=errors or Errors(),
        removing=removing or Errors(),
        kinds=KINDS,
    )


@router.get("/calendar")
async def calendar(request: Request, _caller=allowed(Role.admin)) -> Response:
    return _page(request, {"is_workday": "false"})


@router.post("/calendar")
async def save(request: Request, api: Api, caller=allowed(Role.admin)) -> Response:
    form = await request.form()
    values = {n: _text(form, n) for n in CALENDAR_FIELDS}
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
        return _page(request, values, errors, status_code=200 if is_htmx(request) else exc.status)
    flash(request, "ok", f"已将 {day.isoformat()} 调整为{KINDS[values['is_workday']]}，各服务按此重新计算工作日。")
    return redirect(request, "/calendar")


@router.post("/calendar/remove")
async def remove(request: Request, api: Api, caller=allowed(Role.admin)) -> Response:
    form = await request.form()
    raw = _text(form, "day")
    try:
        day = _day(raw)
        await api.remove_workday(caller.token, day.isoformat())
    except ServiceError as exc:
        if exc.status not in (403, 404, 409, 422):
            raise
        fields = exc.field_errors() or {"day": exc.message}  # 404: that day has no correction
        removing = place_errors(fields, ("day",), exc.message)
        return _page(request, {"is_workday": "false"} | {"remove_day": raw}, removing=removing,
                     status_code=200 if is_htmx(request) else exc.status)  # fmt: skip
    counted = "工作日" if is_workday(day) else "休息日"
    flash(request, "ok", f"已撤销 {day.isoformat()} 的调整，该日按国家日历计为{counted}。")
    return redirect(request, "/calendar")
