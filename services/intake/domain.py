"""Intake rules: a demand as the station registered it (一表登记). Pure: no I/O."""

from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from shared.contracts import (
    Archived,
    CategoryRef,
    Channel,
    Contact,
    DemandSubmitted,
    Enterprise,
)
from shared.errors import Invalid


@dataclass(frozen=True)
class Category:
    code: str
    label: str
    time_limit_days: int


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


@dataclass(frozen=True)
class Station:
    station_id: str
    name: str
    address: str
    level: int
    parent_id: str | None
    has_window: bool


def check_station_placement(station: Station, parent: Station | None) -> None:
    """A station sits below its parent in the id path and one or more levels deeper."""
    if station.parent_id is None:
        return
    if parent is None:
        raise Invalid("上级服务站不存在", "parent station does not exist", field="parent_id")
    if not station.station_id.startswith(parent.station_id.split("/")[0] + "/") or station.level <= parent.level:
        raise Invalid(
            "服务站须与上级服务站同属一个城市，且层级低于上级",
            "a station must be in its parent's city and at a deeper level",
            field="parent_id",
        )


def tracking_no(year: int, serial: int) -> str:
    """跟踪单号 "年代号+流水号" (004 附录B), e.g. 2026-000137."""
    return f"{year:04d}-{serial:06d}"


def pick_categories(requested: list[str], known: dict[str, Category]) -> tuple[Category, ...]:
    unknown = [code for code in requested if code not in known]
    if unknown:
        raise Invalid(
            f"未知的服务类别：{'、'.join(unknown)}",
            f"unknown service category: {', '.join(unknown)}",
            field="categories",
        )
    return tuple(known[code] for code in dict.fromkeys(requested))  # keep order, drop repeats


def new_demand(
    *,
    demand_id: UUID,
    station_id: str,
    serial: int,
    submitted_at: datetime,
    enterprise_name: str,
    credit_code: str,
    contact_name: str,
    contact_phone: str,
    categories: tuple[Category, ...],
    description: str,
    channel: Channel,
    first_responder: str,
    correlation_id: UUID,
) -> Demand:
    return Demand(
        demand_id=demand_id,
        station_id=station_id,
        tracking_no=tracking_no(submitted_at.year, serial),
        enterprise_name=enterprise_name,
        credit_code=credit_code,
        contact_name=contact_name,
        contact_phone=contact_phone,
        categories=categories,
        description=description,
        channel=channel,
        first_responder=first_responder,
        # A demand naming several categories is promised the longest of their limits.
        time_limit_days=max(c.time_limit_days for c in categories),
        submitted_at=submitted_at,
        correlation_id=correlation_id,
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
    )


def archive(demand: Demand, event: Archived) -> Demand:
    return replace(demand, status="archived", archive_no=event.archive_no, archived_at=event.sealed_at)
