"""Dispatch's copy of the working-day corrections: the shared store mixin (shared/calendar_corrections.py), over
the table `calendar_corrections` of migration 0008."""

from shared.calendar_corrections import CalendarCorrectionsStore as CalendarStore

__all__ = ["CalendarStore"]
