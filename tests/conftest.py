import pytest

from tests.support import infra


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
