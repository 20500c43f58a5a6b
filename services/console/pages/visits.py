"""走访 (主动"进企业"走访, 002 §6.1, 004 §6.2): the station's visits to enterprises — the list in the caller's scope,
the form a clerk or head records one with (who went, when, which enterprise, what was found), and a visit's page
with the demands collected on it.

Intake decides who sees what: a station's staff their station's visits, a supervisor its area's; another station's
visit is 404, as intake answers it. Only station staff record a visit (intake answers 403 to anyone else). The form
carries an idempotency key made when it was shown, so a double click or a resent form records one visit.
"""

import re
import uuid
from datetime import UTC, datetime
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shared.auth import READERS, STAFF, Role
from shared.calendar import china_today

from ..forms import Errors, FormData, Pager, pick, text
from ..web import Api, Caller, allowed, render
from . import casework as cw
from .demands import FormState

router = APIRouter()
VISIT_FIELDS = ("credit_code", "enterprise_name", "staff", "visited_on", "findings")
_SEPARATORS = re.compile(r"[、，,;；\n]+")


def visit_body(form: FormData) -> dict:
    """走访记录 as intake's POST /visits takes it: the staff who went, one name each (separated by 、，, or ;). A
    field left empty is not sent, so intake says 必填项缺失 at it; the station is the caller's, never the form's."""
    body = pick(form, ("credit_code", "enterprise_name", "visited_on", "findings"))
    body["staff"] = [s.strip() for s in _SEPARATORS.split(text(form, "staff") or "") if s.strip()]
    return body


def _today() -> str:
    return china_today(datetime.now(UTC)).isoformat()


@router.get("/visits")
async def visit_list(request: Request, api: Api, caller=allowed(*READERS), page: str | None = None) -> Response:
    pager = Pager.of(page)
    rows, more = pager.cut(await api.visits(caller.token, **pager.params))
    return render(
        request,
        "visits.html",
        rows=rows,
        pager=pager,
        more=more,
        may_record=caller.role in STAFF,
        show_station=caller.role is Role.supervisor,
    )


def _new_page(
    request: Request, caller: Caller, values: dict | None = None, errors: Errors | None = None, status_code: int = 200
) -> Response:
    fields = {"idempotency_key": str(uuid.uuid4()), "visited_on": _today(), "staff": caller.person.name}
    return render(
        request,
        "visit_new.html",
        status_code=status_code,
        values=fields | (values or {}),
        errors=errors or Errors(),
        today=_today(),
    )


@router.get("/visits/new")
async def new_form(
    request: Request,
    caller=allowed(*STAFF),
    credit_code: str | None = None,
    enterprise_name: str | None = None,
) -> Response:
    """The form, blank or for one enterprise (the dossier's 记录走访 link names it)."""
    known = {"credit_code": (credit_code or "").strip()[:18], "enterprise_name": (enterprise_name or "").strip()[:200]}
    return _new_page(request, caller, {k: v for k, v in known.items() if v})


@router.post("/visits/new")
async def record(request: Request, api: Api, caller=allowed(*STAFF)) -> Response:
    done: dict = {}

    async def act(form: FormData, key: str) -> cw.Done:
        done.update(await api.record_visit(caller.token, visit_body(form), key))
        return f"已记录 {done['visited_on']} 对「{done['enterprise_name']}」的走访。", None, None

    async def view(forms: dict[str, FormState], status: int) -> Response:
        return _new_page(request, caller, forms["visit"].values, forms["visit"].errors, status)

    return await cw.submit(request, "visit", VISIT_FIELDS, act, view, lambda: f"/visits/{done['visit_id']}")


@router.get("/visits/{visit_id}")
async def visit_page(request: Request, visit_id: UUID, api: Api, caller=allowed(*READERS)) -> Response:
    visit = await api.visit(caller.token, visit_id)
    return render(request, "visit.html", visit=visit, may_record=caller.role in STAFF)
