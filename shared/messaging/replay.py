"""Move dead-lettered messages back to their queue once the cause is fixed.

    python -m shared.messaging.replay tracking.demand.resolved [--limit 100] [--amqp-url URL]

Each message is republished (persistent, confirmed, same message_id so the inbox
still dedupes) to its original queue, then acked on the DLQ: a crash in between
replays it twice, never loses it.
"""

import argparse
import asyncio

import aio_pika

from shared.contracts import dead_letter_queue_name


async def replay(amqp_url: str, queue: str, limit: int | None = None) -> int:
    moved = 0
    connection = await aio_pika.connect_robust(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        dlq = await channel.declare_queue(dead_letter_queue_name(queue), passive=True)
        while limit is None or moved < limit:
            message = await dlq.get(no_ack=False, fail=False)
            if message is None:
                break
            headers = {k: v for k, v in (message.headers or {}).items() if not k.startswith("x-death")}
            headers.pop("x-first-death-exchange", None)
            await channel.default_exchange.publish(
                aio_pika.Message(
                    body=message.body,
                    headers=headers,
                    content_type=message.content_type,
                    message_id=message.message_id,
                    correlation_id=message.correlation_id,
                    type=message.type,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=queue,
                mandatory=True,
            )
            await message.ack()
            moved += 1
    return moved


def main() -> None:
    parser = argparse.ArgumentParser(description="Replay dead-lettered messages into their queue.")
    parser.add_argument("queue", help="the consumer queue, e.g. tracking.demand.resolved")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672/")
    args = parser.parse_args()
    moved = asyncio.run(replay(args.amqp_url, args.queue, args.limit))
    print(f"replayed {moved} message(s) into {args.queue}")


if __name__ == "__main__":
    main()
