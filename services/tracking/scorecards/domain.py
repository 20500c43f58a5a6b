"""Scorecards: which rows a caller may ask for, which China days a period means, the figures and their rates.
Pure: no I/O.

The figures are counted in SQL (store.py) by the rules of GET /kpis (domain.md §9, services/tracking/store.py
`_KPI_FIGURES`), so a station's scorecard and its KPI view agree; here are the dimension asked for, who may ask for
it, the period (shared/kpis.py, the same as every KPI view), and the rates, null rather than NaN when there is
nothing to count. Every rate's numerator is a subset of its denominator, so a rate lies in [0, 1].
"""

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from shared import kpis
from shared.auth import Role
from shared.errors import Forbidden
from shared.kpis import Period, rate


class By(StrEnum):
    """The rows of a scorecard: what `key` names (docs/scorecard contract)."""

    station = "station"  # the station's id
    staff = "staff"  # the first responder (首问) account, or their name when the account is not known
    organization = "organization"  # the service organization's id
    category = "category"  # the catalogue category's code (a demand of two categories counts in both)


BY_LABELS = {By.station: "服务站", By.staff: "工作人员（首问）", By.organization: "服务机构", By.category: "服务类别"}

ORGANIZATION_ONLY = Forbidden(
    "服务机构只能查看按服务机构（by=organization）的本机构考核数据",
    "an organization may read only its own row of the scorecard by organization (by=organization)",
)


def check_dimension(role: Role, by: By) -> None:
    """An organization reads only its own row by organization: another dimension would show the stations' staff
    and figures (403). Staff and supervisors read every dimension of their scope; the route refuses operations."""
    if role is Role.org and by is not By.organization:
        raise ORGANIZATION_ONLY


def period(start: date | None, end: date | None, today: date) -> Period:
    """China dates, both ends included; by default the current month up to today; at most 366 days, never ending
    before it starts (422 naming the field): the rule of every KPI view (shared/kpis.py)."""
    return kpis.period(start, end, today)


@dataclass(frozen=True)
class Figures:
    """One row's counts for the period (each defined in store.py and on the reply's fields)."""

    received: int = 0
    responded: int = 0
    response_due: int = 0
    responded_in_time: int = 0
    resolved: int = 0
    handling_due: int = 0
    resolved_on_time: int = 0
    reopened: int = 0
    revisits_due: int = 0
    revisits_done: int = 0

    @property
    def response_rate(self) -> float | None:
        """响应率 = responded_in_time / response_due."""
        return rate(self.responded_in_time, self.response_due)

    @property
    def on_time_rate(self) -> float | None:
        """按时办结率 = resolved_on_time / handling_due."""
        return rate(self.resolved_on_time, self.handling_due)

    @property
    def reopen_rate(self) -> float | None:
        """重办率 = reopened / resolved."""
        return rate(self.reopened, self.resolved)

    @property
    def revisit_rate(self) -> float | None:
        """回访率 = revisits_done / revisits_due."""
        return rate(self.revisits_done, self.revisits_due)


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
