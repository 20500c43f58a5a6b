"""Evaluation subscribers: Assigned says who served; Resolved opens the survey."""

from shared.contracts import Assigned, Resolved
from shared.runtime import ServiceRuntime

from . import usecases


def register(rt: ServiceRuntime) -> None:
    async def on_assigned(event: Assigned) -> None:
        await usecases.record_assigned(rt, event)

    async def on_resolved(event: Resolved) -> None:
        await usecases.open_survey(rt, event)

    rt.consume(Assigned, on_assigned)
    rt.consume(Resolved, on_resolved)
