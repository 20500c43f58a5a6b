"""Station registry rules: where a station may sit in the tree, and what the other services learn of it. Pure."""

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from shared.contracts import StationRegistered
from shared.errors import Invalid


@dataclass(frozen=True)
class Station:
    station_id: str
    name: str
    address: str
    level: int
    parent_id: str | None
    has_window: bool
    phone: str | None = None


def check_station_placement(
    station: Station, parent: Station | None, parent_ancestors: Sequence[str] = (), shallowest_child: int | None = None
) -> None:
    """A station sits below its parent in the same city, one or more levels deeper, and above its own children.

    Levels only grow downwards, so the registry stays a tree: no station can end up below itself.
    """
    if shallowest_child is not None and shallowest_child <= station.level:
        raise Invalid(
            "服务站的层级须高于其下级服务站",
            "a station must stay at a higher level than the stations below it",
            field="level",
        )
    if station.parent_id is None:
        return
    if parent is None:
        raise Invalid("上级服务站不存在", "parent station does not exist", field="parent_id")
    if station.station_id == parent.station_id or station.station_id in parent_ancestors:
        raise Invalid(
            "服务站不能登记在自己或其下级服务站之下",
            "a station cannot be placed below itself or its own descendants",
            field="parent_id",
        )
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
        correlation_id=correlation_id,
        causation_id=causation_id,
        station_id=station.station_id,
        name=station.name,
        level=station.level,
        parent_id=station.parent_id,
        ancestors=list(ancestors),
    )
