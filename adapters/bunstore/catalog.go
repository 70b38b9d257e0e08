package bunstore

import (
	"context"
	"database/sql"
	"strconv"
	"strings"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/storage"
	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// batchRows bounds the rows of one multi-row INSERT; bun writes values into
// the statement, so this keeps statements a sane size.
const batchRows = 500

// Reason implements storage.Store.
func (s *Store) Reason(ctx context.Context, org string, id int64) (card.Reason, error) {
	return loadReason(ctx, s.reads(), org, id, "")
}

// Reasons implements storage.Store.
func (s *Store) Reasons(ctx context.Context, org string, enabled *bool, page storage.Page) ([]card.Reason, error) {
	if page.Limit <= 0 {
		return nil, card.Invalid("limit", "must be positive")
	}
	var rows []reasonRow
	q := s.reads().NewSelect().Model(&rows).Where("org_id = ? AND id > ?", org, page.After)
	if enabled != nil {
		q = q.Where("enabled = ?", *enabled)
	}
	if err := q.OrderExpr("id").Limit(int64(page.Limit)).Scan(ctx); err != nil {
		return nil, translate(ctx, "list reasons", err)
	}
	out := make([]card.Reason, len(rows))
	for i := range rows {
		out[i] = rows[i].reason()
	}
	return out, nil
}

// Bulk implements storage.Store.
func (s *Store) Bulk(ctx context.Context, org, id string) (card.Bulk, error) {
	return loadBulk(ctx, s.reads(), org, id, "")
}

// BulkView implements storage.Store. The bulk's row and its cards' counts
// are read by one statement, so as of one snapshot (PostgreSQL's read
// committed takes one per statement, and a SQLite statement reads one
// state of the database): read apart, a chunk of a start committing
// between the two reads had its cards counted and not its CardsMade.
func (s *Store) BulkView(ctx context.Context, org, id string) (card.Bulk, map[card.Status]int, error) {
	var rows []struct {
		bulkRow
		CardStatus sql.NullString `bun:"card_status"`
		N          int            `bun:"n"`
	}
	if err := s.reads().NewRaw(bulkViewSQL, id, org, org, id).Scan(ctx, &rows); err != nil {
		return card.Bulk{}, nil, translate(ctx, "read bulk", err)
	}
	if len(rows) == 0 {
		return card.Bulk{}, nil, notFound(ctx, "bulk", id, sql.ErrNoRows)
	}
	b, err := rows[0].bulk()
	if err != nil {
		return card.Bulk{}, nil, err
	}
	counts := make(map[card.Status]int, len(rows))
	for _, r := range rows {
		if !r.CardStatus.Valid {
			continue // a bulk without cards: its one row, with no status
		}
		st, err := card.ParseStatus(r.CardStatus.String)
		if err != nil {
			return card.Bulk{}, nil, err
		}
		counts[st] = r.N
	}
	return b, counts, nil
}

// bulkViewSQL reads a bulk's row (by org and id) and its cards' counts by
// status (by bulk id and org, through cardcore_cards_bulk_status): one row
// per status, or one row with no status for a bulk without cards.
const bulkViewSQL = `SELECT b.id, b.org_id, b.program_id, b.status, b.external_ids, b.cards_made, b.pin_length,
  b.contactless_enabled, b.version, b.created_at, b.updated_at, c.card_status, COALESCE(c.n, 0) AS n
FROM cardcore_bulks AS b LEFT JOIN (
  SELECT bulk_status AS card_status, count(*) AS n FROM cardcore_cards
  WHERE bulk_id = ? AND bulk_status IS NOT NULL AND org_id = ? GROUP BY bulk_status
) AS c ON 1 = 1
WHERE b.org_id = ? AND b.id = ?`

func loadReason(ctx context.Context, db bun.IDB, org string, id int64, lock string) (card.Reason, error) {
	var r reasonRow
	q := db.NewSelect().Model(&r).Where("org_id = ? AND id = ?", org, id)
	if lock != "" {
		q = q.For(lock)
	}
	if err := q.Scan(ctx); err != nil {
		return card.Reason{}, notFound(ctx, "reason", strconv.FormatInt(id, 10), err)
	}
	return r.reason(), nil
}

func loadBulk(ctx context.Context, db bun.IDB, org, id string, lock string) (card.Bulk, error) {
	var r bulkRow
	q := db.NewSelect().Model(&r).Where("org_id = ? AND id = ?", org, id)
	if lock != "" {
		q = q.For(lock)
	}
	if err := q.Scan(ctx); err != nil {
		if strings.HasSuffix(lock, " NOWAIT") && lockNotAvailable(err) {
			return card.Bulk{}, &card.ConflictError{Operation: "lock bulk", Reason: "bulk " + id + " is locked by another transaction"}
		}
		return card.Bulk{}, notFound(ctx, "bulk", id, err)
	}
	return r.bulk()
}

func (t *txn) Reason(ctx context.Context, org string, id int64) (card.Reason, error) {
	db, err := t.db(ctx)
	if err != nil {
		return card.Reason{}, err
	}
	return loadReason(ctx, db, org, id, t.lock())
}

func (t *txn) SaveReason(ctx context.Context, r *card.Reason) error {
	db, err := t.db(ctx)
	if err != nil {
		return err
	}
	row := reasonRowOf(r)
	if r.ID == 0 {
		if _, err := db.NewInsert().Model(&row).Returning("id").Exec(ctx); err != nil {
			return translate(ctx, "insert reason", err)
		}
		r.ID = row.ID
		return nil
	}
	res, err := db.NewUpdate().Model(&row).ExcludeColumn("id", "org_id", "created_at").
		Where("id = ? AND org_id = ?", r.ID, r.OrgID).Exec(ctx)
	if err != nil {
		return translate(ctx, "save reason", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return card.NotFound("reason", strconv.FormatInt(r.ID, 10))
	}
	return nil
}

func (t *txn) Bulk(ctx context.Context, org, id string) (card.Bulk, error) {
	db, err := t.db(ctx)
	if err != nil {
		return card.Bulk{}, err
	}
	lock := t.lock()
	if lock != "" && storage.NoWait(ctx) {
		lock += " NOWAIT" // a row locked by another transaction is a conflict (loadBulk)
	}
	return loadBulk(ctx, db, org, id, lock)
}

func (t *txn) SaveBulk(ctx context.Context, b *card.Bulk) error {
	if b.Version == 1 && b.ID == "" {
		b.ID = uuid.NewString()
	}
	row := bulkRowOf(b)
	db, err := t.db(ctx)
	if err != nil {
		return err
	}
	var res sql.Result
	reason := "bulk " + b.ID + " changed concurrently (version " + strconv.FormatInt(b.Version-1, 10) + " is not the stored one)"
	if b.Version == 1 {
		// A stored bulk with the id is a conflict like a stale version,
		// which does not abort a PostgreSQL transaction.
		res, err = db.NewInsert().Model(&row).On("CONFLICT (id) DO NOTHING").Exec(ctx)
		reason = "bulk " + b.ID + " already exists"
	} else {
		res, err = db.NewUpdate().Model(&row).ExcludeColumn("id", "org_id", "created_at").
			Where("id = ? AND org_id = ? AND version = ?", b.ID, b.OrgID, b.Version-1).Exec(ctx)
	}
	if err != nil {
		return translate(ctx, "save bulk", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return &card.ConflictError{Operation: "save bulk", Reason: reason}
	}
	return nil
}

func (t *txn) AddExternalIDs(ctx context.Context, bulk string, ids []string) error {
	db, err := t.db(ctx)
	if err != nil {
		return err
	}
	var last int64
	err = db.NewSelect().Model((*externalIDRow)(nil)).ColumnExpr("COALESCE(MAX(position), 0)").
		Where("bulk_id = ?", bulk).Scan(ctx, &last)
	if err != nil {
		return translate(ctx, "read external ids", err)
	}
	rows := make([]externalIDRow, 0, min(len(ids), batchRows))
	for start := 0; start < len(ids); start += batchRows {
		rows = rows[:0]
		for _, id := range ids[start:min(start+batchRows, len(ids))] {
			last++
			rows = append(rows, externalIDRow{BulkID: bulk, Position: last, ExternalID: id})
		}
		if _, err := db.NewInsert().Model(&rows).Exec(ctx); err != nil {
			return translate(ctx, "add external ids", err)
		}
	}
	return nil
}

func (t *txn) ExternalIDs(ctx context.Context, bulk string, after int64, limit int) ([]string, int64, error) {
	if limit <= 0 {
		return nil, after, card.Invalid("limit", "must be positive")
	}
	// A plain scan: a bulk start reads its ids tens of thousands at a
	// time, and bun's model scan cost 3% of a PostgreSQL bulk's CPU.
	d := t.s.q.text
	st, err := t.prepare(ctx, "SELECT position, external_id FROM cardcore_bulk_external_ids WHERE bulk_id = "+d.ph(1)+
		" AND position > "+d.ph(2)+" AND position <= "+d.ph(3)+" ORDER BY position")
	if err != nil {
		return nil, after, translate(ctx, "read external ids", err)
	}
	rows, err := st.QueryContext(ctx, bulk, after, after+int64(limit))
	if err != nil {
		return nil, after, translate(ctx, "read external ids", err)
	}
	defer rows.Close()
	ids := make([]string, 0, min(limit, 4096))
	for rows.Next() {
		var id string
		if err := rows.Scan(&after, &id); err != nil {
			return nil, after, translate(ctx, "read external ids", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, after, translate(ctx, "read external ids", err)
	}
	return ids, after, nil
}

func (t *txn) UnboundCards(ctx context.Context, org, bulk string, externalIDs []string, afterID int64, limit int) ([]card.Card, error) {
	if limit <= 0 {
		return nil, card.Invalid("limit", "must be positive")
	}
	if externalIDs != nil && len(externalIDs) == 0 {
		return nil, nil
	}
	db, err := t.db(ctx)
	if err != nil {
		return nil, err
	}
	var rows []cardRow
	q := unboundQuery(db, &rows, org, bulk, externalIDs, afterID, limit)
	if lock := t.lock(); lock != "" {
		q = q.For(lock)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, translate(ctx, "find unbound cards", err)
	}
	return cardsOf(rows)
}

// unboundQuery reads a bulk's UNBOUND cards through the partial index
// cardcore_cards_bulk_status, by ascending id.
func unboundQuery(db bun.IDB, dst *[]cardRow, org, bulk string, externalIDs []string, afterID int64, limit int) *bun.SelectQuery {
	q := db.NewSelect().Model(dst).
		Where("bulk_id = ? AND bulk_status = 'UNBOUND' AND org_id = ? AND id > ?", bulk, org, afterID)
	if externalIDs != nil {
		q = q.Where("external_id IN (?)", bun.List(externalIDs))
	}
	return q.OrderExpr("id").Limit(int64(limit))
}
