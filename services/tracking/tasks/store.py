"""SQL: Special tasks (专项工作, 002 §9.6) a supervisor assigns to the stations of its subtree.

A mixin on the tracking store (`self.conn` is the transaction's connection).
"""

import asyncpg

from shared.observability.metrics import StoreCounter

COUNTERS: tuple[StoreCounter, ...] = ()


class TaskStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
