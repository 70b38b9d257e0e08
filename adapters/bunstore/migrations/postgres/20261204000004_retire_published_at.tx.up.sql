DROP INDEX cardcore_outbox_pending;
--bun:split
ALTER TABLE cardcore_outbox DROP COLUMN published_at;
