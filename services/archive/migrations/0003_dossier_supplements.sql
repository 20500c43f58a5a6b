-- What a sealed dossier lacked, attached afterwards (python -m services.archive.audit --supplement).
-- The dossier itself never changes; a supplement holds the events it lacked, with its own hash,
-- chained to the dossier's hash and the previous supplement's, and is append-only like the dossier.
CREATE TABLE dossier_supplements (
    demand_id      uuid NOT NULL REFERENCES dossiers (demand_id),
    supplement_no  integer NOT NULL CHECK (supplement_no >= 1),
    station_id     text NOT NULL,
    added_at       timestamptz NOT NULL,
    content        jsonb NOT NULL,
    content_sha256 text NOT NULL,
    PRIMARY KEY (demand_id, supplement_no)
);
CREATE TRIGGER dossier_supplements_append_only BEFORE UPDATE OR DELETE ON dossier_supplements
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
