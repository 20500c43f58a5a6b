"""SQL: Follow-ups (跟进记录) and appointments on the tracking sheet, and the sheet's print.

A mixin on the tracking store (`self.conn` is the transaction's connection).
"""

import asyncpg

from shared.observability.metrics import StoreCounter

COUNTERS: tuple[StoreCounter, ...] = ()


class FollowUpStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
