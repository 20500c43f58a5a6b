"""Tracking subscribers: every lifecycle event it does not publish itself feeds the ledger."""

from shared.contracts import Archived, Assigned, DemandSubmitted, Event, Rated
from shared.runtime import ServiceRuntime

from . import usecases


def register(rt: ServiceRuntime) -> None:
    async def on_event(event: Event) -> None:
        await usecases.record_event(rt, event)

    # Resolved is tracking's own event, recorded in the transaction that publishes it.
    for event_type in (DemandSubmitted, Assigned, Rated, Archived):
        rt.consume(event_type, on_event)
