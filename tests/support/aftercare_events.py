"""The re-visit and complaint events (shared.contracts.aftercare), made the way their publishers make them."""

from datetime import datetime, timedelta
from uuid import uuid4

from shared.contracts import (
    ComplaintChannel,
    ComplaintStage,
    ComplaintSubject,
    ComplaintUpdated,
    Event,
    RevisitMethod,
    RevisitRecorded,
    utcnow,
)


def revisited(cause: Event, *, at: datetime | None = None, need_met: bool | None = True) -> RevisitRecorded:
    at = at or utcnow()
    return cause.caused(
        RevisitRecorded,
        occurred_at=at,
        revisit_id=uuid4(),
        method=RevisitMethod.phone,
        revisited_at=at,
        contact="王建国（企业质量负责人）",
        enterprise_said="证书已收到，问题已解决",
        need_met=need_met,
        recorded_by="张晓燕",
    )


def complaint(
    cause: Event | None = None,
    stage: ComplaintStage = ComplaintStage.received,
    *,
    station_id: str = "210100/210112/hunnan-01",
    at: datetime | None = None,
) -> ComplaintUpdated:
    at = at or utcnow()
    return ComplaintUpdated(
        occurred_at=at,
        correlation_id=cause.correlation_id if cause else uuid4(),
        causation_id=cause.event_id if cause else None,
        complaint_id=uuid4(),
        complaint_no=f"T{at.year}-000001",
        station_id=cause.station_id if cause else station_id,
        demand_id=cause.demand_id if cause else None,
        tracking_no=cause.tracking_no if cause else None,
        subject=ComplaintSubject.organization,
        subject_id="org-01",
        subject_name="市计量测试院",
        channel=ComplaintChannel.phone,
        stage=stage,
        stage_at=at,
        stage_by="周站长",
        note="企业来电反映报告出具超期",
        due_on=(at + timedelta(days=3)).date(),
    )
