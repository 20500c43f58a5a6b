"""Calendar rules: a working-day correction as the other services learn it. Pure."""

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class WorkdayCorrection:
    day: date
    is_workday: bool | None  # None: the correction was removed, the package's calendar holds again
    note: str = ""
