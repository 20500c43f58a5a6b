"""Intake rules: the catalogue in force, the enterprise dossier, the demand as registered (一表登记). Pure."""

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from uuid import UUID

from shared.auth import in_scope
from shared.calendar import CHINA, add_working_days
from shared.contracts import (
    Archived,
    CategoryRef,
    Channel,
    Contact,
    DemandSubmitted,
    Enterprise,
    GreenChannel,
    ItemRef,
    StationRegistered,
)
from shared.errors import Invalid

PROGRESS = ("submitted", "assigned", "resolved", "rated", "archived")
PROGRESS_LABELS = {"submitted": "已受理", "assigned": "办理中", "resolved": "已办结，待评价", "rated": "已评价",
                   "archived": "已办结归档"}  # fmt: skip

# Which detail tables of the forms (000 附录D, 002 附录A) belong to which categories.
DETAIL_CATEGORIES = {
    "products": {"standardization", "testing", "certification", "quality_mgmt", "brand"},
    "instruments": {"metrology"},
    "special_equipment": {"special_equipment"},
    "operator_exams": {"special_equipment"},
}


@dataclass(frozen=True)
class Category:
    code: str
    label: str
    time_limit_days: int


@dataclass(frozen=True)
class CatalogueItem:
    item_code: str
    version: int
    category: str
    label: str
    description: str
    materials: tuple[str, ...]
    time_limit_days: int
    legal_limit_days: int | None
    handled_by: str


@dataclass(frozen=True)
class Override:
    scope: str  # a city prefix or a station id
    item_code: str
    version: int
    time_limit_days: int | None
    materials: tuple[str, ...] | None


@dataclass(frozen=True)
class CatalogueEntry:
    """An item as it applies at one station: the latest version with the most specific override."""

    item: CatalogueItem
    category_label: str
    time_limit_days: int
    materials: tuple[str, ...]
    override: Override | None = None


@dataclass(frozen=True)
class Station:
    station_id: str
    name: str
    address: str
    level: int
    parent_id: str | None
    has_window: bool
    phone: str | None = None


@dataclass(frozen=True)
class EnterpriseDossier:
    """一企一册: the enterprise as one station knows it, with the detail tables of the forms."""

    station_id: str
    credit_code: str
    name: str
    credit_code_flag: str | None = None
    legal_representative: str | None = None
    industry: str | None = None
    size: str | None = None
    employees: int | None = None
    output_value_wan: float | None = None
    main_products: str | None = None
    address: str | None = None
    in_park: bool | None = None
    park_name: str | None = None
    town: str | None = None
    chain: str | None = None
    chain_leader: bool = False
    own_labs: int | None = None
    labs_cover_own_testing: bool | None = None
    contacts: tuple[dict, ...] = ()
    products: tuple[dict, ...] = ()
    instruments: tuple[dict, ...] = ()
    special_equipment: tuple[dict, ...] = ()
    operator_exams: tuple[dict, ...] = ()


def check_park(dossier: EnterpriseDossier) -> None:
    if dossier.in_park and not dossier.park_name:
        raise Invalid("位于产业园区的企业须填写园区名称", "park_name is required when in_park is true", field="park_name")


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


def numbering_year(submitted_at: datetime) -> int:
    """The year of the tracking number: China's calendar year (New Year's night UTC is already next year here)."""
    return submitted_at.astimezone(CHINA).year


def tracking_no(year: int, serial: int) -> str:
    """跟踪单号 "年代号+流水号" (004 附录B), e.g. 2026-000137."""
    return f"{year:04d}-{serial:06d}"


def check_commitment(time_limit_days: int, legal_limit_days: int | None, field_name: str = "time_limit_days") -> None:
    """Where law sets a time limit, the published commitment may not exceed it (002 §7.2)."""
    if legal_limit_days is not None and time_limit_days > legal_limit_days:
        raise Invalid(
            f"承诺时限不能超过法定时限 {legal_limit_days} 个工作日",
            f"the committed time limit may not exceed the legal limit of {legal_limit_days} working days",
            field=field_name,
        )


def resolve_entry(item: CatalogueItem, category_label: str, overrides: list[Override], station_id: str) -> CatalogueEntry:
    applicable = [o for o in overrides if o.item_code == item.item_code and in_scope(station_id, o.scope)]
    # The station's own override beats its district's, which beats its city's; the latest version wins.
    override = max(applicable, key=lambda o: (len(o.scope), o.version), default=None)
    time_limit = (override and override.time_limit_days) or item.time_limit_days
    materials = override.materials if override and override.materials is not None else item.materials
    return CatalogueEntry(item=item, category_label=category_label, time_limit_days=time_limit,
                          materials=materials, override=override)  # fmt: skip


def new_item_version(current: CatalogueItem | None, **changes) -> CatalogueItem:
    if current is None:
        item = CatalogueItem(version=1, **changes)
    else:
        item = replace(current, version=current.version + 1, **changes)
    check_commitment(item.time_limit_days, item.legal_limit_days)
    return item


def pick_items(requested: list[tuple[str, str | None, list[str]]], entries: dict[str, CatalogueEntry]) -> tuple[DemandItem, ...]:
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
        items.append(DemandItem(
            position=position, item_code=code, item_version=entry.item.version,
            override_scope=entry.override.scope if entry.override else None, category=entry.item.category,
            label=entry.item.label, time_limit_days=entry.time_limit_days, materials=entry.materials,
            handled_by=entry.item.handled_by, materials_received=tuple(received), remarks=remarks,
        ))  # fmt: skip
    return tuple(items)


def check_details(details: dict, items: tuple[DemandItem, ...]) -> None:
    categories = {i.category for i in items}
    for table, rows in details.items():
        if rows and not DETAIL_CATEGORIES[table] & categories:
            raise Invalid(
                "该明细表与所选服务项目无关", f"{table} does not belong to the chosen catalogue items",
                field=f"details.{table}",
            )  # fmt: skip


def check_green_channel(green_channel: GreenChannel | None, reason: str | None) -> None:
    if green_channel is not None and not reason:
        raise Invalid("申请绿色通道须说明理由", "a green-channel request needs its reason", field="green_channel_reason")


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
) -> Demand:
    check_green_channel(green_channel, green_channel_reason)
    check_details(details, items)
    # A demand naming several items is promised the longest of their limits.
    time_limit = max(i.time_limit_days for i in items)
    local = submitted_at.astimezone(CHINA)  # the year of the number and the day counting starts from
    categories = tuple(
        Category(code=c, label=category_labels[c], time_limit_days=max(i.time_limit_days for i in items if i.category == c))
        for c in dict.fromkeys(i.category for i in items)
    )  # fmt: skip
    return Demand(
        demand_id=demand_id, station_id=station_id, tracking_no=tracking_no(numbering_year(submitted_at), serial),
        enterprise_name=enterprise_name, credit_code=credit_code, credit_code_flag=credit_code_flag,
        contact_name=contact_name, contact_phone=contact_phone, categories=categories, description=description,
        channel=channel, first_responder=first_responder, first_responder_id=first_responder_id,
        time_limit_days=time_limit, submitted_at=submitted_at,
        received_at=received_at or submitted_at, correlation_id=correlation_id, green_channel=green_channel,
        green_channel_reason=green_channel_reason, details=details, visit_id=visit_id,
        possible_duplicate_of=possible_duplicate_of, items=items,
        expected_on=add_working_days(local.date(), time_limit, workday_overrides),
    )  # fmt: skip


def submitted_event(demand: Demand) -> DemandSubmitted:
    return DemandSubmitted(
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
        items=[ItemRef(code=i.item_code, version=i.item_version, category=i.category, label=i.label,
                       time_limit_days=i.time_limit_days, handled_by=i.handled_by) for i in demand.items],  # fmt: skip
        green_channel=demand.green_channel,
        possible_duplicate_of=demand.possible_duplicate_of,
        visit_id=demand.visit_id,
        first_responder_id=demand.first_responder_id,
        expected_on=demand.expected_on,
    )


def advance(demand: Demand, stage: str) -> Demand:
    """Progress shown to the enterprise; events come in any order, so it only moves forward."""
    if PROGRESS.index(stage) <= PROGRESS.index(demand.progress):
        return demand
    return replace(demand, progress=stage)


def archive(demand: Demand, event: Archived) -> Demand:
    return replace(advance(demand, "archived"), status="archived", archive_no=event.archive_no,
                   archived_at=event.sealed_at)  # fmt: skip


def check_station_placement(
    station: Station, parent: Station | None, parent_ancestors: Sequence[str] = (), shallowest_child: int | None = None
) -> None:
    """A station sits below its parent in the same city, one or more levels deeper, and above its own children.

    Levels only grow downwards, so the registry stays a tree: no station can end up below itself.
    """
    if shallowest_child is not None and shallowest_child <= station.level:
        raise Invalid(
            "服务站的层级须高于其下级服务站", "a station must stay at a higher level than the stations below it",
            field="level",
        )  # fmt: skip
    if station.parent_id is None:
        return
    if parent is None:
        raise Invalid("上级服务站不存在", "parent station does not exist", field="parent_id")
    if station.station_id == parent.station_id or station.station_id in parent_ancestors:
        raise Invalid(
            "服务站不能登记在自己或其下级服务站之下", "a station cannot be placed below itself or its own descendants",
            field="parent_id",
        )  # fmt: skip
    if not station.station_id.startswith(parent.station_id.split("/")[0] + "/") or station.level <= parent.level:
        raise Invalid(
            "服务站须与上级服务站同属一个城市，且层级低于上级",
            "a station must be in its parent's city and at a deeper level",
            field="parent_id",
        )


def station_registered(
    station: Station, ancestors: Sequence[str], *, correlation_id: UUID, causation_id: UUID | None = None
) -> StationRegistered:
    """What the other services learn of a registry entry: enough to place it in their copy of the tree."""
    return StationRegistered(
        correlation_id=correlation_id, causation_id=causation_id, station_id=station.station_id, name=station.name,
        level=station.level, parent_id=station.parent_id, ancestors=list(ancestors),
    )  # fmt: skip
