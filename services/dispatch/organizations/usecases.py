"""Registry use cases: one unit of work each, plus the assignment check and the running record's events.

Organizations are reference data spanning stations: their tables have no row-level security, and each use
case asks in SQL whether the caller's scope holds the organization's areas (store._VISIBLE, org_areas_within).
The running record is the organization's own, across every station it serves (the city's dynamic
evaluation, 001 §7.2.2.2): it is counted in the service's own scope, like the catalogue, and only the
counts leave that transaction, never a demand.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from uuid import UUID

from shared.auth import Principal, Role
from shared.calendar import china_today
from shared.contracts import ComplaintStage, ComplaintSubject, ComplaintUpdated, Rated, RatingVoided, Resolved, utcnow
from shared.db.uow import Tx, UnitOfWork
from shared.errors import DomainError, Forbidden, Invalid, NotFound

from ..domain import due_date
from ..staff.usecases import handling_departments
from ..store import Store
from . import domain
from .domain import Organization, Record, Status
from .store import OrganizationStore, snapshot

_NOT_FOUND = NotFound("未找到该服务机构", "organization not found")
_NO_DEMAND = NotFound("未找到该需求", "demand not found")
_OUTSIDE = Forbidden(
    "只能管理服务区域都在本站（本辖区）内的服务机构",
    "you may manage only organizations whose every service area lies within your scope",
)
_REVIEW_NOT_YOURS = Forbidden(
    "复核提示供服务站与上级单位决定是否暂停，服务机构不能按其筛选",
    "the review flag is for those deciding on a suspension; an organization may not filter on it",
)
_DUPLICATE_CREDIT_CODE = DomainError(
    "该统一社会信用代码已登记为另一家机构",
    "this credit code is already registered to another organization",
    code="duplicate_credit_code",
)


def _scope(principal: Principal) -> str:
    """What the caller may read of the registry: operations all of it, staff and supervisors their scope."""
    return "*" if principal.role is Role.admin else principal.db_scope


def _lock(org_id: str) -> str:
    return f"organization:{org_id}"


# --- for dispatch: may this organization take this demand? ---------------------------------------------


async def check_assignable(
    tx: Tx[OrganizationStore],
    *,
    org_id: str,
    station_id: str,
    categories: list[str],
    item_codes: list[str],
    due_on: date,
    today: date,
) -> Organization:
    """The registered organization, if it may be assigned this demand; refused otherwise.

    422 (field assignee_id) for an organization the registry does not know; 409 with the reason for one
    not admitted today, serving elsewhere, not covering a category or item, or whose qualification or
    agreement ends before `due_on`. Call it in the assignment's transaction.
    """
    found = await tx.store.assignable_organization(org_id, station_id)
    if found is None:
        raise Invalid(
            f"服务机构库中没有编号为 {org_id} 的机构，请先登记准入",
            f"no organization {org_id} in the registry; admit it first",
            field=domain.ASSIGNEE_FIELD,
        )
    org, serves_station = found
    domain.check_assignable(
        org,
        serves_station=serves_station,
        categories=categories,
        item_codes=item_codes,
        due_on=due_on,
        today=today,
    )
    return org


# --- the running record's events ---------------------------------------------------------------------


async def record_resolution(tx: Tx[OrganizationStore], event: Resolved) -> None:
    """A round's resolution, credited to the assignment it names; idempotent, in any order with its rating."""
    await tx.store.record_resolution_outcome(
        event.demand_id,
        event.round,
        event.station_id,
        event.assignment_no,
        event.outcome.value,
        event.resolved_at,
        china_today(event.resolved_at),
    )


async def record_rating(tx: Tx[OrganizationStore], event: Rated) -> None:
    """A rating rates its round's resolution (which may not have arrived yet); idempotent. Whether it counts as 满意 is
    evaluation's to say (Rated.counts_as_satisfied, its satisfied levels when it was recorded); None from an older
    Rated, which the record then counts by the default definition (非常满意 + 满意)."""
    await tx.store.record_rating_outcome(
        event.demand_id,
        event.round,
        event.station_id,
        event.answers.overall.value,
        event.rated_at,
        event.event_id,
        event.counts_as_satisfied,
    )


async def record_voided_rating(tx: Tx[OrganizationStore], event: RatingVoided) -> None:
    """申诉复核: the rating it names counts in no satisfaction figure from now on; in any order with that rating
    (kept by its event id, so a later rating of the round stays valid); idempotent."""
    await tx.store.record_voided_rating(
        event.rated_event_id, event.demand_id, event.round, event.station_id, event.voided_at
    )


async def record_complaint(tx: Tx[OrganizationStore], event: ComplaintUpdated) -> None:
    """投诉 about an organization, at any stage: counted against the organization the latest stage names (received;
    founded once resolved so). In any order; a complaint about the station or its staff counts for no organization."""
    about = event.subject_id if event.subject is ComplaintSubject.organization else None
    await tx.store.record_complaint(
        event.complaint_id,
        event.station_id,
        about,
        event.stage.value,
        list(ComplaintStage).index(event.stage),
        event.founded,
        event.stage_at,
        event.event_id,
    )


# --- admission, edits, status ----------------------------------------------------------------------------


async def _may_change(tx: Tx[OrganizationStore], principal: Principal, current: Organization | None, areas) -> None:
    """Operations change any organization; a supervisor or head only one whose every area (before and after
    the change) lies within its scope: a district's, or a station's own organizations."""
    if principal.role is Role.admin:
        return
    scope = principal.db_scope
    if current is not None:
        if await tx.store.visible_organization(current.org_id, scope, "") is None:
            raise _NOT_FOUND
        if not await tx.store.org_areas_within(current.areas, scope):
            raise _OUTSIDE
    if not await tx.store.org_areas_within(tuple(areas), scope):
        raise _OUTSIDE


async def save_organization(
    uow: UnitOfWork[OrganizationStore], principal: Principal, proposed: Organization
) -> tuple[Organization, bool]:
    """准入 or edit; the same profile twice changes nothing and writes no second audit row. True if created."""
    now = utcnow()
    async with uow.begin(principal, lock=_lock(proposed.org_id)) as tx:
        current = await tx.store.organization(proposed.org_id, for_update=True)
        await _may_change(tx, principal, current, proposed.areas)
        # Two organizations saved at once under one credit code: the second waits here and sees the first
        # (a 409, not the unique index's error). Always after the id's lock, so the two never deadlock.
        await tx.store.lock_credit_code(proposed.credit_code)
        if await tx.store.credit_code_taken(proposed.credit_code, proposed.org_id) is not None:
            raise _DUPLICATE_CREDIT_CODE  # not naming it: the other may lie outside the caller's scope
        org = domain.admit_or_edit(current, proposed)
        if org != current:
            await tx.store.save_organization(org, now)
            await tx.store.add_organization_audit(
                org.org_id,
                "admitted" if current is None else "edited",
                actor=principal.subject,
                actor_name=principal.name,
                actor_role=principal.role.value,
                at=now,
                reason=None,
                before=snapshot(current) if current else None,
                after=snapshot(org),
            )
    return org, current is None


_ACTIONS = {Status.admitted: "reinstated", Status.suspended: "suspended", Status.exited: "exited"}


async def change_status(
    uow: UnitOfWork[OrganizationStore],
    principal: Principal,
    org_id: str,
    status: Status,
    *,
    reason: str | None,
    until: date | None,
) -> Organization:
    """暂停, 恢复, 退出 (final): audited with who, when and why; asking for the state it is in changes nothing."""
    now = utcnow()
    async with uow.begin(principal, lock=_lock(org_id)) as tx:
        current = await tx.store.organization(org_id, for_update=True)
        if current is None:
            raise _NOT_FOUND
        await _may_change(tx, principal, current, current.areas)
        org = domain.change_status(current, status, reason=reason, until=until, today=china_today(now))
        if org != current:
            await tx.store.save_organization(org, now)
            await tx.store.add_organization_audit(
                org_id,
                _ACTIONS[status],
                actor=principal.subject,
                actor_name=principal.name,
                actor_role=principal.role.value,
                at=now,
                reason=reason,
                before=snapshot(current),
                after=snapshot(org),
            )
    return org


# --- reading the registry --------------------------------------------------------------------------------


async def list_organizations(
    uow: UnitOfWork[OrganizationStore],
    principal: Principal,
    *,
    category: str | None,
    status: Status | None,
    station_id: str | None,
    limit: int,
    offset: int,
    flagged: bool | None = None,
    thresholds: domain.ReviewThresholds = domain.ReviewThresholds(),
) -> list[tuple[Organization, domain.Review | None]]:
    """Staff and supervisors: organizations serving a station of their scope; operations all; an org itself. Each
    with its review flag (none for an organization itself: the flag is the head's aid to a decision about it);
    `flagged` keeps those flagged (true) or not (false), paged after the flag is known."""
    if flagged is not None and principal.role is Role.org:
        raise _REVIEW_NOT_YOURS
    async with uow.begin(principal) as tx:
        if station_id is not None and principal.role is not Role.admin:
            await tx.scope(station_id)  # 404 for a station outside the caller's scope
        orgs = await tx.store.list_organizations(
            _scope(principal),
            principal.org or "",
            category=category,
            status=status.value if status else None,
            station_id=station_id,
            limit=None if flagged is not None else limit,  # the flag is not SQL's: page after filtering
            offset=0 if flagged is not None else offset,
        )
    if principal.role is Role.org:
        return [(o, None) for o in orgs]
    reviews = await _reviews(uow, [o.org_id for o in orgs], thresholds)
    listed = [(o, reviews[o.org_id]) for o in orgs]
    if flagged is not None:
        listed = [(o, r) for o, r in listed if r.flagged is flagged][offset : offset + limit]
    return listed


async def _reviews(
    uow: UnitOfWork[OrganizationStore], org_ids: list[str], thresholds: domain.ReviewThresholds
) -> dict[str, domain.Review]:
    """The review flag of each organization, from its record over the window up to today (China date)."""
    since = domain.window_start(china_today(utcnow()), thresholds.window_months)
    async with uow.begin() as tx:  # counts only, across every station it serves (see the module's note)
        records = await tx.store.windowed_records(org_ids, since)
    return {o: domain.review(records[o], thresholds, since) for o in org_ids}


async def _visible(tx: Tx[OrganizationStore], principal: Principal, org_id: str) -> Organization:
    org = await tx.store.visible_organization(org_id, _scope(principal), principal.org or "")
    if org is None:
        raise _NOT_FOUND
    return org


async def get_organization(
    uow: UnitOfWork[OrganizationStore],
    principal: Principal,
    org_id: str,
    thresholds: domain.ReviewThresholds = domain.ReviewThresholds(),
) -> tuple[Organization, Record, domain.Review | None]:
    """The profile (qualifications, agreement, areas, status), the running record and, for staff, supervisors and
    operations, the review flag."""
    async with uow.begin(principal) as tx:
        org = await _visible(tx, principal, org_id)
    # An organization reads its own complaints' figures only once the complainants have been answered (issue 10).
    answered_only = principal.role is Role.org
    async with uow.begin() as tx:  # counts only, across every station it serves (see the module's note)
        record = (await tx.store.organization_records([org_id], answered_only=answered_only))[org_id]
    if principal.role is Role.org:
        return org, record, None
    return org, record, (await _reviews(uow, [org_id], thresholds))[org_id]


async def organization_history(
    uow: UnitOfWork[OrganizationStore], principal: Principal, org_id: str, limit: int, offset: int
) -> list[dict]:
    async with uow.begin(principal) as tx:
        await _visible(tx, principal, org_id)
        return await tx.store.organization_history(org_id, limit, offset)


async def expiring(
    uow: UnitOfWork[OrganizationStore], principal: Principal, within_days: int, limit: int, offset: int
) -> list[dict]:
    """Qualifications valid today and agreements in force that end within `within_days` (China dates)."""
    today = china_today(utcnow())
    async with uow.begin(principal) as tx:
        rows = await tx.store.expiring_credentials(
            _scope(principal), principal.org or "", today, today + timedelta(days=within_days), limit, offset
        )
    return [{**r, "days_left": (r["valid_until"] - today).days} for r in rows]


# --- candidates for a demand -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidates:
    demand_id: UUID
    station_id: str
    round: int
    due_on: date
    previous_assignee: dict | None  # 重办: {kind, id, name} of the round before, flagged among the candidates
    categories: list[str]
    item_codes: list[str]
    suggested_route: str | None
    routes: list[dict]  # per item: code, label, handled_by
    candidates: list[tuple[Organization, Record]]  # best first
    not_eligible: list[tuple[Organization, DomainError]]  # serve the station and a category, but refused
    departments: list[dict]

    def previously(self, org_id: str) -> bool:
        """Whether the round before was assigned to this organization (重办: it may be sent back to it)."""
        p = self.previous_assignee or {}
        return p.get("kind") == "organization" and p.get("id") == org_id


async def candidates(uow: UnitOfWork[Store], principal: Principal, demand_id: UUID, due_on: date | None) -> Candidates:
    """The admitted organizations that may take the demand through its due date, ranked by running record.

    The due date is the one an assignment would get (`due_on` if given, else dispatch's default; in a
    re-handling round its re-handling deadline), so a listed candidate is one the assignment accepts. A
    re-handling is offered the same candidates as round 1, with the previous round's assignee named.
    """
    today = china_today(utcnow())
    async with uow.begin(principal) as tx:
        item = await tx.store.get_visible(demand_id, principal.db_scope, "")
        if item is None:
            raise _NO_DEMAND
        due_on = due_date(item, due_on, today, await tx.store.calendar_overrides())
        categories, item_codes = item.category_codes, item.item_codes
        wanted = list(dict.fromkeys([*categories, *(domain.item_category(c) for c in item_codes)]))
        eligible: list[Organization] = []
        refused: list[tuple[Organization, DomainError]] = []
        for org in await tx.store.organizations_serving(item.station_id):
            try:
                domain.check_assignable(
                    org, serves_station=True, categories=categories, item_codes=item_codes, due_on=due_on, today=today
                )
                eligible.append(org)
            except DomainError as refusal:
                if set(wanted) & set(org.categories):
                    refused.append((org, refusal))
        departments = await handling_departments(tx, item.station_id, wanted)
    async with uow.begin() as tx:  # counts only, across every station they serve (see the module's note)
        records = await tx.store.organization_records([o.org_id for o in eligible])
    return Candidates(
        demand_id=demand_id,
        station_id=item.station_id,
        round=item.round,
        due_on=due_on,
        previous_assignee=item.previous_assignee,
        categories=wanted,
        item_codes=item_codes,
        suggested_route=domain.suggested_route([i.get("handled_by") for i in item.items]),
        routes=[{"code": i["code"], "label": i.get("label"), "handled_by": i.get("handled_by")} for i in item.items],
        candidates=domain.rank([(o, records[o.org_id]) for o in eligible]),
        not_eligible=refused,
        departments=departments,
    )
