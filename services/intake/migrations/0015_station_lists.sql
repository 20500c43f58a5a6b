-- The demands list walks the stations its scope covers (shared migration 0006_station_lists): note each station a
-- demand is submitted at. The trigger first: its lock waits out the inserts under way, and the copy below then sees
-- them. Run as the owner, whom row-level security binds too: see every station's rows.
SELECT set_config('qs.scope', '*', true);
CREATE TRIGGER demands_listed_station AFTER INSERT ON demands
    FOR EACH ROW EXECUTE FUNCTION qs_list_station();
INSERT INTO listed_stations (station_id) SELECT DISTINCT station_id FROM demands ON CONFLICT DO NOTHING;
ANALYZE listed_stations;  -- unanalysed, it would be planned as thousands of stations
