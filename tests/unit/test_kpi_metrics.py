"""Every service serves the age of its outbox (issue 12): the runtime adds it to each service's own store figures."""

import importlib

import pytest
from prometheus_client import generate_latest

SERVICES = ("intake", "dispatch", "tracking", "evaluation", "archive")


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_serves_its_outbox_age_as_a_gauge(service):
    runtime = importlib.import_module(f"services.{service}.app").SERVICE.runtime()  # builds, connects to nothing
    text = generate_latest(runtime.metrics.registry).decode()
    assert "# TYPE qs_outbox_oldest_pending_seconds gauge" in text


def test_tracking_reads_its_case_kpis_in_one_query_with_a_value_for_each_family_column():
    from services.tracking.store import CASE_KPIS, COUNTERS

    assert CASE_KPIS in COUNTERS
    values = CASE_KPIS.sql.count("count(*)") + CASE_KPIS.sql.count("COALESCE(sum(")
    assert values == sum(counter.width for counter, _ in CASE_KPIS.columns)
    names = {counter.name for counter, _ in CASE_KPIS.columns}
    assert "qs_demand_resolution_working_days" in names
    assert "qs_demands_responded_total" in names and "qs_demands_resolved_total" in names
