"""Who one may sign in as in development: built from what the system knows, not from a fixed demo list.

Stations come from intake's registry (GET /stations): a clerk (服务专员) and a head (站长) for each. Supervisors
(上级单位) for each city and each district the station ids name (ids are paths of division codes, so
"210100/210112/hunnan-01" lies in city 210100 and district 210100/210112). Organizations from dispatch's
registry (GET /organizations). And one admin (运维). Pure: the lists are passed in.
"""

import re
from dataclasses import dataclass

from shared.auth import Role

from .session import Person

ROLE_LABELS = {
    Role.clerk: "服务专员",
    Role.head: "站长",
    Role.org: "服务机构",
    Role.supervisor: "上级单位",
    Role.admin: "运维",
}
_DIVISION = re.compile(r"^[0-9]{6}$")


@dataclass(frozen=True)
class Choice:
    """One person on the development sign-in page; `key` is what the form posts back."""

    key: str
    person: Person
    note: str = ""

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[Role(self.person.role)]


@dataclass(frozen=True)
class Group:
    title: str
    choices: tuple[Choice, ...]


def _area_name(station_names: list[str], marks: str) -> str | None:
    """The place a city or district is called by, read from its stations' names: the text up to the first
    of `marks` (沈阳市浑南区一站式… → 沈阳市浑南区 for a district, 沈阳市 for a city)."""
    for name in sorted(station_names, key=len):
        positions = [name.find(m) for m in marks if name.find(m) > 0]
        if positions:
            return name[: min(positions) + 1]
    return None


def _supervisors(stations: list[dict]) -> list[Choice]:
    cities: dict[str, list[str]] = {}
    districts: dict[str, list[str]] = {}
    for s in stations:
        parts = s["station_id"].split("/")
        cities.setdefault(parts[0], []).append(s["name"])
        if len(parts) >= 3 and _DIVISION.match(parts[1]):
            districts.setdefault(f"{parts[0]}/{parts[1]}", []).append(s["name"])
    choices = []
    for city, names in sorted(cities.items()):
        place = _area_name(names, "市")
        name = f"{place}市场监督管理局" if place else f"市级监管单位（{city}）"
        choices.append(_supervisor(city, name, "市局：可查看全市各服务站"))
        for district, district_names in sorted(districts.items()):
            if not district.startswith(city + "/"):
                continue
            area = _area_name(district_names, "区县")
            district_name = (
                f"{area}市场监督管理局" if area and area != place else f"区县监管单位（{district.split('/')[1]}）"
            )
            choices.append(_supervisor(district, district_name, "区局：可查看本区各服务站"))
    return choices


def _supervisor(prefix: str, name: str, note: str) -> Choice:
    person = Person(subject=f"supervisor-{prefix}", name=name, role=Role.supervisor, station=prefix, scope_name=name)
    return Choice(key=f"supervisor:{prefix}", person=person, note=note)


def directory(stations: list[dict], organizations: list[dict]) -> tuple[Group, ...]:
    """Everyone one may sign in as, grouped for the page: stations, supervisors, organizations, operations."""
    station_choices = []
    for s in sorted(stations, key=lambda s: s["station_id"]):
        sid, name = s["station_id"], s["name"]
        for role in (Role.clerk, Role.head):
            person = Person(
                subject=f"{role}-{sid}", name=f"{name}{ROLE_LABELS[role]}", role=role, station=sid, scope_name=name
            )
            station_choices.append(Choice(key=f"{role}:{sid}", person=person, note=sid))
    org_choices = [
        Choice(
            key=f"org:{o['org_id']}",
            person=Person(
                subject=f"org-{o['org_id']}", name=o["name"], role=Role.org, org=o["org_id"], scope_name=o["name"]
            ),
            note=o.get("status_label") or "",
        )
        for o in sorted(organizations, key=lambda o: o["org_id"])
    ]
    admin = Choice(key="admin", person=Person(subject="admin-console", name="运维", role=Role.admin), note="系统运维")
    groups = [
        Group("服务站工作人员", tuple(station_choices)),
        Group("上级单位（市局、区局）", tuple(_supervisors(stations))),
        Group("服务机构", tuple(org_choices)),
        Group("运维", (admin,)),
    ]
    return tuple(g for g in groups if g.choices)


def find(groups: tuple[Group, ...], key: str) -> Person | None:
    """The person behind a key the form posted, only if the directory offers it (a forged key finds nobody)."""
    for group in groups:
        for choice in group.choices:
            if choice.key == key:
                return choice.person
    return None
