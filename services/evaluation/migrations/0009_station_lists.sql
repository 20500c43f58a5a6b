-- The surveys list walks the stations its scope covers (shared migration 0006_station_lists): note each station a
-- survey is opened for. The trigger first: its lock waits out the inserts under way, and the copy below then sees
-- them. Run as the owner, whom row-level security binds too: see every station's rows.
SELECT set_config('qs.scope', '*', true);
CREATE TRIGGER surveys_listed_station AFTER INSERT ON surveys
    FOR EACH ROW EXECUTE FUNCTION qs_list_station();
INSERT INTO listed_stations (station_id) SELECT DISTINCT station_id FROM surveys ON CONFLICT DO NOTHING;
ANALYZE listed_stations;  -- unanalysed, it would be planned as thousands of stations

-- A station's surveys in the list's order (opened_at is NULL until the resolution arrives, listed last).
CREATE INDEX surveys_by_station_opened ON surveys (station_id, opened_at DESC NULLS LAST);
