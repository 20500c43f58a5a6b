-- A rating link's id: what a retried POST /surveys/{id}/link (the same Idempotency-Key) finds its link by. The
-- remembered result keeps this id, never the token; the retry gives that link a new token (its digest replaces the
-- first one's: the same link, expiry and round), as the first reply, and the first token with it, was lost.
-- Results remembered before this kept the token itself: they are dropped, so no token stays in the database (a retry
-- with such a key is then a new request, as one without a key).
ALTER TABLE rating_links ADD COLUMN id uuid NOT NULL UNIQUE DEFAULT gen_random_uuid();
DELETE FROM idempotent_requests WHERE result ? 'token';
