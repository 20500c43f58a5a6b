"""The archive's catalogue search (GET /dossiers) without I/O: sealing dates are China dates, and the enterprise a
listed dossier names is the one its submission sealed (none once disposed of). The SQL is covered by
tests/integration/test_archive_search.py."""

from datetime import UTC, date, datetime
from uuid import uuid4

import pytest

from services.archive import domain as archive
from shared.errors import Invalid


def test_a_dossier_search_takes_china_dates_and_refuses_a_period_that_runs_backwards():
    s = archive.dossier_search("A2026-0001", date(2026, 12, 31), date(2027, 1, 1))
    assert s.since == datetime(2026, 12, 30, 16, tzinfo=UTC)  # 00:00 on 31 December in China
    assert s.until == datetime(2027, 1, 1, 16, tzinfo=UTC)  # the day after the last day, 00:00 in China
    assert s.detail() == {"q": "A2026-0001", "sealed_from": "2026-12-31", "sealed_to": "2027-01-01"}
    assert archive.dossier_search(None, None, None) == archive.DossierSearch()
    assert archive.DossierSearch().detail() == {} and archive.DossierSearch().since is None
    with pytest.raises(Invalid) as backwards:
        archive.dossier_search(None, date(2026, 2, 15), date(2026, 2, 14))
    assert backwards.value.field == "sealed_to"


def sealed(content: dict | None) -> archive.Dossier:
    return archive.Dossier(
        demand_id=uuid4(),
        station_id="210100/210112/hunnan-01",
        tracking_no="2026-000123",
        archive_no="A2026-000001",
        sealed_at=datetime(2026, 11, 18, 15, 30, tzinfo=UTC),
        retain_until=date(2029, 11, 18),
        content=content,
        content_sha256="0" * 64,
    )


def test_a_listed_dossier_names_the_enterprise_its_submission_sealed_and_none_once_disposed_of():
    firm = {"name": "沈阳精工齿轮有限公司", "credit_code": "91210112MA0U00006"}
    assert sealed({"demand": {"enterprise": firm}}).sealed_enterprise() == {
        "enterprise_name": "沈阳精工齿轮有限公司",
        "credit_code": "91210112MA0U00006",
    }
    nothing = {"enterprise_name": None, "credit_code": None}
    assert sealed(None).sealed_enterprise() == nothing  # disposed of: only the numbers stay
    assert sealed({"demand": {"enterprise": "?"}}).sealed_enterprise() == nothing
    assert sealed({"demand": {"enterprise": {"name": 7}}}).sealed_enterprise() == nothing
