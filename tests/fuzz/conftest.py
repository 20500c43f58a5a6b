"""The fuzz tier: each service's in-process ASGI app on a real PostgreSQL database and RabbitMQ vhost.

The apps are built when this folder is collected (building connects to nothing, design rule 7);
schemathesis starts each app's lifespan on its first request and keeps it running for the whole
tier; the session fixture below makes the vhost first and removes everything afterwards.
"""

import asyncio
import uuid

import pytest
from fastapi import FastAPI
from schemathesis.python import asgi

from tests.support import infra
from tests.support.apps import make_app

SERVICES = ("intake", "dispatch", "tracking", "evaluation", "archive")
# The public endpoints' limits would turn most of the fuzzer's requests into 429s.
UNLIMITED = {"public_rate_limit": "1000000/minute", "link_rate_limit": "1000000/minute"}
OVERRIDES = {"intake": {"public_rate_limit": UNLIMITED["public_rate_limit"]}, "evaluation": UNLIMITED}

VHOST = f"qs-test-fuzz-{uuid.uuid4().hex[:8]}"
DATABASES = {service: infra.new_database_url(service) for service in SERVICES}
APPS: dict[str, FastAPI] = {
    service: make_app(
        service, amqp_url=infra.amqp_url(VHOST), database_url=DATABASES[service], **OVERRIDES.get(service, {})
    )
    for service in SERVICES
}


@pytest.fixture(scope="session", autouse=True)
def fuzz_infra():
    """One vhost and one database per service for the whole tier; the apps share the vhost, as in production."""
    infra.new_vhost(VHOST)
    yield
    asgi.shutdown_lifespans()  # the lifespans run in schemathesis' event-loop thread until here
    for url in DATABASES.values():
        asyncio.run(infra.drop_database(url))
    infra.drop_vhost(VHOST)
