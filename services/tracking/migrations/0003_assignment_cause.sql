-- The assignment a resolution answers: Resolved names it as its cause, so the archive knows what it must have seen.
ALTER TABLE cases ADD COLUMN assigned_event_id uuid;
