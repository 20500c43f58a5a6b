-- Every lifecycle event of every demand, as received: the raw material of a dossier.
CREATE TABLE event_log (
    event_id    uuid PRIMARY KEY,
    demand_id   uuid NOT NULL,
    station_id  text NOT NULL,
    routing_key text NOT NULL,
    occurred_at timestamptz NOT NULL,
    payload     jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX event_log_by_demand ON event_log (demand_id, occurred_at);

-- Per-station, per-year archive numbers, gapless like tracking numbers.
CREATE TABLE archive_counters (
    station_id  text NOT NULL,
    year        integer NOT NULL,
    last_serial integer NOT NULL,
    PRIMARY KEY (station_id, year)
);

-- The sealed record of one demand (000 档案管理, 004 §6.6): numbered in order, never altered.
CREATE TABLE dossiers (
    demand_id      uuid PRIMARY KEY,
    station_id     text NOT NULL,
    tracking_no    text NOT NULL,
    archive_no     text NOT NULL,
    sealed_at      timestamptz NOT NULL,
    retain_until   date NOT NULL,
    content        jsonb NOT NULL,
    content_sha256 text NOT NULL,
    UNIQUE (station_id, archive_no)
);
CREATE INDEX dossiers_by_station ON dossiers (station_id, sealed_at DESC);

-- Append-only: the database itself refuses to alter or delete what was sealed or logged.
CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END $$;
CREATE TRIGGER dossiers_append_only BEFORE UPDATE OR DELETE ON dossiers
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER event_log_append_only BEFORE UPDATE OR DELETE ON event_log
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
