"""A station's own work, received (handlers.py): one unit of work each, opened by `UnitOfWork.handle` (the fact's lock,
the inbox claim). Kept as the station's records (the archive's store has StationWorkStore mixed in); no demand's
dossier is touched and nothing is published.

Each record is stamped with the archive's clock when it is stored, after the claim and just before the insert
(`received_at`): the weekly report counts a visit or task report in the China week it arrived, and a finished week's
report is kept only once that week is over by the same clock (reports/domain.SETTLE), so each lands in one report.
"""

import structlog

from shared.contracts import SpecialTaskAssigned, SpecialTaskReported, VisitRecorded, utcnow
from shared.db.uow import Tx

from . import domain
from .store import StationWorkStore

log = structlog.get_logger(__name__)


async def record_visit(tx: Tx[StationWorkStore], event: VisitRecorded) -> None:
    await tx.store.add_visit(domain.visit(event, utcnow()), event.event_id, event.occurred_at)


async def record_task_assigned(tx: Tx[StationWorkStore], event: SpecialTaskAssigned) -> None:
    parts = domain.parts(event)
    await tx.store.add_parts(parts, event.event_id, event.occurred_at, utcnow())
    log.debug("special task parts kept", task_id=str(event.task_id), stations=len(parts))


async def record_task_report(tx: Tx[StationWorkStore], event: SpecialTaskReported) -> None:
    await tx.store.add_report(domain.report(event, utcnow()), event.event_id, event.occurred_at)
