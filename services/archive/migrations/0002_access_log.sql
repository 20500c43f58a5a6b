-- Who read which sealed record, and when (access to archives is audited, 000 档案管理).
CREATE TABLE access_log (
    id          bigserial PRIMARY KEY,
    demand_id   uuid NOT NULL,
    station_id  text NOT NULL,
    subject     text NOT NULL,
    role        text NOT NULL,
    accessed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX access_log_by_demand ON access_log (demand_id, accessed_at);
CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE ON access_log
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
