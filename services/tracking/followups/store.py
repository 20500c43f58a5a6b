"""SQL: follow-ups (跟进记录) and appointments on the tracking sheet, and the station's name for its print.

A mixin on the tracking store (`self.conn` is the transaction's connection). Station staff and supervisors see
the rows of their stations (row-level security and the scope filter below); an organization those of the cases
assigned to it now (policy org_assigned on follow_ups, through cases).
"""

from datetime import date
from uuid import UUID

import asyncpg

from shared.contracts import Appointment, FollowUpKind, FollowUpRecorded
from shared.observability.metrics import StoreCounter

from ..casesql import still_handled
from .domain import FollowUp, UpcomingAppointment

_ADD = """
INSERT INTO follow_ups (follow_up_id, event_id, demand_id, station_id, kind, text, appointment_on, appointment_at,
    appointment_place, appointment_attendees, recorded_by, recorded_by_id, recorded_by_org, recorded_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
"""
_COLUMNS = """f.follow_up_id, f.demand_id, f.station_id, f.kind, f.text, f.appointment_on, f.appointment_at,
    f.appointment_place, f.appointment_attendees, f.recorded_by, f.recorded_by_org, f.recorded_at"""
_ONE = f"SELECT {_COLUMNS} FROM follow_ups f WHERE f.follow_up_id = $1"
_OF_DEMAND = f"SELECT {_COLUMNS} FROM follow_ups f WHERE f.demand_id = $1 ORDER BY f.recorded_at, f.follow_up_id"

# Upcoming appointments of the cases still being handled (not resolved, rated, ended or archived), in the window.
# Staff and supervisors by station scope ($3); an organization ($4) for the cases assigned to it now, the same
# rule as the ledger's; $5 narrows to one station.
_APPOINTMENTS = f"""
SELECT {_COLUMNS}, c.tracking_no, c.enterprise_name
FROM follow_ups f JOIN cases c ON c.demand_id = f.demand_id
WHERE f.appointment_on BETWEEN $1 AND $2
  AND {still_handled("c")}
  AND (qs_covers($3, f.station_id) OR ($4 <> '' AND c.assignee_kind = 'organization' AND c.assignee_id = $4
       AND c.returned_no < c.assignment_no))
  AND ($5::text IS NULL OR f.station_id = $5)
ORDER BY f.appointment_on, f.appointment_at NULLS LAST, c.tracking_no, f.recorded_at
LIMIT $6 OFFSET $7
"""
_STATION_NAME = "SELECT name FROM station_tree WHERE station_id = $1"

COUNTERS: tuple[StoreCounter, ...] = (
    StoreCounter(
        "qs_follow_ups_recorded_total",
        "Follow-ups recorded on tracking sheets (跟进记录), by station and kind",
        ("station_id", "kind"),
        "SELECT station_id, kind, count(*) FROM follow_ups GROUP BY 1, 2",
    ),
)


def _appointment(row: asyncpg.Record) -> Appointment | None:
    if row["appointment_on"] is None:
        return None
    return Appointment(
        on=row["appointment_on"],
        at=row["appointment_at"],
        place=row["appointment_place"],
        attendees=row["appointment_attendees"],
    )


def _follow_up(row: asyncpg.Record) -> FollowUp:
    return FollowUp(
        follow_up_id=row["follow_up_id"],
        demand_id=row["demand_id"],
        station_id=row["station_id"],
        kind=FollowUpKind(row["kind"]),
        text=row["text"],
        appointment=_appointment(row),
        recorded_by=row["recorded_by"],
        recorded_by_org=row["recorded_by_org"],
        recorded_at=row["recorded_at"],
    )


class FollowUpStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def add_follow_up(self, event: FollowUpRecorded, recorded_by_id: str) -> None:
        a = event.appointment
        await self.conn.execute(
            _ADD,
            event.follow_up_id,
            event.event_id,
            event.demand_id,
            event.station_id,
            event.kind.value,
            event.text,
            a.on if a else None,
            a.at if a else None,
            a.place if a else None,
            a.attendees if a else None,
            event.recorded_by,
            recorded_by_id,
            event.recorded_by_org,
            event.recorded_at,
        )

    async def follow_up(self, follow_up_id: UUID) -> FollowUp | None:
        row = await self.conn.fetchrow(_ONE, follow_up_id)
        return _follow_up(row) if row else None

    async def follow_ups(self, demand_id: UUID) -> list[FollowUp]:
        return [_follow_up(r) for r in await self.conn.fetch(_OF_DEMAND, demand_id)]

    async def appointments(
        self, start: date, end: date, scope: str, org: str, station_id: str | None, limit: int, offset: int
    ) -> list[UpcomingAppointment]:
        rows = await self.conn.fetch(_APPOINTMENTS, start, end, scope, org, station_id, limit, offset)
        return [
            UpcomingAppointment(
                follow_up_id=r["follow_up_id"],
                demand_id=r["demand_id"],
                station_id=r["station_id"],
                tracking_no=r["tracking_no"],
                enterprise_name=r["enterprise_name"],
                on=r["appointment_on"],
                at=r["appointment_at"],
                place=r["appointment_place"],
                attendees=r["appointment_attendees"],
                text=r["text"],
                recorded_by=r["recorded_by"],
                recorded_by_org=r["recorded_by_org"],
                recorded_at=r["recorded_at"],
            )
            for r in rows
        ]

    async def station_name(self, station_id: str) -> str | None:
        return await self.conn.fetchval(_STATION_NAME, station_id)
