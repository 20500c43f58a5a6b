"""SQL of the weekly report: the logged events of a scope around a week, the stations' own work in it (visits, special
tasks, migrations 0007 and 0009: by when the archive received them) and the working-day corrections, the stations,
the stored reports and plans.

Bound to one transaction's connection, built from `tx.conn` by the use cases. The scope filter is `qs_covers` (a
station covers the service points registered below it; a prefix, a district's or city's subtree), with row-level
security behind it.
"""

from datetime import datetime

import asyncpg

from shared.calendar_corrections import CalendarCorrectionsStore
from shared.contracts import TaskReportKind

from ..stationwork.domain import TaskPart, TaskReport, Visit
from .domain import CORRECTED, COUNTED, SUBMITTED, Logged, Plan, Week

_EVENT = "demand_id, station_id, routing_key, occurred_at, payload"
_AROUND = f"""
SELECT {_EVENT} FROM event_log
WHERE qs_covers($1, station_id) AND routing_key = ANY($2::text[]) AND occurred_at >= $3 AND occurred_at < $4
"""
_FORMS = f"""
SELECT {_EVENT} FROM event_log WHERE demand_id = ANY($1::uuid[]) AND routing_key = ANY($2::text[])
"""
# A station's own work: the visits the archive received in the week [$2, $3) (whatever their date: a visit entered
# late, or delayed on its way, is in the report of the week it arrived) ...
_VISITS = """
SELECT visit_id, station_id, credit_code, enterprise_name, staff, visited_on, findings, recorded_by, received_at
FROM station_visits WHERE qs_covers($1, station_id) AND received_at >= $2 AND received_at < $3
"""
# ... every special-task part open at some time in the week [$2, $3): assigned before the week ended and its completion
# not received before the week began (a completion arriving in the week makes it done in this week's report). A part
# whose assignment was not received is known from its reports, from the first of them.
_PARTS = """
WITH parts AS (
    SELECT task_id, station_id, title, due_on, issued_by, issued_at FROM special_task_parts
    WHERE qs_covers($1, station_id) AND issued_at < $3
    UNION ALL
    SELECT r.task_id, r.station_id, min(r.title), min(r.due_on), NULL, min(r.reported_at) FROM special_task_reports r
    WHERE qs_covers($1, r.station_id) AND NOT EXISTS (
        SELECT 1 FROM special_task_parts p WHERE p.task_id = r.task_id AND p.station_id = r.station_id)
    GROUP BY r.task_id, r.station_id HAVING min(r.reported_at) < $3
)
SELECT task_id, station_id, title, due_on, issued_by, issued_at FROM parts
WHERE NOT EXISTS (
    SELECT 1 FROM special_task_reports c
    WHERE c.task_id = parts.task_id AND c.station_id = parts.station_id
      AND c.kind = 'completion' AND c.received_at < $2)
"""
# ... and the reports it received in the week (one made before the week is 补录 there).
_TASK_REPORTS = """
SELECT report_id, task_id, station_id, title, due_on, kind, text, reported_by, reported_at, received_at
FROM special_task_reports WHERE qs_covers($1, station_id) AND received_at >= $2 AND received_at < $3
"""
_STATION_NAMES = "SELECT station_id, name FROM station_tree WHERE station_id = ANY($1::text[])"
_IS_STATION = "SELECT true FROM station_tree WHERE station_id = $1"
# The stations whose report of the week has no figures yet (the scheduler's round; nothing to do reads no report).
_DUE = """
SELECT t.station_id FROM station_tree t
WHERE NOT EXISTS (SELECT 1 FROM weekly_reports r WHERE r.station_id = t.station_id AND r.iso_year = $1
                  AND r.iso_week = $2 AND r.figures IS NOT NULL)
ORDER BY t.station_id
"""
_REPORT = """
SELECT figures, generated_at, generated_by, plan, plan_by, plan_at FROM weekly_reports
WHERE station_id = $1 AND iso_year = $2 AND iso_week = $3
"""
# Figures are taken once: a replica that computed them too finds them there and changes nothing; a plan written
# before stays.
_KEEP_FIGURES = """
INSERT INTO weekly_reports (station_id, iso_year, iso_week, figures, generated_at, generated_by)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (station_id, iso_year, iso_week) DO UPDATE
    SET figures = EXCLUDED.figures, generated_at = EXCLUDED.generated_at, generated_by = EXCLUDED.generated_by
    WHERE weekly_reports.figures IS NULL
"""
_SET_PLAN = """
INSERT INTO weekly_reports (station_id, iso_year, iso_week, plan, plan_by, plan_at) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (station_id, iso_year, iso_week) DO UPDATE
    SET plan = EXCLUDED.plan, plan_by = EXCLUDED.plan_by, plan_at = EXCLUDED.plan_at
"""
_PLANS = """
SELECT r.station_id, r.plan, r.plan_by, r.plan_at FROM weekly_reports r
WHERE qs_covers($1, r.station_id) AND r.iso_year = $2 AND r.iso_week = $3 AND r.plan IS NOT NULL
ORDER BY r.station_id
"""
_LIST = """
SELECT station_id, iso_year, iso_week, generated_at, generated_by, plan IS NOT NULL AS has_plan FROM weekly_reports
WHERE qs_covers($1, station_id) AND figures IS NOT NULL
ORDER BY iso_year DESC, iso_week DESC, station_id LIMIT $2 OFFSET $3
"""


def _logged(row: asyncpg.Record) -> Logged:
    return Logged(row["demand_id"], row["station_id"], row["routing_key"], row["occurred_at"], row["payload"])


class ReportStore(CalendarCorrectionsStore):
    """The weekly report's reads and writes; the working-day corrections through the shared mixin."""

    async def events_around(self, scope: str, low: datetime, high: datetime) -> list[Logged]:
        return [_logged(r) for r in await self.conn.fetch(_AROUND, scope, list(COUNTED), low, high)]

    async def forms(self, demand_ids: list) -> list[Logged]:
        rows = await self.conn.fetch(_FORMS, demand_ids, [SUBMITTED, CORRECTED])
        return [_logged(r) for r in rows]

    async def visits(self, scope: str, low: datetime, high: datetime) -> list[Visit]:
        rows = await self.conn.fetch(_VISITS, scope, low, high)
        return [Visit(**{**dict(r), "staff": tuple(r["staff"])}) for r in rows]

    async def task_parts(self, scope: str, low: datetime, high: datetime) -> list[TaskPart]:
        return [TaskPart(**r) for r in await self.conn.fetch(_PARTS, scope, low, high)]

    async def task_reports(self, scope: str, low: datetime, high: datetime) -> list[TaskReport]:
        rows = await self.conn.fetch(_TASK_REPORTS, scope, low, high)
        return [TaskReport(**{**dict(r), "kind": TaskReportKind(r["kind"])}) for r in rows]

    async def station_names(self, station_ids: list[str]) -> dict[str, str]:
        return {r["station_id"]: r["name"] for r in await self.conn.fetch(_STATION_NAMES, station_ids)}

    async def is_station(self, station_id: str) -> bool:
        return bool(await self.conn.fetchval(_IS_STATION, station_id))

    async def due(self, week: Week) -> list[str]:
        return [r["station_id"] for r in await self.conn.fetch(_DUE, week.year, week.week)]

    async def report(self, station_id: str, week: Week) -> asyncpg.Record | None:
        return await self.conn.fetchrow(_REPORT, station_id, week.year, week.week)

    async def keep_figures(self, station_id: str, week: Week, figures: dict, at: datetime, by: str) -> None:
        await self.conn.execute(_KEEP_FIGURES, station_id, week.year, week.week, figures, at, by)

    async def set_plan(self, station_id: str, week: Week, text: str, by: str, at: datetime) -> None:
        await self.conn.execute(_SET_PLAN, station_id, week.year, week.week, text, by, at)

    async def plans(self, scope: str, week: Week) -> list[Plan]:
        rows = await self.conn.fetch(_PLANS, scope, week.year, week.week)
        return [Plan(r["station_id"], r["plan"], r["plan_by"], r["plan_at"]) for r in rows]

    async def list(self, scope: str, limit: int, offset: int) -> list[asyncpg.Record]:
        return await self.conn.fetch(_LIST, scope, limit, offset)
