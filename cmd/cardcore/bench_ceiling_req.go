package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cardcore/cardcore/adapters/bunstore"
	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/noname"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// The ceilings of the per-request workloads (issue 12): read-ceiling,
// transition-ceiling and bind-ceiling send, with raw database/sql on the
// pool under bun (and pgx's API for PostgreSQL's reads, as the store), the SQL cardcore sends for the use case, on cardcore's
// own migrated tables and fixtures, with the library workload's striping,
// and none of the library's work (no use case, no card.Card, no event
// built through package events, no telemetry). The raw-SQL baseline runs
// a lighter schema; the ceiling is what cardcore's schema costs at best,
// so the gap between cardcore and the baseline splits into the library's
// (cardcore / ceiling) and the schema's (ceiling / baseline).
//
// The statement texts are the store's own (bunstore.CeilingSQL). The
// columns a change writes are found as the store finds them: a template
// card is changed once through the library before the measurement, its
// row read before and after, and the columns that differ are those of the
// UPDATE (the store writes the columns that changed). The event's type,
// correlation id and data are that change's event, read back; each row of
// the measurement carries its own card id in the data, and its own event
// id. Per transaction:
//
//   - SQLite: BEGIN IMMEDIATE (the DSN's _txlock); the store's write-lock
//     statement; the card's SELECT, with its last_seq; the UPDATE of the
//     changed columns with the version check, which sets the card's
//     last_seq to the next seq; the outbox INSERT at that seq, linked to
//     the last_seq read (the store's chained save); COMMIT. One write at a time in
//     the process, as the store's write slot admits them: without it,
//     writers poll in SQLite's busy handler and the figure measures that.
//   - PostgreSQL, as the store runs its transaction on a connection of
//     pgx's (bunstore's pgxtx.go): on a connection of its own, BEGIN
//     ISOLATION LEVEL READ COMMITTED and SELECT ... FOR UPDATE in one
//     pipeline, one round trip (bunstore.CeilingBeginRead); the UPDATE and
//     the INSERT as one statement (the store's saveWithEvent) in pgx's
//     statement cache; COMMIT. read-ceiling's SELECT goes through pgx's
//     own API on a connection of the pool (sql.Conn.Raw), in pgx's
//     statement cache, its row scanned by pgx: the store sends the same
//     SQL on a connection of the pool, but decodes the row itself
//     (bunstore's pgxread.go and pgxdecode.go), which is the library's
//     work, not the SQL's. The transition's and bind's reads are scanned
//     by pgx too (bunstore.CeilingBeginRead).
//
// Per-request transactions of these use cases run no other statement: no
// idempotency key (Bind takes none), no bulk counter, and on PostgreSQL
// no SET LOCAL synchronous_commit (only a bulk's chunks commit lazily).

// reqCeiling holds a ceiling's statements, prepared on the pool.
type reqCeiling struct {
	b     *bench
	stmts bunstore.CeilingStatements // the read's and the common texts
	// SQLite's prepared statements; nil on PostgreSQL
	sel       *sql.Stmt     // SelectCard
	selLocked *sql.Stmt     // SelectCardLocked
	lock      *sql.Stmt     // WriteLock
	insert    *sql.Stmt     // InsertEvent, the second write
	writer    chan struct{} // SQLite: one write transaction at a time
	pg        bool          // SELECTs through pgx's API (pgxScan)
	cols      []rawCol      // the typed scan of the card's columns
}

// rawCol is one column of the card's SELECT and how it is scanned.
type rawCol struct {
	name    string
	kind    byte // 's' string, 'i' integer, 'b' boolean, 't' time
	notNull bool
}

// rawRow is a card's row scanned into typed Go values.
type rawRow struct {
	dests   []any
	id      *int64
	version *int64
	status  *string
	lastSeq *sql.NullInt64 // SQLite: the card's last_seq
	args    []any          // the arguments of the save, reused
	data    []byte         // the event's data, reused
}

// ceilingChange is one change of a card as the store writes it.
type ceilingChange struct {
	sql       bunstore.CeilingStatements
	update    *sql.Stmt // SQLite: Update; nil on PostgreSQL (savePG)
	from, to  string    // the statuses
	eventType string
	cid       string
	data      []string // the event's data, cut where the card's id goes
}

// prepareReqCeiling makes the fixtures of the library workload w (read,
// transition, bind) in org and returns its ceiling's operation.
func (b *bench) prepareReqCeiling(ctx context.Context, w, org string, workers int) (func(ctx context.Context, worker int) error, error) {
	c, err := b.newReqCeiling(ctx)
	if err != nil {
		return nil, err
	}
	rows := make([]*rawRow, workers)
	for i := range rows {
		rows[i] = c.newRow()
	}
	switch w {
	case "read-ceiling":
		ids, err := b.makeCards(ctx, org, b.cfg.n, card.Temporary, card.Normal)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, worker int) error {
			id := ids[rand.IntN(len(ids))]
			r := rows[worker]
			if err := c.read(ctx, r, org, id); err != nil {
				return err
			}
			if *r.id != id {
				return fmt.Errorf("read card %d, got %d", id, *r.id)
			}
			return nil
		}, nil
	case "transition-ceiling":
		block, unblock, err := c.transitionChanges(ctx)
		if err != nil {
			return nil, err
		}
		ids, err := b.makeCards(ctx, org, b.cfg.n, card.Temporary, card.Normal)
		if err != nil {
			return nil, err
		}
		blocked := make([]bool, len(ids))
		return func(ctx context.Context, worker int) error {
			i := rand.IntN(len(ids)/workers)*workers + worker
			ch := block
			if blocked[i] {
				ch = unblock
			}
			if err := c.save(ctx, ch, rows[worker], org, ids[i], "", ""); err != nil {
				return err
			}
			blocked[i] = !blocked[i]
			return nil
		}, nil
	case "bind-ceiling":
		bind, err := c.bindChange(ctx)
		if err != nil {
			return nil, err
		}
		ids, err := b.makeNoname(ctx, org, b.cfg.bindN)
		if err != nil {
			return nil, err
		}
		return eachOnce(len(ids), func(ctx context.Context, worker, i int) error {
			return c.save(ctx, bind, rows[worker], org, ids[i], "1001", strconv.Itoa(i))
		}), nil
	}
	return nil, fmt.Errorf("unknown workload %q", w)
}

func (b *bench) newReqCeiling(ctx context.Context) (*reqCeiling, error) {
	pg := b.kind == "postgres"
	stmts, err := bunstore.CeilingSQL(pg, nil)
	if err != nil {
		return nil, err
	}
	c := &reqCeiling{b: b, stmts: stmts, pg: pg}
	if !pg {
		c.writer = make(chan struct{}, 1)
	}
	if c.cols, err = b.rawColumns(ctx, stmts.Columns); err != nil {
		return nil, err
	}
	if r := c.newRow(); r.id == nil || r.version == nil || r.status == nil {
		return nil, errors.New("ceiling: cardcore_cards has no id, version and status NOT NULL")
	}
	if pg {
		return c, nil // its statements run in pgx's statement cache (read, savePG)
	}
	for _, p := range []struct {
		st   **sql.Stmt
		text string
	}{{&c.sel, stmts.SelectCard}, {&c.selLocked, stmts.SelectCardLocked}, {&c.lock, stmts.WriteLock}, {&c.insert, stmts.InsertEvent}} {
		if *p.st, err = b.db.DB.PrepareContext(ctx, p.text); err != nil {
			return nil, fmt.Errorf("prepare %s: %w", p.text, err)
		}
	}
	return c, nil
}

// rawColumns reads the types of cols from the database's catalog.
func (b *bench) rawColumns(ctx context.Context, cols []string) ([]rawCol, error) {
	q := `SELECT name, type, "notnull" <> 0 OR pk <> 0 FROM pragma_table_info('cardcore_cards')`
	if b.kind == "postgres" {
		q = `SELECT column_name, data_type, is_nullable = 'NO' FROM information_schema.columns
			WHERE table_name = 'cardcore_cards' AND table_schema = current_schema()`
	}
	rows, err := b.db.DB.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	types := make(map[string]rawCol)
	for rows.Next() {
		var c rawCol
		var typ string
		if err := rows.Scan(&c.name, &typ, &c.notNull); err != nil {
			return nil, err
		}
		switch typ = strings.ToUpper(typ); {
		case strings.Contains(typ, "INT"):
			c.kind = 'i'
		case strings.Contains(typ, "BOOL"):
			c.kind = 'b'
		case strings.Contains(typ, "TIME"), strings.Contains(typ, "DATE"):
			c.kind = 't'
		default:
			c.kind = 's'
		}
		types[c.name] = c
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]rawCol, len(cols))
	for i, name := range cols {
		c, ok := types[name]
		if !ok {
			return nil, fmt.Errorf("ceiling: cardcore_cards has no column %s", name)
		}
		out[i] = c
	}
	return out, nil
}

// newRow returns a row to scan the card's columns into.
func (c *reqCeiling) newRow() *rawRow {
	r := &rawRow{dests: make([]any, len(c.cols))}
	for i, col := range c.cols {
		var d any
		switch {
		case col.kind == 'i' && col.notNull:
			p := new(int64)
			d = p
			switch col.name {
			case "id":
				r.id = p
			case "version":
				r.version = p
			}
		case col.kind == 'i':
			p := new(sql.NullInt64)
			d = p
			if col.name == "last_seq" {
				r.lastSeq = p
			}
		case col.kind == 'b' && col.notNull:
			d = new(bool)
		case col.kind == 'b':
			d = new(sql.NullBool)
		// The store reads time columns as text on SQLite (+name AS "",
		// see its SelectCard): they scan as strings there.
		case col.kind == 't' && col.notNull && c.pg:
			d = new(time.Time)
		case col.kind == 't' && c.pg:
			d = new(sql.NullTime)
		case col.notNull:
			p := new(string)
			d = p
			if col.name == "status" {
				r.status = p
			}
		default:
			d = new(sql.NullString)
		}
		r.dests[i] = d
	}
	return r
}

// save is one change of card id of org: the transaction the store runs for
// it, the SQL only.
func (c *reqCeiling) save(ctx context.Context, ch *ceilingChange, r *rawRow, org string, id int64, account, customer string) error {
	if c.writer != nil {
		select {
		case c.writer <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		defer func() { <-c.writer }()
	}
	if c.pg {
		return c.savePG(ctx, ch, r, org, id, account, customer)
	}
	tx, err := c.b.db.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.StmtContext(ctx, c.lock).ExecContext(ctx); err != nil {
		return err
	}
	if err := tx.StmtContext(ctx, c.selLocked).QueryRowContext(ctx, org, id).Scan(r.dests...); err != nil {
		return err
	}
	if *r.status != ch.from {
		return fmt.Errorf("card %d is %s, not %s", id, *r.status, ch.from)
	}
	now := ch.sql.TimeArg(time.Now())
	r.args = ch.args(r.args[:0], r, org, now, account, customer)
	r.data = ch.eventData(r.data[:0], id)
	event := []any{uuid.NewString(), org, id, ch.eventType, ch.cid, now, string(r.data)}
	if r.lastSeq != nil {
		event = append(event, *r.lastSeq) // SQLite: prev_seq
	}
	res, err := tx.StmtContext(ctx, ch.update).ExecContext(ctx, r.args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("card %d: version %d changed: %w", id, *r.version, card.ErrConflict)
	}
	if _, err := tx.StmtContext(ctx, c.insert).ExecContext(ctx, event...); err != nil {
		return err
	}
	return tx.Commit()
}

// savePG is save on PostgreSQL, as the store runs its transaction there
// (bunstore's pgxtx.go): on a connection of its own, BEGIN in one pipeline
// with the card's SELECT ... FOR UPDATE (bunstore.CeilingBeginRead), then
// the UPDATE and the INSERT as one statement in one pipeline with COMMIT
// (bunstore.CeilingSaveCommit).
func (c *reqCeiling) savePG(ctx context.Context, ch *ceilingChange, r *rawRow, org string, id int64, account, customer string) (err error) {
	conn, err := c.b.db.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	defer func() {
		if err != nil {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "rollback")
		}
	}()
	if err := bunstore.CeilingBeginRead(ctx, conn, c.stmts.SelectCardLocked, r.dests, org, id); err != nil {
		return err
	}
	if *r.status != ch.from {
		return fmt.Errorf("card %d is %s, not %s", id, *r.status, ch.from)
	}
	now := ch.sql.TimeArg(time.Now())
	r.args = ch.args(r.args[:0], r, org, now, account, customer)
	r.data = ch.eventData(r.data[:0], id)
	r.args = append(r.args, uuid.NewString(), org, id, ch.eventType, ch.cid, now, string(r.data))
	return bunstore.CeilingSaveCommit(ctx, conn, ch.sql.SaveWithEvent, r.args)
}

// read reads card id of org into r as the store's Card does: on
// PostgreSQL through pgx's API on a connection of the pool.
func (c *reqCeiling) read(ctx context.Context, r *rawRow, org string, id int64) error {
	if !c.pg {
		return c.sel.QueryRowContext(ctx, org, id).Scan(r.dests...)
	}
	conn, err := c.b.db.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return pgxScan(ctx, conn, c.stmts.SelectCard, r.dests, org, id)
}

// pgxConner is the driver connection of pgx/v5/stdlib.
type pgxConner interface{ Conn() *pgx.Conn }

// pgxScan reads the row of query with org and id on conn through pgx's
// own API, the statement in pgx's cache, scanned by pgx into dests.
func pgxScan(ctx context.Context, conn *sql.Conn, query string, dests []any, org string, id int64) error {
	return conn.Raw(func(dc any) error {
		pc, ok := dc.(pgxConner)
		if !ok {
			return fmt.Errorf("ceiling: the PostgreSQL driver is %T, not pgx's", dc)
		}
		return pc.Conn().QueryRow(ctx, query, pgx.QueryExecModeCacheStatement, org, id).Scan(dests...)
	})
}

// args appends the UPDATE's arguments: the changed columns' values, then
// id, org and the version read.
func (ch *ceilingChange) args(dst []any, r *rawRow, org string, now any, account, customer string) []any {
	for _, col := range ch.sql.UpdateColumns {
		switch col {
		case "status", "bulk_status":
			dst = append(dst, ch.to)
		case "previous_status":
			dst = append(dst, *r.status)
		case "version":
			dst = append(dst, *r.version+1)
		case "updated_at":
			dst = append(dst, now)
		case "account_id":
			dst = append(dst, account)
		case "customer_id":
			dst = append(dst, customer)
		}
	}
	dst = append(dst, *r.id, org, *r.version)
	if r.lastSeq != nil {
		dst = append(dst, *r.lastSeq) // SQLite: the last_seq read
	}
	return dst
}

// ceilingWrites are the columns the ceiling knows how to write (args).
var ceilingWrites = []string{"status", "bulk_status", "previous_status", "version", "updated_at", "account_id", "customer_id"}

// schemaWrites are the columns of the card chain (migration card_chain),
// which the store's statements keep themselves: on SQLite the chained
// save's UPDATE sets the card's last_seq (CeilingSQL), the ceiling's as
// the library's.
var schemaWrites = []string{"last_seq"}

// eventData appends the template event's data with the card's id.
func (ch *ceilingChange) eventData(dst []byte, id int64) []byte {
	dst = append(dst, ch.data[0]...)
	for _, piece := range ch.data[1:] {
		dst = strconv.AppendInt(dst, id, 10)
		dst = append(dst, piece...)
	}
	return dst
}

// transitionChanges finds the changes NORMAL->BLOCKED and BLOCKED->NORMAL
// of a TEMPORARY card as the library writes them.
func (c *reqCeiling) transitionChanges(ctx context.Context) (block, unblock *ceilingChange, err error) {
	org := "ceiling-template-" + randomHex(4)
	ids, err := c.b.makeCards(ctx, org, 1, card.Temporary, card.Normal)
	if err != nil {
		return nil, nil, err
	}
	block, err = c.templateChange(ctx, org, ids[0], "", "", func() error {
		_, err := c.b.cards.UpdateStatus(ctx, org, ids[0], card.Blocked)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	unblock, err = c.templateChange(ctx, org, ids[0], "", "", func() error {
		_, err := c.b.cards.UpdateStatus(ctx, org, ids[0], card.Normal)
		return err
	})
	return block, unblock, err
}

// bindChange finds the change of a noname card's Bind as the library
// writes it.
func (c *reqCeiling) bindChange(ctx context.Context) (*ceilingChange, error) {
	org := "ceiling-template-" + randomHex(4)
	ids, err := c.b.makeNoname(ctx, org, 1)
	if err != nil {
		return nil, err
	}
	return c.templateChange(ctx, org, ids[0], "1001", "0", func() error {
		_, err := c.b.noname.Bind(ctx, noname.BindRequest{OrgID: org, CardID: ids[0], AccountID: "1001", CustomerID: "0"})
		return err
	})
}

// templateChange runs change, the library's change of card id of org, and
// returns it as the ceiling writes it: the columns that changed, the event
// it appended. account and customer are those change sets, if any; the
// values the ceiling would write are checked against the library's.
func (c *reqCeiling) templateChange(ctx context.Context, org string, id int64, account, customer string, change func() error) (*ceilingChange, error) {
	ph1, ph2 := "?", "?"
	if c.b.kind == "postgres" {
		ph1, ph2 = "$1", "$2"
	}
	var before, after rowTemplate
	if err := c.b.readRow(ctx, &before, "cardcore_cards", "id = "+ph1, id); err != nil {
		return nil, err
	}
	if err := change(); err != nil {
		return nil, err
	}
	if err := c.b.readRow(ctx, &after, "cardcore_cards", "id = "+ph1, id); err != nil {
		return nil, err
	}
	var changed []string
	for i, col := range before.cols {
		if fmt.Sprint(before.vals[i]) != fmt.Sprint(after.vals[i]) {
			if slices.Contains(schemaWrites, col) {
				continue
			}
			if !slices.Contains(ceilingWrites, col) {
				return nil, fmt.Errorf("ceiling: the library's change writes column %s, which the ceiling does not (bench_ceiling_req.go)", col)
			}
			changed = append(changed, col)
		}
	}
	stmts, err := bunstore.CeilingSQL(c.b.kind == "postgres", changed)
	if err != nil {
		return nil, err
	}
	ch := &ceilingChange{sql: stmts, from: fmt.Sprint(before.vals[before.index("status")]),
		to: fmt.Sprint(after.vals[after.index("status")])}
	if stmts.SaveWithEvent == "" { // SQLite; PostgreSQL's is in pgx's statement cache (savePG)
		if ch.update, err = c.b.db.DB.PrepareContext(ctx, stmts.Update); err != nil {
			return nil, fmt.Errorf("prepare %s: %w", stmts.Update, err)
		}
	}
	// The values the ceiling writes are the library's.
	r := c.newRow()
	if err := c.read(ctx, r, org, id); err != nil {
		return nil, err
	}
	*r.status = ch.from
	*r.version--
	args := ch.args(nil, r, org, nil, account, customer)
	for i, col := range stmts.UpdateColumns {
		if want := fmt.Sprint(after.vals[after.index(col)]); col != "updated_at" && fmt.Sprint(args[i]) != want {
			return nil, fmt.Errorf("ceiling: the ceiling writes %s = %v, the library %s", col, args[i], want)
		}
	}
	// The event: the last of the card's.
	var data string
	err = c.b.db.DB.QueryRowContext(ctx, "SELECT event_type, cid, data FROM cardcore_outbox WHERE card_id = "+ph1+
		" AND org_id = "+ph2+" ORDER BY seq DESC LIMIT 1", id, org).Scan(&ch.eventType, &ch.cid, &data)
	if err != nil {
		return nil, err
	}
	// The data cut where the card's id goes: ch.data[0] ends with the
	// key, each later piece starts after the id.
	key := `"card_id":`
	ch.data = strings.Split(data, key+strconv.FormatInt(id, 10)+",")
	if len(ch.data) != 2 {
		return nil, fmt.Errorf("ceiling: the event data %s does not name card %d once", data, id)
	}
	ch.data[0] += key
	ch.data[1] = "," + ch.data[1]
	c.b.log.Info("ceiling change", "from", ch.from, "to", ch.to, "columns", stmts.UpdateColumns,
		"event", ch.eventType, "data_bytes", len(data))
	return ch, nil
}
