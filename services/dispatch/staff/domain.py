"""Staff and department rules (domain.md §2, §5.2 b): the roster a head keeps, and who leads an assignment. Pure.

A department (科室) or staff member is never deleted, only deactivated: old assignments name them. Staff ids
are the person's account (the token subject), so an assignment to a staff member can later be found as
"my cases".
"""

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from enum import StrEnum

from shared.contracts import AssigneeKind, Handler
from shared.errors import DomainError, Invalid

from ..organizations.domain import CATEGORY_LABELS

MAX_CO_HANDLERS = 20


@dataclass(frozen=True)
class Department:
    station_id: str
    department_id: str
    name: str
    categories: tuple[str, ...] = ()  # catalogue category codes it handles (domain.md §3)
    active: bool = True
    updated_by: str = ""
    updated_at: datetime | None = None


@dataclass(frozen=True)
class StaffMember:
    station_id: str
    staff_id: str  # the person's account: the token subject
    name: str
    department_id: str | None = None
    categories: tuple[str, ...] = ()
    phone: str | None = None  # E.164
    active: bool = True
    updated_by: str = ""
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Lead:
    """Who leads an assignment made to station staff (牵头科室/责任人), and who helps (协办)."""

    assignee_id: str  # the responsible staff member's id, or the lead department's when no one is named
    assignee_name: str
    department: str | None  # the lead department's name (牵头科室), if any
    co_handlers: list[Handler]
    department_id: str | None = None


class Action(StrEnum):
    created = "created"
    edited = "edited"
    deactivated = "deactivated"
    reactivated = "reactivated"


# --- the roster ------------------------------------------------------------------------------------------


def _check_categories(categories: tuple[str, ...]) -> None:
    unknown = [c for c in categories if c not in CATEGORY_LABELS]
    if unknown:
        raise Invalid(
            f"未知的服务类别：{'、'.join(unknown)}",
            f"unknown catalogue categories: {', '.join(unknown)}",
            field="categories",
        )


def check_department(department: Department, same_name: str | None) -> None:
    """`same_name`: the id of another department of the station already called this."""
    _check_categories(department.categories)
    if same_name is not None:
        raise DomainError(
            f"本站已有同名科室（{same_name}）",
            f"the station already has a department of that name ({same_name})",
            field="name",
        )


def check_staff_member(member: StaffMember, department: Department | None) -> None:
    """`department`: the station's department the member is placed in, as stored (None if unknown)."""
    _check_categories(member.categories)
    if member.department_id is None:
        return
    if department is None:
        raise Invalid("本站没有该科室", "no such department at this station", field="department_id")
    if member.active and not department.active:
        raise Invalid(
            "该科室已停用，不能安排在岗人员",
            "the department is inactive; active staff cannot join it",
            field="department_id",
        )


def change(before: Department | StaffMember | None, after: Department | StaffMember) -> Action | None:
    """What a save did, for the audit; None when it changed nothing (a repeated PUT)."""
    if before is None:
        return Action.created
    if _facts(before) == _facts(after):
        return None
    if before.active and not after.active:
        return Action.deactivated
    if not before.active and after.active:
        return Action.reactivated
    return Action.edited


def _facts(record: Department | StaffMember) -> dict:
    return asdict(replace(record, updated_by="", updated_at=None))


def snapshot(record: Department | StaffMember) -> dict:
    """The record as the audit keeps it (before/after)."""
    facts = _facts(record)
    facts.pop("updated_by")
    facts.pop("updated_at")
    facts["categories"] = list(facts["categories"])
    return facts


# --- who leads an assignment -----------------------------------------------------------------------------


def _lead_error(zh: str, en: str, field: str) -> Invalid:
    return Invalid(zh, en, field=field)


def lead(
    *,
    department_id: str | None,
    responsible_id: str | None,
    co_handlers: list[tuple[str, str]],
    departments: Mapping[str, Department],
    staff: Mapping[str, StaffMember],
    organizations: Mapping[str, tuple[str, bool]],
) -> Lead:
    """The lead (the responsible staff member, else the lead department) and the co-handlers of an assignment.

    `departments` and `staff` hold the station's records the request names (and the responsible member's own
    department); `organizations` maps each organization co-handler the registry knows to (name, admitted today).
    """
    if not department_id and not responsible_id:
        raise _lead_error("请指定牵头科室或责任人", "department_id or responsible_id is required", "department_id")
    dept = None
    if department_id:
        dept = departments.get(department_id)
        if dept is None or not dept.active:
            raise _lead_error(
                "牵头科室不是本站在用的科室",
                "department_id is not an active department of this station",
                "department_id",
            )
    if responsible_id:
        member = staff.get(responsible_id)
        if member is None or not member.active:
            raise _lead_error(
                "责任人不是本站在岗人员", "responsible_id is not active staff of this station", "responsible_id"
            )
        if dept is not None and member.department_id != dept.department_id:
            raise _lead_error(
                f"责任人{member.name}不属于牵头科室{dept.name}",
                "the responsible staff member does not belong to department_id",
                "responsible_id",
            )
        if dept is None and member.department_id:
            dept = departments.get(member.department_id)  # the member's own department leads with them
        found = Lead(
            assignee_id=member.staff_id,
            assignee_name=member.name,
            department=dept.name if dept else None,
            co_handlers=[],
            department_id=dept.department_id if dept else None,
        )
    else:
        assert dept is not None
        found = Lead(dept.department_id, dept.name, dept.name, [], dept.department_id)

    leading = {(AssigneeKind.staff, found.assignee_id)} if responsible_id else set()
    if found.department_id:
        leading.add((AssigneeKind.department, found.department_id))
    return replace(found, co_handlers=_co_handlers(co_handlers, leading, departments, staff, organizations))


_CO_KINDS = {
    "staff": AssigneeKind.staff,
    "department": AssigneeKind.department,
    "organization": AssigneeKind.organization,
}


def _co_handlers(
    requested: list[tuple[str, str]],
    leading: set[tuple[AssigneeKind, str]],
    departments: Mapping[str, Department],
    staff: Mapping[str, StaffMember],
    organizations: Mapping[str, tuple[str, bool]],
) -> list[Handler]:
    if len(requested) > MAX_CO_HANDLERS:
        raise _lead_error(f"协办方最多 {MAX_CO_HANDLERS} 个", f"at most {MAX_CO_HANDLERS} co-handlers", "co_handlers")
    handlers: list[Handler] = []
    seen: set[tuple[AssigneeKind, str]] = set()
    for raw_kind, handler_id in requested:
        kind = _CO_KINDS.get(raw_kind)
        if kind is None:
            raise _lead_error(
                "协办方类型应为 staff（人员）、department（科室）或 organization（服务机构）",
                "co-handler kind must be staff, department or organization",
                "co_handlers",
            )
        key = (kind, handler_id)
        if key in leading:
            raise _lead_error("牵头方不能同时作为协办方", "the lead cannot also be a co-handler", "co_handlers")
        if key in seen:
            raise _lead_error("协办方重复", f"co-handler {raw_kind} {handler_id} is listed twice", "co_handlers")
        seen.add(key)
        handlers.append(
            Handler(kind=kind, id=handler_id, name=_co_name(kind, handler_id, departments, staff, organizations))
        )
    return handlers


def _co_name(
    kind: AssigneeKind,
    handler_id: str,
    departments: Mapping[str, Department],
    staff: Mapping[str, StaffMember],
    organizations: Mapping[str, tuple[str, bool]],
) -> str:
    if kind is AssigneeKind.staff:
        member = staff.get(handler_id)
        if member is None or not member.active:
            raise _lead_error(
                f"协办人员 {handler_id} 不是本站在岗人员",
                f"co-handler staff {handler_id} is not active staff of this station",
                "co_handlers",
            )
        return member.name
    if kind is AssigneeKind.department:
        dept = departments.get(handler_id)
        if dept is None or not dept.active:
            raise _lead_error(
                f"协办科室 {handler_id} 不是本站在用的科室",
                f"co-handler department {handler_id} is not an active department of this station",
                "co_handlers",
            )
        return dept.name
    known = organizations.get(handler_id)
    if known is None:
        raise _lead_error(
            f"服务机构库中没有编号为 {handler_id} 的机构",
            f"no organization {handler_id} in the registry",
            "co_handlers",
        )
    name, admitted = known
    if not admitted:
        raise _lead_error(
            f"协办机构{name}当前不在准入状态", f"co-handler organization {handler_id} is not admitted", "co_handlers"
        )
    return name
