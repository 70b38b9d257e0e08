package bunstore

import (
	"context"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/uptrace/bun"
)

// feedLock is the advisory lock (class, object) that serialises the
// PostgreSQL feed sequencer: "card" in ASCII, and 1.
const feedLockClass, feedLockObject = 0x63617264, 1

// sequenceBatch bounds how many events one sequencer pass positions.
const sequenceBatch = 10000

// Feed implements storage.Store.
//
// On SQLite the outbox seq is the feed position: writers are serialised,
// so seqs are taken in commit order. On PostgreSQL seqs are taken at
// insert and transactions commit in another order, so a reader could pass
// a seq whose transaction commits later. Instead a sequencer, serialised by
// an advisory lock, gives committed events their feed position (feed_pos)
// when the feed is read: each pass numbers the events it can see that have
// none, in seq order, above every position handed out before. A position
// is never given below one a reader may have passed, so a reader misses
// nothing; and a card's events are written under its row lock, each
// transaction after the previous one committed, so their seqs, and their
// positions, follow the card's versions. Events are in the feed as soon as
// their transaction has committed.
func (s *Store) Feed(ctx context.Context, org string, after int64, limit int) ([]events.Event, error) {
	return s.feed(ctx, &org, after, limit)
}

// feed returns up to limit committed events above feed position after, in
// feed order, each with Seq set to its position: org's events, or every
// org's when org is nil.
func (s *Store) feed(ctx context.Context, org *string, after int64, limit int) ([]events.Event, error) {
	if limit <= 0 {
		return nil, card.Invalid("limit", "must be positive")
	}
	if after < 0 {
		return nil, card.Invalid("after", "must not be negative")
	}
	rows, err := s.positioned(ctx, org, after, limit)
	if err != nil {
		return nil, err
	}
	// The sequencer positions events only above every position handed out,
	// so a full page of positioned events is the page it would leave: a
	// reader working through a backlog does not run it for every page.
	if !s.sqlite && len(rows) < limit {
		if err := s.sequence(ctx); err != nil {
			return nil, err
		}
		if len(rows) > 0 {
			after = rows[len(rows)-1].Seq
		}
		more, err := s.positioned(ctx, org, after, limit-len(rows))
		if err != nil {
			return nil, err
		}
		rows = append(rows, more...)
	}
	evs := make([]events.Event, len(rows))
	for i := range rows {
		evs[i] = rows[i].event()
	}
	return evs, nil
}

// positioned returns up to limit events whose feed position is above
// after, in feed order, with Seq set to the position: org's, or every
// org's when org is nil. On PostgreSQL these are the events the sequencer
// has positioned.
func (s *Store) positioned(ctx context.Context, org *string, after int64, limit int) ([]outboxRow, error) {
	var rows []outboxRow
	q := s.db.NewSelect().Model(&rows).Limit(int64(limit))
	pos := "seq"
	if !s.sqlite {
		q = q.ColumnExpr("event_id, org_id, card_id, event_type, cid, occurred_at, data, feed_pos AS seq")
		pos = "feed_pos"
	}
	if org != nil {
		q = q.Where("org_id = ?", *org)
	}
	q = q.Where("? > ?", bun.Ident(pos), after).OrderExpr("?", bun.Ident(pos))
	if err := q.Scan(ctx); err != nil {
		return nil, translate(ctx, "read feed", err)
	}
	return rows, nil
}

// sequence positions the events whose transactions are over, in batches.
func (s *Store) sequence(ctx context.Context) error {
	for {
		n, err := s.sequenceBatch(ctx)
		if err != nil {
			return translate(ctx, "sequence feed", err)
		}
		if n < sequenceBatch {
			return nil
		}
	}
}

// sequenceBatch positions a batch of events in one transaction, begun as
// the store's are (beginOnConn: a connection the server closed while it
// sat in the pool is replaced), and returns how many.
func (s *Store) sequenceBatch(ctx context.Context) (n int64, err error) {
	c, tx, err := s.beginOnConn(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer c.Close() // after the rollback below
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?, ?)", feedLockClass, feedLockObject); err != nil {
		return 0, err
	}
	// The batch is taken first, then numbered: a LIMIT above the
	// window function made PostgreSQL read and sort every unpositioned
	// event (a bitmap scan) on each pass, where this reads the batch
	// off the index in order.
	res, err := tx.ExecContext(ctx, `
WITH base AS (SELECT COALESCE(MAX(feed_pos), 0) AS top FROM cardcore_outbox),
batch AS (SELECT seq FROM cardcore_outbox WHERE feed_pos IS NULL ORDER BY seq LIMIT ?),
next AS (SELECT seq, row_number() OVER (ORDER BY seq) AS rank FROM batch)
UPDATE cardcore_outbox o SET feed_pos = base.top + next.rank
FROM next, base WHERE o.seq = next.seq`, sequenceBatch)
	if err != nil {
		return 0, err
	}
	if n, err = res.RowsAffected(); err != nil {
		return 0, err
	}
	return n, tx.Commit()
}
