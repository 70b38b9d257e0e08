DROP INDEX cardcore_cards_bulk_status;
--bun:split
DROP TABLE cardcore_bulk_external_ids;
--bun:split
DROP TABLE cardcore_bulks;
--bun:split
DROP TABLE cardcore_reasons;
