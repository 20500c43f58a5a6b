"""Staff and department use cases: the roster a head keeps (one unit of work each), and the look-ups
assignments and the registry make inside their own transactions.

Who may do what (domain.md §2): the head of a station (or a head whose scope covers it) and operations keep
its roster; its clerks, heads and supervisors read it. Another station's roster answers 404 like any object
the caller may not see. Operations have no station scope, so their transactions run in the service's own
scope, on a station the registry knows.
"""

import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace

from shared.auth import SYSTEM, Principal, Role
from shared.calendar import china_today
from shared.contracts import AssigneeKind, utcnow
from shared.db.uow import Tx, UnitOfWork
from shared.errors import DomainError, NotFound

from ..organizations.domain import Status
from . import domain
from .domain import Department, Lead, StaffMember
from .store import StaffStore

_NO_STATION = NotFound("未找到该服务站", "station not found")


def _roster_lock(station_id: str) -> str:
    # Roster writes of one station take turns: a department's name stays unique, and a department is not
    # deactivated while a member joins it.
    return f"staff:{station_id}"


@contextlib.asynccontextmanager
async def _in_station(
    uow: UnitOfWork[StaffStore], principal: Principal, station_id: str, *, lock: bool = False
) -> AsyncIterator[tuple[Tx[StaffStore], str]]:
    """A transaction that may touch `station_id`'s roster, and the scope lists run in; 404 outside the caller's."""
    if principal.role is Role.admin:
        async with uow.begin(SYSTEM, lock=_roster_lock(station_id) if lock else None) as tx:
            if not await tx.store.station_known(station_id):
                raise _NO_STATION
            yield tx, "*"
    else:
        async with uow.begin(principal, lock=_roster_lock(station_id) if lock else None) as tx:
            await tx.scope(station_id)
            yield tx, principal.db_scope


def _actor(principal: Principal) -> tuple[str, str, str]:
    return principal.subject, principal.name, principal.role.value


async def _audit(tx: Tx[StaffStore], principal: Principal, record: str, before, after, at) -> None:
    action = domain.change(before, after)
    if action is None:
        return
    record_id = after.department_id if isinstance(after, Department) else after.staff_id
    await tx.store.add_staff_audit(
        after.station_id,
        record,
        record_id,
        action,
        _actor(principal),
        at,
        domain.snapshot(before) if before else None,
        domain.snapshot(after),
    )


# --- departments -----------------------------------------------------------------------------------------


async def list_departments(
    uow: UnitOfWork[StaffStore], principal: Principal, station_id: str, active: bool | None, limit: int, offset: int
) -> list[Department]:
    async with _in_station(uow, principal, station_id) as (tx, scope):
        return await tx.store.departments(station_id, scope, active, limit, offset)


async def save_department(
    uow: UnitOfWork[StaffStore], principal: Principal, proposed: Department
) -> tuple[Department, bool]:
    """Create or edit (deactivate with active=False); the same body twice changes nothing. True if created."""
    now = utcnow()
    async with _in_station(uow, principal, proposed.station_id, lock=True) as (tx, _):
        before = await tx.store.department(proposed.station_id, proposed.department_id)
        same_name = await tx.store.department_named(proposed.station_id, proposed.name, proposed.department_id)
        domain.check_department(proposed, same_name)
        if before is not None and before.active and not proposed.active:
            active = await tx.store.active_staff_in(proposed.station_id, proposed.department_id)
            if active:
                raise DomainError(
                    f"该科室仍有 {active} 名在岗人员，请先调整人员再停用",
                    f"the department still has {active} active staff; move or deactivate them first",
                    field="active",
                )
        if domain.change(before, proposed) is None:
            return before, False
        saved = replace(proposed, updated_by=principal.name, updated_at=now)
        await tx.store.save_department(saved)
        await _audit(tx, principal, "department", before, saved, now)
    return saved, before is None


# --- staff -----------------------------------------------------------------------------------------------


async def list_staff(
    uow: UnitOfWork[StaffStore],
    principal: Principal,
    station_id: str,
    active: bool | None,
    department_id: str | None,
    limit: int,
    offset: int,
) -> list[StaffMember]:
    async with _in_station(uow, principal, station_id) as (tx, scope):
        return await tx.store.staff_members(station_id, scope, active, department_id, limit, offset)


async def save_staff_member(
    uow: UnitOfWork[StaffStore], principal: Principal, proposed: StaffMember
) -> tuple[StaffMember, bool]:
    """Create or edit (deactivate with active=False); the same body twice changes nothing. True if created."""
    now = utcnow()
    async with _in_station(uow, principal, proposed.station_id, lock=True) as (tx, _):
        before = await tx.store.staff_member(proposed.station_id, proposed.staff_id)
        department = (
            await tx.store.department(proposed.station_id, proposed.department_id) if proposed.department_id else None
        )
        domain.check_staff_member(proposed, department)
        if domain.change(before, proposed) is None:
            return before, False
        saved = replace(proposed, updated_by=principal.name, updated_at=now)
        await tx.store.save_staff_member(saved)
        await _audit(tx, principal, "staff", before, saved, now)
    return saved, before is None


# --- for assignments and the registry (called inside their transactions) ---------------------------------


async def resolve_handlers(
    tx: Tx[StaffStore],
    station_id: str,
    *,
    department_id: str | None,
    responsible_id: str | None,
    co_handlers: list[tuple[str, str]],
) -> Lead:
    """The lead (责任人, else 牵头科室) and co-handlers (协办) of an assignment to the station's own staff.

    422 naming the field (department_id, responsible_id, co_handlers) for anyone not active at the station,
    a responsible member outside the named department, a duplicate co-handler or the lead repeated as one.
    An organization co-handler must be in the registry and admitted today; its registry name is used.
    """
    staff_ids = [responsible_id] if responsible_id else []
    staff_ids += [i for k, i in co_handlers if k == AssigneeKind.staff]
    staff = await tx.store.staff_by_id(station_id, staff_ids)
    department_ids = [department_id] if department_id else []
    department_ids += [i for k, i in co_handlers if k == AssigneeKind.department]
    if responsible_id and responsible_id in staff and staff[responsible_id].department_id:
        department_ids.append(staff[responsible_id].department_id)
    departments = await tx.store.departments_by_id(station_id, department_ids)
    organizations: dict[str, tuple[str, bool]] = {}
    org_ids = dict.fromkeys(i for k, i in co_handlers if k == AssigneeKind.organization)
    if org_ids and len(co_handlers) <= domain.MAX_CO_HANDLERS:  # more is refused below, without looking up
        today = china_today(utcnow())
        for org_id in org_ids:
            org = await tx.store.organization(org_id)
            if org is not None:
                organizations[org_id] = (org.name, org.status_on(today) is Status.admitted)
    return domain.lead(
        department_id=department_id,
        responsible_id=responsible_id,
        co_handlers=co_handlers,
        departments=departments,
        staff=staff,
        organizations=organizations,
    )


async def handling_departments(tx: Tx[StaffStore], station_id: str, categories: list[str]) -> list[dict]:
    """The station's active departments handling any of `categories`, each with its active staff:
    [{department_id, name, staff: [{staff_id, name}]}], by name."""
    return await tx.store.handling_departments(station_id, categories)
