-- Issue 8: a demand can end without being resolved (refused, merged, withdrawn), and can be
-- assigned several times (returned and rematched, referred).
--
-- A survey whose demand ended unresolved is closed: never rated, no link issued or used for it.
-- The database keeps the rule that a closed survey says how it ended, and only a closed one does.
ALTER TABLE surveys DROP CONSTRAINT surveys_status_check;
ALTER TABLE surveys
    ADD CONSTRAINT surveys_status_check CHECK (status IN ('waiting', 'open', 'rated', 'closed')),
    ADD COLUMN closed_as  text CHECK (closed_as IN ('refused', 'merged', 'withdrawn')),
    ADD COLUMN closed_at  timestamptz,
    ADD COLUMN closing_id uuid,
    ADD CONSTRAINT surveys_closed_says_how CHECK ((status = 'closed') = (closed_as IS NOT NULL));

-- Every assignment seen, as {"<assignment_no>": "<assignee_kind>"}, and the one the current round's
-- resolution answers (Resolved.assignment_no): served_by_org follows that assignment, not any
-- organization that once held the demand. Surveys kept before this have no assignments recorded
-- and keep the served_by_org they had until an assignment is seen.
ALTER TABLE surveys
    ADD COLUMN assignments            jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN resolved_assignment_no integer;
