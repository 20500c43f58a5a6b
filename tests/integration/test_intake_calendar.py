"""Intake's list of working-day corrections on PostgreSQL (GET /calendar?year=, calendar/store.py _IN_SPAN): one
year's corrections in force, in date order — its first and last days in, the days either side out, a removed
correction (a tombstone) out. The use case's span is tested with the fake unit of work
(tests/unit/test_intake_calendar_list.py)."""

from datetime import date

import pytest

from tests.support import auth, infra
from tests.support.apps import capture_queue, make_app

pytestmark = pytest.mark.integration

# Announced already: the corrections put in by hand here are not published again while the test runs.
_PUT = "INSERT INTO calendar_overrides (day, is_workday, note, announced_at) VALUES ($1, $2, $3, now())"
_TOMBSTONE = "SELECT is_workday FROM calendar_overrides WHERE day = '2027-05-06'"


async def test_a_years_list_holds_its_own_days_in_force_in_date_order(amqp, databases):
    await capture_queue(amqp, "test.calendar", "calendar.corrected")  # the removal below is published
    db = databases("intake")
    async with infra.running(make_app("intake", amqp_url=amqp, database_url=db)) as intake:
        for day, is_workday, note in (
            (date(2027, 10, 9), True, "调休上班"),
            (date(2028, 1, 1), False, "元旦（次年）"),
            (date(2027, 1, 1), False, "元旦"),
            (date(2026, 12, 31), False, "跨年（上年）"),
            (date(2027, 12, 31), False, "年末调整"),
            (date(2027, 2, 8), False, "春节"),
            (date(2027, 5, 6), False, "临时调整"),
        ):
            await infra.fetch(db, _PUT, day, is_workday, note)
        removed = await intake.delete("/calendar/2027-05-06", headers=auth.ADMIN)
        assert removed.status_code == 204, removed.text
        assert [r["is_workday"] for r in await infra.fetch(db, _TOMBSTONE)] == [None]  # kept as a tombstone

        reply = await intake.get("/calendar", params={"year": 2027}, headers=auth.CLERK)
        assert reply.status_code == 200, reply.text
        assert [(c["day"], c["is_workday"], c["note"]) for c in reply.json()] == [
            ("2027-01-01", False, "元旦"),
            ("2027-02-08", False, "春节"),
            ("2027-10-09", True, "调休上班"),
            ("2027-12-31", False, "年末调整"),
        ]
        the_next = await intake.get("/calendar", params={"year": 2028}, headers=auth.CLERK)
        assert [c["day"] for c in the_next.json()] == ["2028-01-01"]
        wild = await intake.get("/calendar", params={"year": 2101}, headers=auth.CLERK)
        assert wild.status_code == 422 and "year" in wild.text
