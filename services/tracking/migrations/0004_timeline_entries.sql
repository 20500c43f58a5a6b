-- Timeline entries are appended, one per event handled (and, later, per follow-up without an event):
-- the inbox, not a key on the event, is what keeps a redelivered event from writing twice.
ALTER TABLE timeline DROP CONSTRAINT timeline_pkey;
ALTER TABLE timeline ALTER COLUMN event_id DROP NOT NULL;
ALTER TABLE timeline ADD COLUMN entry_id bigserial PRIMARY KEY;
CREATE INDEX timeline_by_event ON timeline (event_id);
