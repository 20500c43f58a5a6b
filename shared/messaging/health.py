"""Broker-side checks over a small separate connection: consumers present, DLQ depth."""

import asyncio
import contextlib

import aio_pika
import structlog

from shared.contracts import dead_letter_queue_name
from shared.observability.metrics import ServiceMetrics

log = structlog.get_logger(__name__)


async def queues_without_consumer(connection: aio_pika.abc.AbstractConnection, queues: list[str]) -> list[str]:
    """Names of the queues that exist with no consumer, or do not exist."""
    missing: list[str] = []
    for name in queues:
        # A passive declare of a missing queue closes the channel, so one channel per queue.
        try:
            async with connection.channel() as channel:
                queue = await channel.declare_queue(name, passive=True)
                if queue.declaration_result.consumer_count < 1:
                    missing.append(name)
        except aio_pika.exceptions.ChannelClosed:
            missing.append(name)
    return missing


async def dead_letter_depths(connection: aio_pika.abc.AbstractConnection, queues: list[str]) -> dict[str, int]:
    depths: dict[str, int] = {}
    async with connection.channel() as channel:
        for name in queues:
            dlq = await channel.declare_queue(dead_letter_queue_name(name), passive=True)
            depths[name] = dlq.declaration_result.message_count
    return depths


async def watch_dead_letters(
    connection: aio_pika.abc.AbstractConnection,
    queues: list[str],
    metrics: ServiceMetrics,
    every: float,
    stop: asyncio.Event,
) -> None:
    """Keeps the dlq_messages gauge current and logs when a DLQ grows, until `stop` is set."""
    seen: dict[str, int] = {}
    while not stop.is_set():
        try:
            for name, depth in (await dead_letter_depths(connection, queues)).items():
                metrics.dlq_messages.labels(queue=name).set(depth)
                if depth > seen.get(name, 0):
                    log.error("dead-lettered messages waiting", queue=dead_letter_queue_name(name), depth=depth)
                seen[name] = depth
        except (aio_pika.exceptions.AMQPError, OSError, RuntimeError) as exc:
            log.warning("dead-letter check failed", error=repr(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)
