DROP INDEX cardcore_outbox_feed;
