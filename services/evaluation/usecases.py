"""Evaluation use cases: one unit of work each.

Event use cases get the open unit of work from `UnitOfWork.handle` (lock, inbox claim);
request use cases open their own in the caller's scope. A one-time link is its bearer's
only authority: it reaches exactly one survey, so those use cases run in system scope.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from shared import kpis as shared_kpis
from shared.auth import Principal
from shared.calendar import china_today
from shared.contracts import (
    Answers,
    Assigned,
    Closing,
    DemandCorrected,
    DemandReopened,
    DemandSubmitted,
    RatingLinkIssued,
    RatingSource,
    Resolved,
    utcnow,
)
from shared.db.uow import Tx, UnitOfWork
from shared.errors import InvalidTransition, NotFound
from shared.idempotency import Idempotent

from . import domain, kpis
from .domain import Rating, Survey
from .settings import Settings
from .store import Store

_NOT_FOUND = NotFound("未找到该需求的评价表", "no survey for this demand")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def record_submitted(tx: Tx[Store], event: DemandSubmitted) -> None:
    """The form's categories and its first responder, for the breakdowns and the staff scorecard (kept apart from the
    survey, which the demand's resolution opens: whichever comes first)."""
    form = await tx.store.form(event.demand_id, for_update=True)
    await tx.store.save_form(domain.on_submitted(form, event))


async def record_correction(tx: Tx[Store], event: DemandCorrected) -> None:
    """更正登记: the corrected categories replace the submitted ones (the latest correction wins, in any order)."""
    form = await tx.store.form(event.demand_id, for_update=True)
    await tx.store.save_form(domain.on_corrected(form, event))


@dataclass(frozen=True)
class StatusPageLinks:
    """How the link for the enterprise's status page is made: as POST /surveys/{id}/link makes the station's, for
    EVALUATION_RATING_LINK_DAYS, at EVALUATION_PUBLIC_URL's /public/ratings/<token>."""

    public_url: str
    days: int

    @classmethod
    def of(cls, settings: Settings) -> "StatusPageLinks":
        return cls(public_url=settings.public_url, days=settings.rating_link_days)

    def url(self, token: str) -> str:
        return f"{self.public_url}/public/ratings/{token}"


def _status_page_link(
    before: Survey | None, survey: Survey, status_page: StatusPageLinks | None, now: datetime
) -> tuple[domain.RatingLink, RatingLinkIssued] | None:
    """The status page's link and its RatingLinkIssued, when `survey` is a round just opened (domain.status_page_link)
    and the subscriber passed `status_page`."""
    if status_page is None:
        return None
    token = secrets.token_urlsafe(32)
    return domain.status_page_link(
        before, survey, token_sha256=_digest(token), url=status_page.url(token), now=now, days=status_page.days
    )


async def record_assigned(tx: Tx[Store], event: Assigned, *, status_page: StatusPageLinks | None = None) -> None:
    """Who served the demand decides whether items 6–9 of the form apply, and whose figures its rating counts in.

    The assignment a resolution named before evaluation saw it opens that round's survey now (open_survey left it
    waiting), with the status page's link and RatingLinkIssued in this transaction, as open_survey does."""
    before = await tx.store.get(event.demand_id, for_update=True)
    now = utcnow()
    survey = domain.on_assigned(before, event, now=now)
    link, issued = _status_page_link(before, survey, status_page, now) or (None, None)
    # The assignment, the survey and the status page's link: one statement (True only when that link was added).
    if await tx.store.save_assigned(survey, event, status_page_link=link) and issued is not None:
        await tx.publish(issued)


async def open_survey(tx: Tx[Store], event: Resolved, *, status_page: StatusPageLinks | None = None) -> None:
    """A resolution opens the survey for its round once evaluation knows who served it: at once when the assignment it
    answers was seen (or it names none), else when that Assigned comes (record_assigned); a round's Resolved may also
    overtake the reopening that started the round (DemandReopened). The round's resolution is kept with the
    assignment it answers, either way: the organization the round's rating counts for.

    With `status_page` (the subscriber always passes it), the round that opens gets its one-time link for the
    enterprise's status page, kept (the token's digest only) and announced to intake (RatingLinkIssued, in this
    transaction); the links the station sent stay valid. A redelivered Resolved is absorbed by the inbox, and a round
    gets one such link whatever arrives (domain.status_page_link, and the table's unique index)."""
    before = await tx.store.get(event.demand_id, for_update=True)
    survey = domain.on_resolved(before, event)
    now = utcnow()
    made = _status_page_link(before, survey, status_page, now)
    # The survey, the round's resolution (when this one is the round's, not an old or late one), the earlier rounds'
    # unused links retired and the status page's link: one statement.
    added = await tx.store.save_resolved(
        survey,
        resolution=event if survey.resolved_event_id == event.event_id else None,
        retire_at=now,
        status_page_link=made[0] if made is not None else None,
    )
    if added:
        await tx.publish(made[1])


async def reopen_survey(tx: Tx[Store], event: DemandReopened) -> None:
    """重办: the survey waits for the new round's resolution; the earlier round's rating is kept and its unused links
    stop working."""
    survey = domain.on_reopened(await tx.store.get(event.demand_id, for_update=True), event)
    await tx.store.save(survey)
    await tx.store.retire_links(event.demand_id, utcnow(), before_round=survey.round)


async def close_survey(tx: Tx[Store], event: Closing) -> None:
    """A refused, merged or withdrawn demand is never rated: its survey closes and its unused links stop working.

    Kept even when nothing was seen of the demand yet, so a late Assigned or Resolved finds it closed.
    """
    survey = await tx.store.get(event.demand_id, for_update=True)
    await tx.store.save(domain.on_closed(survey, event))
    await tx.store.retire_links(event.demand_id, utcnow())


async def _rate(
    tx: Tx[Store], survey: Survey, answers: Answers, source: RatingSource, by: str | None, definition: kpis.Definition
) -> Survey:
    """The round's rating, kept and announced (saying whether it counts as 满意 under `definition`, the settings'); the
    round's other unused links stop working (it is rated)."""
    survey, event = domain.rate(survey, answers, source=source, recorded_by=by, now=utcnow(), definition=definition)
    await tx.store.save_rated(survey, event)  # with the rating, and the links retired: one statement
    await tx.publish(event)
    return survey


async def record_paper_rating(
    uow: UnitOfWork[Store],
    principal: Principal,
    demand_id: UUID,
    answers: Answers,
    *,
    idempotency_key: str | None = None,
    definition: kpis.Definition = kpis.Definition(),
) -> Survey:
    """Staff transcribe the enterprise's paper form (纸质评价表录入). A retry with the same Idempotency-Key answers the
    survey again (as it is now) and records and publishes nothing; without a key, rating a rated round is a 409."""
    retry = Idempotent.of(idempotency_key, principal.subject, "paper-rating", str(demand_id), answers)
    async with uow.begin(principal) as tx:
        if (earlier := await tx.recall(retry)) is not None:
            survey = await tx.store.get_in_scope(UUID(earlier["demand_id"]), principal.db_scope)
            if survey is None:
                raise _NOT_FOUND
            return survey
        survey = await tx.store.get_in_scope(demand_id, principal.db_scope, for_update=True)
        if survey is None:
            raise _NOT_FOUND
        survey = await _rate(tx, survey, answers, RatingSource.paper, principal.name, definition)
        await tx.remember(retry, {"demand_id": str(demand_id), "round": survey.round})
        return survey


@dataclass(frozen=True)
class IssuedLink:
    token: str  # shown once: only its digest is kept
    expires_at: datetime
    also_valid: int  # the round's earlier links still valid beside it (the clerk is told)


_LINK_GONE = InvalidTransition(
    "该请求生成的评价链接已被使用、已过期或已失效（本轮已评价、需求已重办或已关闭），不能再次显示",
    "the link this request issued was already used, has expired or was retired (the round was rated, reopened or"
    " closed); it cannot be shown again",
)


async def issue_link(
    uow: UnitOfWork[Store],
    principal: Principal,
    demand_id: UUID,
    *,
    days: int,
    idempotency_key: str | None = None,
) -> IssuedLink:
    """A new one-time rating link for the enterprise; the earlier ones stay valid until the round is rated.

    With an Idempotency-Key, the remembered result keeps the link's id (and `also_valid`), never its token: the link
    table keeps only the token's digest, and so does everything else. A retry with the same key issues no second link:
    it gives that same link a new token (the new digest replaces the first one's; the same id, round and expiry) and
    answers the new URL, so the first URL stops working. That loses nothing: a retry with the same key means the first
    reply was lost, so nobody has seen the first URL (the console makes a new key each time it shows the form). A link
    no longer usable (used, expired, or retired as the round was rated, reopened or closed) is not shown again: 409.
    Without a key, every request issues a new link."""
    retry = Idempotent.of(idempotency_key, principal.subject, "rating-link", str(demand_id))
    token = secrets.token_urlsafe(32)
    async with uow.begin(principal) as tx:
        earlier = await tx.recall(retry)
        survey = await tx.store.get_in_scope(demand_id, principal.db_scope, for_update=True)
        if survey is None:
            raise _NOT_FOUND
        now = utcnow()
        if earlier is not None:
            # A result remembered before links had ids (it kept the token) names no link: it is not shown again.
            link = await tx.store.link_by_id(UUID(earlier["link_id"])) if "link_id" in earlier else None
            if link is None or not domain.valid(link, survey, now):
                raise _LINK_GONE
            await tx.store.rotate_link(UUID(earlier["link_id"]), _digest(token))
            return IssuedLink(token, link.expires_at, earlier["also_valid"])
        link = domain.issue_link(survey, token_sha256=_digest(token), created_by=principal.name, now=now, days=days)
        also_valid = await tx.store.valid_links(demand_id, survey.round, now)
        link_id = await tx.store.add_link(link)
        await tx.remember(retry, {"link_id": str(link_id), "also_valid": also_valid})
    return IssuedLink(token, link.expires_at, also_valid)


async def survey_by_link(uow: UnitOfWork[Store], token: str) -> Survey:
    async with uow.begin() as tx:
        link = await tx.store.get_link(_digest(token))
        survey = await tx.store.get(link.demand_id) if link else None
        return domain.usable(link, survey, utcnow())


async def rate_by_link(
    uow: UnitOfWork[Store], token: str, answers: Answers, *, definition: kpis.Definition = kpis.Definition()
) -> Survey:
    """Used once; the demand's other links stop working with the rating (both or neither, one transaction)."""
    async with uow.begin() as tx:
        link = await tx.store.get_link(_digest(token))
        survey = await tx.store.get(link.demand_id, for_update=True) if link else None
        survey = domain.usable(link, survey, utcnow())
        await tx.store.use_link(link.token_sha256, utcnow())
        survey = await _rate(tx, survey, answers, RatingSource.online, None, definition)
    return survey


async def get_survey(uow: UnitOfWork[Store], principal: Principal, demand_id: UUID) -> tuple[Survey, list[Rating]]:
    async with uow.begin(principal) as tx:
        survey = await tx.store.get_in_scope(demand_id, principal.db_scope)
        if survey is None:
            raise _NOT_FOUND
        return survey, await tx.store.ratings(demand_id)


async def void_rating(
    uow: UnitOfWork[Store],
    principal: Principal,
    demand_id: UUID,
    round: int,
    reason: str,
    *,
    idempotency_key: str | None = None,
) -> Rating:
    """申诉复核: the supervisor voids the round's rating (kept, marked void); RatingVoided goes out with it. A retry
    with the same Idempotency-Key answers the voided rating again; voiding a void rating otherwise is a 409."""
    retry = Idempotent.of(idempotency_key, principal.subject, "void", str(demand_id), round, reason)
    async with uow.begin(principal) as tx:
        if (earlier := await tx.recall(retry)) is not None:
            return await tx.store.rating(UUID(earlier["demand_id"]), earlier["round"])
        survey = await tx.store.get_in_scope(demand_id, principal.db_scope, for_update=True)
        if survey is None:
            raise _NOT_FOUND
        rating = await tx.store.rating(demand_id, round, for_update=True)
        if rating is None:
            raise NotFound(f"该需求没有第 {round} 轮评价", f"this demand has no rating of round {round}")
        survey, rating, event = domain.void(survey, rating, reason=reason, voided_by=principal.name, now=utcnow())
        await tx.store.void_rating(demand_id, rating)
        await tx.store.save(survey)
        await tx.publish(event)
        await tx.remember(retry, {"demand_id": str(demand_id), "round": round})
    return rating


async def list_surveys(
    uow: UnitOfWork[Store], principal: Principal, station_id: str | None, status: str | None, limit: int, offset: int
) -> list[Survey]:
    async with uow.begin(principal) as tx:
        return await tx.store.list_in_scope(await tx.scope(station_id), status, limit, offset)


async def kpi_figures(
    uow: UnitOfWork[Store], principal: Principal, station_id: str | None, start: date | None, end: date | None
) -> kpis.Report:
    """The supervisor's view: each station in the caller's scope (or the one asked for; 404 outside it) and the
    whole scope, for the period asked for (by default this China month up to today, by the service's clock, as for
    the metrics' 30 days)."""
    period = shared_kpis.period(start, end, china_today(utcnow()))
    async with uow.begin(principal) as tx:
        stations = await tx.store.kpi_figures(await tx.scope(station_id), period)
    return kpis.Report(period, stations, kpis.total(stations))
