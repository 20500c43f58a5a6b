-- After a 不满意 rating (issue 10): what the enterprise is told of its verification (核实) and re-handling (重办).
-- Progress is per round: `progress` is of round `progress_round`, so a round-2 assignment moves on from round 1's
-- "rated" and a late round-1 event changes nothing. Every demand so far is in its first round.
ALTER TABLE demands
    ADD COLUMN progress_round integer NOT NULL DEFAULT 1 CHECK (progress_round >= 1),
    -- The latest reopening (DemandReopened): the round, when, the re-handling deadline, and how many assignments
    -- came before it (so pauses and extensions of earlier rounds no longer move the date). NULL until seen.
    ADD COLUMN reopened_round integer CHECK (reopened_round >= 2),
    ADD COLUMN reopened_at timestamptz,
    ADD COLUMN reopened_due_on date,
    ADD COLUMN reopened_assignment_count integer CHECK (reopened_assignment_count >= 0),
    -- The latest verification of a 不满意 rating (RatingVerified): which round, what was found, when. The reason and
    -- who verified it are the station's record (tracking, the archive), not the enterprise's status link.
    ADD COLUMN verified_round integer CHECK (verified_round >= 1),
    ADD COLUMN verified_finding text CHECK (verified_finding IN ('founded', 'unfounded', 'unreachable')),
    ADD COLUMN verified_at timestamptz,
    ADD CONSTRAINT demands_reopening_whole CHECK (
        (reopened_round IS NULL) = (reopened_at IS NULL)
        AND (reopened_round IS NULL) = (reopened_due_on IS NULL)
        AND (reopened_round IS NULL) = (reopened_assignment_count IS NULL)
    ),
    ADD CONSTRAINT demands_verification_whole CHECK (
        (verified_round IS NULL) = (verified_finding IS NULL) AND (verified_round IS NULL) = (verified_at IS NULL)
    );
