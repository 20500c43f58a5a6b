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
