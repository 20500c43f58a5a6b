"""Complaint scorecards: which rows a caller may ask for, which China days a period means, the figures. Pure: no I/O.

The same dimensions, period and access rule as tracking's and evaluation's GET /scorecards (the contract in
README, "Scorecards"); a service never imports another's package, so the few lines are written here again.
"""

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from shared import kpis
from shared.auth import Role
from shared.errors import Forbidden
from shared.kpis import Period


class By(StrEnum):
    """The rows of a scorecard: what `key` names."""

    station = "station"  # the station the complaint was made to
    staff = "staff"  # the staff member complained about: their account when the complaint names it, else the name
    organization = "organization"  # the organization complained about (once identified)
    category = "category"  # the categories of the demand the complaint is tied to (two categories: both rows)


ORGANIZATION_ONLY = Forbidden(
    "服务机构只能查看按服务机构（by=organization）的本机构考核数据",
    "an organization may read only its own row of the scorecard by organization (by=organization)",
)


def check_dimension(role: Role, by: By) -> None:
    """An organization reads only its own row by organization (403 otherwise)."""
    if role is Role.org and by is not By.organization:
        raise ORGANIZATION_ONLY


def period(start: date | None, end: date | None, today: date) -> Period:
    """China dates, both ends included; by default the current month up to today; at most 366 days (422 naming the
    field otherwise): the rule of every KPI view (shared/kpis.py)."""
    return kpis.period(start, end, today)


@dataclass(frozen=True)
class Figures:
    complaints: int = 0  # filed (received) on a China date of the period
    complaints_open: int = 0  # of those, not closed now
    complaints_overdue: int = 0  # of those, open and past the working-day limit of their next stage today


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    figures: Figures


@dataclass(frozen=True)
class Scorecard:
    by: By
    period: Period
    station_id: str | None
    rows: list[Row]
