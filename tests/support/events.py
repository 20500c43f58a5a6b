"""Valid lifecycle events for tests, built with the real contracts."""

from datetime import date
from uuid import UUID, uuid4

from stdnum.cn import uscc

from shared.contracts import (
    Answers,
    Archived,
    Assigned,
    AssigneeKind,
    CategoryRef,
    Channel,
    Contact,
    DemandSubmitted,
    Enterprise,
    HandlingMode,
    Outcome,
    Overall,
    Rated,
    RatingSource,
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
