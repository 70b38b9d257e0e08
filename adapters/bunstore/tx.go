package bunstore

import (
	"context"
	"database/sql"
	"strconv"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/storage"
	"github.com/uptrace/bun"
)

// txn is a storage.Tx over a bun transaction; on SQLite it holds the write
// lock from its first statement.
type txn struct {
	s   *Store
	idb bun.IDB // the transaction, for bun's queries (through db)
	tx  *sql.Tx // the same transaction, for prepared statements; nil on a pgx transaction
	pg  bool    // row locks are available
	// conn is the connection the transaction runs on, for COPY; nil on
	// SQLite and in a host's transaction.
	conn *sql.Conn
	// direct is a pgx transaction (pgxtx.go), run by the store on conn;
	// begun is set once its BEGIN is sent.
	direct, begun bool
	// loaded holds the rows as this transaction read or wrote them, so
	// Save writes only the columns that changed: on SQLite an UPDATE of an
	// indexed column rewrites that index even when the value is the same.
	loaded map[int64]cardRow
	// changes are the card changes written, counted once the transaction
	// commits.
	changes []change
	// pending is a save of a pgx transaction not sent yet: it goes with the
	// transaction's next statement, or in one pipeline with its COMMIT
	// (pgxtx.go's saveAndCommit).
	pending *pendingSave
}

var _ storage.Tx = (*txn)(nil)

// lockSQLite takes SQLite's write lock, as the transaction's first
// statement; on PostgreSQL it does nothing.
func (t *txn) lockSQLite(ctx context.Context) error {
	if t.pg {
		return nil
	}
	st, err := t.prepare(ctx, writeLock)
	if err == nil {
		_, err = st.ExecContext(ctx)
	}
	return translate(ctx, "take the write lock", err)
}

// stmtCtx is the context of a statement that t runs once it holds
// SQLite's write lock. On SQLite such a statement waits for nothing: the
// write lock is taken by the transaction's first statement (lockSQLite,
// which keeps ctx), and reads and writes of the pages are in-process. It
// runs without ctx's cancellation, so that modernc does not start a
// goroutine per statement to watch ctx, nor database/sql one per row set:
// they were about a tenth of a status update's allocations. The
// transaction still ends with ctx: database/sql rolls it back when ctx is
// done, and its next statement or its commit fails. On PostgreSQL, where a
// statement waits for row locks and the network, ctx is kept.
func (t *txn) stmtCtx(ctx context.Context) context.Context {
	if t.pg {
		return ctx
	}
	return context.WithoutCancel(ctx)
}

func (t *txn) lock() string {
	if t.pg {
		return "UPDATE"
	}
	return "" // the SQLite transaction already holds the write lock
}

func (t *txn) Card(ctx context.Context, org string, id int64) (card.Card, error) {
	var r cardRow
	var c card.Card
	var scanned, ok bool
	var err error
	if err := t.flush(ctx); err != nil {
		return card.Card{}, err
	}
	if t.direct && !t.begun {
		r, c, scanned, err = t.beginAndReadCard(ctx, t.s.q.cardLocked, org, id)
		ok = true
	} else if t.conn != nil && !t.s.notPgx.Load() {
		if r, c, scanned, ok, err = pgxCard(ctx, t.conn, t.s.q.cardLocked, org, id); !ok {
			t.s.notPgx.Store(true)
		}
	}
	if !ok {
		st, perr := t.prepare(ctx, t.s.q.cardLocked)
		if perr != nil {
			return card.Card{}, translate(ctx, "read card", perr)
		}
		r, c, scanned, err = t.s.q.text.scanCard(st.QueryRowContext(t.stmtCtx(ctx), org, id))
	}
	if err != nil {
		if !scanned {
			err = notFound(ctx, "card", strconv.FormatInt(id, 10), err)
		}
		return card.Card{}, err
	}
	t.remember(r)
	return c, nil
}

// prepare returns query prepared in the transaction; on a pgx transaction
// it begins the transaction first, and the statement is a connStmt.
func (t *txn) prepare(ctx context.Context, query string) (stmt, error) {
	if t.direct {
		if err := t.begin(ctx); err != nil {
			return nil, err
		}
		return connStmt{conn: t.conn, query: query}, nil
	}
	return t.s.stmts.inTx(ctx, t.tx, query)
}

func (t *txn) CardByToken(ctx context.Context, org, token string) (card.Card, error) {
	db, err := t.db(ctx)
	if err != nil {
		return card.Card{}, err
	}
	var r cardRow
	return t.loadLocked(ctx, tokenQuery(db, &r, org, token), &r, "card", token)
}

func (t *txn) CardByLast4(ctx context.Context, org, account, customer, last4 string) (card.Card, error) {
	db, err := t.db(ctx)
	if err != nil {
		return card.Card{}, err
	}
	var r cardRow
	return t.loadLocked(ctx, syncedQuery(db, &r, org, account, customer, last4), &r,
		"synced card", account+"/"+customer+"/"+last4)
}

// loadLocked runs q, which reads one card into r, locking it, and
// remembers the row for Save; kind and id name the card when it is not
// found.
func (t *txn) loadLocked(ctx context.Context, q *bun.SelectQuery, r *cardRow, kind, id string) (card.Card, error) {
	if lock := t.lock(); lock != "" {
		q = q.For(lock)
	}
	if err := q.Scan(ctx); err != nil {
		return card.Card{}, notFound(ctx, kind, id, err)
	}
	t.remember(*r)
	return r.card()
}

// tokenQuery reads the card of a token through the unique index
// cardcore_cards_token.
func tokenQuery(db bun.IDB, dst *cardRow, org, token string) *bun.SelectQuery {
	return db.NewSelect().Model(dst).Where("token = ? AND org_id = ?", token, org)
}

// syncedQuery reads the synced card of a key through the partial unique
// index cardcore_cards_synced; the predicate is written as in the index so
// SQLite uses it.
func syncedQuery(db bun.IDB, dst *cardRow, org, account, customer, last4 string) *bun.SelectQuery {
	return db.NewSelect().Model(dst).
		Where("org_id = ? AND account_id = ? AND customer_id = ? AND last4 = ?", org, account, customer, last4).
		Where("synced")
}

func (t *txn) remember(r cardRow) {
	if t.loaded == nil {
		t.loaded = make(map[int64]cardRow, 2)
	}
	t.loaded[r.ID] = r
}

func (t *txn) Successor(ctx context.Context, org string, id int64) (card.Card, error) {
	db, err := t.db(ctx)
	if err != nil {
		return card.Card{}, err
	}
	var r cardRow
	err = db.NewSelect().Model(&r).Where("org_id = ? AND reissued_card_id = ?", org, id).Scan(ctx)
	if err != nil {
		return card.Card{}, notFound(ctx, "successor of card", strconv.FormatInt(id, 10), err)
	}
	return r.card()
}

func (t *txn) VirtualAliasTaken(ctx context.Context, org, customer, name string) (bool, error) {
	db, err := t.db(ctx)
	if err != nil {
		return false, err
	}
	ok, err := db.NewSelect().Model((*cardRow)(nil)).
		Where("org_id = ? AND customer_id = ? AND alias_key = ?", org, customer, name).Exists(ctx)
	return ok, translate(ctx, "check alias", err)
}

// Save inserts a card without an ID and otherwise saves it over its stored
// version, with the event of its change. On PostgreSQL the save of a
// stored card and its event are one statement (saveWithEvent); on SQLite,
// where a statement costs no round trip, they are two (saveSQLite).
func (t *txn) Save(ctx context.Context, c *card.Card, ch events.Change) error {
	if c.ID == 0 {
		return t.insert(ctx, c, ch)
	}
	u := t.cardUpdate(c)
	e, err := ch.For(ctx, c)
	if err != nil {
		return err
	}
	switch {
	case t.direct && u.read:
		err = t.deferSave(ctx, u, t.appendEventArgs(u.args, &e))
	case t.pg:
		err = u.run(ctx, t, t.s.q.save(saveAndEvent, u.cols), t.appendEventArgs(u.args, &e))
	default:
		err = t.saveSQLite(ctx, &u, &e)
	}
	if err != nil {
		return err
	}
	to := c.Status
	if u.from.IsZero() {
		to = card.Status{} // a card saved without being read: its change of status is unknown
	}
	t.changed(ch.Operation, u.from, to)
	return nil
}

// insert stores a new card, sets its ID (and its Token when empty), and
// appends the event of its creation.
func (t *txn) insert(ctx context.Context, c *card.Card, ch events.Change) error {
	if c.Version != 1 {
		return card.Invalid("version", "a new card has no id and version 1")
	}
	if c.Token == "" {
		c.Token = newToken()
	}
	db, err := t.db(ctx)
	if err != nil {
		return err
	}
	r := rowOf(c)
	if _, err := db.NewInsert().Model(&r).Returning("id").Exec(ctx); err != nil {
		return translate(ctx, "insert card", err)
	}
	c.ID = r.ID
	t.remember(r)
	e, err := ch.For(ctx, c)
	if err != nil {
		return err
	}
	if err := t.appendOne(ctx, &e); err != nil {
		return err
	}
	t.changed(ch.Operation, card.Status{}, c.Status)
	return nil
}

// SaveNew inserts the cards with the multi-row statements of insertCards,
// then their events with those of Append; on SQLite at the seqs the cards'
// last_seq name (insertCards).
func (t *txn) SaveNew(ctx context.Context, cs []card.Card, ch events.Change) error {
	if len(cs) == 0 {
		return nil
	}
	if copied, err := t.copyNew(ctx, cs, ch); copied || err != nil {
		return err
	}
	seq, err := t.insertCards(ctx, cs)
	if err != nil {
		return err
	}
	evs := make([]events.Event, len(cs))
	for i := range cs {
		e, err := ch.For(ctx, &cs[i])
		if err != nil {
			return err
		}
		evs[i] = e
		t.changed(ch.Operation, card.Status{}, cs[i].Status)
	}
	if seq != 0 {
		return t.appendEventsAt(ctx, evs, seq)
	}
	return t.Append(ctx, evs...)
}

// saveSQLite writes u, then its event e. When the transaction knows the
// card's last_seq (it read the card, and wrote no event of it since but
// through Save), the save is chained: the UPDATE sets the card's last_seq
// to the seq of e, and e is written at that seq linked to the card's
// previous event (updateCardChained, insertEventChained), so the outbox's
// trigger, which would update both rows once more, has nothing to do (it
// measured 1-5% of a status update or a bind). The chained UPDATE changes the card
// only while its last_seq is the one known: when it changes nothing (a
// conflict, or an event of the card written in the transaction past the
// store, as a host's own SQL may), the save is sent again unchained, and
// the trigger keeps the chain.
func (t *txn) saveSQLite(ctx context.Context, u *cardUpdate, e *events.Event) error {
	if u.row.chain.known {
		st, err := t.prepare(ctx, t.s.q.save(chainedSave, u.cols))
		if err != nil {
			return translate(ctx, "save card", err)
		}
		res, err := st.ExecContext(t.stmtCtx(ctx), append(u.args, u.row.chain.seq)...)
		if err != nil {
			return translate(ctx, "save card", err)
		}
		if n, err := res.RowsAffected(); err == nil && n == 1 {
			return t.appendChained(ctx, u, e)
		}
		u.row.chain = chainLink{}
	}
	if err := u.run(ctx, t, t.s.q.save(plainSave, u.cols), u.args); err != nil {
		return err
	}
	return t.appendOne(ctx, e)
}

// appendChained writes e, the event of u's chained save, at the seq the
// UPDATE gave the card's last_seq, linked to the card's last_seq before
// it, and remembers the card with its new last_seq.
func (t *txn) appendChained(ctx context.Context, u *cardUpdate, e *events.Event) error {
	st, err := t.prepare(ctx, t.s.q.eventChained)
	if err != nil {
		return translate(ctx, "append events", err)
	}
	var args [eventArgs + 1]any
	res, err := st.ExecContext(t.stmtCtx(ctx), append(t.appendEventArgs(args[:0], e), u.row.chain.seq)...)
	if err != nil {
		return translate(ctx, "append events", err)
	}
	seq, err := res.LastInsertId()
	u.row.chain = chainLink{seq: sql.NullInt64{Int64: seq, Valid: true}, known: err == nil}
	t.remember(u.row)
	return nil
}

// cardUpdate is the UPDATE that saves a card: the columns that changed
// since the transaction read the card (all of them for a card it did not
// read), then id, org and the version it must still have.
type cardUpdate struct {
	row  cardRow
	cols []int
	args []any
	from card.Status // the status the transaction read, zero when it did not read the card
	// read is set when the transaction read the card (locked, on
	// PostgreSQL) or wrote it, at the version before this save's.
	read bool
}

func (t *txn) cardUpdate(c *card.Card) cardUpdate {
	u := cardUpdate{row: rowOf(c), cols: mutableColumns}
	if old, ok := t.loaded[c.ID]; ok && old.OrgID == c.OrgID && old.Version == c.Version-1 {
		u.cols = changedColumns(&old, &u.row)
		u.row.chain = old.chain
		u.from, _ = card.ParseStatus(old.Status)
		u.read = true
	}
	u.args = make([]any, 0, len(u.cols)+3+eventArgs)
	for _, i := range u.cols {
		u.args = append(u.args, cardTable[i].arg(t.s.q.text, &u.row))
	}
	u.args = append(u.args, c.ID, c.OrgID, c.Version-1)
	return u
}

// run sends query, an UPDATE of u's card (with more, as saveWithEvent
// does), which must change exactly one row.
func (u *cardUpdate) run(ctx context.Context, t *txn, query string, args []any) error {
	st, err := t.prepare(ctx, query)
	if err != nil {
		return translate(ctx, "save card", err)
	}
	res, err := st.ExecContext(t.stmtCtx(ctx), args...)
	if err != nil {
		return translate(ctx, "save card", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return u.conflict()
	}
	u.row.chain = chainLink{} // its event's trigger moves the card's last_seq
	t.remember(u.row)
	return nil
}

// conflict is the error of u when it changed no card.
func (u *cardUpdate) conflict() error {
	return &card.ConflictError{CardID: u.row.ID, Operation: "save",
		Reason: "the card changed concurrently (version " + strconv.FormatInt(u.row.Version-1, 10) + " is not the stored one)"}
}

// eventArgs is the number of arguments of one outbox row.
const eventArgs = 7

// appendEventArgs appends the arguments of e's outbox row, in insertEvent's
// column order.
func (t *txn) appendEventArgs(args []any, e *events.Event) []any {
	var cardID any
	if e.CardID != 0 {
		cardID = e.CardID
	}
	return append(args, e.ID, e.OrgID, cardID, string(e.Type), e.CID, t.s.q.text.time(e.Timestamp, false), string(e.Data))
}

// appendOneByOne is the most events Append writes with the prepared
// single-row INSERT; more go in multi-row statements.
const appendOneByOne = 4

func (t *txn) Append(ctx context.Context, evs ...events.Event) error {
	if len(evs) == 0 {
		return nil
	}
	t.unchain(evs)
	if len(evs) > appendOneByOne {
		return t.appendEvents(ctx, evs)
	}
	st, err := t.prepare(ctx, t.s.q.event)
	if err != nil {
		return translate(ctx, "append events", err)
	}
	for i := range evs {
		if err := t.execEvent(ctx, st, &evs[i]); err != nil {
			return err
		}
	}
	return nil
}

// unchain forgets the last_seq of the remembered cards evs name: the
// outbox's trigger moves it when their events are written.
func (t *txn) unchain(evs []events.Event) {
	for i := range evs {
		if r, ok := t.loaded[evs[i].CardID]; ok && r.chain.known && r.OrgID == evs[i].OrgID {
			r.chain = chainLink{}
			t.loaded[r.ID] = r
		}
	}
}

// appendOne writes e with the prepared single-row INSERT.
func (t *txn) appendOne(ctx context.Context, e *events.Event) error {
	st, err := t.prepare(ctx, t.s.q.event)
	if err != nil {
		return translate(ctx, "append events", err)
	}
	return t.execEvent(ctx, st, e)
}

// execEvent runs st, the single-row INSERT of the outbox, for e.
func (t *txn) execEvent(ctx context.Context, st stmt, e *events.Event) error {
	var args [eventArgs]any
	_, err := st.ExecContext(t.stmtCtx(ctx), t.appendEventArgs(args[:0], e)...)
	return translate(ctx, "append events", err)
}

func (t *txn) Due(ctx context.Context, org string, now time.Time, limit int) ([]card.Card, error) {
	if limit <= 0 {
		return nil, card.Invalid("limit", "must be positive")
	}
	db, err := t.db(ctx)
	if err != nil {
		return nil, err
	}
	var expired []cardRow
	if err := t.scopeDue(expiredQuery(db, &expired, now, limit), org).Scan(ctx); err != nil {
		return nil, translate(ctx, "find expired cards", err)
	}
	rows := expired
	if len(rows) < limit {
		var elapsed []cardRow
		if err := t.scopeDue(elapsedQuery(db, &elapsed, now, limit-len(rows)), org).Scan(ctx); err != nil {
			return nil, translate(ctx, "find cards past validity", err)
		}
		rows = append(rows, elapsed...)
	}
	return cardsOf(rows)
}

// scopeDue limits a due query to org unless it is "" (still through the
// due index, the org filtered on its rows), and locks the due cards it
// reads on PostgreSQL, skipping those another sweep holds.
func (t *txn) scopeDue(q *bun.SelectQuery, org string) *bun.SelectQuery {
	if org != "" {
		q = q.Where("org_id = ?", org)
	}
	if t.pg {
		return q.For("UPDATE SKIP LOCKED")
	}
	return q
}

// expiredQuery reads cards whose expiration month is over, through the
// partial index cardcore_cards_expiry; expiry_due is set only on cards that
// are not terminated.
func expiredQuery(db bun.IDB, dst *[]cardRow, now time.Time, limit int) *bun.SelectQuery {
	return db.NewSelect().Model(dst).
		Where("expiry_due IS NOT NULL AND expiry_due < ?", card.MonthOf(now)).
		OrderExpr("expiry_due, id").Limit(int64(limit))
}

// elapsedQuery reads cards whose validity period is over, through the
// partial index cardcore_cards_validity; validity_due is set only in the
// statuses the rule applies to. Cards past their expiration month
// are expiredQuery's: leaving them out keeps the two results apart, so a
// batch is short only when no more cards are due (the sweep stops on a
// short batch).
func elapsedQuery(db bun.IDB, dst *[]cardRow, now time.Time, limit int) *bun.SelectQuery {
	return db.NewSelect().Model(dst).
		Where("validity_due IS NOT NULL AND validity_due <= ?", utc(now)).
		Where("(expiration_date IS NULL OR expiration_date >= ?)", card.MonthOf(now)).
		OrderExpr("validity_due, id").Limit(int64(limit))
}

func (t *txn) Claim(ctx context.Context, key storage.IdempotencyKey, fingerprint string) (storage.IdempotencyRecord, bool, error) {
	db, err := t.db(ctx)
	if err != nil {
		return storage.IdempotencyRecord{}, false, err
	}
	r := idempotencyRow{OrgID: key.OrgID, Scope: key.Scope, Key: key.Key, Fingerprint: fingerprint, CreatedAt: utc(time.Now())}
	res, err := db.NewInsert().Model(&r).On("CONFLICT DO NOTHING").Exec(ctx)
	if err != nil {
		return storage.IdempotencyRecord{}, false, translate(ctx, "claim idempotency key", err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 1 {
		return storage.IdempotencyRecord{Fingerprint: fingerprint, CreatedAt: r.CreatedAt}, true, nil
	}
	var got idempotencyRow
	err = db.NewSelect().Model(&got).
		Where("org_id = ? AND scope = ? AND key = ?", key.OrgID, key.Scope, key.Key).Scan(ctx)
	if err != nil {
		return storage.IdempotencyRecord{}, false, translate(ctx, "read idempotency key", err)
	}
	return storage.IdempotencyRecord{Fingerprint: got.Fingerprint, Result: got.Result, CreatedAt: utc(got.CreatedAt)}, false, nil
}

func (t *txn) Complete(ctx context.Context, key storage.IdempotencyKey, result []byte) error {
	db, err := t.db(ctx)
	if err != nil {
		return err
	}
	res, err := db.NewUpdate().Model((*idempotencyRow)(nil)).Set("result = ?", result).
		Where("org_id = ? AND scope = ? AND key = ?", key.OrgID, key.Scope, key.Key).Exec(ctx)
	if err != nil {
		return translate(ctx, "complete idempotency key", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return card.NotFound("idempotency key", key.Key)
	}
	return nil
}
