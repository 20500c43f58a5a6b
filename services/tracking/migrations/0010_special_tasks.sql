-- Special tasks (专项工作, 002 §9.6): a city or district supervisor assigns a task to the stations of its
-- subtree; each station reports progress and completion; overdue parts are chased and escalated.
-- Tasks are not demands: nothing here is a demand event; warnings, chases and 督办 (supervision) are rows (task_alerts).

-- The task as issued. No station_id (a task belongs to a scope, not a station), so its row-level security is
-- written here: a caller sees a task when it sees one of its stations' parts; a supervisor inserts only in its
-- own scope. Tasks are not edited.
CREATE TABLE special_tasks (
    task_id        uuid PRIMARY KEY,
    issuer_scope   text NOT NULL,            -- the supervisor's scope: '210100' (city) or '210100/210112' (district)
    issued_by      text NOT NULL,            -- the supervisor's account (token subject)
    issued_by_name text NOT NULL,
    title          text NOT NULL,
    description    text NOT NULL,
    due_on         date NOT NULL,            -- China date as set; the deadline moves past a day off (民法典 §203)
    attachments    jsonb NOT NULL DEFAULT '[]',  -- [{name, ref}]: a URL or a document number (文号), no upload
    issued_at      timestamptz NOT NULL
);
ALTER TABLE special_tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE special_tasks FORCE ROW LEVEL SECURITY;

-- One row per station the task went to (station_id: the station-scope policy is added on start).
CREATE TABLE task_stations (
    task_id      uuid NOT NULL REFERENCES special_tasks (task_id),
    station_id   text NOT NULL,
    completed_at timestamptz,                -- set once, by the station's completion report
    completed_by text,
    PRIMARY KEY (task_id, station_id)
);
CREATE INDEX task_stations_by_station ON task_stations (station_id, task_id);
CREATE INDEX task_stations_open ON task_stations (task_id) WHERE completed_at IS NULL;

CREATE POLICY task_covered ON special_tasks FOR SELECT
    USING (EXISTS (SELECT 1 FROM task_stations s WHERE s.task_id = special_tasks.task_id));
CREATE POLICY task_issued ON special_tasks FOR INSERT
    WITH CHECK (coalesce(current_setting('qs.scope', true), '') IN ('*', issuer_scope));

-- What the stations report: progress (any number) and completion (one, the last). Append-only.
CREATE TABLE task_reports (
    report_id        uuid PRIMARY KEY,
    task_id          uuid NOT NULL,
    station_id       text NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('progress', 'completion')),
    text             text NOT NULL,
    attachments      jsonb NOT NULL DEFAULT '[]',
    reported_by      text NOT NULL,          -- account
    reported_by_name text NOT NULL,
    reported_role    text NOT NULL,
    reported_at      timestamptz NOT NULL,
    FOREIGN KEY (task_id, station_id) REFERENCES task_stations (task_id, station_id)
);
CREATE INDEX task_reports_by_part ON task_reports (task_id, station_id, reported_at);
CREATE UNIQUE INDEX task_reports_one_completion ON task_reports (task_id, station_id) WHERE kind = 'completion';

-- 预警 / 催办 / 督办 of a station's part, each raised at most once: the key is what makes a scan on several
-- replicas, or one catching up after downtime, raise it exactly once (INSERT … ON CONFLICT DO NOTHING).
CREATE TABLE task_alerts (
    task_id    uuid NOT NULL,
    station_id text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('warning', 'chase', 'supervision')),
    deadline   date NOT NULL,                -- the deadline it was about
    to_scope   text NOT NULL,                -- who is told: the station, or for 督办 the issuer's scope
    raised_at  timestamptz NOT NULL,
    PRIMARY KEY (task_id, station_id, kind),
    FOREIGN KEY (task_id, station_id) REFERENCES task_stations (task_id, station_id)
);

CREATE FUNCTION special_task_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END $$;
CREATE TRIGGER task_reports_append_only BEFORE UPDATE OR DELETE ON task_reports
    FOR EACH ROW EXECUTE FUNCTION special_task_append_only();
CREATE TRIGGER task_alerts_append_only BEFORE UPDATE OR DELETE ON task_alerts
    FOR EACH ROW EXECUTE FUNCTION special_task_append_only();
-- A part, once completed, stays completed as reported.
CREATE FUNCTION task_station_completed_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.completed_at IS NOT NULL THEN
        RAISE EXCEPTION 'task_stations: a completed part is not changed';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER task_stations_completed_once BEFORE UPDATE ON task_stations
    FOR EACH ROW EXECUTE FUNCTION task_station_completed_once();
CREATE TRIGGER special_tasks_append_only BEFORE UPDATE OR DELETE ON special_tasks
    FOR EACH ROW EXECUTE FUNCTION special_task_append_only();
