-- Dispatch decisions (issue 8): return (退单), rematch (改派), referral (转办), refusal (否定备案), merge (并单),
-- withdrawal (撤回) and corrections, and what an assigned organization may read (服务所需信息).

-- Backfills below must see every row whatever role runs the migration (row-level security is forced).
SELECT set_config('qs.scope', '*', true);

-- A demand also ends refused, merged or withdrawn; a returned one is `waiting` again.
ALTER TABLE queue DROP CONSTRAINT queue_status_check;
ALTER TABLE queue ADD CONSTRAINT queue_status_check
    CHECK (status IN ('waiting', 'assigned', 'resolved', 'refused', 'merged', 'withdrawn'));

ALTER TABLE queue
    -- The rest of the form (DemandSubmitted, replaced by DemandCorrected), for the assignee's brief. A demand
    -- received before this has none; its credit code NULL means it is never merged (the enterprise unproven).
    ADD COLUMN enterprise_credit_code text,
    ADD COLUMN contact jsonb,
    ADD COLUMN address text,
    ADD COLUMN details jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN corrected_at timestamptz,
    ADD COLUMN correction_id uuid,
    -- The latest assignment given back; while it is the current one the demand waits for a rematch.
    ADD COLUMN returned_no integer NOT NULL DEFAULT 0,
    ADD COLUMN returned_at timestamptz,
    -- How it ended without resolution: when, by which event (the earlier of two counts), the details.
    ADD COLUMN closed_at timestamptz,
    ADD COLUMN closing_id uuid,
    ADD COLUMN closing jsonb;

ALTER TABLE assignments
    ADD COLUMN tracking_no text,
    ADD COLUMN event_id uuid,                          -- its Assigned, which a return names as its cause
    ADD COLUMN department_id text,                     -- 牵头科室
    ADD COLUMN department text,
    ADD COLUMN co_handlers jsonb NOT NULL DEFAULT '[]', -- 协办
    ADD COLUMN referral jsonb,                         -- 转办
    ADD COLUMN returned_at timestamptz,                -- 退单
    ADD COLUMN returned_by text,
    ADD COLUMN return_reason text;
-- An organization lists its past assignments by tracking number without reading the demand again.
UPDATE assignments a SET tracking_no = q.tracking_no FROM queue q WHERE q.demand_id = a.demand_id;
ALTER TABLE assignments ALTER COLUMN tracking_no SET NOT NULL;

-- An organization sees a demand while its current assignment is the organization's and not given back,
-- and may write exactly one thing: giving that assignment back (store._RETURN, one statement).
DROP POLICY org_assigned ON queue;
CREATE POLICY org_assigned ON queue FOR SELECT USING (EXISTS (
    SELECT 1 FROM assignments a
    WHERE a.demand_id = queue.demand_id AND a.assignment_no = queue.assignment_count
      AND a.returned_at IS NULL AND qs_is_org(a.assignee_kind, a.assignee_id)
));
CREATE POLICY org_returns ON queue FOR UPDATE
    USING (EXISTS (
        SELECT 1 FROM assignments a
        WHERE a.demand_id = queue.demand_id AND a.assignment_no = queue.assignment_count
          AND a.returned_at IS NULL AND qs_is_org(a.assignee_kind, a.assignee_id)))
    WITH CHECK (EXISTS (
        SELECT 1 FROM assignments a
        WHERE a.demand_id = queue.demand_id AND a.assignment_no = queue.assignment_count
          AND a.returned_at IS NULL AND qs_is_org(a.assignee_kind, a.assignee_id)));
CREATE POLICY org_returns ON assignments FOR UPDATE
    USING (qs_is_org(assignee_kind, assignee_id)) WITH CHECK (qs_is_org(assignee_kind, assignee_id));

-- Corrections and withdrawals seen before their DemandSubmitted, applied when it arrives.
CREATE TABLE early_events (
    event_id    uuid PRIMARY KEY,
    demand_id   uuid NOT NULL,
    station_id  text NOT NULL,
    routing_key text NOT NULL,
    payload     jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX early_events_by_demand ON early_events (demand_id);

-- Every read of a demand's brief (the enterprise's contact, address, items, detail tables): who, in which
-- role and organization, when (need-to-know, domain.md §4). Append-only.
CREATE TABLE access_log (
    id          bigserial PRIMARY KEY,
    demand_id   uuid NOT NULL,
    station_id  text NOT NULL,
    reader      text NOT NULL,
    reader_name text NOT NULL,
    reader_role text NOT NULL,
    org_id      text,
    read_at     timestamptz NOT NULL
);
CREATE INDEX access_log_by_demand ON access_log (demand_id, id);
CREATE POLICY org_reads ON access_log FOR INSERT WITH CHECK (qs_is_org('organization', org_id));

CREATE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END $$;
CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE ON access_log
    FOR EACH ROW EXECUTE FUNCTION access_log_append_only();
