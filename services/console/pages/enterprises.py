"""企业档案 (一企一册, domain.md §4): the enterprises a station knows — searched by name or credit code and grouped
by industrial park, industrial chain (产业链, with its 链主) and specialised town (专业镇), the groupings the
archive's books (一链一册、一镇一册) follow; an enterprise's dossier with its detail tables; the form a clerk or
head registers or edits one with.

Intake decides who sees what: a station's staff their station's dossiers, a supervisor its area's; another station's
enterprise is 404, as intake answers it. Only station staff write a dossier (intake answers 403 to anyone else), and
always their own station's. Intake's PUT replaces the whole dossier, so an edit sends back what the form does not
show (the further contacts, products, measuring instruments, special equipment and operator exams) as it was read.
The PUT also creates, with no create-only precondition (no If-None-Match), so registering first looks the code up
and refuses one the station keeps: two clerks registering the same code at the same instant could still both pass
the look-up, and the later PUT wins.
"""

import re

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shared import validation
from shared.auth import READERS, STAFF, Role
from shared.errors import Invalid

from ..client import ServiceError
from ..forms import Errors, FormData, Pager, invalid, pick, text
from ..web import Api, allowed, render
from . import casework as cw
from .demands import FormState

router = APIRouter()
SIZES = {"micro": "微型", "small": "小型", "medium": "中型", "large": "大型"}
YES_NO = {"true": "是", "false": "否"}
TRACEABILITY = {"verification": "检定", "calibration": "校准"}
CONTACT_PARTS = ("name", "title", "phone", "email", "wechat")
_TEXT = (
    "name",
    "legal_representative",
    "industry",
    "size",
    "employees",
    "output_value_wan",
    "main_products",
    "address",
    "park_name",
    "town",
    "chain",
    "own_labs",
)
_CHOICES = ("in_park", "labs_cover_own_testing")  # 是 / 否 / not said
DOSSIER_FIELDS = (
    "credit_code",
    *_TEXT,
    *_CHOICES,
    "chain_leader",
    *(f"contacts.0.{p}" for p in CONTACT_PARTS),
)
_KEPT = ("products", "instruments", "special_equipment", "operator_exams")
_FILTERS = ("q", "park", "chain", "town")
_CODE = re.compile(r"^[0-9A-Za-z]{1,40}$")


def dossier_body(form: FormData, current: dict | None = None) -> dict:
    """一企一册 as intake's PUT /enterprises/{credit_code} takes it. A field left empty is not sent (intake keeps it
    empty: the PUT is the whole dossier); numbers go as typed, for intake to refuse at their field. The form shows
    the first contact; an edit keeps the others and the detail tables as `current` holds them."""
    body = pick(form, _TEXT)
    for name in _CHOICES:
        choice = text(form, name)
        if choice in YES_NO:
            body[name] = choice == "true"
    body["chain_leader"] = text(form, "chain_leader") == "true"
    contact = {p: v for p in CONTACT_PARTS if (v := text(form, f"contacts.0.{p}")) is not None}
    body["contacts"] = [contact] if contact else []
    if current:
        body["contacts"] += [_clean(c) for c in (current.get("contacts") or [])[1:]]
        for table in _KEPT:
            body[table] = [_clean(row) for row in current.get(table) or []]
    return body


def _clean(row: dict) -> dict:
    """A stored row as intake takes it back: the empty parts left out."""
    return {k: v for k, v in row.items() if v is not None}


def dossier_values(dossier: dict) -> dict:
    """A dossier as the form's fields."""
    values = {name: "" if dossier.get(name) is None else str(dossier[name]) for name in _TEXT}
    for name in _CHOICES:
        values[name] = "" if dossier.get(name) is None else ("true" if dossier[name] else "false")
    values["chain_leader"] = "true" if dossier.get("chain_leader") else ""
    contact = (dossier.get("contacts") or [{}])[0]
    values |= {f"contacts.0.{p}": str(contact.get(p) or "") for p in CONTACT_PARTS}
    values["credit_code"] = dossier.get("credit_code") or ""
    return values


def _code(credit_code: str) -> str:
    """A credit code from the page's path; anything else names no enterprise."""
    if not _CODE.match(credit_code):
        raise ServiceError(404, "未找到该企业档案", "no such enterprise", code="not_found")
    return credit_code.upper()


# --- the list ---


@router.get("/enterprises")
async def enterprise_list(
    request: Request,
    api: Api,
    caller=allowed(*READERS),
    q: str | None = None,
    park: str | None = None,
    chain: str | None = None,
    town: str | None = None,
    page: str | None = None,
) -> Response:
    filters = {k: (v or "").strip()[:100] for k, v in zip(_FILTERS, (q, park, chain, town), strict=True)}
    searched = {k: v for k, v in filters.items() if v}
    pager = Pager.of(page)
    problem = None
    try:
        found = await api.enterprises(caller.token, **filters, **pager.params)
    except ServiceError as exc:
        if exc.status != 422:
            raise
        found, problem = [], "；".join(exc.field_errors().values()) or exc.message  # a search word it refuses
    rows, more = pager.cut(found)
    return render(
        request,
        "enterprises.html",
        rows=rows,
        pager=pager,
        more=more,
        filters=filters,
        searched=searched,
        problem=problem,
        sizes=SIZES,
        may_register=caller.role in STAFF,
        show_station=caller.role is Role.supervisor,
    )


# --- register and edit ---


def _form_page(
    request: Request,
    *,
    dossier: dict | None,
    values: dict,
    errors: Errors | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "enterprise_form.html",
        status_code=status_code,
        dossier=dossier,
        values=values,
        errors=errors or Errors(),
        sizes=SIZES,
        yes_no=YES_NO,
    )


@router.get("/enterprises/new")
async def new_form(request: Request, _caller=allowed(*STAFF)) -> Response:
    return _form_page(request, dossier=None, values={})


def _form_view(request: Request, dossier: dict | None) -> cw.View:
    """The form again, with the refusal at its field and what was typed kept (an edit keeps the code it is about)."""

    async def view(forms: dict[str, FormState], status: int) -> Response:
        state = forms["dossier"]
        kept = {"credit_code": dossier["credit_code"]} if dossier else {}
        return _form_page(request, dossier=dossier, values=state.values | kept, errors=state.errors, status_code=status)

    return view


def _saved(saved: dict) -> str:
    return f"/enterprises/{saved['credit_code']}"


@router.post("/enterprises/new")
async def register(request: Request, api: Api, caller=allowed(*STAFF)) -> Response:
    saved: dict = {}

    async def act(form: FormData, _key: str) -> cw.Done:
        try:
            code = validation.credit_code(text(form, "credit_code") or "")
        except Invalid as exc:
            raise invalid("credit_code", exc.zh) from None
        try:
            await api.enterprise(caller.token, code)
        except ServiceError as exc:
            if exc.status != 404:
                raise
        else:  # a PUT would overwrite it: registering never replaces a dossier the station keeps
            raise invalid("credit_code", "该企业已在本站建档，请在企业档案页修改")
        saved.update(await api.save_enterprise(caller.token, code, dossier_body(form)))
        return f"已为「{saved['name']}」建立企业档案。", None, None

    return await cw.submit(request, "dossier", DOSSIER_FIELDS, act, _form_view(request, None), lambda: _saved(saved))


@router.get("/enterprises/{credit_code}/edit")
async def edit_form(request: Request, credit_code: str, api: Api, caller=allowed(*STAFF)) -> Response:
    dossier = await api.enterprise(caller.token, _code(credit_code))
    return _form_page(request, dossier=dossier, values=dossier_values(dossier))


@router.post("/enterprises/{credit_code}/edit")
async def edit(request: Request, credit_code: str, api: Api, caller=allowed(*STAFF)) -> Response:
    dossier = await api.enterprise(caller.token, _code(credit_code))  # 404 for another station's: nothing is written
    saved: dict = {}

    async def act(form: FormData, _key: str) -> cw.Done:
        saved.update(await api.save_enterprise(caller.token, dossier["credit_code"], dossier_body(form, dossier)))
        return f"已保存「{saved['name']}」的企业档案。", None, None

    return await cw.submit(request, "dossier", DOSSIER_FIELDS, act, _form_view(request, dossier), lambda: _saved(saved))


# --- one dossier ---


@router.get("/enterprises/{credit_code}")
async def enterprise_page(request: Request, credit_code: str, api: Api, caller=allowed(*READERS)) -> Response:
    dossier = await api.enterprise(caller.token, _code(credit_code))
    return render(
        request,
        "enterprise.html",
        e=dossier,
        sizes=SIZES,
        yes_no={True: "是", False: "否"},
        traceability=TRACEABILITY,
        may_edit=caller.role in STAFF,
    )
