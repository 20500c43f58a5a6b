"""Dates the code computes from "now", at the awkward instants of tests/support/clock.py.

Every test here runs once per instant (the `frozen_clock` fixture) and reads the clock the way the services do,
through `utcnow()`: a date taken from the UTC timestamp instead of China's is one day early from 00:00 to 08:00
in China, and one year early in the first eight hours of January.
"""

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import chinese_calendar
import pytest

from services.archive import domain as archive
from services.intake.catalogue import domain as catalogue
from services.intake.demands import domain as intake
from shared.calendar import CHINA, add_working_days, china_today, is_workday
from shared.contracts import Channel, utcnow
from tests.support import clock
from tests.unit import factories as f


def test_the_instants_are_what_their_names_say():
    assert clock.WEEKDAY_LATE.weekday() == 2 and clock.WEEKDAY_EARLY.weekday() == 3  # Wednesday night, Thursday
    assert is_workday(date(2026, 11, 18)) and is_workday(date(2026, 11, 19))
    assert (clock.NEW_YEARS_EVE_LATE.date(), clock.NEW_YEAR_EARLY.date()) == (date(2026, 12, 31), date(2027, 1, 1))
    # 春节 2026: the package names the last working day before the holiday and its first day off.
    eve, first = clock.SPRING_FESTIVAL_EVE_LATE.date(), clock.SPRING_FESTIVAL_EARLY.date()
    assert chinese_calendar.is_workday(eve) and first == eve + timedelta(days=1)
    holiday = [date(2026, 2, 1) + timedelta(days=n) for n in range(40)]
    holiday = [d for d in holiday if chinese_calendar.get_holiday_detail(d) == (True, "Spring Festival")]
    assert holiday[0] == first and date(2026, 2, 17) in holiday
    assert all(chinese_calendar.is_workday(d) is False for d in holiday)
    # the next working day after the eve is after the whole holiday
    assert add_working_days(eve, 1) == holiday[-1] + timedelta(days=1) == date(2026, 2, 24)
    for instant in clock.INSTANTS.values():
        assert instant.utcoffset() == timedelta(hours=8)
        assert clock.CHINA_DATES[instant] == instant.date()
        assert clock.parse(instant.isoformat()) == instant
    assert clock.parse("new-year-early") == clock.NEW_YEAR_EARLY
    # make test's whole-tier runs: exactly the instants whose China date is not UTC's.
    ahead = {name for name, instant in clock.INSTANTS.items() if instant.astimezone(UTC).date() != instant.date()}
    assert set(clock.CHINA_DAY_AHEAD) == ahead
    with pytest.raises(ValueError):
        clock.parse("2026-12-31T23:30:00")  # no offset: ambiguous


def test_the_clock_stands_at_the_instant(frozen_clock):
    assert datetime.now(UTC) == utcnow() == frozen_clock
    assert china_today(utcnow()) == clock.CHINA_DATES[frozen_clock]


def test_at_half_past_midnight_the_utc_date_is_yesterday(frozen_clock):
    """The reason for the test clock: the mistake this suite must catch is real at these instants."""
    utc_date, china_date = utcnow().date(), china_today(utcnow())
    if frozen_clock.hour == 0:
        assert utc_date == china_date - timedelta(days=1)
    else:
        assert utc_date == china_date


# --- intake: tracking numbers and the date promised in the notice ------------------------------------------------

ITEM = catalogue.CatalogueItem(
    item_code="metrology.calibration",
    version=1,
    category="metrology",
    label="仪器校准",
    description="",
    materials=("器具清单",),
    time_limit_days=3,
    legal_limit_days=None,
    handled_by="organization",
)
ENTRIES = {ITEM.item_code: catalogue.resolve_entry(ITEM, "计量", [], f.STATION)}


def _demand(submitted_at: datetime, serial: int = 1) -> intake.Demand:
    return intake.new_demand(
        demand_id=uuid4(),
        station_id=f.STATION,
        serial=serial,
        submitted_at=submitted_at,
        received_at=None,
        enterprise_name="沈阳精密仪器有限公司",
        credit_code="91210112MA0U00001J",
        credit_code_flag=None,
        contact_name="王建国",
        contact_phone="+8613804001234",
        items=intake.pick_items([(ITEM.item_code, None, [])], ENTRIES),
        category_labels={"metrology": "计量"},
        description="压力表检定",
        channel=Channel.window,
        first_responder="张晓燕",
        first_responder_id=None,
        green_channel=None,
        green_channel_reason=None,
        details={},
        visit_id=None,
        possible_duplicate_of=None,
        correlation_id=uuid4(),
        workday_overrides={},
    )


# The third working day after the China date of each instant (the day of acceptance does not count).
DUE_IN_3_WORKING_DAYS = {
    clock.WEEKDAY_LATE: date(2026, 11, 23),  # Wed 18 → Thu, Fri, Mon 23
    clock.WEEKDAY_EARLY: date(2026, 11, 24),  # Thu 19 → Fri, Mon, Tue 24
    # 2027 is beyond chinesecalendar 1.11: Monday to Friday count until a station enters the year's corrections.
    clock.NEW_YEARS_EVE_LATE: date(2027, 1, 5),  # Thu 31 → Fri 1, Mon 4, Tue 5
    clock.NEW_YEAR_EARLY: date(2027, 1, 6),  # Fri 1 → Mon 4, Tue 5, Wed 6
    clock.SPRING_FESTIVAL_EVE_LATE: date(2026, 2, 26),  # the make-up Saturday 14 → Tue 24, Wed 25, Thu 26
    clock.SPRING_FESTIVAL_EARLY: date(2026, 2, 26),  # in the holiday → the same three days after it
}


def test_a_demand_submitted_now_is_numbered_and_promised_in_china_dates(frozen_clock):
    demand = _demand(utcnow(), serial=7)
    china_date = clock.CHINA_DATES[frozen_clock]
    assert demand.tracking_no == f"{china_date.year}-000007"
    assert demand.expected_on == DUE_IN_3_WORKING_DAYS[frozen_clock]


def test_tracking_numbers_either_side_of_new_year_midnight_land_in_different_years():
    before = datetime(2026, 12, 31, 23, 59, tzinfo=CHINA).astimezone(UTC)  # as utcnow() gives it
    after = datetime(2027, 1, 1, 0, 1, tzinfo=CHINA).astimezone(UTC)
    assert before.year == after.year == 2026  # still 2026 in UTC: the trap
    assert (intake.numbering_year(before), intake.numbering_year(after)) == (2026, 2027)
    assert (_demand(before, 999).tracking_no, _demand(after, 1).tracking_no) == ("2026-000999", "2027-000001")


# --- archive: archive numbers and retention ------------------------------------------------------------------------


def _sealed(sealed_at: datetime, serial: int = 1) -> archive.Dossier:
    s = f.submitted()
    events = [
        archive.LoggedEvent(
            event_id=e.event_id, routing_key=e.routing_key, occurred_at=e.occurred_at, payload=e.model_dump(mode="json")
        )
        for e in (s, f.assigned(s), f.resolved(s), f.rated(s))
    ]
    return archive.seal(events, serial=serial, sealed_at=sealed_at)


def test_a_dossier_sealed_now_is_numbered_and_kept_in_china_dates(frozen_clock):
    china_date = clock.CHINA_DATES[frozen_clock]
    for sealed_at in (utcnow(), utcnow().astimezone(CHINA)):  # whichever zone the caller hands over
        dossier = _sealed(sealed_at, serial=3)
        assert dossier.archive_no == f"A{china_date.year}-000003"
        assert dossier.retain_until == china_date.replace(year=china_date.year + archive.RETENTION_YEARS)


def test_archive_numbers_either_side_of_new_year_midnight_land_in_different_years():
    before = datetime(2026, 12, 31, 23, 59, tzinfo=CHINA).astimezone(UTC)
    after = datetime(2027, 1, 1, 0, 1, tzinfo=CHINA).astimezone(UTC)
    assert (_sealed(before, 57).archive_no, _sealed(after, 1).archive_no) == ("A2026-000057", "A2027-000001")
    assert (_sealed(before).retain_until, _sealed(after).retain_until) == (date(2029, 12, 31), date(2030, 1, 1))


def test_a_process_on_the_test_clock_keeps_time_with_the_others():
    """time-machine ticks from the first read of the clock: a service that imports for a while before its first
    read must not fall behind the processes started with it (the e2e timeline's order depends on it)."""
    import os
    import subprocess
    import sys
    import time

    import time_machine

    hatch = time_machine.escape_hatch
    real_start = hatch.time.time() if hatch.is_travelling() else time.time()
    code = (
        "import datetime, time, time_machine; from tests.support import clock; clock.start(); time.sleep(1.0); "
        "print(datetime.datetime.now(datetime.UTC).timestamp() - time_machine.escape_hatch.time.time())"
    )
    env = {**os.environ, "QS_TEST_CLOCK": "weekday-late", "QS_TEST_CLOCK_REAL_START": repr(real_start)}
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert time.perf_counter() - started >= 1.0
    offset = float(out)  # virtual minus real: the same in every process of the session
    assert abs(offset - (clock.WEEKDAY_LATE.timestamp() - real_start)) < 0.5
