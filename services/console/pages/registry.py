"""服务机构库: the registry of service organizations as dispatch keeps it — the list in the caller's scope (operations
all of it, a supervisor its area's, a station's staff those serving the station), filtered to those flagged for
review (待复核) with the reasons; an organization's page with its record (动态评价), review flag and audit; the
admit/edit form (准入、修改) and the status form (暂停、恢复、退出, with a reason).

Dispatch decides everything: who may change which organization (operations any; a supervisor or head only one whose
every service area lies within its scope), what a valid profile is (its field errors land next to the fields). Its
PUTs are idempotent by themselves (the same profile or status twice changes nothing), so they take no
Idempotency-Key. An organization outside the caller's scope is 404, as dispatch answers it.
"""

import re

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shared.auth import READERS, Role

from ..client import ServiceError, Services
from ..forms import Errors, FormData, Pager, categories, invalid, place_errors, put, text
from ..web import Api, Caller, allowed, flash, is_htmx, redirect, render

router = APIRouter()
VIEWERS = (*READERS, Role.admin)  # as dispatch's GET /organizations, less the organization itself
MANAGERS = (Role.admin, Role.supervisor, Role.head)  # as dispatch's PUTs
STATUS_LABELS = {"admitted": "准入", "suspended": "暂停", "exited": "退出"}
STATUS_ACTIONS = {"suspended": "暂停", "admitted": "恢复（准入）", "exited": "退出（终态，不可恢复）"}
AUDIT_LABELS = {"admitted": "准入", "edited": "修改", "suspended": "暂停", "reinstated": "恢复", "exited": "退出"}
TABS = {"": "全部", "flagged": "待复核"}

PROFILE_FIELDS = (
    "org_id",
    "name",
    "credit_code",
    "contacts.0.name",
    "contacts.0.phone",
    "contacts.0.role",
    "categories",
    "items",
    "areas",
    "qualifications.0.kind",
    "qualifications.0.certificate_no",
    "qualifications.0.issuer",
    "qualifications.0.scope",
    "qualifications.0.valid_from",
    "qualifications.0.valid_until",
    "agreement.party",
    "agreement.number",
    "agreement.valid_until",
)
STATUS_FIELDS = ("status", "reason", "until")
_SEPARATORS = re.compile(r"[、，,;；\s]+")
_ORG_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,39}$")


# --- form <-> body (pure) ---


def _listed(form: FormData, name: str) -> list[str]:
    return [x for x in _SEPARATORS.split(text(form, name) or "") if x]


def profile_body(form: FormData, current: dict | None = None) -> dict:
    """准入或修改 as dispatch's PUT /organizations/{id} takes it. The form shows the first contact and the first
    qualification; an edit keeps the others the record holds (and the first qualification's categories)."""
    body: dict = {}
    for name in ("name", "credit_code"):
        put(body, name, text(form, name))
    contact: dict = {}
    for part in ("name", "phone", "role"):
        put(contact, part, text(form, f"contacts.0.{part}"))
    body["contacts"] = [contact] if contact else []
    body["categories"] = list(dict.fromkeys(c for c in form.getlist("categories") if c))
    body["items"] = list(dict.fromkeys(_listed(form, "items")))
    body["areas"] = list(dict.fromkeys(_listed(form, "areas")))
    qualification: dict = {}
    for part in ("kind", "certificate_no", "issuer", "scope", "valid_from", "valid_until"):
        put(qualification, part, text(form, f"qualifications.0.{part}"))
    body["qualifications"] = [qualification] if qualification else []
    agreement: dict = {}
    for part in ("party", "number", "valid_until"):
        put(agreement, part, text(form, f"agreement.{part}"))
    if agreement:
        body["agreement"] = agreement
    if current:
        kept = current.get("qualifications") or []
        if kept and body["qualifications"]:
            body["qualifications"][0]["categories"] = list(kept[0].get("categories") or [])
            if kept[0].get("file_ref"):
                body["qualifications"][0]["file_ref"] = kept[0]["file_ref"]
        body["qualifications"] += [{k: v for k, v in q.items() if k != "valid_today"} for q in kept[1:]]
        body["contacts"] += list((current.get("contacts") or [])[1:])
    return body


def profile_values(org: dict) -> dict:
    """An organization's record as the form's fields."""
    contact = (org.get("contacts") or [{}])[0]
    qualification = (org.get("qualifications") or [{}])[0]
    agreement = org.get("agreement") or {}
    values = {
        "org_id": org.get("org_id") or "",
        "name": org.get("name") or "",
        "credit_code": org.get("credit_code") or "",
        "items": "，".join(org.get("items") or []),
        "areas": "，".join(org.get("areas") or []),
        "categories": list(org.get("categories") or []),
    }
    values |= {f"contacts.0.{k}": str(contact.get(k) or "") for k in ("name", "phone", "role")}
    parts = ("kind", "certificate_no", "issuer", "scope", "valid_from", "valid_until")
    values |= {f"qualifications.0.{k}": str(qualification.get(k) or "") for k in parts}
    values |= {f"agreement.{k}": str(agreement.get(k) or "") for k in ("party", "number", "valid_until")}
    return values


def form_values(form: FormData) -> dict:
    values: dict = {n: str(form.get(n) or "") for n in PROFILE_FIELDS if n != "categories"}
    values["categories"] = [c for c in form.getlist("categories") if c]
    return values


def status_body(form: FormData) -> dict:
    body: dict = {}
    for name in STATUS_FIELDS:
        put(body, name, text(form, name))
    if body.get("status") != "suspended":
        body.pop("until", None)  # a date only a suspension has
    return body


# --- the list ---


@router.get("/organizations")
async def organization_list(
    request: Request,
    api: Api,
    caller=allowed(*VIEWERS),
    show: str | None = None,
    status: str | None = None,
    page: str | None = None,
) -> Response:
    current = show if show in TABS else ""
    state = status if status in STATUS_LABELS else ""
    pager = Pager.of(page)
    filters = {"flagged": "true" if current == "flagged" else None, "status": state or None}
    rows, more = pager.cut(await api.registry(caller.token, **filters, **pager.params))
    return render(
        request,
        "registry_list.html",
        rows=rows,
        pager=pager,
        more=more,
        tabs=TABS,
        current=current,
        status=state,
        statuses=STATUS_LABELS,
        may_admit=caller.role in MANAGERS,
    )


# --- admit and edit ---


async def _profile_form(
    request: Request,
    api: Services,
    caller: Caller,
    *,
    org: dict | None,
    values: dict,
    errors: Errors | None = None,
    status_code: int = 200,
) -> Response:
    offered = await categories(api, keep=values.get("categories") or [])
    return render(
        request,
        "registry_form.html",
        status_code=status_code,
        org=org,
        values=values,
        errors=errors or Errors(),
        categories=offered,
        own_station=caller.station if caller.role is Role.head else None,
    )


@router.get("/organizations/new")
async def new_form(request: Request, api: Api, caller=allowed(*MANAGERS)) -> Response:
    values: dict = {"categories": []}
    if caller.role is not Role.admin and caller.station:
        values["areas"] = caller.station  # what the caller may admit: organizations serving its own scope
    return await _profile_form(request, api, caller, org=None, values=values)


@router.post("/organizations/new")
async def admit(request: Request, api: Api, caller=allowed(*MANAGERS)) -> Response:
    form = await request.form()
    org_id = text(form, "org_id") or ""
    try:
        if not _ORG_ID.match(org_id) or org_id in ("new", "expiring"):  # those two are pages, never an id
            raise invalid("org_id", "机构编号须为 2–40 位小写字母、数字或连字符，以字母或数字开头，如 org-21")
        try:
            await api.organization(caller.token, org_id)
        except ServiceError as exc:
            if exc.status != 404:
                raise
        else:  # a PUT would edit it: admission never overwrites another organization
            raise invalid("org_id", "该机构编号已登记，请换一个，或在该机构页面修改")
        saved = await api.save_organization(caller.token, org_id, profile_body(form))
    except ServiceError as exc:
        if exc.status not in (403, 409, 422):
            raise
        errors = place_errors(exc.field_errors(), PROFILE_FIELDS, exc.message)
        status = 200 if is_htmx(request) else exc.status
        return await _profile_form(request, api, caller, org=None, values=form_values(form), errors=errors,
                                   status_code=status)  # fmt: skip
    flash(request, "ok", f"已准入服务机构「{saved['name']}」（{saved['org_id']}）。")
    return redirect(request, f"/organizations/{saved['org_id']}")


@router.get("/organizations/{org_id}/edit")
async def edit_form(request: Request, org_id: str, api: Api, caller=allowed(*MANAGERS)) -> Response:
    org = await api.organization(caller.token, org_id)
    return await _profile_form(request, api, caller, org=org, values=profile_values(org))


@router.post("/organizations/{org_id}/edit")
async def edit(request: Request, org_id: str, api: Api, caller=allowed(*MANAGERS)) -> Response:
    form = await request.form()
    org = await api.organization(caller.token, org_id)
    try:
        saved = await api.save_organization(caller.token, org_id, profile_body(form, org))
    except ServiceError as exc:
        if exc.status not in (403, 409, 422):
            raise
        errors = place_errors(exc.field_errors(), PROFILE_FIELDS, exc.message)
        values = form_values(form) | {"org_id": org_id}
        status = 200 if is_htmx(request) else exc.status
        return await _profile_form(request, api, caller, org=org, values=values, errors=errors, status_code=status)
    flash(request, "ok", f"已保存服务机构「{saved['name']}」的档案。")
    return redirect(request, f"/organizations/{org_id}")


# --- an organization's page and its status ---


async def _organization_page(
    request: Request,
    api: Services,
    caller: Caller,
    org_id: str,
    *,
    values: dict | None = None,
    errors: Errors | None = None,
    status_code: int = 200,
) -> Response:
    org = await api.organization(caller.token, org_id)
    history = await api.organization_history(caller.token, org_id)
    today = org.get("status_today") or org["status"]
    # What the status form offers: from 准入 暂停 or 退出; from 暂停 恢复 or 退出; 退出 is final.
    actions = {
        "admitted": {k: STATUS_ACTIONS[k] for k in ("suspended", "exited")},
        "suspended": {k: STATUS_ACTIONS[k] for k in ("admitted", "suspended", "exited")},
    }.get(today, {})
    return render(
        request,
        "registry_org.html",
        status_code=status_code,
        org=org,
        history=history,
        audit_labels=AUDIT_LABELS,
        statuses=STATUS_LABELS,
        actions=actions,
        may_manage=caller.role in MANAGERS,
        values={"status": next(iter(actions), "")} | (values or {}),
        errors=errors or Errors(),
    )


@router.get("/organizations/{org_id}")
async def organization_page(request: Request, org_id: str, api: Api, caller=allowed(*VIEWERS)) -> Response:
    return await _organization_page(request, api, caller, org_id)


@router.post("/organizations/{org_id}/status")
async def change_status(request: Request, org_id: str, api: Api, caller=allowed(*MANAGERS)) -> Response:
    form = await request.form()
    body = status_body(form)
    try:
        if body.get("status") in ("suspended", "exited") and not body.get("reason"):
            raise invalid("reason", "暂停或退出须填写原因")
        saved = await api.set_organization_status(caller.token, org_id, body)
    except ServiceError as exc:
        if exc.status not in (403, 409, 422):
            raise
        errors = place_errors(exc.field_errors(), STATUS_FIELDS, exc.message)
        values = {n: str(form.get(n) or "") for n in STATUS_FIELDS}
        status = 200 if is_htmx(request) else exc.status
        return await _organization_page(request, api, caller, org_id, values=values, errors=errors, status_code=status)
    label = STATUS_LABELS.get(saved["status"], saved["status"])
    until = f"，至 {saved['suspended_until']}" if saved.get("suspended_until") else ""
    flash(request, "ok", f"服务机构「{saved['name']}」已{label}{until}。")
    return redirect(request, f"/organizations/{org_id}")
