"""Catalogue rules: the item in force at a station, new item versions, commitments within the law. Pure."""

from dataclasses import dataclass, replace

from shared.auth import in_scope
from shared.errors import Invalid


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


def check_commitment(time_limit_days: int, legal_limit_days: int | None, field_name: str = "time_limit_days") -> None:
    """Where law sets a time limit, the published commitment may not exceed it (002 §7.2)."""
    if legal_limit_days is not None and time_limit_days > legal_limit_days:
        raise Invalid(
            f"承诺时限不能超过法定时限 {legal_limit_days} 个工作日",
            f"the committed time limit may not exceed the legal limit of {legal_limit_days} working days",
            field=field_name,
        )


def resolve_entry(
    item: CatalogueItem, category_label: str, overrides: list[Override], station_id: str
) -> CatalogueEntry:
    applicable = [o for o in overrides if o.item_code == item.item_code and in_scope(station_id, o.scope)]
    # The station's own override beats its district's, which beats its city's; the latest version wins.
    override = max(applicable, key=lambda o: (len(o.scope), o.version), default=None)
    time_limit = (override and override.time_limit_days) or item.time_limit_days
    materials = override.materials if override and override.materials is not None else item.materials
    return CatalogueEntry(
        item=item, category_label=category_label, time_limit_days=time_limit, materials=materials, override=override
    )


def new_item_version(current: CatalogueItem | None, **changes) -> CatalogueItem:
    if current is None:
        item = CatalogueItem(version=1, **changes)
    else:
        item = replace(current, version=current.version + 1, **changes)
    check_commitment(item.time_limit_days, item.legal_limit_days)
    return item
