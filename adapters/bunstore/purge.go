package bunstore

import (
	"context"
	"strings"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/storage"
	"github.com/uptrace/bun"
)

// Purge implements storage.Store (SPEC 10.4) in short statements, each
// committed at once on the store's own connections, so no statement holds
// SQLite's write lock for more than one batch.
//
// Events go from the start of the feed: each batch reads the next limit
// events in feed order and deletes the run of them older than
// eventsBefore, up to the first younger one (an old event behind a younger
// one waits for it, so the feed only ever loses a prefix). The DELETE
// itself bounds that run by the lowest subscription cursor and keeps the
// event at the feed's head, reading both in the same statement, so a cursor
// read a moment earlier cannot be stale. On PostgreSQL events without a
// feed position (feed_pos NULL, not yet sequenced) are never touched, and
// keeping the head keeps the sequencer from handing out a position again.
//
// Idempotency records are read by primary key, limit at a time (reads
// take no write lock), and the old ones of each page deleted by key.
func (s *Store) Purge(ctx context.Context, eventsBefore, keysBefore time.Time, limit int) (storage.PurgeResult, error) {
	var res storage.PurgeResult
	if limit <= 0 {
		return res, card.Invalid("limit", "must be positive")
	}
	var err error
	if !eventsBefore.IsZero() {
		res.Events, err = s.purgeEvents(ctx, eventsBefore, limit)
		if err != nil {
			return res, err
		}
	}
	if !keysBefore.IsZero() {
		res.Keys, err = s.purgeKeys(ctx, keysBefore, limit)
	}
	return res, err
}

// purgeEvents deletes the events of Purge and returns how many it deleted.
func (s *Store) purgeEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	pos := "seq"
	if !s.sqlite {
		pos = "feed_pos"
	}
	total := 0
	for {
		var rows []struct {
			Pos        int64     `bun:"pos"`
			OccurredAt time.Time `bun:"occurred_at"`
		}
		err := s.db.NewSelect().TableExpr("cardcore_outbox").
			ColumnExpr("? AS pos, occurred_at", bun.Ident(pos)).
			Where("? IS NOT NULL", bun.Ident(pos)).
			OrderExpr("?", bun.Ident(pos)).Limit(int64(limit)).Scan(ctx, &rows)
		if err != nil {
			return total, translate(ctx, "read events to purge", err)
		}
		old := 0
		for old < len(rows) && rows[old].OccurredAt.Before(before) {
			old++
		}
		if old == 0 {
			return total, nil
		}
		upto := rows[old-1].Pos
		done, err := s.write(ctx, "purge events")
		if err != nil {
			return total, err
		}
		r, err := s.db.ExecContext(ctx, `
DELETE FROM cardcore_outbox WHERE ? <= ?
AND ? <= COALESCE((SELECT MIN(cursor) FROM cardcore_subscriptions), ?)
AND ? < (SELECT MAX(?) FROM cardcore_outbox)`,
			bun.Ident(pos), upto, bun.Ident(pos), upto, bun.Ident(pos), bun.Ident(pos))
		done()
		if err != nil {
			return total, translate(ctx, "purge events", err)
		}
		n, err := r.RowsAffected()
		if err != nil {
			return total, translate(ctx, "purge events", err)
		}
		total += int(n)
		if int(n) < old || old < len(rows) {
			// A cursor or the head held events back, or a young event
			// ends the old run: the next batch would find nothing more.
			return total, nil
		}
	}
}

// keyRow is the primary key and age of an idempotency record.
type keyRow struct {
	OrgID     string    `bun:"org_id"`
	Scope     string    `bun:"scope"`
	Key       string    `bun:"key"`
	CreatedAt time.Time `bun:"created_at"`
}

// purgeKeys deletes the idempotency records created before before and
// returns how many it deleted.
func (s *Store) purgeKeys(ctx context.Context, before time.Time, limit int) (int, error) {
	total := 0
	var last *keyRow
	for {
		var rows []keyRow
		q := s.db.NewSelect().TableExpr("cardcore_idempotency").
			ColumnExpr("org_id, scope, key, created_at").
			OrderExpr("org_id, scope, key").Limit(int64(limit))
		if last != nil {
			q = q.Where("(org_id, scope, key) > (?, ?, ?)", last.OrgID, last.Scope, last.Key)
		}
		if err := q.Scan(ctx, &rows); err != nil {
			return total, translate(ctx, "read idempotency keys to purge", err)
		}
		var (
			tuples []string
			args   []any
		)
		for _, r := range rows {
			if r.CreatedAt.Before(before) {
				tuples = append(tuples, "(?, ?, ?)")
				args = append(args, r.OrgID, r.Scope, r.Key)
			}
		}
		if len(tuples) > 0 {
			args = append(args, utc(before))
			done, err := s.write(ctx, "purge idempotency keys")
			if err != nil {
				return total, err
			}
			res, err := s.db.NewDelete().TableExpr("cardcore_idempotency").
				Where("(org_id, scope, key) IN (VALUES "+strings.Join(tuples, ", ")+")", args[:len(args)-1]...).
				Where("created_at < ?", args[len(args)-1]).Exec(ctx)
			done()
			if err != nil {
				return total, translate(ctx, "purge idempotency keys", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return total, translate(ctx, "purge idempotency keys", err)
			}
			total += int(n)
		}
		if len(rows) < limit {
			return total, nil
		}
		last = &rows[len(rows)-1]
	}
}
