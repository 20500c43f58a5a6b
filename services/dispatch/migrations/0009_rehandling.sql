-- Re-handling (重办, issue 10): a founded verification of a 不满意 rating reopens a resolved demand as the next
-- round (DemandReopened). The queue keeps the reopening of the current round: the re-handling deadline every
-- assignment of the round commits to, when and why it was reopened, the event (the round's assignments name it
-- as their cause) and whom the round before was assigned to. Round 1 keeps them all NULL.
ALTER TABLE queue
    ADD COLUMN due_on            date,
    ADD COLUMN reopened_at       timestamptz,
    ADD COLUMN reopening_id      uuid,
    ADD COLUMN reopening         jsonb,   -- {reason, reopened_by, verification_id, assignment_count}
    ADD COLUMN previous_assignee jsonb,   -- {kind, id, name}
    ADD CONSTRAINT queue_reopening_whole CHECK (
        (reopening_id IS NULL) = (due_on IS NULL)
        AND (reopening_id IS NULL) = (reopened_at IS NULL)
        AND (reopening_id IS NULL) = (reopening IS NULL)
    ),
    ADD CONSTRAINT queue_reopened_rounds CHECK (reopening_id IS NULL OR round > 1);
