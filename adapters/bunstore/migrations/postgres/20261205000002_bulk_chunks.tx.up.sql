ALTER TABLE cardcore_bulks ADD COLUMN cards_made bigint NOT NULL DEFAULT 0;
--bun:split
UPDATE cardcore_bulks SET cards_made = (SELECT count(*) FROM cardcore_cards c WHERE c.bulk_id = cardcore_bulks.id);
--bun:split
CREATE INDEX cardcore_bulks_processing ON cardcore_bulks (id) WHERE status = 'PROCESSING';
