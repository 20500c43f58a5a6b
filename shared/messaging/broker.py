"""Broker factory, declared failure topology and the one way every service subscribes.

Each consumer gets one quorum queue per event with an explicit delivery limit and
at-least-once dead-lettering into its own `.dlq` (design rule 4). Transient errors
nack and are redelivered until the limit; a message that cannot be parsed is
rejected straight to the DLQ and the consumer keeps consuming.
"""

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aio_pika
import structlog
from faststream import AckPolicy
from faststream.exceptions import RejectMessage
from faststream.middlewares import BaseMiddleware
from faststream.rabbit import (
    Channel,
    ExchangeType,
    QueueType,
    RabbitBroker,
    RabbitExchange,
    RabbitMessage,
    RabbitQueue,
)
from faststream.rabbit.prometheus import RabbitPrometheusMiddleware
from pydantic import ValidationError

from shared.contracts import (
    DEAD_LETTER_EXCHANGE,
    EXCHANGE,
    Event,
    dead_letter_queue_name,
    queue_name,
)
from shared.observability.metrics import ServiceMetrics

log = structlog.get_logger(__name__)

EVENTS_EXCHANGE = RabbitExchange(EXCHANGE, type=ExchangeType.TOPIC, durable=True)


class LogContextMiddleware(BaseMiddleware):
    """Binds the message's ids to every log line written while it is handled."""

    async def consume_scope(self, call_next, msg):
        headers = msg.headers or {}
        with structlog.contextvars.bound_contextvars(
            event_id=msg.message_id,
            correlation_id=msg.correlation_id,
            station_id=headers.get("x-station-id"),
            demand_id=headers.get("x-demand-id"),
        ):
            return await call_next(msg)


def create_broker(*, amqp_url: str, prefetch: int, metrics: ServiceMetrics, app_name: str) -> RabbitBroker:
    return RabbitBroker(
        amqp_url,
        # on_return_raises: an unroutable (returned) message fails the publish instead of passing as sent
        default_channel=Channel(prefetch_count=prefetch, publisher_confirms=True, on_return_raises=True),
        app_id=app_name,
        # through the root logger, so broker lines are JSON with the service's context like ours
        logger=logging.getLogger("faststream"),
        log_level=logging.DEBUG,  # per-message received/processed lines only when debugging
        reconnect_interval=2.0,
        graceful_timeout=15.0,
        middlewares=(
            LogContextMiddleware,
            RabbitPrometheusMiddleware(registry=metrics.registry, app_name=app_name),
        ),
    )


def consumer_queue(consumer: str, event_type: type[Event], delivery_limit: int) -> RabbitQueue:
    name = queue_name(consumer, event_type)
    return RabbitQueue(
        name,
        queue_type=QueueType.QUORUM,
        durable=True,
        routing_key=event_type.routing_key,
        arguments={
            "x-delivery-limit": delivery_limit,
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
            "x-dead-letter-routing-key": name,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        },
    )


async def _raw_body(msg: RabbitMessage) -> bytes:
    # Parsing is ours, so a malformed body becomes a reject, not a decode crash.
    return msg.body


Handle = Callable[[Any], Awaitable[None]]


def subscribe(
    broker: RabbitBroker,
    *,
    consumer: str,
    event_type: type[Event],
    handle: Handle,
    delivery_limit: int,
    metrics: ServiceMetrics,
) -> str:
    """Register `handle(event)` for one event type; returns the queue name."""
    queue = consumer_queue(consumer, event_type, delivery_limit)

    async def consume(body: bytes) -> None:
        try:
            event = event_type.from_json(body)
        except ValidationError as exc:
            metrics.dead_lettered.labels(queue=queue.name, reason="malformed").inc()
            log.error("malformed message rejected to DLQ", queue=queue.name, errors=exc.errors(include_url=False))
            raise RejectMessage() from exc
        with structlog.contextvars.bound_contextvars(
            event_id=str(event.event_id),
            correlation_id=str(event.correlation_id),
            station_id=event.station_id,
            demand_id=str(event.demand_id),
        ):
            await handle(event)
        metrics.events_consumed.labels(event=event_type.routing_key).inc()

    consume.__name__ = f"consume_{queue.name.replace('.', '_')}"
    broker.subscriber(
        queue,
        EVENTS_EXCHANGE,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=_raw_body,
        title=queue.name,
        description=f"{consumer} consumes {event_type.__name__}",
    )(consume)
    return queue.name


async def declare_dead_letters(connection: aio_pika.abc.AbstractConnection, queues: list[str]) -> None:
    """The DLX and one DLQ per consumer queue, declared before the consumer queues exist."""
    async with connection.channel() as channel:
        dlx = await channel.declare_exchange(DEAD_LETTER_EXCHANGE, aio_pika.ExchangeType.DIRECT, durable=True)
        await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        for name in queues:
            dlq = await channel.declare_queue(
                dead_letter_queue_name(name), durable=True, arguments={"x-queue-type": "quorum"}
            )
            await dlq.bind(dlx, routing_key=name)
