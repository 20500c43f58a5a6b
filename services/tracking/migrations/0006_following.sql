-- Following a case (issue 9). What the case keeps to be found (search and work lists): the enterprise's credit
-- code, the contact's phone, the catalogue items, the first responder's account and the first assignment;
-- and the clock's answers, derived from the case's events and recomputed whenever one arrives (never a counter):
-- the response and handling deadlines in force and, while paused (挂起), since when.
ALTER TABLE cases
    ADD COLUMN credit_code         text,
    ADD COLUMN contact_phone       text,
    ADD COLUMN items               jsonb,
    ADD COLUMN first_responder_id  text,
    ADD COLUMN first_assigned_at   timestamptz,
    ADD COLUMN response_due_on     date,
    ADD COLUMN handling_due_on     date,
    ADD COLUMN paused_since        timestamptz;
CREATE INDEX cases_open_by_due ON cases (handling_due_on) WHERE resolved_at IS NULL AND closed_as IS NULL;
CREATE INDEX cases_by_credit_code ON cases (credit_code);
CREATE INDEX cases_by_contact_phone ON cases (contact_phone);
