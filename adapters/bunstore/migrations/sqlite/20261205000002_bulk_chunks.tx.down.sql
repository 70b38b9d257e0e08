DROP INDEX cardcore_bulks_processing;
--bun:split
ALTER TABLE cardcore_bulks DROP COLUMN cards_made;
