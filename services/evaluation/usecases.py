"""Evaluation use cases: one transaction each."""

from uuid import UUID

import asyncpg

from shared.contracts import Answers, Assigned, RatingSource, Resolved, utcnow
from shared.errors import NotFound
from shared.messaging import inbox, outbox
from shared.runtime import ServiceRuntime

from . import domain, store
from .domain import Survey

CONSUMER = "evaluation"


class Counters:
    def __init__(self, rt: ServiceRuntime) -> None:
        self.rated = rt.metrics.counter(
            "qs_ratings_total", "Satisfaction ratings, by station and overall level", ["station_id", "overall"]
        )


async def record_assigned(rt: ServiceRuntime, event: Assigned) -> None:
    async with rt.transaction() as conn:
        if not await inbox.claim(conn, CONSUMER, event.event_id):
            return
        survey = await store.get(conn, event.demand_id, for_update=True)
        await store.save(conn, domain.on_assigned(survey, event))


async def open_survey(rt: ServiceRuntime, event: Resolved) -> None:
    async with rt.transaction() as conn:
        if not await inbox.claim(conn, CONSUMER, event.event_id):
            return
        survey = await store.get(conn, event.demand_id, for_update=True)
        await store.save(conn, domain.on_resolved(survey, event))


async def rate(
    rt: ServiceRuntime, demand_id: UUID, answers: Answers, *, source: RatingSource, recorded_by: str | None
) -> Survey:
    async with rt.transaction() as conn:
        survey = await store.get(conn, demand_id, for_update=True)
        if survey is None:
            raise NotFound("未找到该需求的评价表", "no survey for this demand")
        survey, event = domain.rate(survey, answers, source=source, recorded_by=recorded_by, now=utcnow())
        await store.save(conn, survey)
        await store.add_rating(conn, event)
        await outbox.add(conn, event)
    rt.counters.rated.labels(survey.station_id, answers.overall.value).inc()
    return survey


async def get_survey(rt: ServiceRuntime, demand_id: UUID) -> tuple[Survey, list[asyncpg.Record]]:
    async with rt.pool.acquire() as conn:
        survey = await store.get(conn, demand_id)
        if survey is None:
            raise NotFound("未找到该需求的评价表", "no survey for this demand")
        return survey, await store.ratings(conn, demand_id)


async def list_surveys(rt: ServiceRuntime, station_id: str, status: str | None, limit: int, offset: int) -> list[Survey]:
    async with rt.pool.acquire() as conn:
        return await store.list_for_station(conn, station_id, status, limit, offset)
