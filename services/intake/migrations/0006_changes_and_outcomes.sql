-- The whole form travels with DemandSubmitted: the enterprise's address (from its dossier at submission),
-- and the submission's own event id, which the demand's later events from intake name as their cause.
ALTER TABLE demands
    ADD COLUMN address text,
    ADD COLUMN submitted_event_id uuid;
UPDATE demands d SET submitted_event_id = o.event_id
FROM outbox o WHERE o.demand_id = d.demand_id AND o.routing_key = 'demand.submitted';

-- What intake learns of the demand's handling from dispatch's events, for the enterprise's status link.
-- Facts that only grow (events come in any order): the highest assignment seen and who holds it, the highest
-- assignment given back (退单), the round; and how the demand ended without being resolved (closings are terminal).
ALTER TABLE demands
    ADD COLUMN assignment_no integer NOT NULL DEFAULT 0,
    ADD COLUMN assignee_kind text,
    ADD COLUMN assignee_name text,
    ADD COLUMN referred_to text,             -- the department, when the latest assignment is a referral (转办)
    ADD COLUMN returned_no integer NOT NULL DEFAULT 0,
    ADD COLUMN round integer NOT NULL DEFAULT 1,
    ADD COLUMN closed_as text CHECK (closed_as IN ('refused', 'merged', 'withdrawn')),
    ADD COLUMN closed_reason text,
    ADD COLUMN closed_basis text,            -- 否定备案: the legal or policy basis
    ADD COLUMN merged_into uuid,
    ADD COLUMN merged_into_tracking_no text,
    ADD COLUMN closed_by text,
    ADD COLUMN closed_at timestamptz,
    ADD COLUMN closed_by_enterprise boolean NOT NULL DEFAULT false;
-- Demands seen assigned before these columns existed had at least their first assignment.
UPDATE demands SET assignment_no = 1 WHERE progress <> 'submitted';
-- A demand that ended without being resolved is 'closed' until the archive seals it.
ALTER TABLE demands DROP CONSTRAINT demands_status_check;
ALTER TABLE demands ADD CONSTRAINT demands_status_check CHECK (status IN ('open', 'closed', 'archived'));

-- 更正: the form corrected before dispatch, audited (who, when, why, the changed fields before and after).
-- The audit is append-only: the database refuses to change or remove a row.
CREATE TABLE demand_corrections (
    correction_id   uuid PRIMARY KEY,
    demand_id       uuid NOT NULL REFERENCES demands (demand_id),
    station_id      text NOT NULL,
    corrected_by    text NOT NULL,
    corrected_by_id text NOT NULL,
    corrected_at    timestamptz NOT NULL,
    reason          text NOT NULL,
    changed         jsonb NOT NULL,          -- the form's fields that changed, e.g. ["contact", "items"]
    before          jsonb NOT NULL,          -- those fields as they were
    after           jsonb NOT NULL           -- and as they are now
);
-- The latest correction, for the re-issued notice (本通知书已更正).
ALTER TABLE demands ADD COLUMN corrected_at timestamptz;
CREATE INDEX demand_corrections_by_demand ON demand_corrections (demand_id, corrected_at);
CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END $$;
CREATE TRIGGER demand_corrections_append_only BEFORE UPDATE OR DELETE ON demand_corrections
    FOR EACH ROW EXECUTE FUNCTION refuse_change();

-- Working-day corrections are reference data intake owns and announces (CalendarCorrected): a removed
-- correction stays as a tombstone (is_workday NULL) so it is announced like the others, and each row
-- remembers when it was last announced, as the station registry does.
ALTER TABLE calendar_overrides
    ALTER COLUMN is_workday DROP NOT NULL,
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN announced_at timestamptz;
