"""SQL: The clock: pauses (挂起), extensions (延期), the station's clock settings, the calendar corrections.

A mixin on the tracking store (`self.conn` is the transaction's connection).
"""

import asyncpg

from shared.observability.metrics import StoreCounter

COUNTERS: tuple[StoreCounter, ...] = ()


class ClockStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
