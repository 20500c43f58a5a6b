"""The working-day corrections dispatch counts default due dates with (法定节假日、调休上班日).

Intake owns the calendar and announces every correction as CalendarCorrected; dispatch keeps its own copy
(design.md: reference data) so its due dates agree with the acceptance notice's. The rule (newest by when intake
made it wins; a removal is a tombstone) is shared with tracking: shared/calendar_corrections.py.
"""

from shared.calendar_corrections import record_correction

__all__ = ["record_correction"]
