"""What every KPI view shares (domain.md §9: a KPI is a numerator, a denominator and a target): which China days a
period means, a rate that is null rather than NaN when there is nothing to count, and whether a rate is below its
target. Pure: no I/O. Tracking's and evaluation's GET /kpis both use it, so their periods and rates agree.
"""

from dataclasses import dataclass
from datetime import date

from shared.errors import Invalid

MAX_DAYS = 366  # a period is at most a (leap) year of China days, both ends included


@dataclass(frozen=True)
class Period:
    """China dates, both included."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def period(start: date | None, end: date | None, today: date) -> Period:
    """The period asked for: by default from the first day of the month of `end` (of today when `end` is not given)
    to `end` (today). Refused (422, naming the field the caller gave) when it ends before it starts or is longer
    than MAX_DAYS."""
    named = "to" if end is not None else "from"
    end = end if end is not None else today
    start = start if start is not None else end.replace(day=1)
    if end < start:
        raise Invalid(
            f"截止日期 {end} 早于起始日期 {start}，请检查统计期间",
            f"'to' ({end}) is before 'from' ({start})",
            field=named,
        )
    asked = Period(start, end)
    if asked.days > MAX_DAYS:
        raise Invalid(
            f"统计期间最长 {MAX_DAYS} 天，{start} 至 {end} 共 {asked.days} 天",
            f"a period is at most {MAX_DAYS} days; {start} to {end} is {asked.days}",
            field=named,
        )
    return asked


def rate(numerator: int, denominator: int) -> float | None:
    """numerator / denominator; None when there is nothing to count (never NaN, never a division error)."""
    return numerator / denominator if denominator else None


def below(value: float | None, target: float) -> bool | None:
    """Whether a rate is below its target; None when there is no rate."""
    return None if value is None else value < target
