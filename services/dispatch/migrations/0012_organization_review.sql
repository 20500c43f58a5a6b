-- The registry's review flag (issue 10: an organization's scorecard feeds the suspension decision; a threshold flags it
-- for review, the head still decides). Its complaint rule counts complaints found founded within the review window,
-- so the registry keeps when each complaint reached its `resolved` stage (where founded is decided), whatever order
-- the stages arrive in. NULL: not resolved yet, or recorded before this column (the window then reads the latest
-- stage's instant, at or after the resolution).
ALTER TABLE organization_complaints ADD COLUMN resolved_at timestamptz;
UPDATE organization_complaints SET resolved_at = stage_at WHERE stage = 'resolved';
