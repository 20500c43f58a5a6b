"""The test clock: the awkward instants of a China-dated system, and how a process runs under one of them.

`QS_TEST_CLOCK=<ISO-8601 instant with offset>` makes the pytest session (tests/conftest.py) and every service
process the tests start (tests/support/clocked.py) run under `time_machine.travel(instant, tick=True)`.
`make test-clock` runs the suite once under each instant of `INSTANTS`.

All processes of one session share one virtual clock: the session records the real time it started at in
`QS_TEST_CLOCK_REAL_START`, and a process that starts later travels to `instant + (real now - real start)`,
so a token minted by the tests at virtual 23:31 is not "issued in the future" for a service that started at
virtual 23:30.

Production code knows nothing of this; PostgreSQL's now() is not frozen (only bookkeeping defaults use it).
"""

import os
import time
from datetime import UTC, date, datetime, timedelta

import time_machine

ENV = "QS_TEST_CLOCK"
REAL_START_ENV = "QS_TEST_CLOCK_REAL_START"


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# An ordinary weekday (Wednesday 18 / Thursday 19 November 2026): 23:30 in China is 15:30 UTC the same day,
# 00:30 in China is 16:30 UTC the day before.
WEEKDAY_LATE = _at("2026-11-18T23:30:00+08:00")
WEEKDAY_EARLY = _at("2026-11-19T00:30:00+08:00")
# New Year: the last half hour of 2026 and the first of 2027 in China (both still 2026 in UTC).
NEW_YEARS_EVE_LATE = _at("2026-12-31T23:30:00+08:00")
NEW_YEAR_EARLY = _at("2027-01-01T00:30:00+08:00")
# 春节 2026 (17 February): Saturday 14 February is the last working day (a 调休 make-up Saturday),
# the holiday runs from Sunday 15 to Monday 23 February (checked in tests/unit/test_calendar.py).
SPRING_FESTIVAL_EVE_LATE = _at("2026-02-14T23:30:00+08:00")
SPRING_FESTIVAL_EARLY = _at("2026-02-15T00:30:00+08:00")

INSTANTS: dict[str, datetime] = {
    "weekday-late": WEEKDAY_LATE,
    "weekday-early": WEEKDAY_EARLY,
    "new-years-eve-late": NEW_YEARS_EVE_LATE,
    "new-year-early": NEW_YEAR_EARLY,
    "spring-festival-eve-late": SPRING_FESTIVAL_EVE_LATE,
    "spring-festival-early": SPRING_FESTIVAL_EARLY,
}

# Where China's date is already tomorrow in UTC terms (00:30 China is 16:30 UTC the day before): a date taken
# from UTC, or from a naive clock, is wrong here. `make test` runs the unit tier at each.
CHINA_DAY_AHEAD: tuple[str, ...] = ("weekday-early", "new-year-early", "spring-festival-early")

# The China date of each instant, written out by hand (not computed) so a test can compare against it.
CHINA_DATES: dict[datetime, date] = {
    WEEKDAY_LATE: date(2026, 11, 18),
    WEEKDAY_EARLY: date(2026, 11, 19),
    NEW_YEARS_EVE_LATE: date(2026, 12, 31),
    NEW_YEAR_EARLY: date(2027, 1, 1),
    SPRING_FESTIVAL_EVE_LATE: date(2026, 2, 14),
    SPRING_FESTIVAL_EARLY: date(2026, 2, 15),
}


def parse(text: str) -> datetime:
    """An instant from `QS_TEST_CLOCK`: ISO 8601 with its offset, or the name of one of `INSTANTS`."""
    if text in INSTANTS:
        return INSTANTS[text]
    instant = datetime.fromisoformat(text)
    if instant.tzinfo is None:
        raise ValueError(f"{ENV}={text!r} needs an offset, e.g. 2026-12-31T23:30:00+08:00")
    return instant


def configured() -> datetime | None:
    """The instant this process should run at now, or None when no test clock is set."""
    text = os.environ.get(ENV)
    if not text:
        return None
    start = os.environ.setdefault(REAL_START_ENV, repr(time.time()))  # the first process sets it for its children
    return parse(text) + timedelta(seconds=max(0.0, time.time() - float(start)))


def start() -> time_machine.travel | None:
    """Start ticking travel to the configured instant (call before anything reads the clock); None if unset."""
    instant = configured()
    if instant is None:
        return None
    traveller = time_machine.travel(instant.astimezone(UTC), tick=True)
    traveller.start()
    # time-machine starts ticking at the first read of the clock, not at start(): read it now, or a process that
    # spends a second importing before its first read runs a second behind the others.
    time.time()
    return traveller
