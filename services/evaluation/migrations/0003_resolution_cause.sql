-- The resolution that opened the survey's current round: Rated names it as its cause, so the
-- archive can tell which resolution a rating closes. Surveys opened before this stay NULL.
ALTER TABLE surveys ADD COLUMN resolved_event_id uuid;
