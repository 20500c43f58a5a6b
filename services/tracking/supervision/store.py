"""SQL: Warnings (预警), chases (催办) and supervision (督办): the scheduler and the supervisors' hand.

A mixin on the tracking store (`self.conn` is the transaction's connection).
"""

import asyncpg

from shared.observability.metrics import StoreCounter

COUNTERS: tuple[StoreCounter, ...] = ()


class SupervisionStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
