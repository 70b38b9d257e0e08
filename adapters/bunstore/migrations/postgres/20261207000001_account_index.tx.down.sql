DROP INDEX cardcore_cards_account;
--bun:split
CREATE INDEX cardcore_cards_account ON cardcore_cards (org_id, account_id, id);
