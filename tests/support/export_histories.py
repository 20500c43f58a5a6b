"""Whole demand histories for the archive's exports (books, the service record, the weekly report), at chosen times.

Every event carries the time it happened (occurred_at and its own *_at field), so a test can place a history at the
edge of a China week or period and know, by hand, where each figure must land.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID, uuid4

from shared.contracts import (
    Answers,
    Assigned,
    AssigneeKind,
    CaseChased,
    CategoryRef,
    Channel,
    Contact,
    DeadlineKind,
    Deliverable,
    DemandRefused,
    DemandSubmitted,
    Enterprise,
    EnterpriseProfile,
    Event,
    Fee,
    FollowUpKind,
    FollowUpRecorded,
    HandlingMode,
    Outcome,
    Overall,
    Rated,
    RatingSource,
    Resolved,
)
from tests.support import events, rehandling_events

METROLOGY = CategoryRef(code="metrology", label="计量")
TESTING = CategoryRef(code="testing", label="检验检测")
STANDARDS = CategoryRef(code="standardization", label="标准化")


@dataclass(frozen=True)
class Firm:
    name: str
    credit_code: str
    profile: EnterpriseProfile | None


def firm(name: str, base: str, **profile) -> Firm:
    return Firm(name, events.credit_code(base), EnterpriseProfile(**profile) if profile else None)


def submitted(
    f: Firm,
    at: datetime,
    *,
    station: str = events.STATION,
    serial: int = 1,
    categories: tuple[CategoryRef, ...] = (METROLOGY,),
    channel: Channel = Channel.window,
) -> DemandSubmitted:
    return DemandSubmitted(
        correlation_id=uuid4(),
        occurred_at=at,
        station_id=station,
        demand_id=uuid4(),
        tracking_no=f"{at.year}-{serial:06d}",
        enterprise=Enterprise(name=f.name, credit_code=f.credit_code),
        contact=Contact(name="王建国", phone="+8613804001234"),
        categories=list(categories),
        description="压力表 36 台需要检定校准",
        channel=channel,
        first_responder="张晓燕",
        submitted_at=at,
        time_limit_days=10,
        address="沈阳市浑南区创新路 188 号",
        enterprise_profile=f.profile,
    )


def assigned(s: Event, at: datetime, *, no: int = 1, round_: int = 1, due_on: date | None = None) -> Assigned:
    return s.caused(
        Assigned,
        occurred_at=at,
        round=round_,
        assignment_no=no,
        assignee_kind=AssigneeKind.organization,
        assignee_id="org-01",
        assignee_name="市计量测试院",
        handling_mode=HandlingMode.independent,
        due_on=due_on or (at + timedelta(days=14)).date(),
        assigned_by="周站长",
    )


def followed_up(s: Event, at: datetime, text: str = "已电话联系企业，约定上门时间") -> FollowUpRecorded:
    return s.caused(
        FollowUpRecorded,
        occurred_at=at,
        follow_up_id=uuid4(),
        kind=FollowUpKind.contact,
        text=text,
        recorded_by="张晓燕",
        recorded_at=at,
    )


def resolved(
    a: Assigned, at: datetime, *, outcome: Outcome = Outcome.met, fee: Fee | None = None, summary: str = "已出具证书"
) -> Resolved:
    return a.caused(
        Resolved,
        occurred_at=at,
        round=a.round,
        assignment_no=a.assignment_no,
        outcome=outcome,
        summary=summary,
        resolved_by="市计量测试院",
        resolved_at=at,
        fee=fee,
        deliverables=[Deliverable(title="校准证书", reference="JZ2026-0137")],
        staff_involved=["李工", "赵工"],
    )


def rated(r: Resolved, at: datetime, overall: Overall = Overall.satisfied, comments: str | None = None) -> Rated:
    answers = Answers(station_service=5, station_timeliness=4, problem_solved=True, overall=overall, comments=comments)
    return r.caused(Rated, occurred_at=at, round=r.round, answers=answers, source=RatingSource.online, rated_at=at)


def chased(s: Event, on: date, at: datetime) -> CaseChased:
    return s.caused(
        CaseChased,
        occurred_at=at,
        deadline=DeadlineKind.handling,
        due_on=on - timedelta(days=1),
        chased_on=on,
        chased_by="system",
    )


def refused(s: Event, at: datetime) -> DemandRefused:
    return s.caused(
        DemandRefused,
        occurred_at=at,
        assignment_count=0,
        reason="不属于质量基础设施服务范围",
        basis="《服务站工作规范》第 7.2 条",
        closed_by="周站长",
        closed_at=at,
    )


def rated_history(
    f: Firm,
    at: datetime,
    overall: Overall = Overall.satisfied,
    *,
    outcome: Outcome = Outcome.met,
    fee: Fee | None = None,
    **submission,
) -> list[Event]:
    """Submitted at `at`, assigned an hour later, followed up, resolved the next day, rated an hour after that."""
    s = submitted(f, at, **submission)
    a = assigned(s, at + timedelta(hours=1))
    r = resolved(a, at + timedelta(days=1), outcome=outcome, fee=fee)
    return [s, a, followed_up(s, at + timedelta(hours=2)), r, rated(r, at + timedelta(days=1, hours=1), overall)]


def rehandled_history(f: Firm, at: datetime, final: Overall = Overall.very_satisfied, **submission) -> list[Event]:
    """Round 1 rated 不满意, verified founded, reopened, re-assigned, resolved and rated again (round 2)."""
    s = submitted(f, at, **submission)
    a1 = assigned(s, at + timedelta(hours=1))
    r1 = resolved(a1, at + timedelta(days=1))
    bad = rated(r1, at + timedelta(days=1, hours=1), Overall.dissatisfied, "报告出具太慢")
    v = rehandling_events.verified(bad, at=at + timedelta(days=2))
    reopened = rehandling_events.reopened(v, at=at + timedelta(days=2, minutes=1))
    a2 = assigned(reopened, at + timedelta(days=2, hours=1), no=2, round_=2)
    r2 = resolved(a2, at + timedelta(days=3), summary="重新出具证书并当面说明")
    good = rated(r2, at + timedelta(days=3, hours=1), final)
    return [s, a1, r1, bad, v, reopened, a2, r2, good]


def demand_of(history: list[Event]) -> UUID:
    return history[0].demand_id
