"""Service apps for integration tests, and direct access to the broker as another service would have."""

import importlib
import json

import aio_pika
from fastapi import FastAPI

from shared.contracts import EXCHANGE, Event

# Store figures read at every scrape: a test that changes something then scrapes once sees the change.
FAST = {"outbox_poll_seconds": 0.2, "dlq_check_seconds": 0.5, "delivery_limit": 2, "store_metrics_every_seconds": 0}


def make_app(service: str, *, amqp_url: str, database_url: str, **overrides) -> FastAPI:
    app_module = importlib.import_module(f"services.{service}.app")
    settings_module = importlib.import_module(f"services.{service}.settings")
    settings = settings_module.Settings(amqp_url=amqp_url, database_url=database_url, **{**FAST, **overrides})
    return app_module.create_app(settings)


async def publish(amqp_url: str, routing_key: str, body: bytes, message_id: str | None = None) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(EXCHANGE)
        await exchange.publish(
            aio_pika.Message(
                body,
                message_id=message_id,
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=routing_key,
        )


async def publish_event(amqp_url: str, event: Event) -> None:
    await publish(amqp_url, event.routing_key, event.model_dump_json().encode(), str(event.event_id))


async def capture_queue(amqp_url: str, name: str, routing_key: str) -> None:
    """A plain queue bound like a consumer's, to see exactly what was published."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(name, durable=True)
        await queue.bind(exchange, routing_key)


async def drain(amqp_url: str, name: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    connection = await aio_pika.connect(amqp_url)
    messages = []
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, passive=True)
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            messages.append(message)
    return messages


def body_of(message) -> dict:
    return json.loads(message.body)
