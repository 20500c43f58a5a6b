-- The station registry's tree, as intake's StationRegistered events describe it. A station's
-- scope covers the service points registered below it (Shenyang's four tiers, 002 §4.3),
-- whatever their ids; a district or city prefix covers every station whose id or any of
-- whose registry ancestors lies below it.
CREATE TABLE station_tree (
    station_id  text PRIMARY KEY,
    name        text NOT NULL,
    level       integer NOT NULL,
    parent_id   text,
    ancestors   text[] NOT NULL,   -- the root first, the parent last
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The one station-scope predicate: does `scope` (a station id, or a city/district prefix) cover `station`?
CREATE FUNCTION qs_covers(scope text, station text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT scope = '*'
        OR (scope <> '' AND (
               station = scope OR starts_with(station, scope || '/')
            OR EXISTS (SELECT 1 FROM station_tree t, unnest(t.ancestors) AS a
                       WHERE t.station_id = station AND (a = scope OR starts_with(a, scope || '/')))))
$$;

-- Row-level security asks the same question of the transaction's scope.
CREATE OR REPLACE FUNCTION qs_in_scope(station text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT qs_covers(coalesce(current_setting('qs.scope', true), ''), station)
$$;

-- Reference events carry no demand, and a request for the whole tree no station.
ALTER TABLE outbox ALTER COLUMN demand_id DROP NOT NULL;
ALTER TABLE outbox ALTER COLUMN station_id DROP NOT NULL;
