-- Rounds (issue 10, 004 §6.5.2): a 不满意 rating is verified (核实) by the head or the first responder; a founded
-- one reopens the demand as the next round (重办), assigned, resolved and rated again. The case keeps the facts of
-- its current round (domain.py) and, once reopened, its first resolution, which the KPIs count (a demand is
-- resolved once for them); the timeline keeps every round.
ALTER TABLE cases
    -- The round of the current assignment: below `round`, the reopened case waits for its first (重办待派).
    ADD COLUMN assigned_round                integer NOT NULL DEFAULT 1 CHECK (assigned_round >= 1),
    -- The current round's rating (Rated's event id), its verification and whether an appeal voided it.
    ADD COLUMN rated_event_id                uuid,
    ADD COLUMN verification_id               uuid,
    ADD COLUMN finding                       text CHECK (finding IN ('founded', 'unfounded', 'unreachable')),
    ADD COLUMN verified_at                   timestamptz,
    ADD COLUMN rating_voided_at              timestamptz,
    -- The clock's answer (computed in Python with the working-day calendar, clock/domain.py): 核实时限.
    ADD COLUMN verify_due_on                 date,
    -- The reopening that opened the current round.
    ADD COLUMN reopening_id                  uuid,
    ADD COLUMN reopened_at                   timestamptz,
    -- The first resolution, kept when the case is reopened.
    ADD COLUMN first_resolved_at             timestamptz,
    ADD COLUMN first_outcome                 text,
    ADD COLUMN first_handling_due_on         date,
    ADD COLUMN first_resolution_working_days integer CHECK (first_resolution_working_days >= 0);

-- The 待核实 work list and the awaiting-verification gauge read these.
CREATE INDEX cases_awaiting_verification ON cases (station_id, verify_due_on)
    WHERE overall = 'dissatisfied' AND verified_at IS NULL AND rating_voided_at IS NULL AND archive_no IS NULL;

-- Ratings recorded before this migration: their Rated's event id from the timeline (detail->'event' is each
-- event's JSON), the newest of the case's round. Their verification deadline is filled in by the service when it
-- starts (clock.usecases.fill_in_clocks), as it needs the working-day calendar.
WITH rated AS (
    SELECT DISTINCT ON (demand_id) demand_id, event_id, COALESCE((detail->'event'->>'round')::integer, 1) AS round
    FROM timeline
    WHERE kind = 'demand.rated'
    ORDER BY demand_id, COALESCE((detail->'event'->>'round')::integer, 1) DESC, occurred_at DESC, entry_id DESC
)
UPDATE cases c
SET rated_event_id = r.event_id
FROM rated r
WHERE r.demand_id = c.demand_id AND r.round = c.round AND c.rated_at IS NOT NULL AND c.rated_event_id IS NULL;

-- A station's clock: working days to verify a 不满意 rating and to handle a reopened demand again; an empty
-- column keeps the service's default (TRACKING_VERIFY_DAYS, TRACKING_REHANDLING_DAYS).
ALTER TABLE clock_settings
    ADD COLUMN verify_days     integer CHECK (verify_days BETWEEN 1 AND 30),
    ADD COLUMN rehandling_days integer CHECK (rehandling_days BETWEEN 1 AND 30);
ALTER TABLE clock_settings_audit
    ADD COLUMN verify_days     integer,
    ADD COLUMN rehandling_days integer;
