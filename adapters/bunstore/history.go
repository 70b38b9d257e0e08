package bunstore

import (
	"context"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
)

// CardEvents implements storage.Store.
//
// A card's changes are serialised by its row lock, each transaction
// writing its events after the previous one committed, so the outbox seq
// order of one card's events is their version order. The version is read
// from the event data. On PostgreSQL the feed is sequenced first, so each
// event carries its feed position as Seq, as Feed gives it; events whose
// transaction has not committed are never visible.
func (s *Store) CardEvents(ctx context.Context, org string, cardID int64, afterVersion int64, limit int) ([]events.Event, error) {
	if limit <= 0 {
		return nil, card.Invalid("limit", "must be positive")
	}
	if afterVersion < 0 {
		return nil, card.Invalid("after", "must not be negative")
	}
	var rows []outboxRow
	q := s.db.NewSelect().Model(&rows).
		Where("org_id = ?", org).Where("card_id = ?", cardID)
	if s.sqlite {
		q = q.Where("CAST(json_extract(data, '$.version') AS INTEGER) > ?", afterVersion)
	} else {
		if err := s.sequence(ctx); err != nil {
			return nil, err
		}
		q = q.ColumnExpr("event_id, org_id, card_id, event_type, cid, occurred_at, data, feed_pos AS seq").
			Where("feed_pos IS NOT NULL").
			Where("((data::jsonb)->>'version')::bigint > ?", afterVersion)
	}
	q = q.OrderExpr("seq").Limit(int64(limit))
	if err := q.Scan(ctx); err != nil {
		return nil, translate(ctx, "read card history", err)
	}
	evs := make([]events.Event, len(rows))
	for i := range rows {
		evs[i] = rows[i].event()
	}
	return evs, nil
}
