-- Every read of an enterprise's dossier (一企一册: its contacts, products, instruments) or of a demand's contact:
-- who, by name and role, when, what (the kind and the credit code or demand id) and why (the route's purpose),
-- written in the reading transaction (need-to-know, domain.md §4). A list is one line per station it showed, with
-- everything it showed; a list that showed nothing is one line for the scope asked. `station_id` is the station
-- whose data was read, so row-level security (shared.db.security, on every table with a station_id) lets a head
-- read their station's lines and a supervisor their subtree's. Append-only, as the archive's and dispatch's logs.
CREATE TABLE access_log (
    id           bigserial PRIMARY KEY,
    accessed_at  timestamptz NOT NULL,
    station_id   text NOT NULL,
    subject      text NOT NULL,
    subject_name text,
    role         text NOT NULL,
    purpose      text NOT NULL,                -- enterprise.read, enterprise.list, demand.read
    kind         text NOT NULL CHECK (kind IN ('enterprise', 'demand')),
    ref          text,                         -- the credit code or demand id, when one was read
    refs         text[] NOT NULL DEFAULT '{}'  -- every one the read showed
);
CREATE INDEX access_log_by_station ON access_log (station_id, accessed_at DESC);
CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE ON access_log
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
