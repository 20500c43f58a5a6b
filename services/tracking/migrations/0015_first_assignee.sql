-- Who resolved a case first (the assignee of its first resolution), kept when it is reopened: the organization its
-- resolution figures count for, for good (store.ORGANIZATION_RESOLVED_KPIS), whoever handles a later round.
ALTER TABLE cases
    ADD COLUMN first_assignee_kind text,
    ADD COLUMN first_assignee_id   text,
    ADD COLUMN first_assignee_name text;

-- Cases reopened before this column: the assignment round 1's resolution answered (its causation), from the
-- timeline (each entry keeps its event's JSON).
WITH answered AS (
    SELECT DISTINCT ON (r.demand_id) r.demand_id, a.detail->'event' AS assigned
    FROM timeline r
    JOIN timeline a ON a.event_id = (r.detail->'event'->>'causation_id')::uuid AND a.kind = 'demand.assigned'
    WHERE r.kind = 'demand.resolved' AND COALESCE((r.detail->'event'->>'round')::integer, 1) = 1
    ORDER BY r.demand_id, r.occurred_at
)
UPDATE cases c
SET first_assignee_kind = answered.assigned->>'assignee_kind',
    first_assignee_id   = answered.assigned->>'assignee_id',
    first_assignee_name = answered.assigned->>'assignee_name'
FROM answered
WHERE answered.demand_id = c.demand_id AND c.first_resolved_at IS NOT NULL AND c.first_assignee_kind IS NULL;
