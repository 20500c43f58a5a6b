"""登记需求: the clerk's form (一表登记) for intake's POST /demands.

The catalogue picker lists the items in force at the clerk's station by category, each with its time limit and the
materials it needs (ticked when received; the rest go on the acceptance notice, 一次告知). The enterprise is looked
up by credit code in the station's dossiers (一企一册) and its name and contact filled in. The API's field errors
come back next to the fields; on success the demand's page opens with the enterprise's status link.
"""

import uuid
from collections.abc import Mapping
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shared.auth import STAFF
from shared.contracts import Channel, GreenChannel

from ..client import ServiceError, Services
from ..forms import DEMAND_FIELDS, Errors, demand_body, place_errors
from ..web import Api, Caller, allowed, flash, is_htmx, redirect, render

router = APIRouter()
TEXT_FIELDS = (
    "enterprise.name",
    "enterprise.credit_code",
    "contact.name",
    "contact.phone",
    "description",
    "channel",
    "green_channel",
    "green_channel_reason",
    "visit_id",
)


def _categories(catalogue: list[dict]) -> list[dict]:
    """The catalogue grouped by category, in the catalogue's order: [{code, label, items: [...]}]."""
    groups: dict[str, dict] = {}
    for entry in catalogue:
        group = groups.setdefault(
            entry["category"], {"code": entry["category"], "label": entry["category_label"], "items": []}
        )
        group["items"].append(entry)
    return list(groups.values())


def _values(form: Mapping | None) -> dict:
    """What the form showed, to show it again (after a lookup or an error)."""
    if form is None:
        return {"channel": Channel.window.value, "items": set(), "materials": {}}
    values = {name: str(form.get(name) or "") for name in TEXT_FIELDS}
    values["items"] = set(form.getlist("items"))
    values["materials"] = {
        key.removeprefix("materials."): set(form.getlist(key)) for key in form if key.startswith("materials.")
    }
    values["idempotency_key"] = str(form.get("idempotency_key") or "")
    return values


async def _lookup(api: Services, caller: Caller, values: dict) -> tuple[dict, str | None, str]:
    """Fill the enterprise's name and contact from its dossier; (values, address, message)."""
    code = values.get("enterprise.credit_code", "").strip().upper().replace(" ", "")
    if not code:
        return values, None, "请先填写统一社会信用代码"
    try:
        dossier = await api.enterprise(caller.token, code)
    except ServiceError as exc:
        if exc.status in (404, 422):
            return values, None, "本站尚无该企业档案，请直接填写企业信息"
        raise
    contact = (dossier.get("contacts") or [{}])[0]
    values = values | {
        "enterprise.credit_code": dossier["credit_code"],
        "enterprise.name": dossier["name"],
        "contact.name": values.get("contact.name") or contact.get("name") or "",
        "contact.phone": values.get("contact.phone") or contact.get("phone") or "",
    }
    return values, dossier.get("address"), "已从企业档案带出企业名称和联系人"


async def _form_page(
    request: Request,
    api: Services,
    caller: Caller,
    values: dict,
    *,
    errors: Errors | None = None,
    lookup: tuple[str | None, str] | None = None,
    status_code: int = 200,
) -> Response:
    values.setdefault("idempotency_key", "")
    if not values["idempotency_key"]:
        values["idempotency_key"] = str(uuid.uuid4())
    catalogue = await api.catalogue(caller.station)
    return render(
        request,
        "register.html",
        status_code=status_code,
        values=values,
        errors=errors or Errors(),
        categories=_categories(catalogue),
        channels={c.value: c.label for c in Channel},
        green_channels={g.value: g.label for g in GreenChannel},
        address=lookup[0] if lookup else None,
        lookup_message=lookup[1] if lookup else None,
    )


@router.get("/demands/new")
async def register_form(request: Request, api: Api, caller=allowed(*STAFF), visit_id: UUID | None = None) -> Response:
    """From a visit's page (?visit_id=): the demand collected on that visit, its enterprise filled in."""
    values = _values(None)
    if visit_id is not None:
        visit = await api.visit(caller.token, visit_id)
        values |= {
            "visit_id": str(visit_id),
            "channel": Channel.visit.value,
            "enterprise.credit_code": visit["credit_code"],
            "enterprise.name": visit["enterprise_name"],
        }
    return await _form_page(request, api, caller, values)


@router.post("/demands/new/enterprise")
async def enterprise_lookup(request: Request, api: Api, caller=allowed(*STAFF)) -> Response:
    """htmx: the enterprise part of the form, filled from the dossier."""
    values, address, message = await _lookup(api, caller, _values(await request.form()))
    return render(request, "_enterprise.html", values=values, errors=Errors(), address=address, lookup_message=message)


@router.post("/demands/new")
async def register(request: Request, api: Api, caller=allowed(*STAFF)) -> Response:
    form = await request.form()
    values = _values(form)
    if form.get("action") == "lookup":  # the lookup button without JavaScript: the same form, filled in
        values, address, message = await _lookup(api, caller, values)
        return await _form_page(request, api, caller, values, lookup=(address, message))
    assert caller.station is not None  # clerks and heads always have one (shared.auth)
    try:
        done = await api.submit_demand(caller.token, demand_body(form, caller.station), values["idempotency_key"])
    except ServiceError as exc:
        if exc.status not in (409, 422):
            raise
        if exc.status == 409:
            values["idempotency_key"] = ""  # a fresh key: the old one belongs to a different request now
        errors = place_errors(exc.field_errors(), DEMAND_FIELDS, exc.message)
        status = 200 if is_htmx(request) else exc.status
        return await _form_page(request, api, caller, values, errors=errors, status_code=status)
    flash(
        request,
        "ok",
        f"需求已登记，跟踪单号 {done['printed_tracking_no']}，预计 {done.get('expected_on') or '—'} 前办结。"
        "请将查询链接转交企业（勿公开）：",
        done["status_url"],
        done["status_url"],
    )
    return redirect(request, f"/demands/{done['demand_id']}")
