"""人员与科室 (the station's head): the station's departments (科室, each with the service categories it leads) and
staff (人员, each with an account, a department and the categories they are good at), as dispatch keeps them for
dispatching (派单: a department as lead, a staff member as 责任人). The head adds, edits and deactivates them; nothing
is deleted (past assignments still name them).

The station is always the head's own, from the session, never from the form or the address; dispatch decides what
a valid roster is (its field errors land next to the fields). Dispatch's PUTs are idempotent by themselves (the same
record twice changes nothing), so they take no Idempotency-Key. They also create or replace, with no create-only
precondition (no If-None-Match), so "new" first looks the id up and refuses one the station already uses: two heads
adding the same id at the same instant could still both pass the look-up, and the later PUT wins.
"""

import re

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shared.auth import Role

from ..client import ServiceError, Services
from ..forms import Errors, FormData, categories, invalid, pick, text
from ..web import Api, Caller, allowed, render
from . import casework as cw
from .demands import FormState

router = APIRouter()
KEEPERS = (Role.head,)
DEPARTMENT_FIELDS = ("department_id", "name", "categories", "active")
MEMBER_FIELDS = ("staff_id", "name", "department_id", "categories", "phone", "active")
# As dispatch's path parameters (services/dispatch/staff/api.py): checked here too, so a wrong id is said at its
# field rather than answered as another address.
_DEPARTMENT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_STAFF_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@|:+-]{0,99}$")
_ROSTER_LIMIT = 500


def department_body(form: FormData) -> dict:
    """科室 as dispatch's PUT /stations/{station}/departments/{id} takes it."""
    return _roster_body(form, ("name",))


def member_body(form: FormData) -> dict:
    """人员 as dispatch's PUT /stations/{station}/staff/{id} takes it; no department or phone: none."""
    return _roster_body(form, ("name", "department_id", "phone"))


def _roster_body(form: FormData, names: tuple[str, ...]) -> dict:
    """The fields filled in, the categories ticked (each once), and active only when ticked."""
    ticked = list(dict.fromkeys(c for c in form.getlist("categories") if c))
    return pick(form, names) | {"categories": ticked, "active": text(form, "active") == "true"}


def _values(record: dict, fields: tuple[str, ...]) -> dict:
    values: dict = {n: str(record.get(n) or "") for n in fields if n not in ("categories", "active")}
    values["categories"] = list(record.get("categories") or [])
    values["active"] = "true" if record.get("active", True) else ""
    return values


def _station(caller: Caller) -> str:
    assert caller.station is not None  # a head always has one (shared.auth)
    return caller.station


# --- the roster ---


@router.get("/staff")
async def roster(request: Request, api: Api, caller=allowed(*KEEPERS)) -> Response:
    station = _station(caller)
    departments = await api.departments(caller.token, station, limit=_ROSTER_LIMIT)
    members = await api.staff(caller.token, station, limit=_ROSTER_LIMIT)
    return render(
        request,
        "staff.html",
        departments=departments,
        members=members,
        department_names={d["department_id"]: d["name"] for d in departments},
        categories=await categories(api),
    )


# --- departments ---


async def _department_form(
    request: Request,
    api: Services,
    *,
    department: dict | None,
    values: dict,
    errors: Errors | None = None,
    status_code: int = 200,
) -> Response:
    offered = await categories(api, keep=values.get("categories") or [])
    return render(
        request,
        "staff_department.html",
        status_code=status_code,
        department=department,
        values=values,
        errors=errors or Errors(),
        categories=offered,
    )


async def _department(api: Services, caller: Caller, department_id: str) -> dict:
    for d in await api.departments(caller.token, _station(caller), limit=_ROSTER_LIMIT):
        if d["department_id"] == department_id:
            return d
    raise ServiceError(404, "未找到该科室", "department not found", code="not_found")


@router.get("/staff/departments/new")
async def new_department_form(request: Request, api: Api, _caller=allowed(*KEEPERS)) -> Response:
    return await _department_form(request, api, department=None, values={"categories": [], "active": "true"})


def _department_view(request: Request, api: Services, department: dict | None) -> cw.View:
    """The department's form again, with the refusal at its field and what was typed kept."""

    async def view(forms: dict[str, FormState], status: int) -> Response:
        state = forms["department"]
        kept = {"department_id": department["department_id"]} if department else {}
        return await _department_form(
            request, api, department=department, values=state.values | kept, errors=state.errors, status_code=status
        )

    return view


@router.post("/staff/departments/new")
async def add_department(request: Request, api: Api, caller=allowed(*KEEPERS)) -> Response:
    async def act(form: FormData, _key: str) -> cw.Done:
        department_id = text(form, "department_id") or ""
        if not _DEPARTMENT_ID.match(department_id) or department_id == "new":  # "new" is the page
            raise invalid("department_id", "科室编号须为 1–40 位小写字母、数字或连字符，以字母或数字开头，如 metrology")
        try:
            await _department(api, caller, department_id)
        except ServiceError as exc:
            if exc.status != 404:
                raise
        else:  # a PUT would edit it: adding never overwrites another department
            raise invalid("department_id", "本站已有该编号的科室，请换一个，或在科室列表中修改")
        saved = await api.save_department(caller.token, _station(caller), department_id, department_body(form))
        return f"已新增科室「{saved['name']}」（{saved['department_id']}）。", None, None

    view = _department_view(request, api, None)
    return await cw.submit(request, "department", DEPARTMENT_FIELDS, act, view, "/staff")


@router.get("/staff/departments/{department_id}")
async def department_form(request: Request, department_id: str, api: Api, caller=allowed(*KEEPERS)) -> Response:
    department = await _department(api, caller, department_id)
    return await _department_form(request, api, department=department, values=_values(department, DEPARTMENT_FIELDS))


@router.post("/staff/departments/{department_id}")
async def edit_department(request: Request, department_id: str, api: Api, caller=allowed(*KEEPERS)) -> Response:
    department = await _department(api, caller, department_id)

    async def act(form: FormData, _key: str) -> cw.Done:
        saved = await api.save_department(caller.token, _station(caller), department_id, department_body(form))
        state = "" if saved["active"] else "（已停用）"
        return f"已保存科室「{saved['name']}」{state}。", None, None

    view = _department_view(request, api, department)
    return await cw.submit(request, "department", DEPARTMENT_FIELDS, act, view, "/staff")


# --- staff ---


async def _member_form(
    request: Request,
    api: Services,
    caller: Caller,
    *,
    member: dict | None,
    values: dict,
    errors: Errors | None = None,
    status_code: int = 200,
) -> Response:
    offered = await categories(api, keep=values.get("categories") or [])
    departments = await api.departments(caller.token, _station(caller), limit=_ROSTER_LIMIT)
    return render(
        request,
        "staff_member.html",
        status_code=status_code,
        member=member,
        values=values,
        errors=errors or Errors(),
        categories=offered,
        departments=departments,
    )


async def _member(api: Services, caller: Caller, staff_id: str) -> dict:
    for m in await api.staff(caller.token, _station(caller), limit=_ROSTER_LIMIT):
        if m["staff_id"] == staff_id:
            return m
    raise ServiceError(404, "未找到该人员", "staff member not found", code="not_found")


@router.get("/staff/members/new")
async def new_member_form(request: Request, api: Api, caller=allowed(*KEEPERS)) -> Response:
    return await _member_form(request, api, caller, member=None, values={"categories": [], "active": "true"})


def _member_view(request: Request, api: Services, caller: Caller, member: dict | None) -> cw.View:
    """The staff member's form again, with the refusal at its field and what was typed kept."""

    async def view(forms: dict[str, FormState], status: int) -> Response:
        state = forms["member"]
        kept = {"staff_id": member["staff_id"]} if member else {}
        return await _member_form(
            request, api, caller, member=member, values=state.values | kept, errors=state.errors, status_code=status
        )

    return view


@router.post("/staff/members/new")
async def add_member(request: Request, api: Api, caller=allowed(*KEEPERS)) -> Response:
    async def act(form: FormData, _key: str) -> cw.Done:
        staff_id = text(form, "staff_id") or ""
        if not _STAFF_ID.match(staff_id) or staff_id == "new":
            raise invalid("staff_id", "人员账号须为 1–100 位字母、数字或 . _ @ | : + -，以字母或数字开头（登录账号）")
        try:
            await _member(api, caller, staff_id)
        except ServiceError as exc:
            if exc.status != 404:
                raise
        else:  # a PUT would edit them: adding never overwrites another staff member
            raise invalid("staff_id", "本站已登记该账号的人员，请在人员列表中修改")
        saved = await api.save_staff_member(caller.token, _station(caller), staff_id, member_body(form))
        return f"已登记人员「{saved['name']}」（{saved['staff_id']}）。", None, None

    view = _member_view(request, api, caller, None)
    return await cw.submit(request, "member", MEMBER_FIELDS, act, view, "/staff")


@router.get("/staff/members/{staff_id}")
async def member_form(request: Request, staff_id: str, api: Api, caller=allowed(*KEEPERS)) -> Response:
    member = await _member(api, caller, staff_id)
    return await _member_form(request, api, caller, member=member, values=_values(member, MEMBER_FIELDS))


@router.post("/staff/members/{staff_id}")
async def edit_member(request: Request, staff_id: str, api: Api, caller=allowed(*KEEPERS)) -> Response:
    member = await _member(api, caller, staff_id)

    async def act(form: FormData, _key: str) -> cw.Done:
        saved = await api.save_staff_member(caller.token, _station(caller), staff_id, member_body(form))
        state = "" if saved["active"] else "（已停用）"
        return f"已保存人员「{saved['name']}」{state}。", None, None

    view = _member_view(request, api, caller, member)
    return await cw.submit(request, "member", MEMBER_FIELDS, act, view, "/staff")
