"""SQL of a station's own work (migrations 0007, 0009): visits and special-task parts and reports, written as received.

A mixin of the archive's store (store.Store), as tracking's capabilities mix theirs into its store: `self.conn` is
the transaction's connection. Append-only tables: a fact already kept (the same visit, part or report published
again) is left as it is, with the time it was first received. `received_at` is written from the archive's clock
(usecases.py), the one that decides when a week is over (reports/domain.py), not left to the column's default.
"""

from datetime import datetime
from uuid import UUID

import asyncpg

from .domain import TaskPart, TaskReport, Visit

_ADD_VISIT = """
INSERT INTO station_visits (visit_id, station_id, credit_code, enterprise_name, staff, visited_on, findings,
                            recorded_by, event_id, occurred_at, received_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (visit_id) DO NOTHING
"""
_ADD_PART = """
INSERT INTO special_task_parts (task_id, station_id, issuer_scope, issued_by, title, description, due_on, issued_at,
                                event_id, occurred_at, received_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (task_id, station_id) DO NOTHING
"""
_ADD_REPORT = """
INSERT INTO special_task_reports (report_id, task_id, station_id, title, due_on, kind, text, reported_by, reported_at,
                                  event_id, occurred_at, received_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (report_id) DO NOTHING
"""


class StationWorkStore:
    conn: asyncpg.Connection

    async def add_visit(self, v: Visit, event_id: UUID, occurred_at: datetime) -> None:
        await self.conn.execute(
            _ADD_VISIT,
            v.visit_id,
            v.station_id,
            v.credit_code,
            v.enterprise_name,
            list(v.staff),
            v.visited_on,
            v.findings,
            v.recorded_by,
            event_id,
            occurred_at,
            v.received_at,
        )

    async def add_parts(
        self, parts: list[TaskPart], event_id: UUID, occurred_at: datetime, received_at: datetime
    ) -> None:
        await self.conn.executemany(
            _ADD_PART,
            [
                (
                    p.task_id,
                    p.station_id,
                    p.issuer_scope,
                    p.issued_by,
                    p.title,
                    p.description,
                    p.due_on,
                    p.issued_at,
                    event_id,
                    occurred_at,
                    received_at,
                )
                for p in parts
            ],  # fmt: skip
        )

    async def add_report(self, r: TaskReport, event_id: UUID, occurred_at: datetime) -> None:
        await self.conn.execute(
            _ADD_REPORT,
            r.report_id,
            r.task_id,
            r.station_id,
            r.title,
            r.due_on,
            r.kind.value,
            r.text,
            r.reported_by,
            r.reported_at,
            event_id,
            occurred_at,
            r.received_at,
        )
