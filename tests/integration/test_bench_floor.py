"""The bench's lifecycle floor (devtools/bench_floor.py) on the real RabbitMQ and PostgreSQL: every lifecycle it
counts made all its deliveries through quorum queues into the inbox, and it leaves nothing behind."""

import asyncpg
import pytest

from devtools import bench_floor, bench_system

pytestmark = pytest.mark.integration


async def test_floor_lifecycles_make_every_delivery_and_leave_nothing_behind():
    admin = bench_system.RabbitAdmin()
    vhost = bench_system.new_vhost_name()
    await admin.create_vhost(vhost)
    try:
        floor = await bench_floor.lifecycle_floor(vhost, seconds=1.0, clients=4)
        assert floor["sealed"] > 0 and floor["events"] == 6 and floor["deliveries"] == 20
        assert floor["done"] == {"facts": floor["sealed"] * 20, "claims": floor["sealed"] * 20, "unpublished": 0}
        cpu = floor["cpu_ms_per_lifecycle"]
        assert set(cpu) == {"floor (this process)", "postgres (whole server)", "rabbitmq (whole node)"}
        assert all(ms > 0 for ms in cpu.values())
        assert floor["servers_bound_lifecycles_per_s"] > floor["bound_lifecycles_per_s"]
        assert floor["bound_lifecycles_per_s"] == pytest.approx(
            floor["cores"] * 1000 / floor["total_ms_per_lifecycle"], rel=0.01
        )
        assert [q["name"] for q in await admin.queues(vhost)] == []
    finally:
        await admin.delete_vhost(vhost)
        await admin.close()
    conn = await asyncpg.connect(bench_system.database_url("postgres"))
    try:
        assert await conn.fetchval("SELECT count(*) FROM pg_database WHERE datname = $1", bench_floor.FLOOR_DB) == 0
    finally:
        await conn.close()
