-- Issues 10 and 12: ratings per category, per service organization and per first responder (the city's breakdowns
-- and the scorecards). Evaluation keeps what it needs of the demand from the events that say it, each in a table of
-- its own, so they may arrive in any order and before or after the survey exists.

-- The form's categories (a demand of two categories counts in both) and who received it (首问负责人): from
-- DemandSubmitted, the categories replaced by the latest DemandCorrected (corrected_at, then its event id, decides;
-- a correction that overtook its submission keeps its categories).
CREATE TABLE demand_forms (
    demand_id          uuid PRIMARY KEY,
    station_id         text NOT NULL,
    categories         jsonb NOT NULL DEFAULT '[]',  -- [{"code": …, "label": …}]
    first_responder    text,
    first_responder_id text,
    submitted_at       timestamptz,
    corrected_at       timestamptz,
    correction_id      uuid
);

-- Every assignment seen, with its assignee (Assigned is never changed: a rematch is the next number).
CREATE TABLE assignments (
    demand_id     uuid NOT NULL,
    assignment_no integer NOT NULL,
    station_id    text NOT NULL,
    round         integer NOT NULL,
    assignee_kind text NOT NULL,
    assignee_id   text NOT NULL,
    assignee_name text NOT NULL,
    assigned_at   timestamptz NOT NULL,
    PRIMARY KEY (demand_id, assignment_no)
);
CREATE INDEX assignments_by_assignee ON assignments (assignee_kind, assignee_id);

-- The resolution each round's survey was opened by, and the assignment it answers (Resolved.assignment_no): a rating
-- is of the organization that held that assignment. The survey keeps only its current round's; this keeps every
-- round's, so a first-round rating stays with its organization after a rematch in the second.
CREATE TABLE resolutions (
    demand_id     uuid NOT NULL,
    round         integer NOT NULL,
    station_id    text NOT NULL,
    assignment_no integer,  -- NULL when the resolution did not say: the latest assignment of its round counts
    event_id      uuid,
    resolved_at   timestamptz NOT NULL,
    PRIMARY KEY (demand_id, round)
);

-- The surveys kept before this know their current round's resolution. Their assignees were not kept (only the kind),
-- so ratings made before this count per organization once an assignment of their demand is seen again, and per
-- category and first responder not at all: their demands' submissions came before this table.
INSERT INTO resolutions (demand_id, round, station_id, assignment_no, event_id, resolved_at)
SELECT demand_id, round, station_id, resolved_assignment_no, resolved_event_id, opened_at
FROM surveys
WHERE status IN ('open', 'rated') AND opened_at IS NOT NULL;
