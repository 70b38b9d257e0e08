package bunstore

import (
	"context"
	"database/sql"

	"github.com/cardcore/cardcore/card"
)

// A card read through pgx's own API, on PostgreSQL.
//
// Through database/sql, pgx's driver builds a converter for each column of
// each result (stdlib's Rows), and database/sql converts each value again:
// with a card's 39 columns that was about 160 of the 270 allocations of a
// status update, and a fifth of the client's CPU of a read. pgx's own
// QueryRow, scanning into the same destinations through their pgx scanner
// methods (columns.go), took a read of one card from 80 allocations to 24;
// the store's own decoding of the row (pgxdecode.go), to 10. The statement
// is prepared on the connection once and kept by pgx (Conn.Prepare), as
// database/sql's prepared statements are, whatever query mode the host
// chose for its own queries (cardcore's command uses the simple protocol,
// as bun writes arguments into the SQL text). The store reaches pgx's
// connection as COPY does (bulk_copy.go): sql.Conn.Raw, and the interface
// pgxConner, when the host opened the
// database with pgx's database/sql driver. With another driver, and in a
// host's transaction (InTx), the card is read through database/sql.

// pgxCard reads one card with query (a selectCard text), org and id on
// conn, through pgx's API, as scanCard reads it (pgx.ErrNoRows is
// sql.ErrNoRows to errors.Is); ok is false, with nothing read, when conn
// is not pgx's. A connection that fails before its driver's is reached is
// an error of the read, with ok true.
func pgxCard(ctx context.Context, conn *sql.Conn, query, org string, id int64) (r cardRow, c card.Card, scanned, ok bool, err error) {
	ok = true
	err = conn.Raw(func(dc any) error {
		pc, isPgx := dc.(pgxConner)
		if !isPgx {
			ok = false
			return nil
		}
		var serr error
		r, c, scanned, serr = queryCard(ctx, pc.Conn(), query, org, id)
		return serr
	})
	return r, c, scanned, ok, err
}

// poolCard reads one card on a connection of the pool through pgx's API
// (see pgxCard); ok is false, with nothing read, when the pool's
// connections are not pgx's. A read that failed with its connection (one
// the server closed while it sat in the pool, which pgx finds out by
// using it) is sent again on another connection, up to three, as
// database/sql does when its driver reports a bad connection: a read is
// safe to repeat. So is a read whose statement, prepared on the
// connection, went stale (staleStatement: a column's type altered since):
// once queryCard has deallocated it, the read is sent again on the same
// connection.
func (s *Store) poolCard(ctx context.Context, org string, id int64) (c card.Card, scanned, ok bool, err error) {
	if s.sqlite || s.host != nil || s.notPgx.Load() {
		return c, false, false, nil
	}
	for attempt := 0; ; attempt++ {
		conn, err := s.db.DB.Conn(ctx)
		if err != nil {
			return c, false, true, err
		}
		_, c, scanned, ok, err = pgxCard(ctx, conn, s.q.card, org, id)
		if staleStatement(err) { // deallocated by queryCard: once more, on the same connection
			_, c, scanned, ok, err = pgxCard(ctx, conn, s.q.card, org, id)
		}
		again := err != nil && !scanned && attempt < 2 && ctx.Err() == nil && pgxClosed(conn)
		_ = conn.Close()
		if !ok {
			s.notPgx.Store(true)
		}
		if !again {
			return c, scanned, ok, err
		}
	}
}
