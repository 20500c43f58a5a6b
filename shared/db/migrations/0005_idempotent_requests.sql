-- Retries are safe (Idempotency-Key): the first answer to a caller's key, kept in the transaction that made
-- the change, so a retry after a lost reply finds it instead of changing things twice. Pruned with the outbox.
CREATE TABLE idempotent_requests (
    caller         text NOT NULL,
    key            text NOT NULL,
    request_sha256 text NOT NULL,
    result         jsonb NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (caller, key)
);
CREATE INDEX idempotent_requests_by_age ON idempotent_requests (created_at);
