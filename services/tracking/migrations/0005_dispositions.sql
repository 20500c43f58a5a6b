-- What happens around the lifecycle (issue 8): the current assignment's lead department, co-handlers and
-- referral; the latest assignment given back (退单); the correction shown (更正登记); and how a demand
-- ended without being resolved (否定备案 / 并单 / 撤回). Kept as facts; the status is derived from them.
ALTER TABLE cases
    ADD COLUMN department     text,
    ADD COLUMN co_handlers    jsonb,
    ADD COLUMN referral       jsonb,
    ADD COLUMN returned_no    integer NOT NULL DEFAULT 0,
    ADD COLUMN returned_by    text,
    ADD COLUMN returned_at    timestamptz,
    ADD COLUMN return_reason  text,
    ADD COLUMN corrected_at   timestamptz,
    ADD COLUMN correction_id  uuid,
    ADD COLUMN closed_as      text CHECK (closed_as IN ('refused', 'merged', 'withdrawn')),
    ADD COLUMN closed_at      timestamptz,
    ADD COLUMN closing_id     uuid,
    ADD COLUMN closing        jsonb;

-- An organization sees a case while the current assignment is its own and not given back:
-- once it returns the assignment (or the demand is rematched away) the enterprise is no longer its to see.
DROP POLICY org_assigned ON cases;
CREATE POLICY org_assigned ON cases USING (qs_is_org(assignee_kind, assignee_id) AND returned_no < assignment_no);
