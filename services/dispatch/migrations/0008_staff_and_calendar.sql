-- Station staff and departments (科室, domain.md §5.2 b): who at a station may lead (牵头科室/责任人) or
-- co-handle (协办) a demand. Never deleted, only deactivated: old assignments name them. Both carry station_id,
-- so row-level security guards them (shared/db/security.py).
CREATE TABLE departments (
    station_id    text NOT NULL,
    department_id text NOT NULL CHECK (department_id ~ '^[a-z0-9][a-z0-9-]{0,39}$'),
    name          text NOT NULL,
    categories    text[] NOT NULL DEFAULT '{}',   -- catalogue category codes it handles (domain.md §3)
    active        boolean NOT NULL DEFAULT true,
    updated_by    text NOT NULL,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (station_id, department_id),
    UNIQUE (station_id, name)
);
CREATE INDEX departments_by_category ON departments USING gin (categories);

CREATE TABLE staff (
    station_id    text NOT NULL,
    staff_id      text NOT NULL,                  -- the person's account (token subject)
    name          text NOT NULL,
    department_id text,
    categories    text[] NOT NULL DEFAULT '{}',
    phone         text,                           -- E.164
    active        boolean NOT NULL DEFAULT true,
    updated_by    text NOT NULL,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (station_id, staff_id),
    FOREIGN KEY (station_id, department_id) REFERENCES departments (station_id, department_id)
);
CREATE INDEX staff_by_department ON staff (station_id, department_id);

-- Who created, edited, deactivated or reactivated a department or staff member, when, before and after.
-- Append-only: the database refuses to alter or delete a row.
CREATE TABLE staff_audit (
    id          bigserial PRIMARY KEY,
    station_id  text NOT NULL,
    record      text NOT NULL CHECK (record IN ('department', 'staff')),
    record_id   text NOT NULL,
    action      text NOT NULL CHECK (action IN ('created', 'edited', 'deactivated', 'reactivated')),
    actor       text NOT NULL,
    actor_name  text NOT NULL,
    actor_role  text NOT NULL,
    at          timestamptz NOT NULL,
    before      jsonb,
    after       jsonb NOT NULL
);
CREATE INDEX staff_audit_by_record ON staff_audit (station_id, record, record_id, id);

CREATE FUNCTION staff_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END $$;
CREATE TRIGGER staff_audit_append_only BEFORE UPDATE OR DELETE ON staff_audit
    FOR EACH ROW EXECUTE FUNCTION staff_audit_append_only();

-- Dispatch's copy of intake's working-day corrections (CalendarCorrected), city-wide reference data: no
-- station_id. One row per day, the newest correction by when intake made it; a removal is kept as a
-- tombstone (is_workday NULL) so a late older correction cannot bring the day back.
CREATE TABLE calendar_corrections (
    day         date PRIMARY KEY,
    is_workday  boolean,
    note        text,
    event_id    uuid NOT NULL,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
