-- Of two closings of a demand the earlier counts, by (closed_at, event id), as in every other service: intake
-- keeps the id of the closing it shows, so one that arrives later but was made earlier replaces it.
ALTER TABLE demands ADD COLUMN closing_id uuid;
-- Intake's own withdrawals are in its outbox; a refusal or merge seen before this column existed keeps none
-- (it then wins a tie of closed_at, which is what it did before).
UPDATE demands d SET closing_id = o.event_id
FROM outbox o
WHERE o.demand_id = d.demand_id AND o.routing_key = 'demand.withdrawn' AND d.closed_as = 'withdrawn';
