-- The outbox's seq becomes a plain rowid (INTEGER PRIMARY KEY without
-- AUTOINCREMENT): a new event takes max(seq) + 1, and no commit writes
-- sqlite_sequence any more, one page fewer in the WAL for every change.
-- A position is still never handed out twice: writers are serialised, an
-- event rolled back was never seen, and the only delete of the outbox,
-- Store.Purge, always keeps the feed's head (the event of the highest
-- seq), so max(seq) is the highest position ever committed. The copy keeps
-- every seq.
CREATE TABLE cardcore_outbox_rowid (
  seq INTEGER PRIMARY KEY,
  event_id TEXT NOT NULL,
  org_id TEXT NOT NULL,
  card_id INTEGER,
  event_type TEXT NOT NULL,
  cid TEXT NOT NULL,
  occurred_at TIMESTAMP NOT NULL,
  data TEXT NOT NULL
);
--bun:split
INSERT INTO cardcore_outbox_rowid (seq, event_id, org_id, card_id, event_type, cid, occurred_at, data)
  SELECT seq, event_id, org_id, card_id, event_type, cid, occurred_at, data FROM cardcore_outbox ORDER BY seq;
--bun:split
DROP TABLE cardcore_outbox;
--bun:split
ALTER TABLE cardcore_outbox_rowid RENAME TO cardcore_outbox;
--bun:split
CREATE INDEX cardcore_outbox_feed ON cardcore_outbox (org_id, seq);
--bun:split
CREATE INDEX cardcore_outbox_card_history ON cardcore_outbox (org_id, card_id, seq);
