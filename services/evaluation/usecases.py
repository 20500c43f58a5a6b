"""Evaluation use cases: one transaction each."""

import hashlib
import secrets
from datetime import datetime
from uuid import UUID

import asyncpg

from shared.auth import Principal, narrow
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


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def record_assigned(rt: ServiceRuntime, event: Assigned) -> None:
    async with rt.demand_transaction(event.demand_id) as conn:
        if not await inbox.claim(conn, CONSUMER, event.event_id):
            return
        survey = await store.get(conn, event.demand_id, for_update=True)
        await store.save(conn, domain.on_assigned(survey, event))


async def open_survey(rt: ServiceRuntime, event: Resolved) -> None:
    async with rt.demand_transaction(event.demand_id) as conn:
        if not await inbox.claim(conn, CONSUMER, event.event_id):
            return
        survey = await store.get(conn, event.demand_id, for_update=True)
        await store.save(conn, domain.on_resolved(survey, event))


async def _rate(
    rt: ServiceRuntime, conn: asyncpg.Connection, survey: Survey, answers: Answers, source: RatingSource, by: str | None
) -> Survey:
    survey, event = domain.rate(survey, answers, source=source, recorded_by=by, now=utcnow())
    await store.save(conn, survey)
    await store.add_rating(conn, event)
    await outbox.add(conn, event)
    return survey


async def record_paper_rating(rt: ServiceRuntime, principal: Principal, demand_id: UUID, answers: Answers) -> Survey:
    """Staff transcribe the enterprise's paper form (纸质评价表录入)."""
    async with rt.transaction(principal) as conn:
        survey = await store.get_in_scope(conn, demand_id, principal.db_scope, for_update=True)
        if survey is None:
            raise NotFound("未找到该需求的评价表", "no survey for this demand")
        survey = await _rate(rt, conn, survey, answers, RatingSource.paper, principal.name)
    rt.counters.rated.labels(survey.station_id, answers.overall.value).inc()
    return survey


async def issue_link(rt: ServiceRuntime, principal: Principal, demand_id: UUID) -> tuple[str, datetime]:
    """A new one-time rating link for the enterprise; returns its token (shown once) and expiry."""
    token = secrets.token_urlsafe(32)
    async with rt.transaction(principal) as conn:
        survey = await store.get_in_scope(conn, demand_id, principal.db_scope, for_update=True)
        if survey is None:
            raise NotFound("未找到该需求的评价表", "no survey for this demand")
        link = domain.issue_link(
            survey, token_sha256=_digest(token), created_by=principal.name, now=utcnow(),
            days=rt.settings.rating_link_days,
        )  # fmt: skip
        await store.add_link(conn, link)
    return token, link.expires_at


async def survey_by_link(rt: ServiceRuntime, token: str) -> Survey:
    # The token is the caller's only authority: it reaches exactly one survey, so system scope.
    async with rt.transaction() as conn:
        link = await store.get_link(conn, _digest(token))
        survey = await store.get(conn, link.demand_id) if link else None
        return domain.usable(link, survey, utcnow())


async def rate_by_link(rt: ServiceRuntime, token: str, answers: Answers) -> Survey:
    async with rt.transaction() as conn:
        link = await store.get_link(conn, _digest(token))
        survey = await store.get(conn, link.demand_id, for_update=True) if link else None
        survey = domain.usable(link, survey, utcnow())
        survey = await _rate(rt, conn, survey, answers, RatingSource.online, None)
        await store.use_link(conn, link.token_sha256, utcnow())
    rt.counters.rated.labels(survey.station_id, answers.overall.value).inc()
    return survey


async def get_survey(rt: ServiceRuntime, principal: Principal, demand_id: UUID) -> tuple[Survey, list[asyncpg.Record]]:
    async with rt.transaction(principal) as conn:
        survey = await store.get_in_scope(conn, demand_id, principal.db_scope)
        if survey is None:
            raise NotFound("未找到该需求的评价表", "no survey for this demand")
        return survey, await store.ratings(conn, demand_id)


async def list_surveys(
    rt: ServiceRuntime, principal: Principal, station_id: str | None, status: str | None, limit: int, offset: int
) -> list[Survey]:
    scope = narrow(principal, station_id)
    async with rt.transaction(principal) as conn:
        return await store.list_in_scope(conn, scope, status, limit, offset)
