"""Dispatch subscribers: decode (in shared), call one use case."""

from shared.contracts import DemandSubmitted, Resolved
from shared.runtime import ServiceRuntime

from . import usecases


def register(rt: ServiceRuntime) -> None:
    async def on_submitted(event: DemandSubmitted) -> None:
        await usecases.receive_demand(rt, event)

    async def on_resolved(event: Resolved) -> None:
        await usecases.record_resolved(rt, event)

    rt.consume(DemandSubmitted, on_submitted)
    rt.consume(Resolved, on_resolved)
