"""Work lists and search over the ledger (台账): what a station asks of it every morning. Pure: no I/O.

The filters are applied in SQL (services/tracking/store.py); here are the rules that are easier to state and to test
in Python: the China days a date range means, how far "due soon" reaches in working days, and when a case is late.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from shared.calendar import CHINA, add_working_days
from shared.errors import Invalid


class Worklist(StrEnum):
    """The station's work lists (工作台)."""

    mine = "mine"  # 我的需求: assigned to me, or received by me (首问) and not yet assigned; an org: assigned to it
    due_soon = "due_soon"  # 即将到期: open, not paused, the handling deadline within the warning days
    overdue = "overdue"  # 已超期: open, not paused, past the handling deadline (or the response deadline, unassigned)
    paused = "paused"  # 挂起中: open and paused
    awaiting_reply = "awaiting_reply"  # 待回复督办: a 督办 the station has not answered yet
    to_verify = "to_verify"  # 待核实: a 不满意 rating the head or the first responder has not verified yet (issue 10)


# Lists about a deadline are ordered by it, the nearest (or most late) first; the others newest first.
DUE_ORDERED = (Worklist.due_soon, Worklist.overdue)


@dataclass(frozen=True)
class Search:
    """What the caller asks the ledger for, besides the status and the page; every field is optional (AND)."""

    q: str | None = None  # tracking number (plain or printed), enterprise name, credit code or contact phone
    item: str | None = None  # a catalogue item code
    handler: str | None = None  # the assignee's id or name
    submitted_from: date | None = None  # China dates, inclusive
    submitted_to: date | None = None
    worklist: Worklist | None = None

    def __post_init__(self) -> None:
        if self.submitted_from and self.submitted_to and self.submitted_from > self.submitted_to:
            raise Invalid(
                f"起始日期 {self.submitted_from} 晚于截止日期 {self.submitted_to}，请检查受理日期范围",
                f"'from' ({self.submitted_from}) is after 'to' ({self.submitted_to})",
                field="from",
            )


NO_SEARCH = Search()


@dataclass(frozen=True)
class LedgerQuery:
    """The search with what the use case knows besides: who asks (for `mine`), China's today and how far
    "due soon" reaches (for the deadline lists)."""

    search: Search = NO_SEARCH
    subject: str = ""
    today: date | None = None
    due_soon_before: list[date] | None = None  # warn_before(today): the reach for each station's warn_days
    warn_days: int = 1  # the service's, for a station that keeps the default


def china_day_start(day: date) -> datetime:
    """The instant a China day begins (00:00 in Asia/Shanghai)."""
    return datetime.combine(day, time(), CHINA)


def submitted_between(search: Search) -> tuple[datetime | None, datetime | None]:
    """[from, to) as instants: from the start of the first China day to the start of the day after the last."""
    start = china_day_start(search.submitted_from) if search.submitted_from else None
    end = china_day_start(search.submitted_to + timedelta(days=1)) if search.submitted_to else None
    return start, end


WARN_DAYS_MAX = 10  # a station's or the service's warn_days (settings.py, 0007_clock.sql)


def warn_before(today: date, overrides: Mapping[date, bool] | None = None) -> list[date]:
    """ "Due soon" (预警) as dates, for SQL that cannot count working days: with `warn_days` w, a deadline on or after
    today is due soon iff it falls before element w, the (w+1)-th working day after today (w = 0: today only).
    The work list and the scheduler's warning use it alike, each station with its own warn_days."""
    return [add_working_days(today, w + 1, overrides) for w in range(WARN_DAYS_MAX + 1)]
