DROP TABLE cardcore_idempotency;
--bun:split
DROP TABLE cardcore_outbox;
--bun:split
DROP TABLE cardcore_cards;
