-- The first responder's account, so only that clerk may keep the demand (首问负责); the date promised
-- in the acceptance notice, the default due date.
ALTER TABLE queue ADD COLUMN first_responder_id text, ADD COLUMN expected_on date;

-- Assignments carry their station like every other row, so row-level security covers them too.
ALTER TABLE assignments ADD COLUMN station_id text;
UPDATE assignments a SET station_id = q.station_id FROM queue q WHERE q.demand_id = a.demand_id;
ALTER TABLE assignments ALTER COLUMN station_id SET NOT NULL;
