"""Use cases: the clock."""

from shared.contracts import CalendarCorrected
from shared.db.uow import Tx

from ..domain import Case


async def with_clock(tx: Tx, case: Case) -> Case:
    """The case with its clock answers (response_due_on, handling_due_on, paused_since) recomputed from its facts."""
    return case


async def record_calendar_correction(tx: Tx, event: CalendarCorrected) -> None:
    """Keep the correction and recompute the open cases' deadlines (placeholder until implemented)."""
