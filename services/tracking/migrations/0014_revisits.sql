-- 回访 (re-visit, issue 10; domain.md §8, §9): the tasks a resolution or a 不满意 rating calls for, and the re-visits
-- the station records. The rules are in services/tracking/revisits/domain.py; here is what the database keeps.

-- A re-visit task: one per demand, round and kind. A resolution of round r makes at most one (`not_met` for a need
-- not met, else `sample` when the demand is drawn in the station's sample); a 不满意 rating of round r makes the
-- `dissatisfied` one (差评回访), whatever else the round has. Its dates are the clock's, computed in Python with the
-- working-day calendar when the task is made, and kept: it appears on the working day after what made it
-- (`triggered_at`, the resolution or the rating) and is due `revisit_days` working days after it. A task is never
-- changed nor deleted, so the counters read from it only go up; it is done once a re-visit reached the enterprise
-- after it was made (a reached row of `revisits` of its round or a later one, revisited at or after `triggered_at`).
CREATE TABLE revisit_tasks (
    demand_id        uuid NOT NULL REFERENCES cases (demand_id),
    round            integer NOT NULL CHECK (round >= 1),
    kind             text NOT NULL CHECK (kind IN ('dissatisfied', 'not_met', 'sample')),
    station_id       text NOT NULL,
    trigger_event_id uuid NOT NULL,  -- the Resolved or Rated that made it
    triggered_at     timestamptz NOT NULL,  -- its resolved_at or rated_at
    appears_on       date NOT NULL,
    due_on           date NOT NULL CHECK (due_on >= appears_on),
    sample_rate      double precision CHECK (sample_rate > 0 AND sample_rate <= 1),  -- a sample task's draw rate
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (demand_id, round, kind),
    CHECK ((kind = 'sample') = (sample_rate IS NOT NULL))
);
-- A resolution makes one task at most: not_met or sample, never both.
CREATE UNIQUE INDEX revisit_tasks_one_per_resolution ON revisit_tasks (demand_id, round) WHERE kind <> 'dissatisfied';
CREATE INDEX revisit_tasks_by_station ON revisit_tasks (station_id, due_on);

-- A re-visit (回访) as the station recorded it: how, when, whom, what the enterprise said; `reached` false is an
-- attempt that did not reach the enterprise (the task stays open). `round`: the round whose resolution it follows.
-- `voluntary`: the demand had no task of that round or an earlier one when it was recorded (kept as it was then,
-- so a task made later does not move it between the counters).
CREATE TABLE revisits (
    revisit_id      uuid PRIMARY KEY,
    demand_id       uuid NOT NULL REFERENCES cases (demand_id),
    station_id      text NOT NULL,
    round           integer NOT NULL CHECK (round >= 1),
    method          text NOT NULL CHECK (method IN ('phone', 'visit', 'message')),
    revisited_at    timestamptz NOT NULL,
    reached         boolean NOT NULL,
    contact         text,
    enterprise_said text,
    need_met        boolean,
    voluntary       boolean NOT NULL,
    recorded_by     text NOT NULL,
    recorded_by_id  text NOT NULL,
    recorded_at     timestamptz NOT NULL,
    event_id        uuid NOT NULL,  -- the RevisitRecorded published with it
    CHECK (reached OR need_met IS NULL),
    CHECK (NOT reached OR (contact IS NOT NULL AND enterprise_said IS NOT NULL))
);
CREATE INDEX revisits_by_demand ON revisits (demand_id, round, revisited_at);
CREATE INDEX revisits_by_station ON revisits (station_id, revisited_at);

-- Kept as made and recorded: the database refuses to alter or delete a task or a re-visit.
CREATE FUNCTION revisits_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END $$;
CREATE TRIGGER revisit_tasks_append_only BEFORE UPDATE OR DELETE ON revisit_tasks
    FOR EACH ROW EXECUTE FUNCTION revisits_append_only();
CREATE TRIGGER revisits_append_only BEFORE UPDATE OR DELETE ON revisits
    FOR EACH ROW EXECUTE FUNCTION revisits_append_only();

-- A station's re-visit settings, beside its clock: the working days a task has (an empty column keeps
-- TRACKING_REVISIT_DAYS) and the share of the other resolved demands it re-visits (TRACKING_REVISIT_SAMPLE_RATE).
ALTER TABLE clock_settings
    ADD COLUMN revisit_days        integer CHECK (revisit_days BETWEEN 1 AND 30),
    ADD COLUMN revisit_sample_rate double precision CHECK (revisit_sample_rate BETWEEN 0 AND 1);
ALTER TABLE clock_settings_audit
    ADD COLUMN revisit_days        integer,
    ADD COLUMN revisit_sample_rate double precision;
