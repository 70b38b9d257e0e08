DROP INDEX cardcore_outbox_unsequenced;
--bun:split
DROP INDEX cardcore_outbox_feed;
--bun:split
DROP INDEX cardcore_outbox_feed_pos;
--bun:split
ALTER TABLE cardcore_outbox DROP COLUMN feed_pos;
