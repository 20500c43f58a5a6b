"""Archive subscribers: every lifecycle event before Archived goes into the demand's record."""

from shared.contracts import Assigned, DemandSubmitted, Event, Rated, Resolved
from shared.runtime import ServiceRuntime

from . import usecases


def register(rt: ServiceRuntime) -> None:
    async def on_event(event: Event) -> None:
        await usecases.collect(rt, event)

    for event_type in (DemandSubmitted, Assigned, Resolved, Rated):
        rt.consume(event_type, on_event)
