CREATE INDEX cardcore_outbox_feed ON cardcore_outbox (org_id, seq);
