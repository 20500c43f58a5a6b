"""Complaint scorecard SQL: complaints filed in a period, per station, staff member, organization or category.

Bound to the transaction's connection like intake's store mixins. A complaint counts by its filing date (the China
date of its `received` stage), under what it is about now (the head may correct the subject). $1 the scope
(qs_covers; an organization's own row: '*' or the station asked for), $2 and $3 the period's first and last China
dates, $4 today (China date, as the complaint list's overdue flag), $5 the organization asking (NULL for staff and
supervisors): it counts only complaints about itself once the complainant has been answered, the rule of the
complaint list and of row-level security (migration 0012).
"""

from datetime import date

import asyncpg

from shared.kpis import Period

from .domain import By, Figures, Row

# (key, label) of a complaint `c`, a LATERAL subquery per dimension; no row: the complaint is in no row.
_KEYS = {
    By.station: """SELECT c.station_id AS key,
        COALESCE((SELECT s.name FROM stations s WHERE s.station_id = c.station_id), c.station_id) AS label""",
    By.staff: """SELECT COALESCE(c.subject_id, c.subject_name) AS key, COALESCE(c.subject_name, c.subject_id) AS label
        WHERE c.subject = 'staff' AND COALESCE(c.subject_id, c.subject_name) IS NOT NULL""",
    By.organization: """SELECT c.subject_id AS key, COALESCE(c.subject_name, c.subject_id) AS label
        WHERE c.subject = 'organization' AND c.subject_id IS NOT NULL""",
    # The demand's categories as submitted ([{code, label}]), once each.
    By.category: """SELECT DISTINCT ON (named->>'code') named->>'code' AS key, named->>'label' AS label
        FROM demands d CROSS JOIN LATERAL jsonb_array_elements(d.categories) AS named
        WHERE d.demand_id = c.demand_id
        ORDER BY named->>'code', named->>'label'""",
}


def _scorecard(by: By) -> str:
    return f"""
SELECT k.key, min(k.label) AS label,
    count(*)::int AS complaints,
    (count(*) FILTER (WHERE c.stage <> 'closed'))::int AS complaints_open,
    (count(*) FILTER (WHERE c.stage <> 'closed' AND c.due_on < $4))::int AS complaints_overdue
FROM complaints c
JOIN complaint_stages r ON r.complaint_id = c.complaint_id AND r.stage = 'received'
CROSS JOIN LATERAL ({_KEYS[by]}) AS k
WHERE qs_covers($1, c.station_id)
    AND (r.at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN $2 AND $3
    AND ($5::text IS NULL OR (c.subject = 'organization' AND c.subject_id = $5 AND c.stage IN ('answered', 'closed')))
GROUP BY k.key
ORDER BY k.key
"""


_SCORECARDS = {by: _scorecard(by) for by in By}


class ScorecardStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def rows(self, by: By, scope: str, period: Period, today: date, org: str | None = None) -> list[Row]:
        records = await self.conn.fetch(_SCORECARDS[by], scope, period.start, period.end, today, org)
        return [
            Row(
                key=r["key"],
                label=r["label"] or r["key"],
                figures=Figures(r["complaints"], r["complaints_open"], r["complaints_overdue"]),
            )
            for r in records
        ]
