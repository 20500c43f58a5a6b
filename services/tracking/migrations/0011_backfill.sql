-- Cases from before 0006 keep NULL findable facts until their next event: fill them in from the events the
-- timeline stored (detail->'event' is each event's JSON), as domain.apply would have. Only what is still NULL
-- is written, so a case an event already filled in is left alone. (The clock's columns of open cases are
-- recomputed by the service when it starts: clock.usecases.fill_in_clocks.)

-- The enterprise's credit code and the first responder's account: from the submission.
WITH submitted AS (
    SELECT DISTINCT ON (demand_id) demand_id, detail->'event' AS ev
    FROM timeline
    WHERE kind = 'demand.submitted' AND detail ? 'event'
    ORDER BY demand_id, occurred_at DESC, entry_id DESC
)
UPDATE cases c
SET credit_code = COALESCE(c.credit_code, s.ev->'enterprise'->>'credit_code'),
    first_responder_id = COALESCE(c.first_responder_id, s.ev->>'first_responder_id')
FROM submitted s
WHERE s.demand_id = c.demand_id AND (c.credit_code IS NULL OR c.first_responder_id IS NULL);

-- The contact's phone and the catalogue items ([{code, label}]): from the newest correction (by when it was made,
-- then its event id, as domain._newer_correction decides), else from the submission.
WITH form AS (
    SELECT DISTINCT ON (demand_id) demand_id, detail->'event' AS ev
    FROM timeline
    WHERE kind IN ('demand.submitted', 'demand.corrected') AND detail ? 'event'
    ORDER BY demand_id, (kind = 'demand.corrected') DESC,
        (detail->'event'->>'corrected_at')::timestamptz DESC NULLS LAST, detail->'event'->>'event_id' DESC
)
UPDATE cases c
SET contact_phone = COALESCE(c.contact_phone, f.ev->'contact'->>'phone'),
    items = COALESCE(c.items, (
        SELECT COALESCE(jsonb_agg(jsonb_build_object('code', i->>'code', 'label', i->>'label') ORDER BY n),
            '[]'::jsonb)
        FROM jsonb_array_elements(COALESCE(f.ev->'items', '[]'::jsonb)) WITH ORDINALITY AS x(i, n)
    ))
FROM form f
WHERE f.demand_id = c.demand_id AND (c.contact_phone IS NULL OR c.items IS NULL);

-- The first assignment (the response deadline is met by it): the earliest assignment event.
WITH assigned AS (
    SELECT demand_id, min(occurred_at) AS first_at FROM timeline WHERE kind = 'demand.assigned' GROUP BY demand_id
)
UPDATE cases c
SET first_assigned_at = a.first_at
FROM assigned a
WHERE a.demand_id = c.demand_id AND c.first_assigned_at IS NULL;
