ALTER TABLE cardcore_cards ADD COLUMN expiry_due TIMESTAMP;
--bun:split
ALTER TABLE cardcore_cards ADD COLUMN validity_due TIMESTAMP;
--bun:split
ALTER TABLE cardcore_cards ADD COLUMN alias_key TEXT;
--bun:split
ALTER TABLE cardcore_cards ADD COLUMN bulk_status TEXT;
--bun:split
UPDATE cardcore_cards SET
  expiry_due = CASE WHEN status NOT IN ('LOST','ROBBED','THEFT','CANCELED','FRAUD','DAMAGED','EXPIRED','DELETED','BROKEN','DEFECT') THEN expiration_date END,
  validity_due = CASE WHEN status IN ('NORMAL','REISSUED','BLOCKED','PENDING','WARNING') THEN valid_until END,
  alias_key = CASE WHEN type = 'VIRTUAL' AND status NOT IN ('LOST','ROBBED','THEFT','CANCELED','FRAUD','DAMAGED','EXPIRED','DELETED','BROKEN','DEFECT') THEN name END,
  bulk_status = CASE WHEN bulk_id IS NOT NULL THEN status END;
--bun:split
DROP INDEX cardcore_cards_virtual_alias;
--bun:split
DROP INDEX cardcore_cards_expiry;
--bun:split
DROP INDEX cardcore_cards_validity;
--bun:split
DROP INDEX cardcore_cards_bulk_status;
--bun:split
CREATE UNIQUE INDEX cardcore_cards_virtual_alias ON cardcore_cards (org_id, customer_id, alias_key) WHERE alias_key IS NOT NULL;
--bun:split
CREATE INDEX cardcore_cards_expiry ON cardcore_cards (expiry_due) WHERE expiry_due IS NOT NULL;
--bun:split
CREATE INDEX cardcore_cards_validity ON cardcore_cards (validity_due) WHERE validity_due IS NOT NULL;
--bun:split
CREATE INDEX cardcore_cards_bulk_status ON cardcore_cards (bulk_id, bulk_status, id) WHERE bulk_status IS NOT NULL;
--bun:split
DROP INDEX cardcore_outbox_card;
