"""A station's own work, received (handlers.py): one unit of work each, opened by `UnitOfWork.handle` (the fact's lock,
the inbox claim). Kept as the station's records (the archive's store has StationWorkStore mixed in); no demand's
dossier is touched and nothing is published."""

import structlog

from shared.contracts import SpecialTaskAssigned, SpecialTaskReported, VisitRecorded
from shared.db.uow import Tx

from . import domain
from .store import StationWorkStore

log = structlog.get_logger(__name__)


async def record_visit(tx: Tx[StationWorkStore], event: VisitRecorded) -> None:
    await tx.store.add_visit(domain.visit(event), event.event_id, event.occurred_at)


async def record_task_assigned(tx: Tx[StationWorkStore], event: SpecialTaskAssigned) -> None:
    parts = domain.parts(event)
    await tx.store.add_parts(parts, event.event_id, event.occurred_at)
    log.debug("special task parts kept", task_id=str(event.task_id), stations=len(parts))


async def record_task_report(tx: Tx[StationWorkStore], event: SpecialTaskReported) -> None:
    await tx.store.add_report(domain.report(event), event.event_id, event.occurred_at)
