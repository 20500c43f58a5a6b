"""Intake subscribers: the demand's progress for the enterprise's status link, and its archiving."""

from shared.contracts import Archived, Assigned, Event, Rated, Resolved
from shared.runtime import ServiceRuntime

from . import usecases


def register(rt: ServiceRuntime) -> None:
    async def on_progress(event: Event) -> None:
        await usecases.record_progress(rt, event)

    async def on_archived(event: Archived) -> None:
        await usecases.record_archived(rt, event)

    for event_type in (Assigned, Resolved, Rated):
        rt.consume(event_type, on_progress)
    rt.consume(Archived, on_archived)
