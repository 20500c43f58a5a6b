"""Evaluation subscribers: Assigned says who served; Resolved opens the survey.

Each subscriber names its queue (bound to the `demand.events` exchange) and the use case it
calls; `UnitOfWork.handle` takes the demand's lock and claims the inbox before the use case.
Rated is evaluation's own event, written to the outbox with the rating that produced it.
"""

from shared.contracts import Assigned, Resolved
from shared.db.uow import UnitOfWork
from shared.messaging import EventRouter
from shared.settings import ServiceSettings

from . import usecases
from .store import Store


def subscribers(uow: UnitOfWork[Store], settings: ServiceSettings) -> EventRouter:
    router = EventRouter("evaluation", delivery_limit=settings.delivery_limit)

    @router.consumes(Assigned, queue="evaluation.demand.assigned")
    async def on_assigned(event: Assigned) -> None:
        await uow.handle(event, usecases.record_assigned)

    @router.consumes(Resolved, queue="evaluation.demand.resolved")
    async def on_resolved(event: Resolved) -> None:
        await uow.handle(event, usecases.open_survey)

    return router
