"""The working-day corrections dispatch counts default due dates with (法定节假日、调休上班日).

Intake owns the calendar (PUT /calendar/{day}) and announces every correction, removals too, when made and
again on start and periodically, as CalendarCorrected; dispatch keeps its own copy (design.md: reference
data) so its due dates agree with the acceptance notice's.
"""

from shared.contracts import CalendarCorrected
from shared.db.uow import Tx

from .store import CalendarStore


async def record_correction(tx: Tx[CalendarStore], event: CalendarCorrected) -> None:
    """Order-tolerant: the day keeps the correction intake made last (by occurred_at); a removal
    (is_workday None) is kept as removed, so a late older correction does not bring the day back."""
    await tx.store.record_calendar_correction(
        event.day, event.is_workday, event.note, event.event_id, event.occurred_at
    )
