"""Visit rules: what a visit to an enterprise (主动进企业走访, 004 §5.3) tells the other services. Pure."""

from collections.abc import Mapping
from datetime import datetime
from uuid import UUID

from shared.contracts import VisitRecorded


def recorded_event(visit: Mapping, *, event_id: UUID, correlation_id: UUID, at: datetime) -> VisitRecorded:
    """VisitRecorded for a visit as it was kept, whole: the archive counts it in the station's weekly report without
    asking intake anything. A visit is no demand's, so it starts its own correlation (the caller's)."""
    return VisitRecorded(
        event_id=event_id,
        occurred_at=at,
        correlation_id=correlation_id,
        visit_id=visit["visit_id"],
        station_id=visit["station_id"],
        credit_code=visit["credit_code"],
        enterprise_name=visit["enterprise_name"],
        staff=list(visit["staff"]),
        visited_on=visit["visited_on"],
        findings=visit["findings"],
        recorded_by=visit["recorded_by"],
    )
