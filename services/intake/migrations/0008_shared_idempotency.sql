-- Demand submissions use the shared Idempotency-Key table (shared migration 0005) like every other request;
-- the keys remembered so far move there (one key space per station, as before) and the old table goes.
INSERT INTO idempotent_requests (caller, key, request_sha256, result, created_at)
SELECT 'station:' || station_id, key, request_sha256, jsonb_build_object('demand_id', demand_id), created_at
FROM idempotency_keys
ON CONFLICT DO NOTHING;
DROP TABLE idempotency_keys;
