"""Dispatch's copy of the working-day corrections intake owns, fed by CalendarCorrected (design.md: reference data)."""
