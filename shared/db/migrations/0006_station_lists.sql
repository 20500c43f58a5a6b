-- Lists by station scope stay as fast at 100,000 demands per station as at 100 (issue 14).

-- qs_covers held an EXISTS, and PostgreSQL does not inline an SQL function with a subquery: every row a list or
-- row-level security looked at paid a function call (~10 µs), so one page of a station cost a scan of every
-- station's rows. The same answer, now inlined where it is used: the cheap tests first, the registry's tree last
-- and only for a station neither equal to nor below the scope by its id.
CREATE FUNCTION qs_covered_by_tree(scope text, station text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM station_tree t, unnest(t.ancestors) AS a
                   WHERE t.station_id = station AND (a = scope OR starts_with(a, scope || '/')))
$$;

CREATE OR REPLACE FUNCTION qs_covers(scope text, station text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT scope = '*'
        OR (scope <> '' AND (station = scope OR starts_with(station, scope || '/') OR qs_covered_by_tree(scope, station)))
$$;

-- Every station that has rows in this service's lists, whether or not its StationRegistered has arrived: a list
-- walks those its scope covers, each down its own (station_id, order) index, and merges their pages, so a page
-- reads about a page per station however many rows there are. Kept by the trigger below, which each service
-- attaches to its listed tables; a row is never removed (a station without rows costs one empty index probe).
CREATE TABLE listed_stations (station_id text PRIMARY KEY);

CREATE FUNCTION qs_list_station() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO listed_stations (station_id) VALUES (NEW.station_id) ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
