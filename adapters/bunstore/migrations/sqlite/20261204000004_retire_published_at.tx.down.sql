ALTER TABLE cardcore_outbox ADD COLUMN published_at TIMESTAMP;
--bun:split
CREATE INDEX cardcore_outbox_pending ON cardcore_outbox (seq) WHERE published_at IS NULL;
