-- The ledger walks the stations its scope covers (shared migration 0006_station_lists): note each station a case
-- is opened at. The trigger first: its lock waits out the inserts under way, and the copy below then sees them.
-- Run as the owner, whom row-level security binds too: see every station's rows.
SELECT set_config('qs.scope', '*', true);
CREATE TRIGGER cases_listed_station AFTER INSERT ON cases
    FOR EACH ROW EXECUTE FUNCTION qs_list_station();
INSERT INTO listed_stations (station_id) SELECT DISTINCT station_id FROM cases ON CONFLICT DO NOTHING;
ANALYZE listed_stations;  -- unanalysed, it would be planned as thousands of stations

-- A station's ledger page in the ledger's own order (submitted_at is NULL until the submission arrives, listed
-- last), read from the index without a sort. It serves whatever the old (station_id, submitted_at DESC) served.
CREATE INDEX cases_by_station_newest ON cases (station_id, submitted_at DESC NULLS LAST, tracking_no DESC, demand_id);
DROP INDEX cases_by_station;
