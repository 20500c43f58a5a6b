"""Demand rules: the demand as registered (一表登记), its tracking number, its event, its progress. Pure."""

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from uuid import UUID

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
)
from shared.errors import Invalid

from ..catalogue.domain import CatalogueEntry, Category

PROGRESS = ("submitted", "assigned", "resolved", "rated", "archived")
PROGRESS_LABELS = {
    "submitted": "已受理",
    "assigned": "办理中",
    "resolved": "已办结，待评价",
    "rated": "已评价",
    "archived": "已办结归档",
}

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
) -> Demand:
    check_green_channel(green_channel, green_channel_reason)
    check_details(details, items)
    # A demand naming several items is promised the longest of their limits.
    time_limit = max(i.time_limit_days for i in items)
    local = submitted_at.astimezone(CHINA)  # the year of the number and the day counting starts from
    categories = tuple(
        Category(
            code=c, label=category_labels[c], time_limit_days=max(i.time_limit_days for i in items if i.category == c)
        )
        for c in dict.fromkeys(i.category for i in items)
    )
    return Demand(
        demand_id=demand_id,
        station_id=station_id,
        tracking_no=tracking_no(numbering_year(submitted_at), serial),
        enterprise_name=enterprise_name,
        credit_code=credit_code,
        credit_code_flag=credit_code_flag,
        contact_name=contact_name,
        contact_phone=contact_phone,
        categories=categories,
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
        expected_on=add_working_days(local.date(), time_limit, workday_overrides),
    )


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
        items=[
            ItemRef(
                code=i.item_code,
                version=i.item_version,
                category=i.category,
                label=i.label,
                time_limit_days=i.time_limit_days,
                handled_by=i.handled_by,
            )
            for i in demand.items
        ],
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
    return replace(
        advance(demand, "archived"), status="archived", archive_no=event.archive_no, archived_at=event.sealed_at
    )
