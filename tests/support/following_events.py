"""Valid events of following a case (服务跟进, issue 9), built with the real contracts.

Each takes the event it follows (for the envelope) and, where order matters to a test, `at`: when it
happened (default now). Dates are plain dates the tests pass in; nothing here computes a deadline.
"""

from datetime import date, datetime, time
from uuid import UUID, uuid4

from shared.contracts import (
    FOLLOWING,
    Appointment,
    CaseChased,
    CasePaused,
    CaseResumed,
    CaseSupervised,
    DeadlineKind,
    DeadlineWarned,
    Event,
    ExtensionDecided,
    ExtensionRequested,
    FollowUpKind,
    FollowUpRecorded,
    PauseReason,
    SupervisionAnswered,
    SupervisionLevel,
    utcnow,
)

DUE_ON = date(2026, 10, 16)
NEW_DUE_ON = date(2026, 10, 30)


def followed_up(
    cause: Event, kind: FollowUpKind = FollowUpKind.contact, *, at: datetime | None = None, **fields
) -> FollowUpRecorded:
    at = at or utcnow()
    if kind == FollowUpKind.appointment and "appointment" not in fields:
        fields["appointment"] = Appointment(
            on=date(2026, 10, 9), at=time(9, 30), place="企业二号车间", attendees="张晓燕、市计量测试院李工"
        )
    values = dict(
        occurred_at=at,
        follow_up_id=uuid4(),
        kind=kind,
        text="电话联系企业王建国，约定送检时间",
        recorded_by="张晓燕",
        recorded_at=at,
    )
    return cause.caused(FollowUpRecorded, **(values | fields))


def paused(
    cause: Event,
    reason_kind: PauseReason = PauseReason.materials,
    *,
    reason: str = "请企业补充压力表出厂编号清单",
    at: datetime | None = None,
    pause_id: UUID | None = None,
) -> CasePaused:
    at = at or utcnow()
    return cause.caused(
        CasePaused,
        occurred_at=at,
        pause_id=pause_id or uuid4(),
        assignment_no=1,
        reason_kind=reason_kind,
        reason=reason,
        paused_by="张晓燕",
        paused_at=at,
    )


def resumed(
    pause: CasePaused, *, days: int = 2, handling_due_on: date = DUE_ON, at: datetime | None = None
) -> CaseResumed:
    at = at or utcnow()
    return pause.caused(
        CaseResumed,
        occurred_at=at,
        pause_id=pause.pause_id,
        resumed_by="张晓燕",
        resumed_at=at,
        note="企业已补齐清单",
        paused_working_days=days,
        handling_due_on=handling_due_on,
    )


def extension_requested(
    cause: Event, *, due_on: date = DUE_ON, new_due_on: date = NEW_DUE_ON, at: datetime | None = None
) -> ExtensionRequested:
    at = at or utcnow()
    return cause.caused(
        ExtensionRequested,
        occurred_at=at,
        extension_id=uuid4(),
        assignment_no=1,
        requested_by="市计量测试院",
        requested_at=at,
        reason="标准器送上级计量院溯源，需延后两周",
        due_on=due_on,
        new_due_on=new_due_on,
    )


def extension_decided(
    request: ExtensionRequested, *, approved: bool = True, at: datetime | None = None
) -> ExtensionDecided:
    at = at or utcnow()
    return request.caused(
        ExtensionDecided,
        occurred_at=at,
        extension_id=request.extension_id,
        assignment_no=request.assignment_no,
        approved=approved,
        decided_by="周站长",
        decided_at=at,
        comment="同意" if approved else "理由不充分",
        reason=request.reason,
        due_on=request.due_on,
        new_due_on=request.new_due_on,
    )


def warned(cause: Event, *, due_on: date = DUE_ON, at: datetime | None = None) -> DeadlineWarned:
    return cause.caused(
        DeadlineWarned,
        occurred_at=at or utcnow(),
        deadline=DeadlineKind.handling,
        due_on=due_on,
        working_days_left=1,
        notify=["staff-1", "head"],
        warned_on=date(2026, 10, 15),
    )


def chased(cause: Event, *, due_on: date = DUE_ON, at: datetime | None = None) -> CaseChased:
    return cause.caused(
        CaseChased,
        occurred_at=at or utcnow(),
        deadline=DeadlineKind.handling,
        due_on=due_on,
        chased_on=date(2026, 10, 19),
        chased_by="system",
    )


def supervised(cause: Event, *, at: datetime | None = None) -> CaseSupervised:
    at = at or utcnow()
    return cause.caused(
        CaseSupervised,
        occurred_at=at,
        supervision_id=uuid4(),
        level=SupervisionLevel.district,
        supervisor_scope="210100/210112",
        issued_by="system",
        issued_at=at,
        comment="逾期两个工作日，请说明原因并限期办结",
        reply_due_on=date(2026, 10, 23),
        deadline=DeadlineKind.handling,
    )


def supervision_answered(supervision: CaseSupervised, *, at: datetime | None = None) -> SupervisionAnswered:
    at = at or utcnow()
    return supervision.caused(
        SupervisionAnswered,
        occurred_at=at,
        supervision_id=supervision.supervision_id,
        answered_by="周站长",
        answered_at=at,
        answer="已督促机构，预计 10 月 26 日出具证书",
    )


def one_of_each(cause: Event, *, at: datetime | None = None) -> list[Event]:
    """Every FOLLOWING event once, in FOLLOWING's order."""
    pause = paused(cause, at=at)
    request = extension_requested(cause, at=at)
    supervision = supervised(cause, at=at)
    events = [
        followed_up(cause, FollowUpKind.appointment, at=at),
        pause,
        resumed(pause, at=at),
        request,
        extension_decided(request, at=at),
        warned(cause, at=at),
        chased(cause, at=at),
        supervision,
        supervision_answered(supervision, at=at),
    ]
    assert tuple(type(e) for e in events) == FOLLOWING
    return events
