-- The ledger: one row per demand, built from events that may arrive in any order.
CREATE TABLE cases (
    demand_id        uuid PRIMARY KEY,
    station_id       text NOT NULL,
    tracking_no      text NOT NULL,
    correlation_id   uuid NOT NULL,
    round            integer NOT NULL DEFAULT 1,
    enterprise_name  text,
    categories       jsonb,
    description      text,
    channel          text,
    first_responder  text,
    time_limit_days  integer,
    submitted_at     timestamptz,
    assignment_no    integer NOT NULL DEFAULT 0,
    assignee_kind    text,
    assignee_id      text,
    assignee_name    text,
    handling_mode    text,
    due_on           date,
    assigned_at      timestamptz,
    outcome          text,
    summary          text,
    resolved_by      text,
    resolved_at      timestamptz,
    overall          text,
    rated_at         timestamptz,
    archive_no       text,
    archived_at      timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cases_by_station ON cases (station_id, submitted_at DESC);

-- The tracking sheet's timeline: one entry per event, in the order things happened.
CREATE TABLE timeline (
    event_id    uuid PRIMARY KEY,
    demand_id   uuid NOT NULL,
    station_id  text NOT NULL,
    kind        text NOT NULL,
    occurred_at timestamptz NOT NULL,
    detail      jsonb NOT NULL
);
CREATE INDEX timeline_by_demand ON timeline (demand_id, occurred_at);
