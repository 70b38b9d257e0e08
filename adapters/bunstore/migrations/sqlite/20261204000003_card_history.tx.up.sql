CREATE INDEX cardcore_outbox_card_history ON cardcore_outbox (org_id, card_id, seq);
