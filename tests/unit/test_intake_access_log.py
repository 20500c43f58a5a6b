"""Intake's access-log rules: one line per station a read showed (each ref once), the documented purposes, and the
period of China dates."""

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


def test_a_ref_shown_twice_is_named_once_in_the_order_first_shown():
    shown = [(HUNNAN, "A"), (HUNNAN, "B"), (HUNNAN, "A")]
    [line] = domain.lines(SUPERVISOR, AT, "visit.list", "enterprise", "210100", shown)
    assert (line.ref, line.refs) == (None, ("A", "B"))
    [one] = domain.lines(SUPERVISOR, AT, "visit.list", "enterprise", "210100", [(HUNNAN, "A"), (HUNNAN, "A")])
    assert (one.ref, one.refs) == ("A", ("A",))


def test_an_export_is_one_line_per_station_naming_every_demand_in_it():
    shown = [(HUNNAN if n % 3 else TIEXI, f"demand-{n}") for n in range(10_000)]
    lines = domain.lines(SUPERVISOR, AT, "ledger.export", "demand", "210100", shown)
    assert [(a.station_id, len(a.refs)) for a in lines] == [(TIEXI, 3334), (HUNNAN, 6666)]
    assert sum(len(a.refs) for a in lines) == 10_000 and {a.ref for a in lines} == {None}


def test_every_purpose_is_documented_and_an_undocumented_one_is_refused():
    assert set(domain.PURPOSES) == {
        "enterprise.read",
        "enterprise.list",
        "visit.read",
        "visit.list",
        "demand.read",
        "demand.list",
        "notice.read",
        "ledger.export",
    }
    with pytest.raises(ValueError, match="demand.lsit"):
        domain.lines(SUPERVISOR, AT, "demand.lsit", "demand", "210100", [])
