ALTER TABLE cardcore_outbox ADD COLUMN feed_pos bigint;
--bun:split
CREATE UNIQUE INDEX cardcore_outbox_feed_pos ON cardcore_outbox (feed_pos);
--bun:split
CREATE INDEX cardcore_outbox_feed ON cardcore_outbox (org_id, feed_pos) WHERE feed_pos IS NOT NULL;
--bun:split
CREATE INDEX cardcore_outbox_unsequenced ON cardcore_outbox (seq) WHERE feed_pos IS NULL;
