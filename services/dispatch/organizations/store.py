"""Registry SQL: organizations, their qualifications and audit, resolution outcomes and voided ratings, the running
record.

A mixin on the dispatch store (`self.conn` is the transaction's connection). Organizations span stations,
so their tables have no row-level security; every question of scope is asked in SQL of `qs_covers`:
`qs_covers(scope, area)` (an area inside the caller's scope) and `qs_covers(area, station)` (an area
serving a station).
"""

from dataclasses import asdict
from datetime import date, datetime
from uuid import UUID

import asyncpg

from shared.contracts import DEFAULT_SATISFIED_LEVELS
from shared.observability.metrics import StoreCounter

from .domain import Agreement, Contact, Organization, Qualification, Record, Status

# Counted afresh from the table at each scrape (valid today and expiring within 30 days, China date): a gauge.
COUNTERS = (
    StoreCounter(
        "qs_org_qualifications_expiring",
        "Qualifications of registered organizations valid today and expiring within 30 days, by organization",
        ("org_id",),
        """
        SELECT q.org_id, count(*) FROM organization_qualifications q
        JOIN organizations o USING (org_id)
        WHERE o.status <> 'exited'
          AND q.valid_from <= (now() AT TIME ZONE 'Asia/Shanghai')::date
          AND q.valid_until BETWEEN (now() AT TIME ZONE 'Asia/Shanghai')::date
                                AND (now() AT TIME ZONE 'Asia/Shanghai')::date + 30
        GROUP BY 1
        """,
        kind="gauge",
    ),
)

_ORG_COLUMNS = """o.org_id, o.name, o.credit_code, o.contacts, o.categories, o.item_codes, o.areas, o.agreement_party,
    o.agreement_no, o.agreement_valid_until, o.status, o.status_reason, o.suspended_until"""

# Who may read an organization: the service itself ('*'), the organization's own users, and staff or
# supervisors whose scope holds a station it serves (an area inside the scope, or one covering it).
_VISIBLE = """(
    $1 = '*'
    OR ($2 <> '' AND o.org_id = $2)
    OR ($1 <> '' AND EXISTS (SELECT 1 FROM unnest(o.areas) AS area
                             WHERE qs_covers($1, area) OR qs_covers(area, $1)))
)"""

_GET = f"SELECT {_ORG_COLUMNS} FROM organizations o WHERE o.org_id = $1"
_GET_VISIBLE = f"SELECT {_ORG_COLUMNS} FROM organizations o WHERE {_VISIBLE} AND o.org_id = $3"

_LIST = f"""
SELECT {_ORG_COLUMNS} FROM organizations o
WHERE {_VISIBLE}
  AND ($3::text IS NULL OR $3 = ANY (o.categories))
  AND ($4::text IS NULL OR o.status = $4)
  AND ($5::text IS NULL OR EXISTS (SELECT 1 FROM unnest(o.areas) AS area WHERE qs_covers(area, $5)))
ORDER BY o.name, o.org_id
LIMIT $6 OFFSET $7
"""

_SERVING = f"""
SELECT {_ORG_COLUMNS} FROM organizations o
WHERE o.status <> 'exited' AND EXISTS (SELECT 1 FROM unnest(o.areas) AS area WHERE qs_covers(area, $1))
ORDER BY o.name, o.org_id
"""

_ALL_WITHIN = "SELECT NOT EXISTS (SELECT 1 FROM unnest($1::text[]) AS area WHERE NOT qs_covers($2, area))"

_QUALIFICATIONS = """
SELECT org_id, kind, certificate_no, issuer, scope, valid_from, valid_until, file_ref, categories
FROM organization_qualifications WHERE org_id = ANY ($1::text[]) ORDER BY org_id, position
"""

# For an assignment, in one statement: the organization, whether one of its areas covers the station (the registry's
# tree included, as _SERVING asks), and its qualifications in order, a row each (one row with NULLs when it has none).
_QUALIFICATION_FIELDS = (
    "kind",
    "certificate_no",
    "issuer",
    "scope",
    "valid_from",
    "valid_until",
    "file_ref",
    "categories",
)
_ASSIGNABLE = f"""
SELECT {_ORG_COLUMNS},
    EXISTS (SELECT 1 FROM unnest(o.areas) AS area WHERE qs_covers(area, $2)) AS serves_station,
    q.position AS q_position, {", ".join(f"q.{c} AS q_{c}" for c in _QUALIFICATION_FIELDS)}
FROM organizations o LEFT JOIN organization_qualifications q USING (org_id)
WHERE o.org_id = $1
ORDER BY q.position
"""

_CREDIT_CODE_OWNER = "SELECT org_id FROM organizations WHERE credit_code = $1 AND org_id <> $2"
# Held to the end of the transaction, like the unit of work's lock on the organization's id.
_LOCK_CREDIT_CODE = "SELECT pg_advisory_xact_lock(hashtext('organization credit code:' || $1))"

_UPSERT = """
INSERT INTO organizations (org_id, name, credit_code, contacts, categories, item_codes, areas, agreement_party,
    agreement_no, agreement_valid_until, status, status_reason, suspended_until, admitted_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)
ON CONFLICT (org_id) DO UPDATE SET name = EXCLUDED.name, credit_code = EXCLUDED.credit_code,
    contacts = EXCLUDED.contacts, categories = EXCLUDED.categories, item_codes = EXCLUDED.item_codes,
    areas = EXCLUDED.areas, agreement_party = EXCLUDED.agreement_party, agreement_no = EXCLUDED.agreement_no,
    agreement_valid_until = EXCLUDED.agreement_valid_until, status = EXCLUDED.status,
    status_reason = EXCLUDED.status_reason, suspended_until = EXCLUDED.suspended_until,
    updated_at = EXCLUDED.updated_at
"""
_DROP_QUALIFICATIONS = "DELETE FROM organization_qualifications WHERE org_id = $1"
_ADD_QUALIFICATION = """
INSERT INTO organization_qualifications (org_id, position, kind, certificate_no, issuer, scope, valid_from,
    valid_until, file_ref, categories)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
"""

_ADD_AUDIT = """
INSERT INTO organization_audit (org_id, action, actor, actor_name, actor_role, at, reason, before, after)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
"""
_HISTORY = """
SELECT id, action, actor, actor_name, actor_role, at, reason, before, after FROM organization_audit
WHERE org_id = $1 ORDER BY id LIMIT $2 OFFSET $3
"""

# Qualifications valid today and agreements in force, ending within the window, of organizations the
# caller may read (the _VISIBLE predicate, $1 scope and $2 org), not exited.
_EXPIRING = f"""
SELECT * FROM (
    SELECT o.org_id, o.name, 'qualification' AS what, q.kind, q.certificate_no AS number, q.valid_until
    FROM organizations o JOIN organization_qualifications q USING (org_id)
    WHERE {_VISIBLE} AND o.status <> 'exited' AND q.valid_from <= $3 AND q.valid_until BETWEEN $3 AND $4
    UNION ALL
    SELECT o.org_id, o.name, 'agreement', '服务协议', o.agreement_no, o.agreement_valid_until
    FROM organizations o
    WHERE {_VISIBLE} AND o.status <> 'exited' AND o.agreement_valid_until BETWEEN $3 AND $4
) AS e
ORDER BY valid_until, name, org_id, what, number
LIMIT $5 OFFSET $6
"""

# --- the running record ------------------------------------------------------------------------------
_RECORD_RESOLUTION = """
INSERT INTO resolution_outcomes (demand_id, round, station_id, assignment_no, outcome, resolved_at, resolved_on)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (demand_id, round) DO UPDATE SET assignment_no = EXCLUDED.assignment_no, outcome = EXCLUDED.outcome,
    resolved_at = EXCLUDED.resolved_at, resolved_on = EXCLUDED.resolved_on
WHERE resolution_outcomes.resolved_at IS NULL
"""
# A later rating of the same round (e.g. after verification) replaces an earlier one; a late older one does not.
_RECORD_RATING = """
INSERT INTO resolution_outcomes (demand_id, round, station_id, overall, rated_at, rated_event_id, satisfied)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (demand_id, round) DO UPDATE SET overall = EXCLUDED.overall, rated_at = EXCLUDED.rated_at,
    rated_event_id = EXCLUDED.rated_event_id, satisfied = EXCLUDED.satisfied
WHERE resolution_outcomes.rated_at IS NULL OR resolution_outcomes.rated_at < EXCLUDED.rated_at
"""
# 申诉复核: kept by the voided rating's event id, whether or not its Rated has arrived; a duplicate changes nothing.
_RECORD_VOID = """
INSERT INTO voided_ratings (rated_event_id, demand_id, round, station_id, voided_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (rated_event_id) DO NOTHING
"""
# The rating a row holds is void if its void names it (or, for a rating recorded before event ids were kept, names
# any rating of its round): it then counts in neither `rated` nor `satisfied` (domain.md §9, valid ratings only).
_VALID_RATING = """o.overall IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM voided_ratings v
    WHERE v.rated_event_id = o.rated_event_id
       OR (o.rated_event_id IS NULL AND v.demand_id = o.demand_id AND v.round = o.round)
)"""

# 满意 as evaluation defines it (EVALUATION_SATISFIED_LEVELS), said by each Rated when it was recorded; a rating whose
# Rated predates the flag (NULL) counts by the default definition (DEFAULT_SATISFIED_LEVELS, 非常满意 + 满意), which
# the query takes as the parameter named.
_DEFAULT_SATISFIED = [level.value for level in DEFAULT_SATISFIED_LEVELS]


def _satisfied(levels: str) -> str:
    return f"coalesce(o.satisfied, o.overall = ANY ({levels}::text[]))"


# Each resolution is credited to the assignment it names (or, from an older event that names none, the
# round's latest assignment); on time = its China date on or before that assignment's due date.
_RESOLVED_RECORD = f"""
SELECT a.assignee_id AS org_id,
       count(*) AS completed,
       count(*) FILTER (WHERE o.resolved_on <= a.due_on) AS on_time,
       count(*) FILTER (WHERE valid.rating) AS rated,
       count(*) FILTER (WHERE valid.rating AND {_satisfied("$2")}) AS satisfied
FROM resolution_outcomes o
CROSS JOIN LATERAL (SELECT {_VALID_RATING} AS rating) AS valid
JOIN LATERAL (
    SELECT x.assignee_kind, x.assignee_id, x.due_on FROM assignments x
    WHERE x.demand_id = o.demand_id
      AND (x.assignment_no = o.assignment_no OR (o.assignment_no IS NULL AND x.round = o.round))
    ORDER BY x.assignment_no DESC LIMIT 1
) AS a ON true
WHERE o.resolved_at IS NOT NULL AND a.assignee_kind = 'organization' AND a.assignee_id = ANY ($1::text[])
GROUP BY 1
"""
_OPEN_LOAD = """
SELECT a.assignee_id AS org_id, count(*) AS open_load
FROM queue q JOIN assignments a ON a.demand_id = q.demand_id AND a.assignment_no = q.assignment_count
WHERE q.status = 'assigned' AND a.assignee_kind = 'organization' AND a.assignee_id = ANY ($1::text[])
GROUP BY 1
"""

# --- complaints about organizations (intake's ComplaintUpdated) -------------------------------------------------------
# The latest stage of each complaint decides; a late earlier stage changes nothing (position is the stage's order).
_RECORD_COMPLAINT = """
INSERT INTO organization_complaints (complaint_id, station_id, org_id, stage, position, founded, stage_at, event_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (complaint_id) DO UPDATE SET station_id = EXCLUDED.station_id, org_id = EXCLUDED.org_id,
    stage = EXCLUDED.stage, position = EXCLUDED.position, founded = EXCLUDED.founded, stage_at = EXCLUDED.stage_at,
    event_id = EXCLUDED.event_id
WHERE organization_complaints.position < EXCLUDED.position
"""
# Received and founded; $2: only those whose complainant has been answered (what the organization itself is shown).
_COMPLAINTS_RECORD = """
SELECT org_id, count(*) AS complaints, count(*) FILTER (WHERE founded) AS complaints_founded
FROM organization_complaints
WHERE org_id = ANY ($1::text[]) AND (NOT $2 OR stage IN ('answered', 'closed'))
GROUP BY 1
"""

# A complaint's `resolved` stage, whenever it arrives (a later stage may have come first): when founded was decided.
_COMPLAINT_RESOLVED = "UPDATE organization_complaints SET resolved_at = $2 WHERE complaint_id = $1"

# --- the review window (domain.review): the running record's rules, counting only what happened since $2 (a China
# date): resolutions by their China date, valid ratings by their China date, complaints found founded by the instant
# of their `resolved` stage (the latest stage's for a row from before it was kept).
_WINDOW_RESOLVED_RECORD = f"""
SELECT a.assignee_id AS org_id,
       count(*) FILTER (WHERE o.resolved_on >= $2) AS completed,
       count(*) FILTER (WHERE o.resolved_on >= $2 AND o.resolved_on <= a.due_on) AS on_time,
       count(*) FILTER (WHERE valid.rating AND rated_on >= $2) AS rated,
       count(*) FILTER (
           WHERE valid.rating AND rated_on >= $2 AND {_satisfied("$3")}
       ) AS satisfied
FROM resolution_outcomes o
CROSS JOIN LATERAL (
    SELECT {_VALID_RATING} AS rating, (o.rated_at AT TIME ZONE 'Asia/Shanghai')::date AS rated_on
) AS valid
JOIN LATERAL (
    SELECT x.assignee_kind, x.assignee_id, x.due_on FROM assignments x
    WHERE x.demand_id = o.demand_id
      AND (x.assignment_no = o.assignment_no OR (o.assignment_no IS NULL AND x.round = o.round))
    ORDER BY x.assignment_no DESC LIMIT 1
) AS a ON true
WHERE o.resolved_at IS NOT NULL AND a.assignee_kind = 'organization' AND a.assignee_id = ANY ($1::text[])
GROUP BY 1
"""
_WINDOW_COMPLAINTS = """
SELECT org_id, count(*) AS complaints_founded
FROM organization_complaints
WHERE org_id = ANY ($1::text[]) AND founded
  AND (COALESCE(resolved_at, stage_at) AT TIME ZONE 'Asia/Shanghai')::date >= $2
GROUP BY 1
"""


def _organization(row: asyncpg.Record, qualifications: list[Qualification]) -> Organization:
    return Organization(
        org_id=row["org_id"],
        name=row["name"],
        credit_code=row["credit_code"],
        contacts=tuple(Contact(**c) for c in row["contacts"]),
        categories=tuple(row["categories"]),
        items=tuple(row["item_codes"]),
        qualifications=tuple(qualifications),
        agreement=Agreement(
            party=row["agreement_party"], number=row["agreement_no"], valid_until=row["agreement_valid_until"]
        ),
        areas=tuple(row["areas"]),
        status=Status(row["status"]),
        status_reason=row["status_reason"],
        suspended_until=row["suspended_until"],
    )


def snapshot(org: Organization) -> dict:
    """The profile as the audit keeps it (before/after)."""
    return asdict(org)


class OrganizationStore:
    conn: asyncpg.Connection

    async def _orgs_with_qualifications(self, rows: list[asyncpg.Record]) -> list[Organization]:
        found: dict[str, list[Qualification]] = {r["org_id"]: [] for r in rows}
        for q in await self.conn.fetch(_QUALIFICATIONS, list(found)):
            found[q["org_id"]].append(
                Qualification(**{**{k: v for k, v in q.items() if k != "org_id"}, "categories": tuple(q["categories"])})
            )
        return [_organization(r, found[r["org_id"]]) for r in rows]

    async def organization(self, org_id: str, *, for_update: bool = False) -> Organization | None:
        row = await self.conn.fetchrow(_GET + (" FOR UPDATE" if for_update else ""), org_id)
        return (await self._orgs_with_qualifications([row]))[0] if row else None

    async def assignable_organization(self, org_id: str, station_id: str) -> tuple[Organization, bool] | None:
        """The registered organization (None if unknown) and whether any of its areas covers the station."""
        rows = await self.conn.fetch(_ASSIGNABLE, org_id, station_id)
        if not rows:
            return None
        qualifications = [
            Qualification(**{**{c: r[f"q_{c}"] for c in _QUALIFICATION_FIELDS}, "categories": tuple(r["q_categories"])})
            for r in rows
            if r["q_position"] is not None
        ]
        return _organization(rows[0], qualifications), rows[0]["serves_station"]

    async def visible_organization(self, org_id: str, scope: str, org: str) -> Organization | None:
        row = await self.conn.fetchrow(_GET_VISIBLE, scope, org, org_id)
        return (await self._orgs_with_qualifications([row]))[0] if row else None

    async def list_organizations(
        self,
        scope: str,
        org: str,
        *,
        category: str | None,
        status: str | None,
        station_id: str | None,
        limit: int | None,
        offset: int,
    ) -> list[Organization]:
        rows = await self.conn.fetch(_LIST, scope, org, category, status, station_id, limit, offset)
        return await self._orgs_with_qualifications(rows)

    async def organizations_serving(self, station_id: str) -> list[Organization]:
        return await self._orgs_with_qualifications(await self.conn.fetch(_SERVING, station_id))

    async def org_areas_within(self, areas: tuple[str, ...], scope: str) -> bool:
        """Is every one of these areas inside the scope?"""
        return await self.conn.fetchval(_ALL_WITHIN, list(areas), scope)

    async def lock_credit_code(self, credit_code: str) -> None:
        """Until commit: no other transaction saves an organization under this credit code meanwhile."""
        await self.conn.execute(_LOCK_CREDIT_CODE, credit_code)

    async def credit_code_taken(self, credit_code: str, org_id: str) -> str | None:
        """The other organization registered under this credit code, if any."""
        return await self.conn.fetchval(_CREDIT_CODE_OWNER, credit_code, org_id)

    async def save_organization(self, org: Organization, at: datetime) -> None:
        a = org.agreement
        await self.conn.execute(
            _UPSERT,
            org.org_id,
            org.name,
            org.credit_code,
            [asdict(c) for c in org.contacts],
            list(org.categories),
            list(org.items),
            list(org.areas),
            a.party,
            a.number,
            a.valid_until,
            org.status.value,
            org.status_reason,
            org.suspended_until,
            at,
        )
        await self.conn.execute(_DROP_QUALIFICATIONS, org.org_id)
        await self.conn.executemany(
            _ADD_QUALIFICATION,
            [
                (
                    org.org_id,
                    i,
                    q.kind,
                    q.certificate_no,
                    q.issuer,
                    q.scope,
                    q.valid_from,
                    q.valid_until,
                    q.file_ref,
                    list(q.categories),
                )
                for i, q in enumerate(org.qualifications, start=1)
            ],
        )

    async def add_organization_audit(
        self,
        org_id: str,
        action: str,
        *,
        actor: str,
        actor_name: str,
        actor_role: str,
        at: datetime,
        reason: str | None,
        before: dict | None,
        after: dict,
    ) -> None:
        await self.conn.execute(_ADD_AUDIT, org_id, action, actor, actor_name, actor_role, at, reason, before, after)

    async def organization_history(self, org_id: str, limit: int, offset: int) -> list[dict]:
        return [dict(r) for r in await self.conn.fetch(_HISTORY, org_id, limit, offset)]

    async def expiring_credentials(
        self, scope: str, org: str, today: date, until: date, limit: int, offset: int
    ) -> list[dict]:
        return [dict(r) for r in await self.conn.fetch(_EXPIRING, scope, org, today, until, limit, offset)]

    async def record_resolution_outcome(
        self,
        demand_id: UUID,
        round_: int,
        station_id: str,
        assignment_no: int | None,
        outcome: str,
        resolved_at: datetime,
        resolved_on: date,
    ) -> None:
        await self.conn.execute(
            _RECORD_RESOLUTION, demand_id, round_, station_id, assignment_no, outcome, resolved_at, resolved_on
        )

    async def record_rating_outcome(
        self,
        demand_id: UUID,
        round_: int,
        station_id: str,
        overall: str,
        rated_at: datetime,
        rated_event_id: UUID,
        satisfied: bool | None,
    ) -> None:
        """`satisfied`: whether the rating counts as 满意, as evaluation said (None from a Rated without the flag)."""
        await self.conn.execute(
            _RECORD_RATING, demand_id, round_, station_id, overall, rated_at, rated_event_id, satisfied
        )

    async def record_voided_rating(
        self, rated_event_id: UUID, demand_id: UUID, round_: int, station_id: str, voided_at: datetime
    ) -> None:
        await self.conn.execute(_RECORD_VOID, rated_event_id, demand_id, round_, station_id, voided_at)

    async def record_complaint(
        self,
        complaint_id: UUID,
        station_id: str,
        org_id: str | None,
        stage: str,
        position: int,
        founded: bool | None,
        stage_at: datetime,
        event_id: UUID,
    ) -> None:
        await self.conn.execute(
            _RECORD_COMPLAINT, complaint_id, station_id, org_id, stage, position, founded, stage_at, event_id
        )
        if stage == "resolved":
            await self.conn.execute(_COMPLAINT_RESOLVED, complaint_id, stage_at)

    async def organization_records(self, org_ids: list[str], *, answered_only: bool = False) -> dict[str, Record]:
        """Each organization's running record; one with no history has an empty one. `answered_only`: complaints
        count only once their complainant has been answered (the record as the organization itself reads it)."""
        counts: dict[str, dict] = {o: {} for o in org_ids}
        for r in await self.conn.fetch(_COMPLAINTS_RECORD, org_ids, answered_only):
            counts[r["org_id"]].update({k: r[k] for k in ("complaints", "complaints_founded")})
        for r in await self.conn.fetch(_RESOLVED_RECORD, org_ids, _DEFAULT_SATISFIED):
            counts[r["org_id"]].update({k: r[k] for k in ("completed", "on_time", "rated", "satisfied")})
        for r in await self.conn.fetch(_OPEN_LOAD, org_ids):
            counts[r["org_id"]]["open_load"] = r["open_load"]
        return {o: Record(**c) for o, c in counts.items()}

    async def windowed_records(self, org_ids: list[str], since: date) -> dict[str, Record]:
        """Each organization's running record counting only what happened from `since` (a China date) on: its
        resolutions, valid ratings and complaints found founded (domain.review's figures)."""
        counts: dict[str, dict] = {o: {} for o in org_ids}
        for r in await self.conn.fetch(_WINDOW_RESOLVED_RECORD, org_ids, since, _DEFAULT_SATISFIED):
            counts[r["org_id"]].update({k: r[k] for k in ("completed", "on_time", "rated", "satisfied")})
        for r in await self.conn.fetch(_WINDOW_COMPLAINTS, org_ids, since):
            counts[r["org_id"]]["complaints_founded"] = r["complaints_founded"]
        return {o: Record(**c) for o, c in counts.items()}
