package bunstore

import (
	"context"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
)

// CardEvents implements storage.Store.
//
// A card's changes are serialised by its row lock (by the write lock on
// SQLite), each transaction writing its events after the previous one
// committed, so the outbox seq order of one card's events is their version
// order. The version is read from the event data.
//
// On SQLite the history is the card's chain (migration card_chain): the
// walk starts at the card's last_seq and follows prev_seq back, stopping
// past the first event at or below afterVersion, so a page costs one
// lookup by seq for each event above afterVersion and none for the rest.
// Only a stored card has a chain. On PostgreSQL the history is read
// through the index cardcore_outbox_card_history, from the sequenced feed,
// so each event carries its feed position as Seq, as Feed gives it;
// events whose transaction has not committed are never visible. Events
// naming an id no card of org has are in no history there either.
func (s *Store) CardEvents(ctx context.Context, org string, cardID int64, afterVersion int64, limit int) ([]events.Event, error) {
	if limit <= 0 {
		return nil, card.Invalid("limit", "must be positive")
	}
	if afterVersion < 0 {
		return nil, card.Invalid("after", "must not be negative")
	}
	var rows []outboxRow
	if s.sqlite {
		if err := s.db.NewRaw(sqliteHistory, org, cardID, afterVersion, org, cardID, afterVersion, limit).Scan(ctx, &rows); err != nil {
			return nil, translate(ctx, "read card history", err)
		}
	} else {
		if err := s.sequence(ctx); err != nil {
			return nil, err
		}
		q := s.db.NewSelect().Model(&rows).
			ColumnExpr("event_id, org_id, card_id, event_type, cid, occurred_at, data, feed_pos AS seq").
			Where("org_id = ?", org).Where("card_id = ?", cardID).
			Where("feed_pos IS NOT NULL").
			Where("((data::jsonb)->>'version')::bigint > ?", afterVersion).
			Where("EXISTS (SELECT 1 FROM cardcore_cards WHERE id = ? AND org_id = ?)", cardID, org).
			OrderExpr("seq").Limit(int64(limit))
		if err := q.Scan(ctx); err != nil {
			return nil, translate(ctx, "read card history", err)
		}
	}
	evs := make([]events.Event, len(rows))
	for i := range rows {
		evs[i] = rows[i].event()
	}
	return evs, nil
}

// sqliteHistory walks a card's chain back from its latest event while the
// events are above the version asked for; its arguments are org, card id
// and version for the walk, then the same and the limit for the page.
const sqliteHistory = `WITH RECURSIVE chain(seq) AS (
  SELECT last_seq FROM cardcore_cards WHERE org_id = ? AND id = ? AND last_seq IS NOT NULL
  UNION ALL
  SELECT o.prev_seq FROM cardcore_outbox AS o JOIN chain ON o.seq = chain.seq
  WHERE o.prev_seq IS NOT NULL AND CAST(json_extract(o.data, '$.version') AS INTEGER) > ?
)
SELECT seq, event_id, org_id, card_id, event_type, cid, occurred_at, data FROM cardcore_outbox
WHERE seq IN (SELECT seq FROM chain) AND org_id = ? AND card_id = ?
AND CAST(json_extract(data, '$.version') AS INTEGER) > ?
ORDER BY seq LIMIT ?`
