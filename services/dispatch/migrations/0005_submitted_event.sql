-- The DemandSubmitted event a queue item came from: every Assigned names it as its cause (causation_id),
-- so a reader of the event log can tell which submission a dispatch decision answers. Items received
-- before this column existed keep NULL; their Assigned events carry no causation_id, as before.
ALTER TABLE queue ADD COLUMN submitted_event_id uuid;
