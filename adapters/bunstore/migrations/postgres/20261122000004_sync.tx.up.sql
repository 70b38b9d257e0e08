ALTER TABLE cardcore_cards ADD COLUMN synced boolean NOT NULL DEFAULT FALSE;
--bun:split
ALTER TABLE cardcore_cards ADD COLUMN close_date timestamptz;
--bun:split
CREATE UNIQUE INDEX cardcore_cards_synced ON cardcore_cards (org_id, account_id, customer_id, last4) WHERE synced;
