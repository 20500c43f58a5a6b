-- Warnings (预警), chases (催办) and supervision (督办), issue 9.

-- 督办: by the scheduler (issued_by 'system') for a deadline missed by M working days, or by a supervisor by hand;
-- the station answers by reply_due_on, or it escalates (a district one to the city: a new row escalated_from it).
-- "Awaiting the station's reply" = answered_at IS NULL AND escalated_at IS NULL.
CREATE TABLE supervisions (
    supervision_id   uuid PRIMARY KEY,
    demand_id        uuid NOT NULL,
    station_id       text NOT NULL,
    level            text NOT NULL CHECK (level IN ('district', 'city')),
    supervisor_scope text NOT NULL,   -- the district or city prefix whose supervisor it goes to
    issued_by        text NOT NULL,
    issued_at        timestamptz NOT NULL,
    comment          text NOT NULL,
    reply_due_on     date NOT NULL,
    escalated_from   uuid REFERENCES supervisions,
    deadline         text CHECK (deadline IN ('response', 'handling', 'reply')),  -- the missed one, if automatic
    answered_by      text,
    answered_at      timestamptz,
    answer           text,
    escalated_at     timestamptz,
    event_id         uuid NOT NULL,   -- the CaseSupervised it was published as (the cause of its answer)
    answered_by_id   text,            -- the account that answered (answered_by is the name)
    CHECK ((answered_at IS NULL) = (answer IS NULL) AND (answered_at IS NULL) = (answered_by IS NULL)),
    CHECK (answered_at IS NULL OR escalated_at IS NULL)  -- answered or escalated, never both
);
CREATE INDEX supervisions_by_station ON supervisions (station_id, issued_at DESC);
CREATE INDEX supervisions_by_demand ON supervisions (demand_id);
CREATE INDEX supervisions_awaiting ON supervisions (reply_due_on) WHERE answered_at IS NULL AND escalated_at IS NULL;
-- A 督办 escalates once.
CREATE UNIQUE INDEX supervisions_escalated_once ON supervisions (escalated_from) WHERE escalated_from IS NOT NULL;

-- A 督办 is kept as issued and settled once (answered or escalated); never deleted.
CREATE FUNCTION supervisions_keep_record() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR OLD.answered_at IS NOT NULL OR OLD.escalated_at IS NOT NULL
       OR (NEW.supervision_id, NEW.demand_id, NEW.station_id, NEW.level, NEW.supervisor_scope, NEW.issued_by,
           NEW.issued_at, NEW.comment, NEW.reply_due_on, NEW.escalated_from, NEW.deadline, NEW.event_id)
          IS DISTINCT FROM
          (OLD.supervision_id, OLD.demand_id, OLD.station_id, OLD.level, OLD.supervisor_scope, OLD.issued_by,
           OLD.issued_at, OLD.comment, OLD.reply_due_on, OLD.escalated_from, OLD.deadline, OLD.event_id)
    THEN
        RAISE EXCEPTION 'supervisions: a 督办 is kept as issued and settled once: % refused', TG_OP;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER supervisions_keep_record BEFORE UPDATE OR DELETE ON supervisions
    FOR EACH ROW EXECUTE FUNCTION supervisions_keep_record();

-- What the scheduler fired. The key is what makes each thing fire once, whichever replica scans and however late:
-- one warning / chase / 督办 per (demand, deadline kind, due date[, level][, the 督办 whose reply is late]).
-- A moved deadline (pause, extension) is a new due date, hence a new key.
CREATE TABLE alerts (
    alert_id        bigserial PRIMARY KEY,
    demand_id       uuid NOT NULL,
    station_id      text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('warning', 'chase', 'supervision')),
    deadline        text NOT NULL CHECK (deadline IN ('response', 'handling', 'reply')),
    due_on          date NOT NULL,
    level           text CHECK (level IN ('district', 'city')),
    supervision_id  uuid,             -- for the reply deadline: the 督办 unanswered
    working_days    integer NOT NULL, -- left (warning) or late (chase, 督办) when fired
    fired_on        date NOT NULL,    -- the China date
    fired_at        timestamptz NOT NULL,
    event_id        uuid NOT NULL,    -- the event published for it
    CONSTRAINT alerts_fire_once UNIQUE NULLS NOT DISTINCT (demand_id, kind, deadline, due_on, level, supervision_id)
);
CREATE INDEX alerts_by_station ON alerts (station_id, kind);

CREATE FUNCTION alerts_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END $$;
CREATE TRIGGER alerts_append_only BEFORE UPDATE OR DELETE ON alerts
    FOR EACH ROW EXECUTE FUNCTION alerts_append_only();
