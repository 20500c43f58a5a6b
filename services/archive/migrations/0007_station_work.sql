-- A station's own work that is not one demand's (shared/contracts/stationwork.py): visits to enterprises
-- (主动进企业走访, 004 §5.3) and the special tasks (专项工作, 002 §9.6) supervisors give it, as the weekly report
-- (004 §5.5.1) counts them. Station records: kept, not sealed into any demand's dossier, never disposed of (no
-- deletion path). Each table has station_id, so row-level security applies (shared/db/security.py), and is
-- append-only like the event log: the database refuses to alter or delete a row. A message delivered twice is
-- claimed once (inbox); the keys make a re-published fact a no-op as well (ON CONFLICT DO NOTHING).

-- One row per visit (VisitRecorded, published by intake once per visit).
CREATE TABLE station_visits (
    visit_id        uuid PRIMARY KEY,
    station_id      text NOT NULL,
    credit_code     text NOT NULL,
    enterprise_name text NOT NULL,
    staff           text[] NOT NULL,
    visited_on      date NOT NULL,  -- China date
    findings        text NOT NULL,
    recorded_by     text NOT NULL,
    event_id        uuid NOT NULL,
    occurred_at     timestamptz NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX station_visits_by_station_day ON station_visits (station_id, visited_on);

-- One row per station a special task went to (SpecialTaskAssigned names every station): the station's part.
CREATE TABLE special_task_parts (
    task_id      uuid NOT NULL,
    station_id   text NOT NULL,
    issuer_scope text NOT NULL,
    issued_by    text NOT NULL,
    title        text NOT NULL,
    description  text NOT NULL,
    due_on       date NOT NULL,  -- China date as set; the deadline moves past a day off
    issued_at    timestamptz NOT NULL,
    event_id     uuid NOT NULL,
    occurred_at  timestamptz NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, station_id)
);
CREATE INDEX special_task_parts_by_station ON special_task_parts (station_id, issued_at);

-- Every report a station made on its part (SpecialTaskReported): progress any number of times, completion once and
-- last. Title and due date travel with each report, so a part is known from its reports even before (or without) its
-- assignment event.
CREATE TABLE special_task_reports (
    report_id    uuid PRIMARY KEY,
    task_id      uuid NOT NULL,
    station_id   text NOT NULL,
    title        text NOT NULL,
    due_on       date NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('progress', 'completion')),
    text         text NOT NULL,
    reported_by  text NOT NULL,
    reported_at  timestamptz NOT NULL,
    event_id     uuid NOT NULL,
    occurred_at  timestamptz NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX special_task_reports_by_part ON special_task_reports (task_id, station_id, kind, reported_at);
CREATE INDEX special_task_reports_by_station_time ON special_task_reports (station_id, reported_at);

CREATE TRIGGER station_visits_append_only BEFORE UPDATE OR DELETE ON station_visits
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER special_task_parts_append_only BEFORE UPDATE OR DELETE ON special_task_parts
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER special_task_reports_append_only BEFORE UPDATE OR DELETE ON special_task_reports
    FOR EACH ROW EXECUTE FUNCTION refuse_change();

-- The archive's copy of intake's working-day corrections (CalendarCorrected), the same table as dispatch's and
-- tracking's, kept by the same code (shared/calendar_corrections.py): a special task's deadline moves past a day
-- off, so the weekly report judges overdue parts by the same calendar as tracking. City-wide, no station_id; one row
-- per day, the newest correction by when intake made it; a removal is kept as a tombstone (is_workday NULL).
CREATE TABLE calendar_corrections (
    day         date PRIMARY KEY,
    is_workday  boolean,
    note        text,
    event_id    uuid NOT NULL,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
