-- The clock (issue 9): pauses (挂起), extensions (延期), each station's clock settings, and tracking's copy of the
-- working-day corrections intake owns. The deadlines themselves stay derived (cases.response_due_on,
-- handling_due_on, paused_since, migration 0006), recomputed from these rows and the case's events.

-- 挂起: one row per pause, ended when the handler resumes. At most one open pause per assignment.
CREATE TABLE pauses (
    pause_id         uuid PRIMARY KEY,
    demand_id        uuid NOT NULL REFERENCES cases (demand_id),
    station_id       text NOT NULL,
    assignment_no    integer NOT NULL CHECK (assignment_no >= 1),
    reason_kind      text NOT NULL,
    reason           text NOT NULL,
    paused_by        text NOT NULL,
    paused_by_id     text NOT NULL,
    paused_at        timestamptz NOT NULL,
    event_id         uuid NOT NULL,
    resumed_by       text,
    resumed_by_id    text,
    resumed_at       timestamptz,
    note             text,
    resumed_event_id uuid,
    CHECK (resumed_at IS NULL OR resumed_at >= paused_at)
);
CREATE UNIQUE INDEX pauses_one_open ON pauses (demand_id, assignment_no) WHERE resumed_at IS NULL;
CREATE INDEX pauses_by_demand ON pauses (demand_id, paused_at);

-- 延期: a request and, once the head decided, its decision. At most one waiting per assignment.
CREATE TABLE extensions (
    extension_id     uuid PRIMARY KEY,
    demand_id        uuid NOT NULL REFERENCES cases (demand_id),
    station_id       text NOT NULL,
    assignment_no    integer NOT NULL CHECK (assignment_no >= 1),
    requested_by     text NOT NULL,
    requested_by_id  text NOT NULL,
    requested_at     timestamptz NOT NULL,
    reason           text NOT NULL,
    due_on           date NOT NULL,
    new_due_on       date NOT NULL CHECK (new_due_on > due_on),
    event_id         uuid NOT NULL,
    approved         boolean,
    decided_by       text,
    decided_by_id    text,
    decided_at       timestamptz,
    comment          text,
    decided_event_id uuid,
    CHECK ((approved IS NULL) = (decided_at IS NULL))
);
CREATE UNIQUE INDEX extensions_one_pending ON extensions (demand_id, assignment_no) WHERE approved IS NULL;
CREATE INDEX extensions_by_demand ON extensions (demand_id, requested_at);
CREATE INDEX extensions_pending ON extensions (station_id, requested_at) WHERE approved IS NULL;

-- Row-level security: the station policy is added on start; an organization sees (and writes) the pauses and
-- extensions of the cases assigned to it now, like the timeline (0002).
CREATE POLICY org_assigned ON pauses USING (EXISTS (SELECT 1 FROM cases c WHERE c.demand_id = pauses.demand_id));
CREATE POLICY org_assigned ON extensions
    USING (EXISTS (SELECT 1 FROM cases c WHERE c.demand_id = extensions.demand_id));

-- A station's clock over the service's defaults (TRACKING_RESPONSE_DAYS …); an empty column keeps the default.
CREATE TABLE clock_settings (
    station_id          text PRIMARY KEY,
    response_days       integer CHECK (response_days BETWEEN 1 AND 30),
    warn_days           integer CHECK (warn_days BETWEEN 0 AND 10),
    escalate_after_days integer CHECK (escalate_after_days BETWEEN 1 AND 30),
    reply_days          integer CHECK (reply_days BETWEEN 1 AND 30),
    updated_by          text NOT NULL,
    updated_by_id       text NOT NULL,
    updated_at          timestamptz NOT NULL
);
-- An organization working a case counts its deadlines with the station's clock, so it may read the settings of
-- the stations whose cases are assigned to it (read only).
CREATE POLICY org_assigned ON clock_settings FOR SELECT
    USING (EXISTS (SELECT 1 FROM cases c WHERE c.station_id = clock_settings.station_id));

-- Who set what when: every change of a station's clock, kept for good.
CREATE TABLE clock_settings_audit (
    audit_id            bigserial PRIMARY KEY,
    station_id          text NOT NULL,
    response_days       integer,
    warn_days           integer,
    escalate_after_days integer,
    reply_days          integer,
    updated_by          text NOT NULL,
    updated_by_id       text NOT NULL,
    updated_at          timestamptz NOT NULL
);
CREATE FUNCTION clock_settings_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END $$;
CREATE TRIGGER clock_settings_audit_append_only BEFORE UPDATE OR DELETE ON clock_settings_audit
    FOR EACH ROW EXECUTE FUNCTION clock_settings_audit_append_only();

-- Tracking's copy of intake's working-day corrections (CalendarCorrected), the same table as dispatch's (its
-- 0008) and kept by the same code (shared/calendar_corrections.py): city-wide, no station_id. One row per day,
-- the newest correction by when intake made it; a removal is kept as a tombstone (is_workday NULL).
CREATE TABLE calendar_corrections (
    day         date PRIMARY KEY,
    is_workday  boolean,
    note        text,
    event_id    uuid NOT NULL,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
