-- Demands as dispatch sees them: waiting for a decision, assigned, or resolved (no more rematch).
CREATE TABLE queue (
    demand_id        uuid PRIMARY KEY,
    station_id       text NOT NULL,
    tracking_no      text NOT NULL,
    enterprise_name  text NOT NULL,
    categories       jsonb NOT NULL,
    description      text NOT NULL,
    channel          text NOT NULL,
    first_responder  text NOT NULL,
    time_limit_days  integer NOT NULL,
    submitted_at     timestamptz NOT NULL,
    correlation_id   uuid NOT NULL,
    status           text NOT NULL CHECK (status IN ('waiting', 'assigned', 'resolved')),
    round            integer NOT NULL DEFAULT 1,
    assignment_count integer NOT NULL DEFAULT 0
);
CREATE INDEX queue_by_station ON queue (station_id, status, submitted_at);

-- Every dispatch decision, first and rematch alike, kept in order.
CREATE TABLE assignments (
    demand_id      uuid NOT NULL REFERENCES queue (demand_id),
    assignment_no  integer NOT NULL,
    round          integer NOT NULL,
    assignee_kind  text NOT NULL,
    assignee_id    text NOT NULL,
    assignee_name  text NOT NULL,
    handling_mode  text NOT NULL,
    due_on         date NOT NULL,
    assigned_by    text NOT NULL,
    note           text,
    assigned_at    timestamptz NOT NULL,
    PRIMARY KEY (demand_id, assignment_no)
);

-- A Resolved seen before its Submitted: remembered until the demand arrives.
CREATE TABLE early_resolutions (
    demand_id uuid PRIMARY KEY,
    round     integer NOT NULL
);
