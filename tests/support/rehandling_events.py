"""Events after a 不满意 rating (shared.contracts.rehandling), made the way their publishers make them."""

from datetime import date, datetime, timedelta

from shared.contracts import (
    REHANDLING,
    DemandReopened,
    Event,
    Finding,
    Rated,
    RatingVerified,
    RatingVoided,
    utcnow,
)


def verified(rated: Rated, finding: Finding = Finding.founded, *, at: datetime | None = None) -> RatingVerified:
    at = at or utcnow()
    return rated.caused(
        RatingVerified,
        occurred_at=at,
        round=rated.round,
        rated_event_id=rated.event_id,
        finding=finding,
        reason="企业反映检测报告出具时间晚于约定，经核实属实",
        evidence="2026-03-02 电话回访记录",
        verified_by="李站长",
        verified_at=at,
    )


def reopened(verification: RatingVerified, *, at: datetime | None = None, due_on: date | None = None) -> DemandReopened:
    at = at or utcnow()
    return verification.caused(
        DemandReopened,
        occurred_at=at,
        round=verification.round + 1,
        verification_id=verification.event_id,
        reason=verification.reason,
        reopened_by=verification.verified_by,
        reopened_at=at,
        due_on=due_on or (at + timedelta(days=7)).date(),
        assignment_count=1,
        previous_assignee_kind="organization",
        previous_assignee_id="org-lab-01",
        previous_assignee_name="沈阳计量测试院",
    )


def voided(rated: Rated, *, at: datetime | None = None) -> RatingVoided:
    at = at or utcnow()
    return rated.caused(
        RatingVoided,
        occurred_at=at,
        round=rated.round,
        rated_event_id=rated.event_id,
        reason="经申诉复核，该评价系误操作",
        voided_by="沈阳市市场监管局",
        voided_at=at,
    )


def one_of_each(rated: Rated, *, at: datetime | None = None) -> list[Event]:
    """Every REHANDLING event once, in REHANDLING's order."""
    verification = verified(rated, at=at)
    events = [verification, reopened(verification, at=at), voided(rated, at=at)]
    assert tuple(type(e) for e in events) == REHANDLING
    return events
