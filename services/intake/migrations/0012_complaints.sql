-- Complaints (投诉, issue 10; 000 §服务质量监督, 001 §6.6, 002 §8.1; GB/T 19012 stages): received from the enterprise
-- online through its status link or recorded by the station's staff, then moved by the head through
-- acknowledged → investigated → resolved → answered → closed, each stage once and in order.

-- Per-station, per-year serial of complaint numbers (T2026-000012), like tracking_counters: incremented in the
-- receiving transaction, so the row lock serializes one station's complaints and a rollback returns the number.
CREATE TABLE complaint_counters (
    station_id  text NOT NULL,
    year        integer NOT NULL,
    last_serial integer NOT NULL,
    PRIMARY KEY (station_id, year)
);

-- The complaint as it stands now: the latest stage, by when the next one is due, the subject as last corrected.
-- complaint_stages is the record; this row is what lists and metrics read.
CREATE TABLE complaints (
    complaint_id        uuid PRIMARY KEY,
    station_id          text NOT NULL,
    complaint_no        text NOT NULL CHECK (complaint_no ~ '^T[0-9]{4}-[0-9]{6}$'),
    channel             text NOT NULL CHECK (channel IN ('online', 'phone', 'letter', 'window', 'im')),
    subject             text NOT NULL CHECK (subject IN ('station', 'staff', 'organization')),
    subject_id          text,
    subject_name        text,
    demand_id           uuid,
    tracking_no         text,
    complainant_name    text NOT NULL,   -- never leaves intake: not in the event, not shown to the organization
    complainant_contact text NOT NULL,
    enterprise_name     text,
    content             text NOT NULL,
    recorded_by_id      text NOT NULL,   -- the clerk's or head's account; 'status-link' online
    correlation_id      uuid NOT NULL,
    stage               text NOT NULL
        CHECK (stage IN ('received', 'acknowledged', 'investigated', 'resolved', 'answered', 'closed')),
    due_on              date,            -- the next stage's limit; NULL once closed
    founded             boolean,         -- from resolved on
    UNIQUE (station_id, complaint_no),
    UNIQUE (complaint_id, station_id),
    CHECK ((stage = 'closed') = (due_on IS NULL)),
    CHECK ((stage IN ('resolved', 'answered', 'closed')) = (founded IS NOT NULL)),
    CHECK (subject <> 'organization' OR stage IN ('received', 'acknowledged', 'investigated') OR subject_id IS NOT NULL)
);
CREATE INDEX complaints_by_station ON complaints (station_id, stage);
CREATE INDEX complaints_by_demand ON complaints (demand_id) WHERE demand_id IS NOT NULL;
CREATE INDEX complaints_by_recorder ON complaints (recorded_by_id);

-- Every stage reached, append-only: who, when, the note, the limit it had, the subject as it stood. Each stage once
-- (the primary key), in order (a stage's row names the one before it, which must exist), never changed.
CREATE TABLE complaint_stages (
    complaint_id uuid NOT NULL,
    station_id   text NOT NULL,
    stage        text NOT NULL,
    position     integer NOT NULL CHECK (
        position = array_position(
            ARRAY['received', 'acknowledged', 'investigated', 'resolved', 'answered', 'closed'], stage) - 1
    ),
    previous     integer GENERATED ALWAYS AS (NULLIF(position, 0) - 1) STORED,
    at           timestamptz NOT NULL,
    by_name      text NOT NULL,
    by_id        text NOT NULL,
    note         text CHECK (stage = 'received' OR note IS NOT NULL),
    due_on       date CHECK ((stage = 'received') = (due_on IS NULL)),
    founded      boolean CHECK ((stage = 'resolved') = (founded IS NOT NULL)),
    subject      text NOT NULL CHECK (subject IN ('station', 'staff', 'organization')),
    subject_id   text,
    subject_name text,
    event_id     uuid NOT NULL UNIQUE,  -- the ComplaintUpdated this stage published
    PRIMARY KEY (complaint_id, stage),
    UNIQUE (complaint_id, position),
    FOREIGN KEY (complaint_id, station_id) REFERENCES complaints (complaint_id, station_id),
    FOREIGN KEY (complaint_id, previous) REFERENCES complaint_stages (complaint_id, position)
);

CREATE FUNCTION refuse_complaint_stage_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'complaint_stages is append-only: % refused', TG_OP;
END $$;
CREATE TRIGGER complaint_stages_append_only BEFORE UPDATE OR DELETE ON complaint_stages
    FOR EACH ROW EXECUTE FUNCTION refuse_complaint_stage_change();

-- Row-level security (shared/db/security.py) shows staff and supervisors their stations' complaints. An organization
-- reads a complaint about itself once the complainant has been answered, and nothing before; never changes one.
CREATE POLICY org_answered ON complaints FOR SELECT
    USING (qs_is_org(subject, subject_id) AND stage IN ('answered', 'closed'));
CREATE POLICY org_answered ON complaint_stages FOR SELECT
    USING (EXISTS (SELECT 1 FROM complaints c WHERE c.complaint_id = complaint_stages.complaint_id));
