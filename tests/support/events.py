"""Valid lifecycle events for tests, built with the real contracts."""

from datetime import date, datetime
from uuid import UUID, uuid4

from stdnum.cn import uscc

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
    Event,
    HandlingMode,
    Outcome,
    Overall,
    Rated,
    RatingSource,
    Referral,
    Resolved,
    utcnow,
)

STATION = "210100/210112/hunnan-01"
OTHER_STATION = "440100/440113/panyu-01"


def credit_code(base: str = "91210112MA0U00001") -> str:
    return base + uscc.calc_check_digit(base)


def submitted(
    demand_id: UUID | None = None, station: str = STATION, tracking_no: str = "2026-000001"
) -> DemandSubmitted:
    return DemandSubmitted(
        correlation_id=uuid4(),
        station_id=station,
        demand_id=demand_id or uuid4(),
        tracking_no=tracking_no,
        enterprise=Enterprise(name="沈阳精密仪器有限公司", credit_code=credit_code()),
        contact=Contact(name="王建国", phone="+8613804001234"),
        categories=[CategoryRef(code="metrology", label="计量")],
        description="压力表检定",
        channel=Channel.window,
        first_responder="张晓燕",
        submitted_at=utcnow(),
        time_limit_days=10,
    )


def assigned(cause: DemandSubmitted, no: int = 1, kind: AssigneeKind = AssigneeKind.organization) -> Assigned:
    return cause.caused(
        Assigned,
        assignment_no=no,
        assignee_kind=kind,
        assignee_id="org-01",
        assignee_name="市计量测试院",
        handling_mode=HandlingMode.independent,
        due_on=date(2026, 12, 31),
        assigned_by="周站长",
    )


def resolved(cause: DemandSubmitted, round_: int = 1) -> Resolved:
    return cause.caused(
        Resolved, round=round_, outcome=Outcome.met, summary="已出具证书", resolved_by="张晓燕", resolved_at=utcnow()
    )


def rated(cause: DemandSubmitted, overall: Overall = Overall.satisfied, round_: int = 1) -> Rated:
    return cause.caused(
        Rated, round=round_, answers=Answers(overall=overall), source=RatingSource.online, rated_at=utcnow()
    )


def archived(cause: DemandSubmitted) -> Archived:
    return cause.caused(Archived, archive_no="A2026-000001", sealed_at=utcnow(), content_sha256="0" * 64, event_count=4)


def demand_form(station: str = STATION, **overrides) -> dict:
    form = {
        "station_id": station,
        "enterprise": {"name": "沈阳精密仪器有限公司", "credit_code": credit_code()},
        "contact": {"name": "王建国", "phone": "13804001234"},
        "items": [{"code": "metrology.calibration"}],
        "description": "压力表、千分尺共 36 台需要检定校准",
        "channel": "window",
        "first_responder": "张晓燕",
    }
    form.update(overrides)
    return form


# --------------------------------------------------------------------------- around the lifecycle (issue 8)
# Each takes the event it follows (for the envelope) and, where order matters to a test, `at`: when it happened.


def returned(cause: Event, no: int = 1, *, at: datetime | None = None, reason: str = "超出本机构资质范围"):
    """退单 of assignment `no` by the organization that had it."""
    at = at or utcnow()
    return cause.caused(
        AssignmentReturned,
        occurred_at=at,
        assignment_no=no,
        assignee_kind=AssigneeKind.organization,
        assignee_id="org-01",
        assignee_name="市计量测试院",
        reason=reason,
        returned_by="市计量测试院",
        returned_at=at,
    )


def referred(cause: Event, no: int = 1, *, at: datetime | None = None) -> Assigned:
    """转办 as assignment `no`: to another government department, which the station keeps following."""
    return cause.caused(
        Assigned,
        occurred_at=at or utcnow(),
        assignment_no=no,
        assignee_kind=AssigneeKind.department,
        assignee_id="dept-drc",
        assignee_name="区发展和改革局",
        handling_mode=HandlingMode.coordinated,
        due_on=date(2026, 12, 31),
        assigned_by="周站长",
        referral=Referral(
            department="区发展和改革局", contact_name="刘科长", contact_phone="024-12345678", reason="属发改部门职责"
        ),
    )


def corrected(
    cause: DemandSubmitted, *, at: datetime | None = None, description: str = "压力表 40 台需要检定", **overrides
) -> DemandCorrected:
    """更正登记 before dispatch: the description (and whatever `overrides` say) changed."""
    at = at or utcnow()
    fields = dict(
        occurred_at=at,
        corrected_by="张晓燕",
        corrected_at=at,
        reason="企业补充了台数",
        changed=["description"],
        contact=cause.contact,
        categories=cause.categories,
        description=description,
        time_limit_days=cause.time_limit_days,
    )
    fields.update(overrides)
    return cause.caused(DemandCorrected, **fields)


def _closing(cause: Event, event_type, assignment_count: int, at: datetime | None, **fields):
    at = at or utcnow()
    return cause.caused(
        event_type,
        occurred_at=at,
        assignment_count=assignment_count,
        closed_by="周站长",
        closed_at=at,
        **fields,
    )


def refused(cause: Event, assignment_count: int = 0, *, at: datetime | None = None) -> DemandRefused:
    """否定备案, after `assignment_count` assignments."""
    return _closing(
        cause,
        DemandRefused,
        assignment_count,
        at,
        reason="不属于质量基础设施服务范围",
        basis="《服务站工作规范》第 7.2 条",
    )


def merged(
    cause: Event, into: DemandSubmitted | None = None, assignment_count: int = 0, *, at: datetime | None = None
) -> DemandMerged:
    """并单 into `into` (another demand of the same enterprise and need)."""
    return _closing(
        cause,
        DemandMerged,
        assignment_count,
        at,
        reason="同一企业同一需求重复登记",
        merged_into=into.demand_id if into else uuid4(),
        merged_into_tracking_no=into.tracking_no if into else "2026-000099",
    )


def withdrawn(
    cause: Event, assignment_count: int = 0, *, by_enterprise: bool = True, at: datetime | None = None
) -> DemandWithdrawn:
    """撤回 by the enterprise (through its status link) or the station."""
    return _closing(cause, DemandWithdrawn, assignment_count, at, reason="企业已自行解决", by_enterprise=by_enterprise)
