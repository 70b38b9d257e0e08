package bunstore

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/jackc/pgx/v5/pgconn"
)

// Prepared statements for the hot paths.
//
// bun formats every argument into the SQL text, so each statement it sends
// is new to the database: SQLite parses and plans it again (most of the CPU
// of a card read) and PostgreSQL parses and plans it on the server. The
// statements every request runs (read a card, save it, append its events,
// take SQLite's write lock) are instead prepared once and run with bound
// arguments. They are written here by hand, on the same tables and columns
// as the bun models, and bypass bun's query hooks.

// stmtCache holds statements prepared on the pool, by SQL text.
// database/sql prepares a pool statement again on each connection that
// runs it and keeps it there, so a transaction reuses what an earlier one
// on the same connection prepared.
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
	// wanted holds texts a transaction needed before they were cached; the
	// next Update prepares them on the pool before it begins.
	wanted  map[string]bool
	nwanted atomic.Int32
}

// maxStmts bounds the cache. The texts are the store's own, a few dozen in
// all (one UPDATE per set of changed columns); past the bound a statement
// is prepared for its transaction only.
const maxStmts = 256

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: make(map[string]*sql.Stmt), wanted: make(map[string]bool)}
}

// get returns the pool statement for query, preparing it on first use.
// It takes a connection from the pool, so it must not be called by a
// transaction (see inTx).
func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	st := c.m[query]
	c.mu.Unlock()
	if st != nil {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	// c.mu guards the maps only: closing a statement takes the locks of
	// the connections it was prepared on, which transactions hold while
	// they wait for c.mu in inTx, so it is closed after c.mu is released.
	c.mu.Lock()
	old := c.m[query]
	if old == nil {
		c.m[query] = st // texts are bounded: fixed ones, and wanted under maxStmts
		delete(c.wanted, query)
		c.nwanted.Store(int32(len(c.wanted)))
	}
	c.mu.Unlock()
	if old != nil {
		_ = st.Close()
		return old, nil
	}
	return st, nil
}

// inTx returns query prepared for tx. A cached statement is reused on tx's
// connection. An uncached one is prepared on tx's connection for this
// transaction only, and wanted: a transaction holds a connection, so
// waiting here for another one to prepare it on the pool could deadlock a
// full pool.
func (c *stmtCache) inTx(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	st := c.m[query]
	if st == nil && len(c.m)+len(c.wanted) < maxStmts {
		c.wanted[query] = true
		c.nwanted.Store(int32(len(c.wanted)))
	}
	c.mu.Unlock()
	if st != nil {
		return tx.StmtContext(ctx, st), nil
	}
	return tx.PrepareContext(ctx, query)
}

// warm prepares the wanted statements on the pool. Update calls it before
// it begins a transaction; a failure leaves them to be prepared per
// transaction.
func (c *stmtCache) warm(ctx context.Context) {
	if c.nwanted.Load() == 0 {
		return
	}
	c.mu.Lock()
	texts := make([]string, 0, len(c.wanted))
	for q := range c.wanted {
		texts = append(texts, q)
	}
	c.mu.Unlock()
	for _, q := range texts {
		if _, err := c.get(ctx, q); err != nil {
			c.mu.Lock()
			delete(c.wanted, q)
			c.nwanted.Store(int32(len(c.wanted)))
			c.mu.Unlock()
			return
		}
	}
}

// sqlText writes the store's statements for one dialect: placeholders are
// ? on SQLite and $n on PostgreSQL, and times are sent as bun writes them
// (text on SQLite, so stored values compare as bun's do).
type sqlText struct{ pg bool }

// ph returns the placeholder of the n-th argument, from 1.
func (d sqlText) ph(n int) string {
	if d.pg {
		return "$" + strconv.Itoa(n)
	}
	return "?"
}

// sqliteTime is bun's format of a time on SQLite.
const sqliteTime = "2006-01-02 15:04:05.999999-07:00"

// time returns the argument for a time column; nullable columns store the
// zero time as NULL.
func (d sqlText) time(t time.Time, nullable bool) any {
	if nullable && t.IsZero() {
		return nil
	}
	if d.pg {
		return utc(t)
	}
	return utc(t).Format(sqliteTime)
}

// queries are the store's prepared statement texts for its dialect.
type queries struct {
	text       sqlText
	card       string // a card by org and id
	cardLocked string // the same, locked for the transaction
	event      string // one outbox row
	// eventChained is one outbox row of SQLite's chained save, at the next
	// seq with its prev_seq; "" on PostgreSQL.
	eventChained string
	saves        *saveTexts
}

// A save's statement: updateCard, updateCardChained or saveWithEvent.
const (
	plainSave = iota
	chainedSave
	saveAndEvent
	saveAndEventChecked
)

// saveTexts holds the texts of the save statements by kind and columns, so
// a save does not write its statement's text again (a few dozen texts in
// all: one per set of changed columns).
type saveTexts struct {
	mu sync.Mutex
	m  map[saveKey]string
}

// saveKey is a save statement's kind and its columns, as a set of
// cardTable's indexes.
type saveKey struct {
	kind uint8
	cols uint64
}

// save returns the text of the save statement of kind for cols.
func (q queries) save(kind uint8, cols []int) string {
	k := saveKey{kind: kind}
	for _, c := range cols {
		k.cols |= 1 << c // cardTable has fewer than 64 columns (TestSaveTexts)
	}
	q.saves.mu.Lock()
	text, ok := q.saves.m[k]
	q.saves.mu.Unlock()
	if ok {
		return text
	}
	switch kind {
	case plainSave:
		text = q.text.updateCard(cols)
	case chainedSave:
		text = q.text.updateCardChained(cols)
	case saveAndEventChecked:
		text = q.text.saveWithEventChecked(cols)
	default:
		text = q.text.saveWithEvent(cols)
	}
	q.saves.mu.Lock()
	q.saves.m[k] = text
	q.saves.mu.Unlock()
	return text
}

func newQueries(pg bool) queries {
	d := sqlText{pg: pg}
	q := queries{text: d, card: d.selectCard(false), cardLocked: d.selectCard(true), event: d.insertEvent(),
		saves: &saveTexts{m: make(map[saveKey]string)}}
	if !pg {
		q.eventChained = d.insertEventChained()
	}
	return q
}

// scanCard reads the row of a selectCard query: the card, and its row as
// stored, with its last_seq on SQLite. The keys derived from the status
// are not read but derived again, as every write derives them. A card of
// names it does not know is an error, returned with scanned = true.
func (d sqlText) scanCard(row interface{ Scan(dest ...any) error }) (r cardRow, c card.Card, scanned bool, err error) {
	var dests [45]any
	ds := cardDests(&r, dests[:0])
	if !d.pg {
		ds = append(ds, &r.chain.seq)
	}
	if err := row.Scan(ds...); err != nil {
		return r, c, false, err
	}
	r.chain.known = !d.pg
	return finishCard(r)
}

// finishCard converts r, a card's row as read, to its card, and derives
// r's keys again (scanCard); an error is returned with scanned = true.
func finishCard(r cardRow) (_ cardRow, c card.Card, scanned bool, err error) {
	if c, err = r.card(); err != nil {
		return r, c, true, err
	}
	r.derive(&c)
	return r, c, true, nil
}

// selectCard reads one card by org and id, locked on PostgreSQL when lock.
// On SQLite it reads the card's last_seq too, after the card's columns,
// for the chained save.
func (d sqlText) selectCard(lock bool) string {
	cols := cardColumnList
	if !d.pg {
		cols = sqliteCardColumnList + ", " + bareColumn("last_seq")
	}
	q := "SELECT " + cols + " FROM cardcore_cards WHERE org_id = " + d.ph(1) + " AND id = " + d.ph(2)
	if lock && d.pg {
		q += " FOR UPDATE"
	}
	return q
}

// updateCard sets cols of one card over its previous version; the
// arguments are the values of cols, then id, org and the previous version.
func (d sqlText) updateCard(cols []int) string {
	var b strings.Builder
	b.WriteString("UPDATE cardcore_cards SET ")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(cardTable[c].name)
		b.WriteString(" = ")
		b.WriteString(d.ph(i + 1))
	}
	n := len(cols)
	b.WriteString(" WHERE id = " + d.ph(n+1) + " AND org_id = " + d.ph(n+2) + " AND version = " + d.ph(n+3))
	return b.String()
}

// nextSeq is the seq the next event of the SQLite outbox takes: seq is a
// plain rowid, and the purge always keeps the feed's head (migration
// outbox_rowid), so max(seq) is the highest seq ever committed.
const nextSeq = "(SELECT COALESCE(max(seq), 0) + 1 FROM cardcore_outbox)"

// updateCardChained is updateCard on SQLite for a card whose last_seq the
// transaction knows (the chained save): it also sets the card's last_seq
// to the seq its event is to take, and changes the card only while its
// last_seq is still the one known, the last argument. insertEventChained
// then writes the event at that seq, linked to the known one, and the
// outbox's trigger cardcore_outbox_card_chain, which would otherwise
// update the event and the card again, has nothing to do.
func (d sqlText) updateCardChained(cols []int) string {
	q := d.updateCard(cols)
	where := strings.Index(q, " WHERE ")
	return q[:where] + ", last_seq = " + nextSeq + q[where:] + " AND last_seq IS ?"
}

// insertEventChained is insertEvent at the next seq, with prev_seq, the
// card's last_seq before its change, as an eighth argument (SQLite only).
func (d sqlText) insertEventChained() string {
	return "INSERT INTO cardcore_outbox (seq, event_id, org_id, card_id, event_type, cid, occurred_at, data, prev_seq) VALUES (" +
		nextSeq + ", ?, ?, ?, ?, ?, ?, ?, ?)"
}

// insertEvent appends one event to the outbox.
func (d sqlText) insertEvent() string {
	return "INSERT INTO cardcore_outbox (event_id, org_id, card_id, event_type, cid, occurred_at, data) VALUES (" +
		d.ph(1) + ", " + d.ph(2) + ", " + d.ph(3) + ", " + d.ph(4) + ", " + d.ph(5) + ", " + d.ph(6) + ", " + d.ph(7) + ")"
}

// saveWithEvent is updateCard(cols) and insertEvent in one PostgreSQL
// statement, the event's arguments after the UPDATE's. The event's row is
// inserted only when the UPDATE changed the card, so the statement's row
// count is the UPDATE's.
func (d sqlText) saveWithEvent(cols []int) string {
	return "WITH saved AS (" + d.updateCard(cols) + " RETURNING id) " + d.eventOfSaved(cols)
}

// eventOfSaved is the INSERT of saveWithEvent: the event's row, once for
// the card saved.
func (d sqlText) eventOfSaved(cols []int) string {
	return "INSERT INTO cardcore_outbox (event_id, org_id, card_id, event_type, cid, occurred_at, data) SELECT " +
		strings.Join(d.eventParams(cols), ", ") + " FROM saved"
}

// eventParams are the placeholders of a save's event, typed, after the
// UPDATE's arguments for cols.
func (d sqlText) eventParams(cols []int) []string {
	n := len(cols) + 3
	ps := make([]string, len(eventInsert.pgTypes))
	for i, typ := range eventInsert.pgTypes {
		ps[i] = d.ph(n+1+i) + "::" + typ
	}
	return ps
}

// saveWithEventChecked is saveWithEvent that fails when it saves no card,
// which aborts the transaction. A save sent in one pipeline with the COMMIT
// (pgxtx.go's saveAndCommit) cannot be checked before the COMMIT runs:
// without this, a card that changed concurrently would let the rest of its
// transaction commit without the save. The event's id is read from the
// card saved, (SELECT $n FROM saved), which is NULL when the UPDATE saved
// nothing: a not_null_violation on event_id (savedNothing). It costs
// PostgreSQL less than counting the rows appended (an aggregate over a
// second CTE): each node of the plan is built again on every execution.
func (d sqlText) saveWithEventChecked(cols []int) string {
	ps := d.eventParams(cols)
	ps[0] = "(SELECT " + ps[0] + " FROM saved)" // event_id
	return "WITH saved AS (" + d.updateCard(cols) + " RETURNING id) " +
		"INSERT INTO cardcore_outbox (event_id, org_id, card_id, event_type, cid, occurred_at, data) VALUES (" +
		strings.Join(ps, ", ") + ")"
}

// savedNothing reports whether err is saveWithEventChecked's failure when
// it saved no card.
func savedNothing(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "23502" && pg.TableName == "cardcore_outbox" && pg.ColumnName == "event_id"
}

// writeLock is the first statement of a SQLite write transaction: a write
// that changes nothing takes the database's write lock, as BEGIN IMMEDIATE
// does, whatever the DSN's transaction mode. From then on the transaction
// never fails upgrading a read lock, and other writers wait in the busy
// handler for it to end.
const writeLock = "UPDATE cardcore_cards SET version = version WHERE 0"
