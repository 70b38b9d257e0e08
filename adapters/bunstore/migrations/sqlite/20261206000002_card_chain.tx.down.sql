DROP TRIGGER cardcore_outbox_card_chain;
--bun:split
CREATE INDEX cardcore_outbox_card_history ON cardcore_outbox (org_id, card_id, seq);
--bun:split
ALTER TABLE cardcore_cards DROP COLUMN last_seq;
--bun:split
ALTER TABLE cardcore_outbox DROP COLUMN prev_seq;
