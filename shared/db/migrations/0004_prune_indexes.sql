-- Pruning deletes old published outbox rows and old inbox rows in batches: find them without a scan.
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;
CREATE INDEX inbox_by_age ON inbox (received_at);
