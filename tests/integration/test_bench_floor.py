"""The bench's lifecycle floor (devtools/bench_floor.py) on the real RabbitMQ and PostgreSQL, both ways: every
lifecycle it counts made all its deliveries through quorum queues into the inbox, and it leaves nothing behind."""

import uuid

import pytest

from devtools import bench_floor
from tests.support import infra

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("batched", [False, True], ids=["per event", "batched"])
async def test_floor_lifecycles_make_every_delivery_and_leave_nothing_behind(amqp, vhost, batched):
    database = f"bench_floor_test_{uuid.uuid4().hex[:8]}"  # the bench module drops only bench_ databases
    floor = await bench_floor.lifecycle_floor(amqp, database, seconds=1.0, clients=4, batched=batched)
    # It read back exactly what the lifecycles it counted leave (it raises otherwise).
    assert floor["sealed"] > 0 and floor["events"] == 6 and floor["deliveries"] == 20
    assert floor["done"] == {"facts": floor["sealed"] * 20, "claims": floor["sealed"] * 20, "unpublished": 0}
    cpu = floor["cpu_ms_per_lifecycle"]
    assert set(cpu) == {"floor (this process)", "postgres (whole server)", "rabbitmq (whole node)"}
    assert all(ms > 0 for ms in cpu.values())
    assert floor["bound_lifecycles_per_s"] == pytest.approx(floor["cores"] * 1000 / floor["total_ms_per_lifecycle"])
    assert floor["servers_bound_lifecycles_per_s"] > floor["bound_lifecycles_per_s"]
    # Nothing left: no queue or exchange of its own, no database.
    queues = infra._admin("GET", f"/queues/{vhost}").json()
    exchanges = [e["name"] for e in infra._admin("GET", f"/exchanges/{vhost}").json()]
    assert queues == [] and not [e for e in exchanges if e.startswith("floor.")]
    rows = await infra.fetch(f"{infra.PG_SERVER}/postgres", "SELECT 1 FROM pg_database WHERE datname = $1", database)
    assert rows == []
