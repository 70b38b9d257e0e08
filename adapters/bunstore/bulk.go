package bunstore

import (
	"context"
	"database/sql"
	"math/bits"
	"strings"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
)

// Multi-row inserts, for SaveNew and Append of many events.
//
// bun writes every value of a multi-row INSERT into its SQL text, so each
// batch was a new, large statement: SQLite parsed it again (a quarter of
// the CPU of a bulk start) and PostgreSQL parsed it on the server. These
// statements bind their values instead and are prepared through the
// statement cache, so a batch runs statements its connection has already
// compiled.
//
// SQLite has no array parameters: a batch is written by multi-row INSERTs
// of a few fixed sizes (see bulkTable.sqliteRows). PostgreSQL takes each
// column as one array argument and unnests the arrays, so one statement
// text writes a batch of any size.

// bulkBatch bounds the rows converted and written at a time: on
// PostgreSQL, the rows of one statement. It is above the 1000 of the
// noname use cases, so each of their batches is one statement, and
// bounded, so that a larger slice does not build arrays, and a message to
// the server, of unbounded size.
const bulkBatch = 5000

// bulkTable is a table as the multi-row INSERTs write it.
type bulkTable struct {
	name      string
	cols      []string // the columns written, in argument order
	pgTypes   []string // the PostgreSQL type of each column, for its array
	returning string   // the RETURNING list, or ""
	// sqliteRows is the rows of a full SQLite statement, chosen by
	// measurement (SQLite allows up to 32766 arguments). modernc.org/sqlite
	// finds each argument it binds by a linear search of all of them, so a
	// statement's binding grows with the square of its arguments, while
	// SQLite's own cost per statement (a cursor per index, RETURNING's
	// temporary table) calls for several rows a statement.
	sqliteRows int
}

// cardInsert writes every column of cardcore_cards but id, which the
// database assigns; cardInsertCols are those columns, in cardTable's
// order. 8 rows (328 arguments) a SQLite statement measured best.
var cardInsert, cardInsertCols = func() (*bulkTable, []column) {
	b := &bulkTable{name: "cardcore_cards", returning: "id, token", sqliteRows: 8}
	var cols []column
	for _, c := range cardTable {
		if c.name != "id" {
			b.cols = append(b.cols, c.name)
			b.pgTypes = append(b.pgTypes, pgType(c))
			cols = append(cols, c)
		}
	}
	return b, cols
}()

// cardInsertIDs writes every column of cardcore_cards, id included, and
// last_seq, with no RETURNING: SQLite's cards, whose ids the transaction
// takes itself (takeIDs), as it takes the seqs of their events. A
// RETURNING clause has SQLite build, fill and free a temporary table per
// statement, and modernc.org/sqlite maps and unmaps its pages each time: a
// quarter of the CPU of a bulk start went there. 4 rows (172 arguments) a
// statement measured best of 4, 8 and 16.
var cardInsertIDs = &bulkTable{name: "cardcore_cards", cols: append(append([]string{"id"}, cardInsert.cols...), "last_seq"), sqliteRows: 4}

// eventInsertSeqs writes outbox rows with their seq, on SQLite: the
// events of SaveNew's cards, at the seqs their cards' last_seq already
// name, so that the trigger cardcore_outbox_card_chain has nothing to do.
var eventInsertSeqs = &bulkTable{name: "cardcore_outbox", cols: append([]string{"seq"}, eventInsert.cols...), sqliteRows: 32}

// takeIDs returns, on SQLite, the first of consecutive card ids no card
// ever had (above the highest id and above the AUTOINCREMENT counter, the
// highest id ever given) and the first of consecutive outbox seqs no event
// ever had (above the highest: the purge always keeps the feed's head).
// The transaction holds SQLite's write lock from its start, so no other
// writer takes them; inserting the cards moves the counter past their
// ids.
func (t *txn) takeIDs(ctx context.Context) (id, seq int64, err error) {
	st, err := t.prepare(ctx, `SELECT max(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'cardcore_cards'), 0),
		COALESCE((SELECT max(id) FROM cardcore_cards), 0)) + 1, COALESCE((SELECT max(seq) FROM cardcore_outbox), 0) + 1`)
	if err != nil {
		return 0, 0, err
	}
	err = st.QueryRowContext(ctx).Scan(&id, &seq)
	return id, seq, err
}

// pgType is the PostgreSQL type of a card column, as the migrations create
// it, told by its scan destination.
func pgType(c column) string {
	switch c.dest(&cardRow{}).(type) {
	case stringDest:
		return "text"
	case int64Dest, intDest, optIntDest:
		return "bigint"
	case boolDest:
		return "boolean"
	case timeDest:
		return "timestamptz"
	}
	panic("bunstore: no PostgreSQL type for column " + c.name)
}

// eventInsert writes outbox rows, with the columns of insertEvent in the
// order appendEventArgs gives their arguments. 32 rows (224 arguments) a
// SQLite statement measured best.
var eventInsert = &bulkTable{
	name:       "cardcore_outbox",
	cols:       []string{"event_id", "org_id", "card_id", "event_type", "cid", "occurred_at", "data"},
	pgTypes:    []string{"text", "text", "bigint", "text", "text", "timestamptz", "text"},
	sqliteRows: 32,
}

// insertCards writes the cards of SaveNew: it checks and converts up to
// bulkBatch cards at a time, writes them, and sets their ids. On SQLite
// the transaction takes the ids itself (takeIDs) and writes them with the
// rows, and each card's last_seq is the seq its event is to take: seq
// and after it one a card, in the order of cs (appendEventsAt). On
// PostgreSQL (when COPY is not available, see copyNew) the ids come from
// RETURNING, which is not promised to follow the order of the rows, so
// ids are matched to cards by token, which is unique.
func (t *txn) insertCards(ctx context.Context, cs []card.Card) (seq int64, err error) {
	d := t.s.q.text
	rows := make([]cardRow, 0, min(len(cs), bulkBatch))
	ids := make(map[string]int64, min(len(cs), bulkBatch))
	for start := 0; start < len(cs); start += bulkBatch {
		batch := cs[start:min(start+bulkBatch, len(cs))]
		rows = rows[:0]
		for i := range batch {
			if batch[i].ID != 0 || batch[i].Version != 1 {
				return 0, card.Invalid("version", "a new card has no id and version 1")
			}
			if batch[i].Token == "" {
				batch[i].Token = newToken()
			}
			rows = append(rows, rowOf(&batch[i]))
		}
		if !t.pg {
			first, firstSeq, err := t.takeIDs(ctx)
			if start == 0 {
				seq = firstSeq // no event is written until every card is
			}
			if err == nil {
				err = t.insertRows(ctx, cardInsertIDs, len(rows), func(dst []any, i int) []any {
					dst = append(dst, first+int64(i))
					for _, c := range cardInsertCols {
						dst = append(dst, c.arg(d, &rows[i]))
					}
					return append(dst, seq+int64(start+i))
				}, nil)
			}
			if err != nil {
				return 0, translate(ctx, "insert cards", err)
			}
			for i := range batch {
				batch[i].ID = first + int64(i)
			}
			continue
		}
		clear(ids)
		returned := 0
		err := t.insertRows(ctx, cardInsert, len(rows),
			func(dst []any, i int) []any {
				for _, c := range cardInsertCols {
					dst = append(dst, c.arg(d, &rows[i]))
				}
				return dst
			},
			func(r *sql.Rows) error {
				var id int64
				var token string
				if err := r.Scan(&id, &token); err != nil {
					return err
				}
				ids[token] = id
				returned++
				return nil
			})
		if err != nil {
			return 0, translate(ctx, "insert cards", err)
		}
		for i := range batch {
			id, ok := ids[batch[i].Token]
			if !ok || returned != len(batch) {
				return 0, &storeError{op: "insert cards", msg: "RETURNING did not name every inserted card"}
			}
			batch[i].ID = id
		}
	}
	return seq, nil
}

// appendEvents writes evs to the outbox in order, bulkBatch at a time.
func (t *txn) appendEvents(ctx context.Context, evs []events.Event) error {
	return t.appendEventsAt(ctx, evs, 0)
}

// appendEventsAt is appendEvents, at seq and after it one an event when
// seq is not 0 (on SQLite, the seqs insertCards took).
func (t *txn) appendEventsAt(ctx context.Context, evs []events.Event, seq int64) error {
	table := eventInsert
	if seq != 0 {
		table = eventInsertSeqs
	}
	for start := 0; start < len(evs); start += bulkBatch {
		batch := evs[start:min(start+bulkBatch, len(evs))]
		err := t.insertRows(ctx, table, len(batch), func(dst []any, i int) []any {
			if seq != 0 {
				dst = append(dst, seq+int64(start+i))
			}
			return t.appendEventArgs(dst, &batch[i])
		}, nil)
		if err != nil {
			return translate(ctx, "append events", err)
		}
	}
	return nil
}

// insertRows writes n rows to b, in order: row appends the arguments of
// row i, in b's column order, nil for NULL. When b has a RETURNING list,
// scan reads each row it gives.
func (t *txn) insertRows(ctx context.Context, b *bulkTable, n int, row func(dst []any, i int) []any, scan func(*sql.Rows) error) error {
	if t.pg {
		return t.insertArrays(ctx, b, n, row, scan)
	}
	// A call prepares each of its sizes once: a transaction that runs a
	// statement before the cache holds it (the first bulk after a start)
	// gets a new one from t.prepare each time. Closing leaves the cached
	// statements on their connections and frees the others, which the
	// transaction would otherwise keep to its end.
	stmts := make(map[int]stmt, 2)
	defer func() {
		for _, st := range stmts {
			_ = st.Close()
		}
	}()
	args := make([]any, 0, min(n, b.sqliteRows)*len(b.cols))
	for done := 0; done < n; {
		size := b.sqliteRowsFor(n - done)
		st := stmts[size]
		if st == nil {
			var err error
			if st, err = t.prepare(ctx, t.s.q.text.bulkInsert(b, size)); err != nil {
				return err
			}
			stmts[size] = st
		}
		args = args[:0]
		for i := done; i < done+size; i++ {
			args = row(args, i)
		}
		if err := execBulk(ctx, st, args, scan); err != nil {
			return err
		}
		done += size
	}
	return nil
}

// sqliteRowsFor returns the rows of the next SQLite statement when left
// rows remain: a full statement, else the largest power of two that fits.
// A table thus has at most log2(sqliteRows)+2 statement texts, which the
// statement cache keeps, however its batches are cut.
func (b *bulkTable) sqliteRowsFor(left int) int {
	if left >= b.sqliteRows {
		return b.sqliteRows
	}
	return 1 << (bits.Len(uint(left)) - 1)
}

// insertArrays writes n rows to b on PostgreSQL in one statement, each
// column an array argument. The arrays are []any: pgx (v5, through
// database/sql, which passes the slices to it) encodes a slice of any as
// an array of the parameter's type and each nil element as NULL, so the
// column arguments, NULLs included, are exactly those of the single-row
// statements; no sentinel value stands for NULL.
func (t *txn) insertArrays(ctx context.Context, b *bulkTable, n int, row func(dst []any, i int) []any, scan func(*sql.Rows) error) error {
	cols := make([][]any, len(b.cols))
	for j := range cols {
		cols[j] = make([]any, 0, n)
	}
	vals := make([]any, 0, len(b.cols))
	for i := range n {
		vals = row(vals[:0], i)
		for j, v := range vals {
			cols[j] = append(cols[j], v)
		}
	}
	args := make([]any, len(cols))
	for j := range cols {
		args[j] = cols[j]
	}
	st, err := t.prepare(ctx, t.s.q.text.bulkInsert(b, n))
	if err != nil {
		return err
	}
	defer st.Close()
	return execBulk(ctx, st, args, scan)
}

// execBulk runs st with args, reading the rows it returns with scan when
// scan is not nil.
func execBulk(ctx context.Context, st stmt, args []any, scan func(*sql.Rows) error) error {
	if scan == nil {
		_, err := st.ExecContext(ctx, args...)
		return err
	}
	rs, err := st.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rs.Close()
	for rs.Next() {
		if err := scan(rs); err != nil {
			return err
		}
	}
	return rs.Err()
}

// bulkInsert writes rows rows to b.
//
// On SQLite it is a multi-row VALUES, OR FAIL: a multi-row INSERT that
// may ABORT has SQLite keep a statement journal to undo the statement's
// earlier rows, and for the ten b-trees of a card that journal outgrows
// memory into a temporary file. FAIL keeps the rows written before a
// failing one, as the earlier statements of the batch are kept anyway:
// the caller fails the transaction on an error (storage.Tx.SaveNew;
// the outbox has no unique rule for a row to fail on).
//
// On PostgreSQL, whatever rows is, it inserts from the unnested column
// arrays. unnest gives the elements of its arrays side by side, in array
// order, but an INSERT ... SELECT inserts, and so numbers, its rows in the
// order the SELECT gives them, which only ORDER BY promises: ordering by
// the ordinality keeps the rows, and their ids and seqs, in slice order.
func (d sqlText) bulkInsert(b *bulkTable, rows int) string {
	var s strings.Builder
	cols := strings.Join(b.cols, ", ")
	if d.pg {
		s.WriteString("INSERT INTO " + b.name + " (" + cols + ") SELECT " + cols + " FROM unnest(")
		for j, typ := range b.pgTypes {
			if j > 0 {
				s.WriteString(", ")
			}
			s.WriteString(d.ph(j+1) + "::" + typ + "[]")
		}
		s.WriteString(") WITH ORDINALITY AS u (" + cols + ", ord) ORDER BY ord")
	} else {
		s.WriteString("INSERT OR FAIL INTO " + b.name + " (" + cols + ") VALUES ")
		for i := range rows {
			if i > 0 {
				s.WriteString(", ")
			}
			s.WriteString("(")
			for j := range b.cols {
				if j > 0 {
					s.WriteString(", ")
				}
				s.WriteString(d.ph(i*len(b.cols) + j + 1))
			}
			s.WriteString(")")
		}
	}
	if b.returning != "" {
		s.WriteString(" RETURNING " + b.returning)
	}
	return s.String()
}
