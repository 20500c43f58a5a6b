"""Broker factory, declared failure topology and the one way every service subscribes.

Each consumer gets one quorum queue per event with an explicit delivery limit and
at-least-once dead-lettering into its own `.dlq` (design rule 4). Transient errors
nack and are redelivered until the limit; a message that cannot be decoded or is not
the event its queue carries is rejected straight to the DLQ and the consumer keeps
consuming.
"""

import json
import logging
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
    RabbitRouter,
)
from faststream.rabbit.prometheus import RabbitPrometheusMiddleware
from pydantic import ValidationError

from shared.contracts import (
    DEAD_LETTER_EXCHANGE,
    EXCHANGE,
    Envelope,
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


def consumer_queue(consumer: str, event_type: type[Envelope], delivery_limit: int) -> RabbitQueue:
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


class EventRouter(RabbitRouter):
    """One service's subscriptions, declared in its handlers.py (design example 1).

    `@router.consumes(DemandSubmitted, queue="tracking.demand.submitted")` puts a typed
    subscriber on its own quorum queue bound to the events exchange, with the delivery
    limit and dead-lettering declared on the queue; the handler's parameter type is the
    payload schema the AsyncAPI document shows.
    """

    def __init__(self, consumer: str, *, delivery_limit: int) -> None:
        super().__init__(ack_policy=AckPolicy.NACK_ON_ERROR, decoder=_json_or_reject)
        self.consumer = consumer
        self.delivery_limit = delivery_limit
        self.queues: list[str] = []

    def consumes(self, event_type: type[Envelope], *, queue: str):
        expected = queue_name(self.consumer, event_type)
        if queue != expected:  # the name is the convention; writing it out keeps it visible
            raise ValueError(f"queue for {event_type.__name__} must be {expected!r}, not {queue!r}")
        self.queues.append(queue)
        return self.subscriber(
            consumer_queue(self.consumer, event_type, self.delivery_limit),
            EVENTS_EXCHANGE,
            title=queue,
            description=f"{self.consumer} consumes {event_type.__name__}",
        )


async def _json_or_reject(msg: RabbitMessage) -> Any:
    try:
        return json.loads(msg.body)
    except ValueError as exc:
        log.error("undecodable message rejected to DLQ", queue=msg.raw_message.routing_key, error=str(exc))
        raise RejectMessage() from exc


class RejectInvalidPayload:
    """A payload that is not the handler's event goes straight to the DLQ (design rule 4): redelivery cannot fix it."""

    def __init__(self, metrics: ServiceMetrics) -> None:
        self.metrics = metrics

    def __call__(self, msg: Any, **kwargs: Any) -> BaseMiddleware:
        return _RejectInvalidPayload(msg, metrics=self.metrics, **kwargs)


class _RejectInvalidPayload(BaseMiddleware):
    def __init__(self, msg: Any, *, metrics: ServiceMetrics, **kwargs: Any) -> None:
        super().__init__(msg, **kwargs)
        self.metrics = metrics

    async def consume_scope(self, call_next, msg):
        try:
            return await call_next(msg)
        except ValidationError as exc:  # from parsing the handler's argument: UnitOfWork.handle wraps its own
            subscriber = self.context.get_local("handler_")
            queue = subscriber.queue.name if subscriber is not None else msg.raw_message.routing_key
            self.metrics.dead_lettered.labels(queue=queue, reason="malformed").inc()
            log.error("malformed message rejected to DLQ", errors=exc.errors(include_url=False, include_input=False))
            raise RejectMessage() from exc


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
