"""Dispatch rules (domain.md §5.2, §8): who handles a demand and by when, and every decision around it. Pure: no I/O.

A demand in the queue is `waiting` (never assigned, or its assignment was given back: 退单), `assigned`
(派单; the next assignment while assigned or after a return is a rematch, 改派; a referral to another
department, 转办, is an assignment too), `resolved`, or ended without resolution: `refused` (否定备案),
`merged` (并单) or `withdrawn` (撤回). Events that come from elsewhere (a resolution, a correction, a
withdrawal) are applied by comparing what they carry, never by their order of arrival:

- a correction replaces the form fields kept here only if it is newer than the one applied;
- a closing is terminal; of two closings the earlier one counts (as tracking and the archive judge it);
- a resolution of an older round changes nothing, and a closed demand stays closed;
- a reopening (重办, DemandReopened) moves a demand forward to its round, never back: one of an older round
  changes nothing, and so does one of the round the demand is already in beyond keeping its facts.

Re-handling (issue 10, 004 §6.5.2): a founded verification of a 不满意 rating sends the resolved demand back to
the head's queue as round r+1 (重办待派). It is assigned, returned and rematched as in round 1, with three
differences: every assignment of the round commits to the re-handling deadline fixed when it was reopened (not
the catalogue's limit); the head decides (a clerk does not keep it); and it is not refused or merged (a need the
station cannot meet is resolved with the reason). Assignment numbers run on across rounds. A re-handling has no
response deadline of its own: the response (响应) is the demand's first assignment, in round 1, and the round is
measured by its re-handling deadline alone. Only tracking reopens a demand; dispatch never does, so a demand
resolved in the final round stays resolved here.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import TypeVar
from uuid import UUID, uuid4

from shared.auth import Role
from shared.calendar import add_working_days
from shared.contracts import (
    CLOSINGS,
    Assigned,
    AssigneeKind,
    AssignmentReturned,
    Closing,
    DemandCorrected,
    DemandMerged,
    DemandRefused,
    DemandReopened,
    DemandSubmitted,
    Handler,
    HandlingMode,
    Referral,
)
from shared.contracts.envelope import Cause
from shared.errors import Forbidden, Invalid, InvalidTransition

C = TypeVar("C", bound=Closing)

OPEN = ("waiting", "assigned")
STATUSES = (*OPEN, "resolved", *(c.kind for c in CLOSINGS))
STATUS_LABELS = {"waiting": "待派单", "assigned": "办理中", "resolved": "已办结"} | {c.kind: c.label for c in CLOSINGS}
# The same statuses in a re-handling round (重办), as the head reads them in the queue.
REHANDLING_LABELS = {"waiting": "重办待派", "assigned": "重办中", "resolved": "重办已办结"}
# What the queue keeps of a closing (`QueueItem.closing`, shown as is): the contract's detail less what the
# item keeps in its own columns (status, closed_at).
_KEPT_ELSEWHERE = ("kind", "label", "closed_at")

# Which detail tables of the form concern an organization of which categories (need-to-know): intake's own
# mapping of tables to the items they go with (services/intake/demands/domain.py DETAIL_CATEGORIES), plus
# operator exams for training organizations, which prepare the operators for them. A table not listed here
# is shown to station staff only.
DETAIL_CATEGORIES: dict[str, frozenset[str]] = {
    "instruments": frozenset({"metrology"}),
    "special_equipment": frozenset({"special_equipment"}),
    "products": frozenset({"standardization", "testing", "certification", "quality_mgmt", "brand"}),
    "operator_exams": frozenset({"special_equipment", "training"}),
}


@dataclass(frozen=True)
class QueueItem:
    demand_id: UUID
    station_id: str
    tracking_no: str
    enterprise_name: str
    categories: list[dict]
    description: str
    channel: str
    first_responder: str
    time_limit_days: int
    submitted_at: datetime
    correlation_id: UUID
    status: str = "waiting"
    round: int = 1
    assignment_count: int = 0
    green_channel: str | None = None
    first_responder_id: str | None = None
    expected_on: date | None = None
    submitted_event_id: UUID | None = None  # the DemandSubmitted every assignment answers (and names as its cause)
    # The rest of the form, for the assignee's brief (服务所需信息) and for merging: the catalogue items (with
    # remarks and materials), the enterprise's credit code, contact, address and the detail tables.
    items: list[dict] = field(default_factory=list)
    enterprise_credit_code: str | None = None  # None for demands received before it was kept: never merged
    contact: dict | None = None
    address: str | None = None
    details: dict = field(default_factory=dict)
    corrected_at: datetime | None = None  # the correction (更正登记) whose form fields these are
    correction_id: UUID | None = None
    # The latest assignment given back (退单): while it is the current one, the demand waits for a rematch.
    returned_no: int = 0
    returned_at: datetime | None = None
    # How it ended without a resolution (refused / merged / withdrawn): when, by which event, the details.
    closed_at: datetime | None = None
    closing_id: UUID | None = None
    closing: dict | None = None
    # 重办: the reopening (DemandReopened) that opened the current round, when round > 1. `due_on` is the round's
    # re-handling deadline, to which every assignment of the round commits; the round's assignments answer the
    # reopening (their cause). `previous_assignee` {kind, id, name}: who had it in the round before.
    due_on: date | None = None
    reopened_at: datetime | None = None
    reopening_id: UUID | None = None
    reopening: dict | None = None  # reason, reopened_by, verification_id, assignment_count
    previous_assignee: dict | None = None

    @property
    def cause(self) -> Cause:
        """What an Assigned needs of the submission it answers, kept in the queue row."""
        return Cause(self.submitted_event_id, self.correlation_id, self.station_id, self.demand_id, self.tracking_no)

    @property
    def round_cause(self) -> Cause:
        """What the current round's assignments answer: the reopening in a re-handling round, else the submission."""
        if self.rehandling and self.reopening_id is not None:
            return Cause(self.reopening_id, self.correlation_id, self.station_id, self.demand_id, self.tracking_no)
        return self.cause

    @property
    def rehandling(self) -> bool:
        """In a re-handling round (重办): reopened after a founded verification of a 不满意 rating."""
        return self.round > 1

    @property
    def status_label(self) -> str:
        return (REHANDLING_LABELS if self.rehandling else STATUS_LABELS).get(self.status) or STATUS_LABELS[self.status]

    @property
    def returned(self) -> bool:
        """Given back and waiting for the head to rematch it (flagged at the top of the queue)."""
        return self.status == "waiting" and 0 < self.returned_no == self.assignment_count

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def category_codes(self) -> list[str]:
        return list(dict.fromkeys(c["code"] for c in self.categories))

    @property
    def item_codes(self) -> list[str]:
        return [i["code"] for i in self.items]


@dataclass(frozen=True)
class Assignment:
    demand_id: UUID
    assignment_no: int
    round: int
    assignee_kind: AssigneeKind
    assignee_id: str
    assignee_name: str
    handling_mode: HandlingMode
    due_on: date
    assigned_by: str
    note: str | None
    assigned_at: datetime
    department_id: str | None = None  # 牵头科室 when the lead is station staff
    department: str | None = None
    co_handlers: list[dict] = field(default_factory=list)  # 协办: Handler as JSON
    referral: dict | None = None  # 转办: Referral as JSON
    event_id: UUID | None = None  # its Assigned (None for assignments made before it was kept)
    returned_at: datetime | None = None  # 退单
    returned_by: str | None = None
    return_reason: str | None = None


def receive(event: DemandSubmitted, resolved_round: int | None = None) -> QueueItem:
    item = QueueItem(
        demand_id=event.demand_id,
        station_id=event.station_id,
        tracking_no=event.tracking_no,
        **event.summary(),
        correlation_id=event.correlation_id,
        green_channel=event.green_channel.value if event.green_channel else None,
        first_responder_id=event.first_responder_id,
        expected_on=event.expected_on,
        submitted_event_id=event.event_id,
        items=[i.model_dump(mode="json") for i in event.items],
        enterprise_credit_code=event.enterprise.credit_code,
        contact=event.contact.model_dump(mode="json"),
        address=event.address,
        details=dict(event.details),
    )
    return replace(item, status="resolved", round=resolved_round) if resolved_round else item


# --- events from elsewhere ---------------------------------------------------------------------------------


def correct(item: QueueItem, event: DemandCorrected) -> QueueItem:
    """更正登记: the form fields kept here, from the newest correction (by when it was made), in any order."""
    if item.corrected_at is not None and (event.corrected_at, str(event.event_id)) <= (
        item.corrected_at,
        str(item.correction_id),
    ):
        return item
    return replace(
        item,
        categories=[c.model_dump(mode="json") for c in event.categories],
        items=[i.model_dump(mode="json") for i in event.items],
        description=event.description,
        time_limit_days=event.time_limit_days,
        expected_on=event.expected_on,
        contact=event.contact.model_dump(mode="json"),
        address=event.address,
        details=dict(event.details),
        corrected_at=event.corrected_at,
        correction_id=event.event_id,
    )


def close(item: QueueItem, event: Closing) -> QueueItem:
    """Refused, merged or withdrawn: terminal; of two closings the earlier one counts (Closing.precedes)."""
    if not event.precedes(item.closed_at, item.closing_id):
        return item
    return replace(
        item,
        status=event.kind,
        closed_at=event.closed_at,
        closing_id=event.event_id,
        closing={k: v for k, v in event.detail().items() if k not in _KEPT_ELSEWHERE},
    )


def reopen(item: QueueItem, event: DemandReopened, current: Assignment | None = None) -> QueueItem:
    """重办: the demand waits in the head's queue again as `event.round`, with the re-handling deadline and whom
    the round before was assigned to (the event's, else `current`, dispatch's own current assignment).

    Rounds only move forward: a reopening of an older round changes nothing; one of the round the demand is
    already in (its resolution overtook its reopening) keeps the round's facts and leaves the status alone; of two
    reopenings of one round the earlier counts, whatever the order. A closing is terminal: nothing reopens it.
    Assignment numbers run on: the round's first assignment follows every assignment made before, dispatch's or
    those the event counts, whichever is more.
    """
    if event.round < item.round or item.closed_at is not None:
        return item
    if (
        event.round == item.round
        and item.reopening_id is not None
        and (event.reopened_at, str(event.event_id)) >= (item.reopened_at, str(item.reopening_id))
    ):
        return item
    previous = None
    if event.previous_assignee_id and event.previous_assignee_kind:
        previous = {
            "kind": event.previous_assignee_kind,
            "id": event.previous_assignee_id,
            "name": event.previous_assignee_name or event.previous_assignee_id,
        }
    elif current is not None:
        previous = {"kind": current.assignee_kind.value, "id": current.assignee_id, "name": current.assignee_name}
    facts = dict(
        due_on=event.due_on,
        reopened_at=event.reopened_at,
        reopening_id=event.event_id,
        reopening={
            "reason": event.reason,
            "reopened_by": event.reopened_by,
            "verification_id": str(event.verification_id),
            "assignment_count": event.assignment_count,
        },
        previous_assignee=previous,
    )
    if event.round == item.round:
        return replace(item, **facts)
    return replace(
        item,
        **facts,
        status="waiting",
        round=event.round,
        assignment_count=max(item.assignment_count, event.assignment_count),
    )


def resolve(item: QueueItem, round_: int) -> QueueItem:
    if round_ < item.round:
        return item  # a late Resolved of an earlier round changes nothing
    if item.closed_at is not None:
        return replace(item, round=round_)  # a closing is terminal (the archive seals it by its closing)
    return replace(item, status="resolved", round=round_)


# --- dispatch decisions ------------------------------------------------------------------------------------


def check_open(item: QueueItem, action_zh: str, action_en: str) -> None:
    """409 unless the demand is waiting or assigned: a resolved or ended demand takes no more decisions."""
    if item.is_open:
        return
    raise InvalidTransition(
        f"需求状态为「{STATUS_LABELS[item.status]}」，不能再{action_zh}",
        f"the demand is {item.status}; it can no longer be {action_en}",
    )


def check_not_rehandling(item: QueueItem, action_zh: str, action_en: str) -> None:
    """A re-handling answers a founded verification: it is assigned and resolved (a need the station cannot meet
    is resolved with the reason, 004 §6.4.2), never ended by refusal or merge."""
    if item.rehandling:
        raise InvalidTransition(
            f"重办中的需求不能{action_zh}：请派单重办，确实无法满足的，办结时说明原因",
            f"a demand being re-handled cannot be {action_en}; assign it, and explain in the resolution "
            "if the need cannot be met",
        )


def check_clerk_may_keep(item: QueueItem, kind: AssigneeKind, clerk_id: str) -> None:
    """首问负责: a clerk may keep a waiting demand they received; everything else is the head's to decide."""
    if kind is not AssigneeKind.first_responder:
        raise Forbidden("只有站长可以派单、转办或改派", "only the station head dispatches to others")
    if item.rehandling:
        raise Forbidden("重办需求由站长派单", "only the station head dispatches a re-handling")
    if item.status != "waiting":
        raise Forbidden("已派出的需求只有站长可以改派", "only the station head re-dispatches a demand")
    if item.first_responder_id != clerk_id:
        raise Forbidden("只有首位工作人员本人可以自行承办", "only the first responder may keep the demand")


def due_date(
    item: QueueItem, requested: date | None, today: date, overrides: Mapping[date, bool] | None = None
) -> date:
    """The requested due date (not in the past), else the date promised in the acceptance notice, unless that
    has passed (a rematch), else the committed working days from today with the calendar corrections.

    In a re-handling round the round's deadline was fixed when it was reopened (tracking's clock, the station's
    re-handling limit): every assignment of the round, first, rematch or referral, commits to it, and a request
    for another date is refused.
    """
    if item.due_on is not None:
        if requested is not None and requested != item.due_on:
            raise Invalid(
                f"重办需求的办结期限为重办期限 {item.due_on.isoformat()}，不能另行指定",
                f"a re-handling is due by its re-handling deadline {item.due_on.isoformat()}; it cannot be changed",
                field="due_on",
            )
        return item.due_on
    if requested is not None:
        if requested < today:
            raise Invalid("办结期限不能早于今天", "due_on cannot be in the past", field="due_on")
        return requested
    if item.expected_on and item.expected_on >= today:
        return item.expected_on
    return add_working_days(today, item.time_limit_days, overrides)


def counts_working_days(item: QueueItem, requested: date | None, today: date) -> bool:
    """Whether due_date counts working days from today, the one case that needs the calendar corrections: no
    re-handling deadline, no date requested, and the acceptance notice's date (if any) has passed."""
    return item.due_on is None and requested is None and not (item.expected_on and item.expected_on >= today)


def assign(
    item: QueueItem,
    *,
    kind: AssigneeKind,
    assignee_id: str | None,
    assignee_name: str | None,
    mode: HandlingMode,
    due_on: date | None,
    assigned_by: str,
    note: str | None,
    now: datetime,
    today: date,
    overrides: Mapping[date, bool] | None = None,
    department_id: str | None = None,
    department: str | None = None,
    co_handlers: Iterable[Handler] = (),
    referral: Referral | None = None,
) -> tuple[QueueItem, Assignment]:
    """First dispatch, rematch (改派) or referral (转办); refused once the demand is resolved or ended."""
    check_open(item, "派单", "assigned")
    if kind is AssigneeKind.first_responder:
        # 首问负责: the clerk who received the demand keeps it.
        assignee_id = item.first_responder_id or item.first_responder
        assignee_name = item.first_responder
    if not assignee_id or not assignee_name:
        raise Invalid("请指定承办人或承办单位", "assignee_id and assignee_name are required", field="assignee_id")
    assignment = Assignment(
        demand_id=item.demand_id,
        assignment_no=item.assignment_count + 1,
        round=item.round,
        assignee_kind=kind,
        assignee_id=assignee_id,
        assignee_name=assignee_name,
        handling_mode=mode,
        due_on=due_date(item, due_on, today, overrides),
        assigned_by=assigned_by,
        note=note,
        assigned_at=now,
        department_id=department_id,
        department=department,
        co_handlers=[h.model_dump(mode="json") for h in co_handlers],
        referral=referral.model_dump(mode="json") if referral else None,
        event_id=uuid4(),
    )
    return replace(item, status="assigned", assignment_count=assignment.assignment_no), assignment


def assigned_event(item: QueueItem, a: Assignment) -> Assigned:
    """First dispatch, rematch and referral alike answer the submission (in a re-handling round, its reopening):
    same correlation, caused by it."""
    return item.round_cause.caused(
        Assigned,
        event_id=a.event_id or uuid4(),
        occurred_at=a.assigned_at,
        round=a.round,
        assignment_no=a.assignment_no,
        assignee_kind=a.assignee_kind,
        assignee_id=a.assignee_id,
        assignee_name=a.assignee_name,
        handling_mode=a.handling_mode,
        due_on=a.due_on,
        assigned_by=a.assigned_by,
        note=a.note,
        department=a.department,
        co_handlers=[Handler.model_validate(h) for h in a.co_handlers],
        referral=Referral.model_validate(a.referral) if a.referral else None,
    )


def refer(
    item: QueueItem,
    *,
    referral: Referral,
    due_on: date | None,
    assigned_by: str,
    now: datetime,
    today: date,
    overrides: Mapping[date, bool] | None = None,
) -> tuple[QueueItem, Assignment]:
    """转办: an assignment to another government department, which the station keeps following (协调办理);
    the demand stays open until it is resolved."""
    check_open(item, "转办", "referred")
    return assign(
        item,
        kind=AssigneeKind.department,
        assignee_id=referral.department,
        assignee_name=referral.department,
        mode=HandlingMode.coordinated,
        due_on=due_on,
        assigned_by=assigned_by,
        note=referral.reason,
        now=now,
        today=today,
        overrides=overrides,
        referral=referral,
    )


# --- return (退单) ------------------------------------------------------------------------------------------

LATE_RETURN = InvalidTransition(
    "该派单已退回或已改派，不是当前派单，不能退单",
    "that assignment is no longer the current one (returned or rematched); it cannot be returned",
)
NOTHING_TO_RETURN = InvalidTransition("该需求尚未派单，没有可退回的派单", "the demand has not been assigned yet")


def give_back(
    item: QueueItem,
    assignments: list[Assignment],
    *,
    role: Role,
    subject: str,
    org: str | None,
    reason: str,
    by: str,
    now: datetime,
) -> tuple[QueueItem, Assignment, AssignmentReturned]:
    """退单 by the current assignee: the organization holding it, the staff member who is its responsible
    person or first responder, or the head on behalf of a department, a referral or the station's staff.

    The demand waits again, flagged returned, at the top of the head's queue. A return of an assignment
    that is no longer current (already returned, rematched) is 409; of someone else's, 403.
    """
    check_open(item, "退单", "returned")
    current = current_assignment(item, assignments)
    if item.status != "assigned" or current is None or current.returned_at is not None:
        current = None  # waiting: never assigned, or the current assignment was already given back
    _check_may_return(current, assignments, role, subject, org)
    assert current is not None
    returned = replace(current, returned_at=now, returned_by=by, return_reason=reason)
    cause = Cause(
        current.event_id or item.submitted_event_id, item.correlation_id, item.station_id, item.demand_id,
        item.tracking_no,
    )  # fmt: skip
    event = cause.caused(
        AssignmentReturned,
        occurred_at=now,
        round=current.round,
        assignment_no=current.assignment_no,
        assignee_kind=current.assignee_kind,
        assignee_id=current.assignee_id,
        assignee_name=current.assignee_name,
        reason=reason,
        returned_by=by,
        returned_at=now,
    )
    return replace(item, status="waiting", returned_no=current.assignment_no, returned_at=now), returned, event


def _check_may_return(
    current: Assignment | None, assignments: list[Assignment], role: Role, subject: str, org: str | None
) -> None:
    if current is not None and _is_assignee(current, role, subject, org):
        return
    if current is not None and role is Role.head:
        if current.assignee_kind is AssigneeKind.organization:
            raise Forbidden(
                "服务机构的派单由该机构自行退单；站长可直接改派",
                "an organization returns its own assignment; the head may rematch it instead",
            )
        return  # on behalf of a department (referral or 牵头科室) or of the station's staff
    if role is Role.head or any(_is_assignee(a, role, subject, org) for a in assignments):
        # The caller had this demand once (or heads it): the assignment they mean is no longer current.
        raise LATE_RETURN if assignments else NOTHING_TO_RETURN
    raise Forbidden("只有当前承办方可以退单", "only the current assignee may return the assignment")


def _is_assignee(a: Assignment, role: Role, subject: str, org: str | None) -> bool:
    if role is Role.org:
        return a.assignee_kind is AssigneeKind.organization and bool(org) and a.assignee_id == org
    # Station staff are assignees by their account: the first responder keeping it, or the responsible person.
    return a.assignee_kind in (AssigneeKind.first_responder, AssigneeKind.staff) and a.assignee_id == subject


# --- refusal and merge: the demand ends -------------------------------------------------------------------


def refuse(item: QueueItem, *, reason: str, basis: str, by: str, now: datetime) -> tuple[QueueItem, DemandRefused]:
    """否定备案 (002 §7.2): the station cannot or may not serve the demand; the reason and the basis recorded."""
    check_open(item, "否定备案", "refused")
    check_not_rehandling(item, "否定备案", "refused")
    return _closed(item, DemandRefused, reason=reason, by=by, now=now, basis=basis)


def merge(
    item: QueueItem, original: QueueItem, *, reason: str, by: str, now: datetime
) -> tuple[QueueItem, DemandMerged]:
    """并单: a repeated demand of the same enterprise merged into the open original; its number is not reused."""
    if original.demand_id == item.demand_id:
        raise Invalid("不能并入需求自身", "a demand cannot be merged into itself", field="into")
    check_open(item, "并单", "merged")
    check_not_rehandling(item, "并单", "merged")
    if not original.is_open:
        raise InvalidTransition(
            f"原需求（{original.tracking_no}）状态为「{STATUS_LABELS[original.status]}」，只能并入待派单或办理中的需求",
            f"the original ({original.tracking_no}) is {original.status}; merge only into a waiting or assigned demand",
        )
    if item.enterprise_credit_code is None or original.enterprise_credit_code is None:
        raise InvalidTransition(
            "该需求登记时派单服务尚未记录企业统一社会信用代码，无法确认为同一企业，不能并单",
            "one of the demands was received before dispatch kept the enterprise's credit code; "
            "the same enterprise cannot be confirmed, so they cannot be merged",
        )
    if item.enterprise_credit_code != original.enterprise_credit_code:
        raise InvalidTransition(
            "两项需求不属于同一企业，不能并单", "the two demands are of different enterprises; they cannot be merged"
        )
    return _closed(
        item,
        DemandMerged,
        reason=reason,
        by=by,
        now=now,
        merged_into=original.demand_id,
        merged_into_tracking_no=original.tracking_no,
    )


def _closed(
    item: QueueItem, event_type: type[C], *, reason: str, by: str, now: datetime, **fields
) -> tuple[QueueItem, C]:
    """The demand ended by the head, and the event saying so: it answers the submission and counts the assignments."""
    event = item.cause.caused(
        event_type,
        occurred_at=now,
        round=item.round,
        assignment_count=item.assignment_count,
        reason=reason,
        closed_by=by,
        closed_at=now,
        **fields,
    )
    return close(item, event), event


# --- what the assignee sees (服务所需信息) -------------------------------------------------------------------


def current_assignment(item: QueueItem, assignments: list[Assignment]) -> Assignment | None:
    found = [a for a in assignments if a.assignment_no == item.assignment_count]
    return found[0] if found else None


def org_may_read_brief(item: QueueItem, current: Assignment | None, org: str) -> bool:
    """Need-to-know (domain.md §4): only while the demand is being handled and its current assignment is the
    organization's, not given back. Rematched away, returned, resolved or ended: no more."""
    return (
        item.status == "assigned"
        and current is not None
        and current.returned_at is None
        and current.assignee_kind is AssigneeKind.organization
        and current.assignee_id == org
    )


def details_for(details: Mapping[str, object], categories: Iterable[str] | None) -> dict:
    """The detail tables that concern these categories (DETAIL_CATEGORIES); None = all of them (station staff)."""
    if categories is None:
        return dict(details)
    wanted = set(categories)
    return {k: v for k, v in details.items() if DETAIL_CATEGORIES.get(k, frozenset()) & wanted}


def org_assignment_state(returned_at: datetime | None, demand_status: str | None) -> str:
    """An organization's assignment as it stands: `demand_status` is the demand's while the assignment is its
    current one (None once rematched away or given back)."""
    if returned_at is not None:
        return "returned"
    if demand_status == "assigned":
        return "open"
    if demand_status == "resolved":
        return "resolved"
    return "ended"
