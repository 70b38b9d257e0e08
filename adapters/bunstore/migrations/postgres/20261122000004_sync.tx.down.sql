DROP INDEX cardcore_cards_synced;
--bun:split
ALTER TABLE cardcore_cards DROP COLUMN close_date;
--bun:split
ALTER TABLE cardcore_cards DROP COLUMN synced;
