-- Follow-ups (跟进记录) on the tracking sheet (跟踪单, 004 附录C): contact, appointment, problem, coordination,
-- explanation, each timestamped and signed by whoever recorded it (station staff or the assigned organization).
-- One row per FollowUpRecorded event, written in the transaction that publishes it; never changed afterwards.
CREATE TABLE follow_ups (
    follow_up_id           uuid PRIMARY KEY,
    event_id               uuid NOT NULL UNIQUE,
    demand_id              uuid NOT NULL,
    station_id             text NOT NULL,
    kind                   text NOT NULL
        CHECK (kind IN ('contact', 'appointment', 'problem', 'coordination', 'explanation')),
    text                   text NOT NULL,
    -- An appointment's when, where and who (服务对接的预约); present exactly when kind is appointment.
    appointment_on         date,
    appointment_at         time,
    appointment_place      text,
    appointment_attendees  text,
    recorded_by            text NOT NULL,
    recorded_by_id         text NOT NULL,   -- the token's subject, for the audit; recorded_by is the name printed
    recorded_by_org        text,            -- the organization's id when its staff recorded it
    recorded_at            timestamptz NOT NULL,
    CHECK ((kind = 'appointment') = (appointment_on IS NOT NULL)),
    CHECK (appointment_on IS NOT NULL OR (appointment_at IS NULL AND appointment_place IS NULL
                                          AND appointment_attendees IS NULL)),
    CHECK (appointment_on IS NULL OR (appointment_place IS NOT NULL AND appointment_attendees IS NOT NULL))
);
CREATE INDEX follow_ups_by_demand ON follow_ups (demand_id, recorded_at);
CREATE INDEX appointments_by_station ON follow_ups (station_id, appointment_on) WHERE appointment_on IS NOT NULL;

-- Row-level security: the station policy is added on start; an organization sees the follow-ups of the cases
-- assigned to it now (cases' own policy decides which), whoever recorded them — as for the timeline (0002).
CREATE POLICY org_assigned ON follow_ups
    USING (EXISTS (SELECT 1 FROM cases c WHERE c.demand_id = follow_ups.demand_id));

-- What was said to or done for the enterprise is a record: corrected by a new follow-up, never edited away.
CREATE FUNCTION follow_ups_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END $$;
CREATE TRIGGER follow_ups_append_only BEFORE UPDATE OR DELETE ON follow_ups
    FOR EACH ROW EXECUTE FUNCTION follow_ups_append_only();
