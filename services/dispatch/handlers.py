"""Dispatch subscribers: submitted demands fill the queue, resolutions close it to rematch.

Each subscriber names its queue (bound to the `demand.events` exchange) and the use case it
calls; `UnitOfWork.handle` takes the demand's lock and claims the inbox before the use case.
Assigned is dispatch's own event, recorded in the transaction that publishes it.
"""

from shared.contracts import DemandSubmitted, Resolved
from shared.db.uow import UnitOfWork
from shared.messaging import EventRouter
from shared.settings import ServiceSettings

from . import usecases
from .store import Store


def subscribers(uow: UnitOfWork[Store], settings: ServiceSettings) -> EventRouter:
    router = EventRouter("dispatch", delivery_limit=settings.delivery_limit)

    @router.consumes(DemandSubmitted, queue="dispatch.demand.submitted")
    async def on_submitted(event: DemandSubmitted) -> None:
        await uow.handle(event, usecases.receive_demand)

    @router.consumes(Resolved, queue="dispatch.demand.resolved")
    async def on_resolved(event: Resolved) -> None:
        await uow.handle(event, usecases.record_resolved)

    return router
