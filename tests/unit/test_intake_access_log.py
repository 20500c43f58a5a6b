"""Intake's access-log rules: one line per station a read showed, and the period of China dates."""

from datetime import UTC, date, datetime

import pytest

from services.intake.access_log import domain
from shared.auth import Principal, Role
from shared.errors import Invalid

SUPERVISOR = Principal(subject="sup-1", name="沈阳市市场监管局", role=Role.supervisor, station="210100")
AT = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
HUNNAN, TIEXI = "210100/210112/hunnan-01", "210100/210106/tiexi-01"


def test_a_list_is_one_line_per_station_it_showed():
    shown = [(HUNNAN, "A"), (TIEXI, "B"), (HUNNAN, "C")]
    lines = domain.lines(SUPERVISOR, AT, "enterprise.list", "enterprise", "210100", shown)
    assert [(a.station_id, a.ref, a.refs) for a in lines] == [(HUNNAN, None, ("A", "C")), (TIEXI, "B", ("B",))]
    assert {(a.subject, a.subject_name, a.role, a.purpose) for a in lines} == {
        ("sup-1", "沈阳市市场监管局", "supervisor", "enterprise.list")
    }


def test_a_read_that_showed_nothing_is_one_line_for_the_scope_asked():
    [line] = domain.lines(SUPERVISOR, AT, "enterprise.list", "enterprise", "210100", [])
    assert (line.station_id, line.ref, line.refs) == ("210100", None, ())


def test_the_period_covers_whole_china_days_and_refuses_to_before_from():
    since, until = domain.period(date(2026, 3, 1), date(2026, 3, 2))
    assert (since.astimezone(UTC), until.astimezone(UTC)) == (
        datetime(2026, 2, 28, 16, tzinfo=UTC),
        datetime(2026, 3, 2, 16, tzinfo=UTC),
    )
    assert domain.period(None, None) == (None, None)
    with pytest.raises(Invalid) as refused:
        domain.period(date(2026, 3, 2), date(2026, 3, 1))
    assert refused.value.field == "to"
