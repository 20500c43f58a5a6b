-- What the enterprise is told of the clock behind its status link (issue 9): pauses (挂起, 行政许可法 §45
-- pattern: the time not counted, the enterprise told in writing) and approved extensions (延期, §42 pattern).
-- Facts from tracking's events, kept so that any arrival order gives the same answer: a resumption seen
-- before its pause fills in the same row (keyed by the pause), the pause later fills in the rest.
-- Who paused, resumed or decided is the station's internal business and is not kept here.
CREATE TABLE demand_pauses (
    pause_id            uuid PRIMARY KEY,
    demand_id           uuid NOT NULL REFERENCES demands (demand_id),
    station_id          text NOT NULL,
    assignment_no       integer,              -- the assignment paused: a return or rematch ends the pause too
    reason_kind         text,                 -- PauseReason; NULL until CasePaused is seen
    reason              text,
    paused_at           timestamptz,
    resumed_at          timestamptz,          -- NULL while the clock stands still
    paused_working_days integer CHECK (paused_working_days >= 0),
    handling_due_on     date                  -- the deadline after the move, as tracking computed it
);
CREATE INDEX demand_pauses_by_demand ON demand_pauses (demand_id);

-- Only approved extensions: a refused one changes nothing for the enterprise.
CREATE TABLE demand_extensions (
    extension_id uuid PRIMARY KEY,
    demand_id    uuid NOT NULL REFERENCES demands (demand_id),
    station_id   text NOT NULL,
    reason       text NOT NULL,                -- the request's reason, which the enterprise is told
    due_on       date NOT NULL,                -- the deadline before
    new_due_on   date NOT NULL,                -- the deadline now
    decided_at   timestamptz NOT NULL
);
CREATE INDEX demand_extensions_by_demand ON demand_extensions (demand_id);
