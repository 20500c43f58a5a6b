-- One survey per demand; it opens when the demand is resolved.
CREATE TABLE surveys (
    demand_id      uuid PRIMARY KEY,
    station_id     text NOT NULL,
    tracking_no    text NOT NULL,
    correlation_id uuid NOT NULL,
    round          integer NOT NULL DEFAULT 1,
    served_by_org  boolean NOT NULL DEFAULT false,
    status         text NOT NULL CHECK (status IN ('waiting', 'open', 'rated')),
    opened_at      timestamptz,
    rated_at       timestamptz
);
CREATE INDEX surveys_by_station ON surveys (station_id, status);

-- Ratings are kept, never overwritten: one per demand and round.
CREATE TABLE ratings (
    demand_id   uuid NOT NULL REFERENCES surveys (demand_id),
    round       integer NOT NULL,
    station_id  text NOT NULL,
    answers     jsonb NOT NULL,
    overall     text NOT NULL,
    source      text NOT NULL,
    recorded_by text,
    rated_at    timestamptz NOT NULL,
    PRIMARY KEY (demand_id, round)
);
