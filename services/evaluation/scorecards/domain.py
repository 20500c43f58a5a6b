"""Scorecards' rating side (issue 10; docs: the scorecard contract): which rows a caller may ask for, which China days
a period means, the figures of a row and its rate. Pure: no I/O.

The ratings are counted in SQL (store.py) from the same derived tables as the breakdown metrics
(services/evaluation/store.py `RATED_BY`), by rating date: valid ratings (voided ones excluded) per overall level and
item 5 answered yes, and the ratings of the period voided since. Here are the dimension and who may ask for it, the
period (shared/kpis.py, as every KPI view), the national 好差评 scale of the counts (Overall.national, as GET /kpis),
and 满意率 with the service's definition (kpis.Definition, EVALUATION_SATISFIED_LEVELS), null without a valid rating.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from shared import kpis as shared_kpis
from shared.auth import Role
from shared.contracts import NationalLevel, Overall
from shared.errors import Forbidden
from shared.kpis import Period, rate

from ..kpis import Definition


class By(StrEnum):
    """The rows of a scorecard: what `key` names."""

    station = "station"  # the station's id
    staff = "staff"  # the first responder (首问) account, or their name when the account is not known
    organization = "organization"  # the organization holding the assignment the rated round's resolution answered
    category = "category"  # the catalogue category's code (a demand of two categories counts in both)


ORGANIZATION_ONLY = Forbidden(
    "服务机构只能查看按服务机构（by=organization）的本机构考核数据",
    "an organization may read only its own row of the scorecard by organization (by=organization)",
)


def check_dimension(role: Role, by: By) -> None:
    """An organization reads only its own row by organization: another dimension would show the stations' staff and
    figures (403). Staff and supervisors read every dimension of their scope; the route refuses operations."""
    if role is Role.org and by is not By.organization:
        raise ORGANIZATION_ONLY


def period(start: date | None, end: date | None, today: date) -> Period:
    """China dates, both ends included; by default the current month up to today; at most 366 days, never ending
    before it starts (422 naming the field): the rule of every KPI view."""
    return shared_kpis.period(start, end, today)


def _zero() -> dict[Overall, int]:
    return dict.fromkeys(Overall, 0)


@dataclass(frozen=True)
class Figures:
    """One row's ratings rated on a China date of the period: the valid ones per overall level (item 10), those of
    them answering item 5 (问题是否解决) yes, and the ratings voided on appeal (申诉复核) since."""

    by_level: Mapping[Overall, int] = field(default_factory=_zero)
    solved: int = 0
    voided: int = 0

    @property
    def ratings(self) -> int:
        """Valid ratings: 满意率's denominator."""
        return sum(self.by_level.get(level, 0) for level in Overall)

    @property
    def national(self) -> dict[NationalLevel, int]:
        """The valid ratings on the national 好差评 five-level scale (一般 is 基本满意; nothing is 非常不满意)."""
        counts = dict.fromkeys(NationalLevel, 0)
        for level in Overall:
            counts[level.national] += self.by_level.get(level, 0)
        return counts

    def satisfied_count(self, definition: Definition) -> int:
        """满意率's numerator: the valid ratings at a level the definition counts as satisfied."""
        return sum(n for level, n in self.by_level.items() if definition.satisfied(level))

    def satisfaction_rate(self, definition: Definition) -> float | None:
        return rate(self.satisfied_count(definition), self.ratings)


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
