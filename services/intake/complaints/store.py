"""Complaint SQL: complaints, their stages, the per-station counters of complaint numbers, the figures the city reads.

A mixin on intake's store (`self.conn` is the transaction's connection; the unit of work owns the transaction).
Who sees a complaint is asked in SQL (`_VISIBLE`) and again by row-level security (migration 0012): staff and
supervisors the stations of their scope (`qs_covers`), a clerk only those they recorded, an organization only
those about itself once answered.
"""

from datetime import date
from uuid import UUID

import asyncpg

from shared.calendar import china_today
from shared.contracts import ComplaintChannel, ComplaintStage, ComplaintSubject, utcnow
from shared.observability.metrics import STATION_TREE_SQL, TREE_LABELS, StoreCounter, StoreQuery

from .domain import Complaint, Stage, Subject

# What the city watches of complaints (domain.md §7 "complaints"; 001 §6.6, 002 §8.1), counted from the tables at a
# scrape, so every replica reports the whole (PromQL takes `max without (instance)`) and a restart resets nothing.
# Per station with its district and city; each station with a complaint has every series, 0 included.
RECEIVED = StoreCounter(
    "qs_complaints_total",
    "Complaints received (受理), by station and what they were about when received (station, staff, organization)",
    (*TREE_LABELS, "subject"),
)
FOUNDED = StoreCounter(
    "qs_complaints_founded_total",
    "Complaints resolved as founded (投诉属实), by station and what they were about when resolved",
    (*TREE_LABELS, "subject"),
)
OPEN = StoreCounter("qs_complaints_open", "Complaints not closed (未结案) now, by station", TREE_LABELS, kind="gauge")
OVERDUE = StoreCounter(
    "qs_complaints_overdue",
    "Complaints not closed whose next stage is past its working-day limit (China date today after its due date)",
    TREE_LABELS,
    kind="gauge",
)


def _today() -> tuple:
    return (china_today(utcnow()),)


# One reading for the four families: a row per station. The received counter counts the subject of the received
# stage (its row never changes), the founded one the subject at resolution (it cannot change after), so neither
# goes down when the head corrects a subject; rows are never deleted.
_BY_SUBJECT = [s.value for s in ComplaintSubject]
_RECEIVED = ",\n    ".join(f"count(*) FILTER (WHERE received_subject = '{s}')" for s in _BY_SUBJECT)
_FOUNDED = ",\n    ".join(f"count(*) FILTER (WHERE founded AND subject = '{s}')" for s in _BY_SUBJECT)
COMPLAINT_KPIS = StoreQuery(
    f"""SELECT {STATION_TREE_SQL},
    {_RECEIVED},
    {_FOUNDED},
    count(*) FILTER (WHERE stage <> 'closed'),
    count(*) FILTER (WHERE stage <> 'closed' AND due_on < $1)
FROM (
    SELECT c.station_id, c.subject, c.founded, c.stage, c.due_on, r.subject AS received_subject
    FROM complaints c JOIN complaint_stages r ON r.complaint_id = c.complaint_id AND r.stage = 'received'
) AS complaints
GROUP BY 1, 2, 3""",
    labels=len(TREE_LABELS),
    columns=(
        *((RECEIVED, (s,)) for s in _BY_SUBJECT),
        *((FOUNDED, (s,)) for s in _BY_SUBJECT),
        (OPEN, ()),
        (OVERDUE, ()),
    ),
    params=_today,
)
COUNTERS = (COMPLAINT_KPIS,)

_NEXT_SERIAL = """
INSERT INTO complaint_counters (station_id, year, last_serial) VALUES ($1, $2, 1)
ON CONFLICT (station_id, year) DO UPDATE SET last_serial = complaint_counters.last_serial + 1
RETURNING last_serial
"""
# A demand of the station, by id or tracking number (both: they must be the same demand).
_DEMAND = """
SELECT demand_id, tracking_no, correlation_id, enterprise_name FROM demands
WHERE station_id = $1 AND ($2::uuid IS NULL OR demand_id = $2) AND ($3::text IS NULL OR tracking_no = $3)
"""

_COMPLAINT_FIELDS = (
    "complaint_id",
    "station_id",
    "complaint_no",
    "channel",
    "subject",
    "subject_id",
    "subject_name",
    "demand_id",
    "tracking_no",
    "complainant_name",
    "complainant_contact",
    "enterprise_name",
    "content",
    "recorded_by_id",
    "correlation_id",
    "stage",
    "due_on",
    "founded",
)
_COLUMNS = ", ".join(_COMPLAINT_FIELDS)
_INSERT = (
    f"INSERT INTO complaints ({_COLUMNS}) VALUES ({', '.join(f'${n}' for n in range(1, len(_COMPLAINT_FIELDS) + 1))})"
)
_SAVE = """
UPDATE complaints SET stage = $2, due_on = $3, founded = $4, subject = $5, subject_id = $6, subject_name = $7
WHERE complaint_id = $1
"""
_STAGE_FIELDS = (
    "complaint_id",
    "station_id",
    "stage",
    "position",
    "at",
    "by_name",
    "by_id",
    "note",
    "due_on",
    "founded",
    "subject",
    "subject_id",
    "subject_name",
    "event_id",
)
_ADD_STAGE = f"""INSERT INTO complaint_stages ({", ".join(_STAGE_FIELDS)})
VALUES ({", ".join(f"${n}" for n in range(1, len(_STAGE_FIELDS) + 1))})"""
_STAGES = f"""SELECT {", ".join(_STAGE_FIELDS)} FROM complaint_stages
WHERE complaint_id = ANY($1::uuid[]) ORDER BY complaint_id, position"""

# Who sees a complaint: $1 the scope of staff and supervisors ('' for an organization), $2 the clerk's own account
# (NULL for anyone else: a clerk sees only what they recorded), $3 the organization ('' for anyone else).
_VISIBLE = """(
    (qs_covers($1, station_id) AND ($2::text IS NULL OR recorded_by_id = $2))
    OR ($3 <> '' AND subject = 'organization' AND subject_id = $3 AND stage IN ('answered', 'closed'))
)"""
_GET = f"SELECT {_COLUMNS} FROM complaints WHERE {_VISIBLE} AND complaint_id = $4"
_LIST = f"""
SELECT {_COLUMNS} FROM complaints
WHERE {_VISIBLE}
    AND ($4::text IS NULL OR stage = $4)
    AND ($5::text IS NULL OR subject = $5)
    AND ($6::boolean IS NULL OR (stage <> 'closed' AND due_on < $7) = $6)
ORDER BY complaint_no DESC, station_id
LIMIT $8 OFFSET $9
"""
# The complaints an enterprise filed through the status link of one demand (the link reaches exactly that demand).
_ONLINE = f"""SELECT {_COLUMNS} FROM complaints WHERE demand_id = $1 AND channel = 'online'
ORDER BY complaint_no DESC"""


def _complaint(row: asyncpg.Record, stages: list[asyncpg.Record]) -> Complaint:
    return Complaint(
        complaint_id=row["complaint_id"],
        station_id=row["station_id"],
        complaint_no=row["complaint_no"],
        channel=ComplaintChannel(row["channel"]),
        subject=Subject(ComplaintSubject(row["subject"]), row["subject_id"], row["subject_name"]),
        complainant_name=row["complainant_name"],
        complainant_contact=row["complainant_contact"],
        content=row["content"],
        correlation_id=row["correlation_id"],
        stages=tuple(
            Stage(
                stage=ComplaintStage(s["stage"]),
                at=s["at"],
                by=s["by_name"],
                by_id=s["by_id"],
                note=s["note"],
                due_on=s["due_on"],
                subject=Subject(ComplaintSubject(s["subject"]), s["subject_id"], s["subject_name"]),
                event_id=s["event_id"],
                founded=s["founded"],
            )
            for s in stages
        ),
        due_on=row["due_on"],
        enterprise_name=row["enterprise_name"],
        demand_id=row["demand_id"],
        tracking_no=row["tracking_no"],
    )


class ComplaintStore:
    conn: asyncpg.Connection

    async def next_complaint_serial(self, station_id: str, year: int) -> int:
        return await self.conn.fetchval(_NEXT_SERIAL, station_id, year)

    async def station_demand(
        self, station_id: str, demand_id: UUID | None, tracking_no: str | None
    ) -> asyncpg.Record | None:
        """The demand of this station a complaint concerns, by id or tracking number."""
        return await self.conn.fetchrow(_DEMAND, station_id, demand_id, tracking_no)

    async def add_complaint(self, c: Complaint) -> None:
        values = {
            **{f: getattr(c, f, None) for f in _COMPLAINT_FIELDS},
            "channel": c.channel.value,
            "subject": c.subject.kind.value,
            "subject_id": c.subject.id,
            "subject_name": c.subject.name,
            "recorded_by_id": c.received.by_id,
            "stage": c.stage.value,
            "founded": c.founded,
        }
        await self.conn.execute(_INSERT, *(values[f] for f in _COMPLAINT_FIELDS))
        await self._add_stage(c, c.stages[-1])

    async def save_complaint_stage(self, c: Complaint) -> None:
        """The stage just reached, appended; the complaint's row follows it."""
        await self._add_stage(c, c.stages[-1])
        s = c.subject
        await self.conn.execute(_SAVE, c.complaint_id, c.stage.value, c.due_on, c.founded, s.kind.value, s.id, s.name)

    async def _add_stage(self, c: Complaint, s: Stage) -> None:
        await self.conn.execute(
            _ADD_STAGE,
            c.complaint_id,
            c.station_id,
            s.stage.value,
            len(c.stages) - 1,
            s.at,
            s.by,
            s.by_id,
            s.note,
            s.due_on,
            s.founded,
            s.subject.kind.value,
            s.subject.id,
            s.subject.name,
            s.event_id,
        )

    async def _with_stages(self, rows: list[asyncpg.Record]) -> list[Complaint]:
        stages: dict[UUID, list[asyncpg.Record]] = {}
        for s in await self.conn.fetch(_STAGES, [r["complaint_id"] for r in rows]):
            stages.setdefault(s["complaint_id"], []).append(s)
        return [_complaint(r, stages.get(r["complaint_id"], [])) for r in rows]

    async def complaint(
        self, complaint_id: UUID, *, scope: str, recorder: str | None, org: str, for_update: bool = False
    ) -> Complaint | None:
        row = await self.conn.fetchrow(_GET + (" FOR UPDATE" if for_update else ""), scope, recorder, org, complaint_id)
        return (await self._with_stages([row]))[0] if row else None

    async def complaints(
        self,
        *,
        scope: str,
        recorder: str | None,
        org: str,
        stage: str | None,
        subject: str | None,
        overdue: bool | None,
        today: date,
        limit: int,
        offset: int,
    ) -> list[Complaint]:
        rows = await self.conn.fetch(_LIST, scope, recorder, org, stage, subject, overdue, today, limit, offset)
        return await self._with_stages(rows)

    async def online_complaints(self, demand_id: UUID) -> list[Complaint]:
        return await self._with_stages(await self.conn.fetch(_ONLINE, demand_id))
