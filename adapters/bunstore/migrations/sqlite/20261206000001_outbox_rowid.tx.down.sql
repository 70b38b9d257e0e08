CREATE TABLE cardcore_outbox_autoincrement (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL,
  org_id TEXT NOT NULL,
  card_id INTEGER,
  event_type TEXT NOT NULL,
  cid TEXT NOT NULL,
  occurred_at TIMESTAMP NOT NULL,
  data TEXT NOT NULL
);
--bun:split
INSERT INTO cardcore_outbox_autoincrement (seq, event_id, org_id, card_id, event_type, cid, occurred_at, data)
  SELECT seq, event_id, org_id, card_id, event_type, cid, occurred_at, data FROM cardcore_outbox ORDER BY seq;
--bun:split
DROP TABLE cardcore_outbox;
--bun:split
ALTER TABLE cardcore_outbox_autoincrement RENAME TO cardcore_outbox;
--bun:split
CREATE INDEX cardcore_outbox_feed ON cardcore_outbox (org_id, seq);
--bun:split
CREATE INDEX cardcore_outbox_card_history ON cardcore_outbox (org_id, card_id, seq);
