"""Demand rules: the demand as registered (一表登记), its tracking number, its event, its progress. Pure.

After registration intake follows the demand only as far as the enterprise's status link needs:
facts from the other services' events (the highest assignment, the highest one given back, how the
demand ended), kept so that events in any order give the same answer, and the stage the enterprise
is shown derived from them (`stage`, `stage_label`), and what it is told of the clock: a pause
(挂起, the time not counted, 行政许可法 §45 pattern) and an approved extension (延期, §42 pattern),
each with its reason (`pause_now`, `due_on`, `clock_label`).

After a 不满意 rating (004 §6.5.2): a founded verification (核实) reopens the demand as round 2 (重办) with its own
deadline, so the enterprise is told 重办中, the round and that deadline, and the second round's assignment, resolution
and rating as in the first; an unfounded verification, or one that could not reach the enterprise, is told as verified,
the demand soon archived. Progress is per round (`progress_round`): an event of a later round moves it on even from
"rated", one of an earlier round arriving late changes nothing.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from uuid import UUID, uuid4

from shared.calendar import CHINA, add_working_days
from shared.contracts import (
    FINAL_ROUND,
    Archived,
    Assigned,
    AssigneeKind,
    AssignmentReturned,
    CategoryRef,
    Channel,
    Closing,
    Contact,
    DemandReopened,
    DemandSubmitted,
    Enterprise,
    EnterpriseProfile,
    Finding,
    GreenChannel,
    ItemRef,
    PauseReason,
    RatingVerified,
    printed_tracking_no,
)
from shared.contracts.envelope import Cause
from shared.errors import Invalid

from ..catalogue.domain import CatalogueEntry, Category

# Within a round; a round after the first begins "reopened" (重办) where the first began "submitted".
PROGRESS = ("submitted", "reopened", "assigned", "resolved", "rated", "archived")
PROGRESS_LABELS = {
    "submitted": "已受理",
    "reopened": "重办中",
    "assigned": "办理中",
    "resolved": "已办结，待评价",
    "rated": "已评价",
    "archived": "已办结归档",
}
# What the enterprise is shown (`stage`): the line above plus what can happen around it.
STAGES = (
    "submitted",
    "assigned",
    "returned",  # 退单: the assignee gave it back, the head is matching another
    "rematched",  # 改派: a later assignment than the first
    "referred",  # 转办: another government department, the station follows it
    "reopened",  # 重办: a 不满意 rating verified founded, handled again as the next round, to its own deadline
    "resolved",
    "rated",
    "verified",  # a 不满意 rating verified unfounded, or the enterprise unreachable: to be archived
    "refused",  # 否定备案
    "merged",  # 并单
    "withdrawn",  # 撤回
    "archived",
)

# Which detail tables of the forms (000 附录D, 002 附录A) belong to which categories.
DETAIL_CATEGORIES = {
    "products": {"standardization", "testing", "certification", "quality_mgmt", "brand"},
    "instruments": {"metrology"},
    "special_equipment": {"special_equipment"},
    "operator_exams": {"special_equipment"},
}


@dataclass(frozen=True)
class DemandItem:
    position: int
    item_code: str
    item_version: int
    override_scope: str | None
    category: str
    label: str
    time_limit_days: int
    materials: tuple[str, ...]
    handled_by: str = "station"
    materials_received: tuple[str, ...] = ()
    remarks: str | None = None

    @property
    def materials_needed(self) -> tuple[str, ...]:
        return tuple(m for m in self.materials if m not in self.materials_received)


@dataclass(frozen=True)
class Handling:
    """What intake knows of the demand's handling, from dispatch's events: facts that only grow.

    A rematch is an assignment with a higher number; a late event with a lower one changes nothing.
    """

    assignment_no: int = 0  # the highest assignment seen
    assignee_kind: str | None = None  # of that assignment
    assignee_name: str | None = None
    referred_to: str | None = None  # the department, when that assignment is a referral (转办)
    returned_no: int = 0  # the highest assignment given back (退单)
    round: int = 1

    @property
    def count(self) -> int:
        """How many assignments intake knows were made: a returned one was made too."""
        return max(self.assignment_no, self.returned_no)


@dataclass(frozen=True)
class Closure:
    """How a demand ended without being resolved: terminal, and of two closings the earlier (Closing.precedes)."""

    kind: str  # refused | merged | withdrawn
    reason: str
    closed_by: str
    closed_at: datetime
    basis: str | None = None  # 否定备案: the legal or policy basis
    merged_into: UUID | None = None
    merged_into_tracking_no: str | None = None
    by_enterprise: bool = False
    event_id: UUID | None = None  # the closing's; None only for a demand closed before intake kept it
    # The station of the demand merged into, for its printed number; None: the merged demand's own station.
    merged_into_station_id: str | None = None

    @classmethod
    def of(cls, event: Closing, merged_into_station_id: str | None = None) -> "Closure":
        detail = event.detail(mode="python")
        return cls(
            event_id=event.event_id,
            merged_into_station_id=merged_into_station_id,
            **{f.name: detail[f.name] for f in fields(cls) if f.name in detail},
        )


@dataclass(frozen=True)
class Correction:
    """One audited correction of the form before dispatch: who, when, why, and the changed fields."""

    correction_id: UUID
    corrected_by: str
    corrected_by_id: str
    corrected_at: datetime
    reason: str
    changed: tuple[str, ...]
    before: dict
    after: dict


@dataclass(frozen=True)
class Pause:
    """挂起 as the enterprise is told it, from CasePaused and CaseResumed in either order (keyed by the pause).

    A resumption seen before its pause has no reason yet; the pause fills it in. No staff names.
    """

    pause_id: UUID
    assignment_no: int | None = None  # the assignment paused; None until CasePaused is seen
    reason_kind: str | None = None  # PauseReason
    reason: str | None = None
    paused_at: datetime | None = None
    resumed_at: datetime | None = None
    paused_working_days: int | None = None
    handling_due_on: date | None = None  # the deadline after the move, as tracking computed it

    @property
    def reason_label(self) -> str | None:
        return PauseReason(self.reason_kind).label if self.reason_kind else None


@dataclass(frozen=True)
class Extension:
    """An approved 延期: the new date and the request's reason, which the enterprise is told (a refused one is not)."""

    extension_id: UUID
    reason: str
    due_on: date  # the deadline before
    new_due_on: date  # the deadline now
    decided_at: datetime
    assignment_no: int | None = None  # the assignment it was asked under; None if decided before events named it


@dataclass(frozen=True)
class Reopening:
    """重办 as the enterprise is told it (DemandReopened): the round, when, and the re-handling deadline.

    The reason and who reopened it stay in the station's record; `assignment_count` (assignments made before the
    reopening, those of earlier rounds) tells which pauses and extensions belong to the new round.
    """

    round: int
    reopened_at: datetime
    due_on: date
    assignment_count: int


@dataclass(frozen=True)
class Verification:
    """核实 of a 不满意 rating as the enterprise is told it: which round's rating, what was found, when (no reason or
    names: those are the station's record)."""

    round: int
    finding: str  # shared.contracts.Finding
    verified_at: datetime

    @property
    def finding_label(self) -> str:
        return Finding(self.finding).label

    @property
    def conclusive(self) -> bool:
        """Unfounded or unreachable: nothing to re-handle, the demand goes to the archive."""
        return self.finding != Finding.founded


@dataclass(frozen=True)
class Demand:
    demand_id: UUID
    station_id: str
    tracking_no: str
    enterprise_name: str
    credit_code: str
    contact_name: str
    contact_phone: str
    categories: tuple[Category, ...]
    description: str
    channel: Channel
    first_responder: str
    time_limit_days: int
    submitted_at: datetime
    correlation_id: UUID
    status: str = "open"
    archive_no: str | None = None
    archived_at: datetime | None = None
    credit_code_flag: str | None = None
    received_at: datetime | None = None
    green_channel: GreenChannel | None = None
    green_channel_reason: str | None = None
    details: dict = field(default_factory=dict)
    visit_id: UUID | None = None
    possible_duplicate_of: UUID | None = None
    expected_on: date | None = None
    progress: str = "submitted"
    first_responder_id: str | None = None
    items: tuple[DemandItem, ...] = ()
    address: str | None = None  # the enterprise's, from its dossier at submission
    submitted_event_id: UUID | None = None  # None only for demands registered before it was kept
    handling: Handling = Handling()
    closure: Closure | None = None
    corrected_at: datetime | None = None
    corrections: tuple[Correction, ...] = ()  # loaded for one demand's own view only
    pauses: tuple[Pause, ...] = ()  # loaded for the status link only
    extensions: tuple[Extension, ...] = ()  # approved ones; loaded for the status link only
    progress_round: int = 1  # the round `progress` is of (2 after a re-handling)
    reopening: Reopening | None = None  # the latest round reopened (重办)
    verification: Verification | None = None  # the latest rating verified (核实)

    @property
    def printed_tracking_no(self) -> str:
        """The tracking number as printed (notice, status link): the station's code first, unique across the city."""
        return printed_tracking_no(self.station_id, self.tracking_no)

    @property
    def origin(self) -> Cause:
        """The submission, which the demand's later events from intake answer (same correlation)."""
        # A demand registered before the submission's id was kept names no cause (causation_id None).
        return Cause(self.submitted_event_id, self.correlation_id, self.station_id, self.demand_id, self.tracking_no)  # type: ignore[arg-type]


def numbering_year(submitted_at: datetime) -> int:
    """The year of the tracking number: China's calendar year (New Year's night UTC is already next year here)."""
    return submitted_at.astimezone(CHINA).year


def tracking_no(year: int, serial: int) -> str:
    """跟踪单号 "年代号+流水号" (004 附录B), e.g. 2026-000137."""
    return f"{year:04d}-{serial:06d}"


def pick_items(
    requested: list[tuple[str, str | None, list[str]]], entries: dict[str, CatalogueEntry]
) -> tuple[DemandItem, ...]:
    """(code, remarks, materials already received) per requested item → the demand's items, in order."""
    unknown = [code for code, _, _ in requested if code not in entries]
    if unknown:
        raise Invalid(
            f"未知的服务项目：{'、'.join(unknown)}", f"unknown catalogue item: {', '.join(unknown)}", field="items"
        )
    codes = [code for code, _, _ in requested]
    if len(set(codes)) != len(codes):
        raise Invalid("同一服务项目不能重复填写", "a catalogue item is listed twice", field="items")
    items = []
    for position, (code, remarks, received) in enumerate(requested, start=1):
        entry = entries[code]
        unknown_materials = [m for m in received if m not in entry.materials]
        if unknown_materials:
            raise Invalid(
                f"「{entry.item.label}」不需要这些材料：{'、'.join(unknown_materials)}",
                f"materials not asked for by {code}: {', '.join(unknown_materials)}",
                field=f"items.{position - 1}.materials_received",
            )
        items.append(
            DemandItem(
                position=position,
                item_code=code,
                item_version=entry.item.version,
                override_scope=entry.override.scope if entry.override else None,
                category=entry.item.category,
                label=entry.item.label,
                time_limit_days=entry.time_limit_days,
                materials=entry.materials,
                handled_by=entry.item.handled_by,
                materials_received=tuple(received),
                remarks=remarks,
            )
        )
    return tuple(items)


def check_details(details: dict, items: tuple[DemandItem, ...]) -> None:
    categories = {i.category for i in items}
    for table, rows in details.items():
        if rows and not DETAIL_CATEGORIES[table] & categories:
            raise Invalid(
                "该明细表与所选服务项目无关",
                f"{table} does not belong to the chosen catalogue items",
                field=f"details.{table}",
            )


def categories_of(items: tuple[DemandItem, ...], category_labels: Mapping[str, str]) -> tuple[Category, ...]:
    """The demand's categories in the order of its items, each with the longest limit of its items."""
    return tuple(
        Category(
            code=c, label=category_labels[c], time_limit_days=max(i.time_limit_days for i in items if i.category == c)
        )
        for c in dict.fromkeys(i.category for i in items)
    )


def expected_on(submitted_at: datetime, time_limit_days: int, workday_overrides: Mapping[date, bool]) -> date:
    """The completion date the notice promises: working days counted from the China date of submission."""
    return add_working_days(submitted_at.astimezone(CHINA).date(), time_limit_days, workday_overrides)


def check_green_channel(green_channel: GreenChannel | None, reason: str | None) -> None:
    if green_channel is not None and not reason:
        raise Invalid(
            "申请绿色通道须说明理由", "a green-channel request needs its reason", field="green_channel_reason"
        )


def new_demand(
    *,
    demand_id: UUID,
    station_id: str,
    serial: int,
    submitted_at: datetime,
    received_at: datetime | None,
    enterprise_name: str,
    credit_code: str,
    credit_code_flag: str | None,
    contact_name: str,
    contact_phone: str,
    items: tuple[DemandItem, ...],
    category_labels: dict[str, str],
    description: str,
    channel: Channel,
    first_responder: str,
    first_responder_id: str | None,
    green_channel: GreenChannel | None,
    green_channel_reason: str | None,
    details: dict,
    visit_id: UUID | None,
    possible_duplicate_of: UUID | None,
    correlation_id: UUID,
    workday_overrides: dict[date, bool],
    address: str | None = None,
    submitted_event_id: UUID | None = None,
) -> Demand:
    check_green_channel(green_channel, green_channel_reason)
    check_details(details, items)
    # A demand naming several items is promised the longest of their limits.
    time_limit = max(i.time_limit_days for i in items)
    return Demand(
        demand_id=demand_id,
        station_id=station_id,
        tracking_no=tracking_no(numbering_year(submitted_at), serial),
        enterprise_name=enterprise_name,
        credit_code=credit_code,
        credit_code_flag=credit_code_flag,
        contact_name=contact_name,
        contact_phone=contact_phone,
        categories=categories_of(items, category_labels),
        description=description,
        channel=channel,
        first_responder=first_responder,
        first_responder_id=first_responder_id,
        time_limit_days=time_limit,
        submitted_at=submitted_at,
        received_at=received_at or submitted_at,
        correlation_id=correlation_id,
        green_channel=green_channel,
        green_channel_reason=green_channel_reason,
        details=details,
        visit_id=visit_id,
        possible_duplicate_of=possible_duplicate_of,
        items=items,
        expected_on=expected_on(submitted_at, time_limit, workday_overrides),
        address=address,
        submitted_event_id=submitted_event_id or uuid4(),
    )


def item_ref(i: DemandItem) -> ItemRef:
    """An item as the other services learn it: the catalogue entry in force, and what the form says of it."""
    return ItemRef(
        code=i.item_code,
        version=i.item_version,
        category=i.category,
        label=i.label,
        time_limit_days=i.time_limit_days,
        handled_by=i.handled_by,
        remarks=i.remarks,
        materials=list(i.materials),
        materials_received=list(i.materials_received),
    )


def submitted_event(demand: Demand, profile: EnterpriseProfile | None = None) -> DemandSubmitted:
    """The whole form: the others keep what they need of it (the assignee sees contact, address, items, details).

    `profile`: where the station's enterprise dossier placed the enterprise at submission (chain, town, park), which
    the archive's books group by."""
    return DemandSubmitted(
        event_id=demand.submitted_event_id or uuid4(),
        correlation_id=demand.correlation_id,
        station_id=demand.station_id,
        demand_id=demand.demand_id,
        tracking_no=demand.tracking_no,
        enterprise=Enterprise(name=demand.enterprise_name, credit_code=demand.credit_code),
        contact=Contact(name=demand.contact_name, phone=demand.contact_phone),
        categories=[CategoryRef(code=c.code, label=c.label) for c in demand.categories],
        description=demand.description,
        channel=demand.channel,
        first_responder=demand.first_responder,
        submitted_at=demand.submitted_at,
        time_limit_days=demand.time_limit_days,
        items=[item_ref(i) for i in demand.items],
        green_channel=demand.green_channel,
        possible_duplicate_of=demand.possible_duplicate_of,
        visit_id=demand.visit_id,
        first_responder_id=demand.first_responder_id,
        expected_on=demand.expected_on,
        address=demand.address,
        details=demand.details,
        enterprise_profile=profile,
    )


def _rank(round_: int, stage: str) -> tuple[bool, int, int]:
    return stage == "archived", round_, PROGRESS.index(stage)


def advance(demand: Demand, stage: str, round_: int = 1) -> Demand:
    """Progress shown to the enterprise; events come in any order, so it only moves forward: a later round is
    further on than anything of an earlier one, and archived is the end of every round."""
    if _rank(round_, stage) <= _rank(demand.progress_round, demand.progress):
        return demand
    return replace(demand, progress=stage, progress_round=round_)


def archive(demand: Demand, event: Archived) -> Demand:
    return replace(
        advance(demand, "archived", demand.progress_round),
        status="archived",
        archive_no=event.archive_no,
        archived_at=event.sealed_at,
    )


def reopen(demand: Demand, event: DemandReopened) -> Demand:
    """重办: the demand is handled again as `event.round`, to the re-handling deadline; of two reopenings the later
    round's counts (a redelivered or late one changes nothing)."""
    demand = record_round(advance(demand, "reopened", event.round), event.round)
    if demand.reopening is not None and demand.reopening.round >= event.round:
        return demand
    reopening = Reopening(
        round=event.round, reopened_at=event.reopened_at, due_on=event.due_on, assignment_count=event.assignment_count
    )
    return replace(demand, reopening=reopening)


def verify(demand: Demand, event: RatingVerified) -> Demand:
    """核实 of round r's 不满意 rating: the rating exists, so round r is rated at least; a founded finding opens round
    r + 1 (its DemandReopened, with the deadline, comes on its own queue). Of two verifications the later round's."""
    demand = record_round(advance(demand, "rated", event.round), event.round)
    if event.finding == Finding.founded and event.round < FINAL_ROUND:  # the final round's rating is final
        demand = advance(demand, "reopened", event.round + 1)
    if demand.verification is not None and demand.verification.round >= event.round:
        return demand
    verification = Verification(round=event.round, finding=event.finding.value, verified_at=event.verified_at)
    return replace(demand, verification=verification)


def record_round(demand: Demand, round_: int) -> Demand:
    if round_ <= demand.handling.round:
        return demand
    return replace(demand, handling=replace(demand.handling, round=round_))


def assign(demand: Demand, event: Assigned) -> Demand:
    """派单 or 改派 or 转办: the assignment with the highest number is the one the enterprise is told of."""
    demand = record_round(advance(demand, "assigned", event.round), event.round)
    h = demand.handling
    if event.assignment_no <= h.assignment_no:
        return demand  # a late, older assignment
    referred_to = None
    if event.assignee_kind is AssigneeKind.department:
        referred_to = event.referral.department if event.referral else event.assignee_name
    return replace(
        demand,
        handling=replace(
            h,
            assignment_no=event.assignment_no,
            assignee_kind=event.assignee_kind.value,
            assignee_name=event.assignee_name,
            referred_to=referred_to,
        ),
    )


def give_back(demand: Demand, event: AssignmentReturned) -> Demand:
    """退单: returned stays the stage until an assignment with a higher number is seen."""
    demand = record_round(demand, event.round)
    if event.assignment_no <= demand.handling.returned_no:
        return demand
    return replace(demand, handling=replace(demand.handling, returned_no=event.assignment_no))


def close(demand: Demand, event: Closing, merged_into_station_id: str | None = None) -> Demand:
    """Refused, merged or withdrawn: terminal; of two closings the earlier one counts, whichever intake saw first
    (as dispatch, tracking and the archive judge it); an archived demand stays archived."""
    known = demand.closure
    if known is not None and not event.precedes(known.closed_at, known.event_id):
        return demand
    closure = Closure.of(event, merged_into_station_id)
    return replace(demand, closure=closure, status="archived" if demand.status == "archived" else "closed")


def merged_into_printed_no(demand: Demand) -> str | None:
    """The number of the demand this one was merged into, as printed (its station's code first)."""
    c = demand.closure
    if c is None or c.merged_into_tracking_no is None:
        return None
    return printed_tracking_no(c.merged_into_station_id or demand.station_id, c.merged_into_tracking_no)


def stage(demand: Demand) -> str:
    """Where the demand stands for the enterprise, derived from the facts (never stored, never backwards)."""
    if demand.status == "archived":
        return "archived"
    if demand.closure is not None:
        return demand.closure.kind
    v = demand.verification
    if v is not None and v.conclusive and (demand.progress_round, demand.progress) == (v.round, "rated"):
        return "verified"
    if demand.progress_round > 1 and demand.progress in ("reopened", "assigned"):
        return "reopened"  # returns, rematches and referrals of a re-handling are told within it (stage_label)
    if demand.progress in ("resolved", "rated"):
        return demand.progress
    h = demand.handling
    if h.returned_no and h.returned_no >= h.assignment_no:
        return "returned"
    if h.assignment_no == 0:
        return "assigned" if demand.progress == "assigned" else "submitted"
    if h.referred_to is not None:
        return "referred"
    return "rematched" if h.assignment_no > 1 else "assigned"


def withdrawable(demand: Demand) -> bool:
    """撤回 is possible until the demand is resolved or has ended (a re-handled one was resolved once)."""
    return (
        demand.closure is None
        and demand.status == "open"
        and demand.progress_round == 1
        and demand.progress in ("submitted", "assigned")
    )


def handler_for_enterprise(h: Handling) -> str | None:
    """Who the enterprise is told handles its demand: an organization or department by name; the station's own
    staff only as 本站 (staff names, departments and co-handlers are the station's internal business)."""
    if h.assignee_kind is None:  # none yet, or one seen before intake kept who holds it
        return None
    if h.referred_to is not None:
        return h.referred_to
    if h.assignee_kind == AssigneeKind.organization.value and h.assignee_name:
        return h.assignee_name
    return "本站"


def _closure_label(demand: Demand, c: Closure) -> str:
    if c.kind == "refused":
        return f"未予受理（否定备案）。理由：{c.reason}；依据：{c.basis or '—'}"
    if c.kind == "merged":
        return f"已与 {merged_into_printed_no(demand)} 合并办理"
    who = "企业申请撤回" if c.by_enterprise else "服务站撤回"
    return f"已撤回（{who}）。理由：{c.reason}"


# What a verification that ends the matter tells the enterprise (its finding, in the enterprise's terms).
VERIFIED_LABELS = {
    Finding.unfounded.value: "经服务站核实，您反映的情况不属实",
    Finding.unreachable.value: "服务站核实时未能联系到贵单位",
}


def _rehandling_label(demand: Demand) -> str:
    """重办中（第 n 轮）, who handles it in this round if anyone yet, and the date it is due."""
    h, handler = demand.handling, handler_for_enterprise(demand.handling)
    head = f"{PROGRESS_LABELS['reopened']}（第 {demand.progress_round} 轮）"
    if demand.progress != "assigned":  # no assignment of this round seen yet
        detail = "经核实您反映的问题属实，正在重新安排办理"
    elif h.returned_no and h.returned_no >= h.assignment_no:
        detail = "已退回，正在重新安排承办单位"
    elif h.referred_to is not None:
        detail = f"已转办至{handler}，本站继续跟进"
    elif handler is None:  # an assignment seen before intake kept who holds it
        detail = "办理中"
    elif handler == "本站":
        detail = "由本站办理"
    else:
        detail = f"承办单位：{handler}"
    due = due_on(demand)
    return f"{head}：{detail}" + (f"。重办期限：{_chinese_date(due)}" if due else "")


def stage_label(demand: Demand) -> str:
    """The stage in plain Chinese for the enterprise; only what the enterprise may know."""
    current = stage(demand)
    handler = handler_for_enterprise(demand.handling)
    if current == "archived":
        return f"{_closure_label(demand, demand.closure)}；已归档" if demand.closure else PROGRESS_LABELS["archived"]
    if demand.closure is not None:
        return _closure_label(demand, demand.closure)
    if current == "verified":
        v = demand.verification
        return f"已评价（不满意）。{VERIFIED_LABELS[v.finding]}，本需求即将办结归档"  # type: ignore[union-attr]
    if current == "reopened":
        return _rehandling_label(demand)
    if current in ("resolved", "rated") and demand.progress_round > 1:
        return f"{PROGRESS_LABELS[current]}（第 {demand.progress_round} 轮）"
    if current == "returned":
        return "已退回，正在重新安排承办单位"
    if current == "referred":
        return f"已转办至{handler}，本站继续跟进"
    if current == "rematched":
        if handler is None:
            return "已改派"
        return "已改派，现由本站办理" if handler == "本站" else f"已改派，现由{handler}承办"
    if current == "assigned" and handler:
        return "办理中，由本站办理" if handler == "本站" else f"办理中，承办单位：{handler}"
    return PROGRESS_LABELS[current]


# --------------------------------------------------------------------------- the clock, as the enterprise is told it

# The stages in which the demand is still being handled, so its clock still means something to the enterprise.
OPEN_STAGES = ("submitted", "assigned", "returned", "rematched", "referred", "reopened")


def _chinese_date(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def pauses_told(demand: Demand) -> list[Pause]:
    """The pauses the enterprise is told of, oldest first: those seen paused (a resumption alone says no reason)."""
    known = [p for p in demand.pauses if p.paused_at is not None]
    return sorted(known, key=lambda p: (p.paused_at, str(p.pause_id)))


def pause_now(demand: Demand) -> Pause | None:
    """The pause the clock stands still for: seen paused, not resumed, and the demand still being handled by the
    assignment paused. Resolution, a return (退单), a rematch (改派) or an ending also ends a pause in tracking,
    without a resumption: intake tells it from the facts it has (its assignment is no longer the one in hand)."""
    if stage(demand) not in OPEN_STAGES:
        return None
    ongoing = [p for p in pauses_told(demand) if p.resumed_at is None and _holds(demand, p.assignment_no)]
    return ongoing[-1] if ongoing else None


def earlier_assignments(demand: Demand) -> int:
    """How many assignments belong to rounds before the current one: none in the first; in a re-handling, as many as
    its reopening says. Before the reopening is seen, every assignment seen, except one of this round if seen."""
    if demand.progress_round == 1:
        return 0
    r = demand.reopening
    if r is not None and r.round == demand.progress_round:
        return r.assignment_count
    return demand.handling.assignment_no - (1 if demand.progress == "assigned" else 0)


def _holds(demand: Demand, assignment_no: int | None) -> bool:
    """What was decided under `assignment_no` holds now: that assignment is in hand, and of the current round (a
    re-handling starts its own clock: the re-handling deadline, with its own pauses and extensions)."""
    return in_hand(demand.handling, assignment_no) and (assignment_no or 0) > earlier_assignments(demand)


def in_hand(h: Handling, assignment_no: int | None) -> bool:
    """Whether what happened under `assignment_no` still holds: that assignment is the current one (the highest,
    or one intake has not seen yet) and was not given back. An unknown assignment (None) is not in hand."""
    no = assignment_no or 0
    return no >= h.assignment_no and no > h.returned_no


def _date_changes(demand: Demand) -> list[tuple[datetime, str, date, Pause | Extension]]:
    """The changes of the handling deadline that hold now: approved extensions and resumptions under the current
    assignment. A rematch (改派) or return (退单) starts the handling afresh in tracking, so what was decided under
    an earlier assignment no longer moves the date. A resumption is of its pause's assignment (not known until the
    pause is seen); an extension decided before ExtensionDecided named its assignment is read as of the first,
    which it surely was while no other was made."""
    changes: list[tuple[datetime, str, date, Pause | Extension]] = [
        (e.decided_at, str(e.extension_id), e.new_due_on, e)
        for e in demand.extensions
        if _holds(demand, e.assignment_no or 1)
    ]
    changes += [
        (p.resumed_at, str(p.pause_id), p.handling_due_on, p)
        for p in demand.pauses
        if p.resumed_at is not None and p.handling_due_on is not None and _holds(demand, p.assignment_no)
    ]
    return sorted(changes, key=lambda c: (c[0], c[1]))


def due_on(demand: Demand) -> date | None:
    """The date the enterprise may expect now: the notice's promise (in a re-handling, the re-handling deadline:
    `promised_on`), replaced by the latest change of the deadline under the current assignment of the current round.

    An approved extension names the new deadline; a resumption names the deadline moved by the working days
    paused (tracking's clock computes both). The latest by when it happened counts, whatever order the events
    arrived in; a refused extension is never kept, so it changes nothing. After a rematch nothing decided under
    the earlier assignment holds, and the enterprise is told the promise again, as after any assignment (intake
    keeps no date from Assigned: the notice's promise is what it shows until the clock moves it).
    """
    changes = _date_changes(demand)
    return changes[-1][2] if changes else promised_on(demand)


def promised_on(demand: Demand) -> date | None:
    """The date the current round was promised by: the notice's in the first round; in a re-handling, the
    re-handling deadline its reopening set (None until the reopening is seen)."""
    if demand.progress_round == 1:
        return demand.expected_on
    r = demand.reopening
    return r.due_on if r is not None and r.round == demand.progress_round else None


def clock_label(demand: Demand) -> str | None:
    """The clock in plain Chinese for the enterprise (the written notice of §45 and §42): why it stands still,
    or the latest change of the date and why. None when nothing was paused or extended, or the demand has ended."""
    if stage(demand) not in OPEN_STAGES:
        return None
    if (p := pause_now(demand)) is not None:
        return (
            f"计时暂停：{p.reason_label}（{p.reason}）。"
            f"自{_chinese_date(p.paused_at.astimezone(CHINA).date())}起暂停计时，"  # type: ignore[union-attr]
            "暂停期间不计入办理时限，恢复计时后预计办结日期相应顺延。"
        )
    changes = _date_changes(demand)
    if not changes:
        return None
    _, _, new_date, latest = changes[-1]
    if isinstance(latest, Extension):
        was = _chinese_date(latest.due_on)
        return f"办理期限已延长至{_chinese_date(new_date)}（原为{was}）。延期理由：{latest.reason}"
    days = f"暂停 {latest.paused_working_days} 个工作日，" if latest.paused_working_days is not None else ""
    return f"已恢复计时，{days}预计办结日期顺延至{_chinese_date(new_date)}。"
