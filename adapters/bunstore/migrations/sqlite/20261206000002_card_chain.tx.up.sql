-- A card's history is a chain through the outbox instead of the index
-- cardcore_outbox_card_history: each event of a card holds the seq of the
-- card's event before it (prev_seq), and the card holds the seq of its
-- latest event (last_seq). The index added a third B-tree to every write
-- of an event; the chain's links live in the rows that are written anyway
-- (the event's, and the card's, whose page is already dirty), so a status
-- update writes two pages instead of three.
--
-- The trigger keeps the chain for every insert of an event, whatever wrote
-- it. It does nothing for an event whose card already names it: a bulk
-- writes its new cards with the seqs their events then take (SaveNew),
-- which saves the two updates per card. A card's events are written one transaction after another (writers
-- are serialised), so a card's last_seq is always its latest committed
-- event. Events of another org, or of an id no card has, link to nothing
-- and are in no card's history.
ALTER TABLE cardcore_outbox ADD COLUMN prev_seq INTEGER;
--bun:split
ALTER TABLE cardcore_cards ADD COLUMN last_seq INTEGER;
--bun:split
UPDATE cardcore_outbox AS o SET prev_seq = (
  SELECT MAX(p.seq) FROM cardcore_outbox AS p
  WHERE p.org_id = o.org_id AND p.card_id = o.card_id AND p.seq < o.seq)
WHERE o.card_id IS NOT NULL;
--bun:split
UPDATE cardcore_cards AS c SET last_seq = (
  SELECT MAX(o.seq) FROM cardcore_outbox AS o WHERE o.org_id = c.org_id AND o.card_id = c.id);
--bun:split
DROP INDEX cardcore_outbox_card_history;
--bun:split
CREATE TRIGGER cardcore_outbox_card_chain AFTER INSERT ON cardcore_outbox
WHEN NEW.card_id IS NOT NULL
  AND (SELECT last_seq FROM cardcore_cards WHERE id = NEW.card_id AND org_id = NEW.org_id) IS NOT NEW.seq
BEGIN
  UPDATE cardcore_outbox SET prev_seq = (
    SELECT last_seq FROM cardcore_cards WHERE id = NEW.card_id AND org_id = NEW.org_id)
  WHERE seq = NEW.seq;
  UPDATE cardcore_cards SET last_seq = NEW.seq WHERE id = NEW.card_id AND org_id = NEW.org_id;
END;
