-- The assignment an approved extension was asked under (ExtensionDecided.assignment_no): like a pause, it holds
-- only while that assignment is in hand; after a rematch (改派) the enterprise is told the new assignment's date.
-- NULL for an extension decided before the event named it (read as the first assignment: domain._date_changes).
ALTER TABLE demand_extensions ADD COLUMN assignment_no integer CHECK (assignment_no >= 1);

-- The station of the demand a merged one went into (并单 within a head's scope may cross into a station below):
-- its number is printed with that station's code. NULL: the merged demand's own station.
ALTER TABLE demands ADD COLUMN merged_into_station_id text;
UPDATE demands d SET merged_into_station_id = m.station_id FROM demands m WHERE m.demand_id = d.merged_into;
