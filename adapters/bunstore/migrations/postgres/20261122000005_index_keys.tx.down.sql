DROP INDEX cardcore_cards_virtual_alias;
--bun:split
DROP INDEX cardcore_cards_expiry;
--bun:split
DROP INDEX cardcore_cards_validity;
--bun:split
DROP INDEX cardcore_cards_bulk_status;
--bun:split
ALTER TABLE cardcore_cards DROP COLUMN expiry_due;
--bun:split
ALTER TABLE cardcore_cards DROP COLUMN validity_due;
--bun:split
ALTER TABLE cardcore_cards DROP COLUMN alias_key;
--bun:split
ALTER TABLE cardcore_cards DROP COLUMN bulk_status;
--bun:split
CREATE UNIQUE INDEX cardcore_cards_virtual_alias ON cardcore_cards (org_id, customer_id, name)
  WHERE type = 'VIRTUAL' AND status NOT IN ('LOST','ROBBED','THEFT','CANCELED','FRAUD','DAMAGED','EXPIRED','DELETED','BROKEN','DEFECT');
--bun:split
CREATE INDEX cardcore_cards_expiry ON cardcore_cards (expiration_date)
  WHERE status NOT IN ('LOST','ROBBED','THEFT','CANCELED','FRAUD','DAMAGED','EXPIRED','DELETED','BROKEN','DEFECT');
--bun:split
CREATE INDEX cardcore_cards_validity ON cardcore_cards (valid_until)
  WHERE status IN ('NORMAL','REISSUED','BLOCKED','PENDING','WARNING');
--bun:split
CREATE INDEX cardcore_cards_bulk_status ON cardcore_cards (bulk_id, status, id) WHERE bulk_id IS NOT NULL;
--bun:split
CREATE INDEX cardcore_outbox_card ON cardcore_outbox (card_id, seq);
--bun:split
DROP INDEX cardcore_outbox_feed_pos;
--bun:split
CREATE UNIQUE INDEX cardcore_outbox_feed_pos ON cardcore_outbox (feed_pos);
