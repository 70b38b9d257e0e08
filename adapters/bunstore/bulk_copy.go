package bunstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/storage"
	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"
)

// COPY, for the cards of SaveNew on PostgreSQL.
//
// COPY is PostgreSQL's fastest way in: rows stream in one protocol
// message sequence, with no statement per batch and no arrays to build
// and unnest. It gives nothing back, so the cards' ids are taken from
// their identity sequence first (nextval, as the column's default would)
// and written with the rows; the events then follow by a second COPY.
//
// database/sql has no COPY: the store reaches pgx's own connection, the
// one the transaction runs on, through sql.Conn.Raw, when the host opened
// the database with pgx's database/sql driver (github.com/jackc/pgx/v5/stdlib,
// whose driver connection has Conn() *pgx.Conn). Only that interface is
// checked, so the store imports pgx's API and no driver: with another
// driver, or in a host's transaction (InTx), SaveNew writes the unnested
// arrays of insertRows.

// copyMin is the fewest cards SaveNew writes with COPY: it costs a few
// round trips of its own (the ids, and pgx asks for each table's column
// types), which the arrays of insertRows do not.
const copyMin = 64

// pgxConner is the driver connection of pgx/v5/stdlib.
type pgxConner interface {
	driver.Conn
	Conn() *pgx.Conn
}

// nextIDs takes n ids from cardcore_cards' identity sequence.
const nextIDs = `WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence('cardcore_cards', 'id')::regclass AS seq)
SELECT nextval(s.seq) FROM s, generate_series(1, $1)`

// copyNew writes cs and the events ch describes of them with COPY, as
// SaveNew does, and reports whether it could: false, with nothing
// written, when the transaction's connection is not pgx's.
func (t *txn) copyNew(ctx context.Context, cs []card.Card, ch events.Change) (bool, error) {
	if !t.pg || t.conn == nil || len(cs) < copyMin {
		return false, nil
	}
	if err := t.begin(ctx); err != nil {
		return false, err
	}
	copied := false
	err := t.conn.Raw(func(dc any) error {
		pc, ok := dc.(pgxConner)
		if !ok {
			return nil
		}
		copied = true
		return t.copyOn(ctx, pc.Conn(), cs, ch)
	})
	return copied, err
}

// copyOn is copyNew on pgx's connection c.
func (t *txn) copyOn(ctx context.Context, c *pgx.Conn, cs []card.Card, ch events.Change) error {
	for i := range cs {
		if cs[i].ID != 0 || cs[i].Version != 1 {
			return card.Invalid("version", "a new card has no id and version 1")
		}
	}
	rows, err := c.Query(ctx, nextIDs, len(cs))
	if err != nil {
		return translate(ctx, "take card ids", err)
	}
	n := 0
	for rows.Next() {
		if n < len(cs) {
			err = rows.Scan(&cs[n].ID)
		}
		n++
		if err != nil {
			break
		}
	}
	rows.Close()
	if err == nil {
		err = rows.Err()
	}
	if err == nil && n != len(cs) {
		err = &storeError{op: "take card ids", msg: "the sequence gave a wrong number of ids"}
	}
	if err != nil {
		return translate(ctx, "take card ids", err)
	}
	d := t.s.q.text
	cols := append([]string{"id"}, cardInsert.cols...)
	var row cardRow
	vals := make([]any, 0, len(cols))
	_, err = c.CopyFrom(ctx, pgx.Identifier{cardInsert.name}, cols, pgx.CopyFromSlice(len(cs), func(i int) ([]any, error) {
		if cs[i].Token == "" {
			cs[i].Token = newToken()
		}
		row = rowOf(&cs[i])
		vals = append(vals[:0], row.ID)
		for _, col := range cardInsertCols {
			vals = append(vals, col.arg(d, &row))
		}
		return vals, nil
	}))
	if err != nil {
		return translate(ctx, "copy cards", err)
	}
	var e events.Event
	_, err = c.CopyFrom(ctx, pgx.Identifier{eventInsert.name}, eventInsert.cols, pgx.CopyFromSlice(len(cs), func(i int) ([]any, error) {
		var err error
		if e, err = ch.For(ctx, &cs[i]); err != nil {
			return nil, err
		}
		t.changed(ch.Operation, card.Status{}, cs[i].Status)
		return t.appendEventArgs(vals[:0], &e), nil
	}))
	return translate(ctx, "copy events", err)
}

// lazyCommit has a PostgreSQL transaction of a context marked by
// storage.WithLazyCommit commit without waiting for the WAL's flush
// (SET LOCAL synchronous_commit = off: this transaction only). On SQLite
// it does nothing: a connection's synchronous setting would outlive the
// transaction.
func (t *txn) lazyCommit(ctx context.Context) error {
	if !t.pg || !storage.LazyCommit(ctx) {
		return nil
	}
	st, err := t.prepare(ctx, "SET LOCAL synchronous_commit = off")
	if err == nil {
		_, err = st.ExecContext(ctx)
	}
	return translate(ctx, "set synchronous_commit", err)
}

// beginOnConn begins a transaction on a connection of its own, so that
// copyNew can reach it. database/sql's BeginTx on the pool takes another
// connection when the driver reports a bad one (driver.ErrBadConn, a
// connection the server closed while it was idle); a Conn's BeginTx does
// not, so this does it: up to three connections, as database/sql tries.
// pgx's driver reports a BEGIN that failed with its connection as its own
// error, not as driver.ErrBadConn, even when nothing was sent: a
// connection of pgx's that the failure closed is taken for a bad one too.
// Either way the transaction had not begun, so nothing of it is lost.
func (s *Store) beginOnConn(ctx context.Context, opts *sql.TxOptions) (bun.Conn, bun.Tx, error) {
	for attempt := 0; ; attempt++ {
		c, err := s.db.Conn(ctx)
		if err != nil {
			return bun.Conn{}, bun.Tx{}, err
		}
		tx, err := c.BeginTx(ctx, opts)
		if err == nil {
			return c, tx, nil
		}
		bad := errors.Is(err, driver.ErrBadConn) || (ctx.Err() == nil && pgxClosed(c.Conn))
		_ = c.Close()
		if attempt == 2 || !bad {
			return bun.Conn{}, bun.Tx{}, err
		}
	}
}
