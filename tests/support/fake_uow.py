"""An in-memory unit of work with the shape of shared.db.uow (cosmicpython's FakeUnitOfWork).

Use cases run against a service's fake store without PostgreSQL; what they publish is
kept only when the unit of work commits, as the outbox would.
"""

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from shared.auth import SYSTEM, Principal, in_scope
from shared.contracts import Envelope
from shared.errors import NotFound
from shared.idempotency import Idempotent


@dataclass
class FakeTx:
    store: Any
    principal: Principal
    published: list[Envelope] = field(default_factory=list)
    remembered: dict = field(default_factory=dict)  # the unit of work's, shared by its transactions

    async def scope(self, station_id: str | None = None) -> str:
        own = self.principal.db_scope
        if station_id is None:
            return own
        if not own or not in_scope(station_id, own):
            raise NotFound("未找到该服务站", "station not found")
        return station_id

    async def publish(self, event: Envelope) -> None:
        self.published.append(event)

    async def recall(self, request: Idempotent | None) -> dict | None:
        if request is None or (request.caller, request.key) not in self.remembered:
            return None
        digest, result = self.remembered[(request.caller, request.key)]
        if digest != request.request_sha256:
            raise request.conflict()
        return result

    async def remember(self, request: Idempotent | None, result: dict) -> None:
        if request is not None:
            self.remembered[(request.caller, request.key)] = (request.request_sha256, result)


class FakeUnitOfWork:
    def __init__(self, store: Any, consumer: str = "test") -> None:
        self.store = store
        self.consumer = consumer
        self.published: list[Envelope] = []
        self.handled: set = set()
        self.remembered: dict = {}

    @contextlib.asynccontextmanager
    async def begin(self, principal: Principal = SYSTEM, *, lock: object = None) -> AsyncIterator[FakeTx]:
        tx = FakeTx(store=self.store, principal=principal, remembered=dict(self.remembered))
        yield tx
        self.published.extend(tx.published)  # only on commit: an exception skips this
        self.remembered = tx.remembered

    async def handle(self, event: Envelope, usecase) -> bool:
        if event.event_id in self.handled:
            return False
        async with self.begin() as tx:
            await usecase(tx, event)
        self.handled.add(event.event_id)
        return True

    def events(self, event_type: type[Envelope]) -> list[Envelope]:
        return [e for e in self.published if isinstance(e, event_type)]
