import os
from datetime import datetime

import pytest
import time_machine

from shared.calendar import CHINA
from tests.support import clock, infra

_TRAVELLER = pytest.StashKey[time_machine.travel | None]()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """QS_TEST_CLOCK=<instant> runs the whole session, from here on, on a ticking clock started at that instant."""
    os.environ.pop(clock.REAL_START_ENV, None)  # this session is the first process of its clock
    config.stash[_TRAVELLER] = clock.start()


def pytest_unconfigure(config):
    if (traveller := config.stash.get(_TRAVELLER, None)) is not None:
        traveller.stop()


def pytest_report_header(config):
    if config.stash.get(_TRAVELLER, None) is not None:
        return f"test clock: {os.environ[clock.ENV]}, now {datetime.now(CHINA):%Y-%m-%d %H:%M} in China"
    return None


@pytest.fixture(params=list(clock.INSTANTS.values()), ids=list(clock.INSTANTS))
def frozen_clock(request):
    """The clock stopped at each awkward instant in turn (tests/support/clock.py); yields that instant."""
    with time_machine.travel(request.param, tick=False):
        yield request.param


@pytest.fixture
def vhost():
    name = infra.new_vhost()
    yield name
    infra.drop_vhost(name)


@pytest.fixture
def amqp(vhost) -> str:
    return infra.amqp_url(vhost)


@pytest.fixture
async def databases():
    """database_url(service) -> a fresh database URL; all are dropped after the test."""
    created: list[str] = []

    def make(service: str) -> str:
        url = infra.new_database_url(service)
        created.append(url)
        return url

    yield make
    for url in created:
        await infra.drop_database(url)
