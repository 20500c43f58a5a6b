"""Valid lifecycle events for unit tests, built with the real contract classes.

Timestamps are fixed (not "now") so tests that compare whole objects or hashes
are deterministic.
"""

from datetime import UTC, date, datetime
from uuid import UUID, uuid4

from shared.contracts import (
    Answers,
    Archived,
    Assigned,
    AssigneeKind,
    AssignmentReturned,
    CategoryRef,
    Channel,
    Contact,
    DemandCorrected,
    DemandMerged,
    DemandRefused,
    DemandSubmitted,
    DemandWithdrawn,
    Enterprise,
    HandlingMode,
    Outcome,
    Overall,
    Rated,
    RatingLinkIssued,
    RatingSource,
    Resolved,
)

STATION = "210100/210112/hunnan-01"
TRACKING_NO = "2026-000001"
T0 = datetime(2026, 9, 30, 1, 0, tzinfo=UTC)


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 9, 30, hour, minute, tzinfo=UTC)


def submitted(demand_id: UUID | None = None, *, time_limit_days: int = 3, **overrides) -> DemandSubmitted:
    fields = dict(
        correlation_id=uuid4(),
        occurred_at=T0,
        station_id=STATION,
        demand_id=demand_id or uuid4(),
        tracking_no=TRACKING_NO,
        enterprise=Enterprise(name="沈阳精密仪器有限公司", credit_code="91210112MA0U000010"),
        contact=Contact(name="王建国", phone="+8613804001234"),
        categories=[CategoryRef(code="metrology", label="计量")],
        description="压力表检定",
        channel=Channel.window,
        first_responder="张晓燕",
        submitted_at=T0,
        time_limit_days=time_limit_days,
    )
    fields.update(overrides)
    return DemandSubmitted(**fields)


def assigned(
    cause: DemandSubmitted,
    *,
    no: int = 1,
    round: int = 1,
    kind: AssigneeKind = AssigneeKind.organization,
    assignee_name: str = "市计量测试院",
    due_on: date = date(2026, 10, 10),
    occurred_at: datetime | None = None,
) -> Assigned:
    return cause.caused(
        Assigned,
        occurred_at=occurred_at or at(2 + no),
        round=round,
        assignment_no=no,
        assignee_kind=kind,
        assignee_id=f"assignee-{no}",
        assignee_name=assignee_name,
        handling_mode=HandlingMode.independent,
        due_on=due_on,
        assigned_by="李站长",
    )


def resolved(cause: DemandSubmitted, *, round: int = 1, occurred_at: datetime | None = None) -> Resolved:
    return cause.caused(
        Resolved,
        occurred_at=occurred_at or at(10 + round),
        round=round,
        outcome=Outcome.met,
        summary="已完成检定并出具证书",
        resolved_by="市计量测试院",
        resolved_at=occurred_at or at(10 + round),
    )


def rated(
    cause: DemandSubmitted,
    *,
    round: int = 1,
    overall: Overall = Overall.satisfied,
    occurred_at: datetime | None = None,
) -> Rated:
    return cause.caused(
        Rated,
        occurred_at=occurred_at or at(15 + round),
        round=round,
        answers=Answers(station_service=5, problem_solved=True, overall=overall),
        source=RatingSource.online,
        rated_at=occurred_at or at(15 + round),
    )


def rating_link_issued(cause: DemandSubmitted, *, round: int = 1, token: str = "t" * 43) -> RatingLinkIssued:
    """Evaluation's link for the status page, made when the round's survey opened (with its Resolved)."""
    return cause.caused(
        RatingLinkIssued,
        occurred_at=at(10 + round, 1),
        round=round,
        url=f"http://127.0.0.1:8000/public/ratings/{token}",
        expires_at=datetime(2026, 10, 30, 10 + round, 1, tzinfo=UTC),
    )


def archived(cause: DemandSubmitted, *, archive_no: str = "A2026-000001") -> Archived:
    return cause.caused(
        Archived,
        occurred_at=at(20),
        archive_no=archive_no,
        sealed_at=at(20),
        content_sha256="0" * 64,
        event_count=4,
    )


def lifecycle(demand_id: UUID | None = None) -> list:
    """One full, valid run: submitted, assigned, resolved, rated, archived."""
    s = submitted(demand_id)
    return [s, assigned(s), resolved(s), rated(s), archived(s)]


def dispositions(cause: DemandSubmitted) -> list:
    """One of each event around the lifecycle: corrected, returned, refused, merged, withdrawn."""
    common = dict(assignment_count=1, closed_by="李站长", closed_at=at(9))
    return [
        cause.caused(
            DemandCorrected,
            occurred_at=at(2),
            corrected_by="张晓燕",
            corrected_at=at(2),
            reason="企业更正联系电话",
            changed=["contact"],
            contact=Contact(name="王建国", phone="+8613804005678"),
            categories=cause.categories,
            description=cause.description,
            time_limit_days=cause.time_limit_days,
        ),
        cause.caused(
            AssignmentReturned,
            occurred_at=at(8),
            assignment_no=1,
            assignee_kind=AssigneeKind.organization,
            assignee_id="org-01",
            assignee_name="市计量测试院",
            reason="超出本机构资质范围",
            returned_by="市计量测试院",
            returned_at=at(8),
        ),
        cause.caused(DemandRefused, occurred_at=at(9), reason="不属于市场监管职责", basis="《条例》第十条", **common),
        cause.caused(
            DemandMerged,
            occurred_at=at(9),
            reason="同一企业同一需求重复登记",
            merged_into=uuid4(),
            merged_into_tracking_no="2026-000002",
            **common,
        ),
        cause.caused(DemandWithdrawn, occurred_at=at(9), reason="企业已自行解决", by_enterprise=True, **common),
    ]
