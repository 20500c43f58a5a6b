"""Calendar rules: a working-day correction as the other services learn it. Pure."""

from dataclasses import dataclass
from datetime import date

from shared.errors import Invalid

# The years a list of corrections may be asked for: the package's calendar starts in 2004, a correction lies at
# most five years ahead (shared.validation.CalendarDay).
FIRST_YEAR, LAST_YEAR = 2000, 2100


@dataclass(frozen=True)
class WorkdayCorrection:
    day: date
    is_workday: bool | None  # None: the correction was removed, the package's calendar holds again
    note: str = ""


def year_span(year: int) -> tuple[date, date]:
    """The first day of `year` and the first day of the next: the corrections of one year lie in [start, end)."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise Invalid(
            f"年份应在 {FIRST_YEAR}–{LAST_YEAR} 之间",
            f"year must be between {FIRST_YEAR} and {LAST_YEAR}",
            field="year",
        )
    return date(year, 1, 1), date(year + 1, 1, 1)
