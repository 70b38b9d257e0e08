package bunstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/uptrace/bun"
)

// A PostgreSQL transaction whose BEGIN goes with its first statement.
//
// database/sql's BeginTx sends BEGIN and waits for its answer before the
// transaction's first statement is sent: one round trip of four in a
// status update (BEGIN, the card's SELECT ... FOR UPDATE, the save with its
// event, COMMIT), in which both processes do nothing but a system call
// each way. On these two cores, where the client and PostgreSQL share the
// CPU, the round trip is not free: the PostgreSQL side of a bind, run by
// pgbench, went from 3,296 and 3,067 to 4,096 and 3,686 transactions/s
// with BEGIN sent in one pipeline with the card's read (see the README's
// Performance). PostgreSQL's JDBC driver sends BEGIN the same way, with
// the transaction's first query.
//
// So when the connection is pgx's (pgxConner), the store runs the
// transaction itself on the connection (a pgx transaction): BEGIN is not
// sent until the transaction's first statement. When that statement is
// the read of a card by id (Tx.Card, how every change of a card starts),
// BEGIN and the read go in one pipeline; any other statement sends BEGIN
// alone first, as database/sql would. The other statements run on the
// same connection through database/sql (bun's queries, and the store's
// statements in pgx's statement cache, as pgxCard's read), and COMMIT and
// ROLLBACK through pgx. A connection goes back to the pool outside any
// transaction, or is closed: after the end of a transaction, in every
// outcome (commit, error, panic, ctx done), the store rolls back what is
// open, and discards the connection when that fails (releasePgx). With
// another driver, and in a host's transaction (InTx), database/sql's
// transaction is used as before.

// beginSQL begins a store's transaction on PostgreSQL, as database/sql's
// BeginTx does with the store's options.
const beginSQL = "begin isolation level read committed"

// commitSQL commits a store's transaction on PostgreSQL.
const commitSQL = "commit"

// releaseTimeout bounds the ROLLBACK of a transaction whose ctx is done;
// past it, the connection is closed instead.
const releaseTimeout = 5 * time.Second

// errCommitRolledBack is a COMMIT that PostgreSQL answered with ROLLBACK:
// the transaction had failed, and nothing of it was written.
var errCommitRolledBack = errors.New("bunstore: the transaction had failed, and COMMIT rolled it back")

// pgxTx reports whether conn is pgx's, whose transactions the store can
// run itself.
func pgxTx(conn *sql.Conn) bool {
	ok := false
	_ = conn.Raw(func(dc any) error {
		_, ok = dc.(pgxConner)
		return nil
	})
	return ok
}

// pgxClosed reports whether conn is pgx's and closed, or already closed by
// database/sql.
func pgxClosed(conn *sql.Conn) bool {
	closed := false
	if err := conn.Raw(func(dc any) error {
		if pc, ok := dc.(pgxConner); ok {
			closed = pc.Conn().IsClosed()
		}
		return nil
	}); err != nil {
		return true
	}
	return closed
}

// begin makes a pgx transaction ready for its next statement: it sends
// BEGIN when the transaction has not begun, and the pending save when
// there is one. It does nothing on another transaction.
func (t *txn) begin(ctx context.Context) error {
	if !t.direct {
		return nil
	}
	if t.begun {
		return t.flush(ctx)
	}
	t.begun = true // from here on, the end of the transaction rolls back what is open
	_, err := t.conn.ExecContext(ctx, beginSQL)
	if lerr := t.lostConn(ctx, err); lerr != nil {
		return lerr
	}
	return translate(ctx, "begin", err)
}

// lostConn returns, for err of a transaction's first round trip, the error
// for a connection that is gone (the server closed it while it was idle in
// the pool, before pgx's driver checked it): the transaction did nothing,
// and Update retries it on another connection (card.ErrUnavailable once
// the retries are spent), as database/sql's BeginTx gets another
// connection for one its driver reports bad. It is nil when err is nil or
// the connection is still open.
func (t *txn) lostConn(ctx context.Context, err error) error {
	if err == nil || ctx.Err() != nil {
		return nil
	}
	if !pgxClosed(t.conn) {
		return nil
	}
	return &storeError{op: "begin", msg: "the connection was lost before the transaction began (" + err.Error() + ")",
		retryable: true, kind: card.ErrUnavailable}
}

// db returns the transaction for bun's queries, beginning it first.
func (t *txn) db(ctx context.Context) (bun.IDB, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	return t.idb, nil
}

// beginAndReadCard begins a pgx transaction and reads one card with query
// (cardLocked), org and id, in one pipeline (pipelineBeginRow), as
// pgxCard reads it.
func (t *txn) beginAndReadCard(ctx context.Context, query, org string, id int64) (r cardRow, c card.Card, scanned bool, err error) {
	t.begun = true
	err = t.conn.Raw(func(dc any) error {
		pc := dc.(pgxConner).Conn()
		return pipelineBeginRow(ctx, pc, query, org, id, func(rr *pgconn.ResultReader) error {
			var err error
			r, c, scanned, err = readCard(pc.TypeMap(), rr)
			return err
		})
	})
	if !scanned && !errors.Is(err, sql.ErrNoRows) {
		if lerr := t.lostConn(ctx, err); lerr != nil {
			return r, c, false, lerr
		}
	}
	return r, c, scanned, err
}

// pipelineBeginRow sends BEGIN (beginSQL) and query, a card's read by org
// and id (cardArgs), on pc in one pipeline, one round trip, and gives
// query's result, asked in binary format, to read, which closes it. query
// is prepared on the connection once (pgx's Prepare keeps it by its text).
func pipelineBeginRow(ctx context.Context, pc *pgx.Conn, query, org string, id int64, read func(*pgconn.ResultReader) error) error {
	begin, err := pc.Prepare(ctx, beginSQL, beginSQL)
	if err != nil {
		return err
	}
	sd, err := pc.Prepare(ctx, query, query)
	if err != nil {
		return err
	}
	args, formats, err := cardArgs(pc, sd, org, id)
	if err != nil {
		return err
	}
	p := pc.PgConn().StartPipeline(ctx)
	p.SendQueryStatement(begin, nil, nil, nil)
	p.SendQueryStatement(sd, args, formats, binaryResults)
	if err := p.Sync(); err != nil {
		_ = p.Close()
		return err
	}
	err = readPipelined(p, read)
	if cerr := p.Close(); err == nil {
		err = cerr
	}
	forgetStale(ctx, pc, query, err)
	return err
}

// readPipelined reads the results of pipelineBeginRow's pipeline: BEGIN's,
// then the query's, with read.
func readPipelined(p *pgconn.Pipeline, read func(*pgconn.ResultReader) error) error {
	for i := range 2 {
		res, err := p.GetResults()
		if err != nil {
			return err
		}
		rr, ok := res.(*pgconn.ResultReader)
		if !ok {
			return fmt.Errorf("bunstore: the pipeline gave %T for its statement %d", res, i+1)
		}
		if i == 0 {
			if _, err := rr.Close(); err != nil {
				return err
			}
			continue
		}
		return read(rr)
	}
	return nil
}

// firstRow is the first row of rows, as pgx's QueryRow gives it: no row is
// pgx.ErrNoRows (sql.ErrNoRows to errors.Is).
type firstRow struct{ rows pgx.Rows }

func (f firstRow) Scan(dest ...any) error {
	defer f.rows.Close()
	if !f.rows.Next() {
		if err := f.rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := f.rows.Scan(dest...); err != nil {
		return err
	}
	f.rows.Close()
	return f.rows.Err()
}

// pendingSave is a save of a card (its UPDATE and its event) that a pgx
// transaction has not sent yet.
type pendingSave struct {
	u    cardUpdate
	args []any // the UPDATE's arguments, then the event's
}

// deferSave keeps the save u, with args, for the transaction's next
// statement or its COMMIT, after sending the save kept before, if any.
//
// A change of a card ends with its save: sent alone, it is a round trip
// of its own before the COMMIT's. Kept until the transaction's next
// statement, it goes, when that is the COMMIT, in one pipeline with it
// (saveAndCommit): a status update is then two round trips, BEGIN with the
// read, and the save with the COMMIT.
//
// Only the save of a card the transaction read (FOR UPDATE) or wrote, at
// the version before the save's, is kept (cardUpdate.read). Such a save
// cannot find the card changed, since the transaction holds its row lock,
// so Save has no conflict to report then and there (a save of a card the
// transaction did not read is sent at once: its conflict is Save's error,
// and the transaction goes on, as the storage conformance suite requires).
// Should the kept save change no card all the same, its statement fails
// (saveWithEventChecked), the COMMIT never runs, and Update's error is the
// *card.ConflictError that Save would have returned. Any other failure of
// a kept save (PostgreSQL aborts the transaction on any failed statement)
// is the error of the transaction's next call, or Update's.
func (t *txn) deferSave(ctx context.Context, u cardUpdate, args []any) error {
	if err := t.begin(ctx); err != nil { // BEGIN, or the save kept before
		return err
	}
	t.pending = &pendingSave{u: u, args: args}
	u.row.chain = chainLink{}
	t.remember(u.row)
	return nil
}

// flush sends the pending save, if any, alone.
func (t *txn) flush(ctx context.Context) error {
	p := t.pending
	if p == nil {
		return nil
	}
	t.pending = nil
	return p.u.run(ctx, t, t.s.q.save(saveAndEvent, p.u.cols), p.args)
}

// commitPgx commits a pgx transaction, with its pending save if any; one
// that never began has nothing to commit.
func (t *txn) commitPgx(ctx context.Context) error {
	if !t.begun {
		return nil
	}
	if p := t.pending; p != nil {
		t.pending = nil
		return t.saveAndCommit(ctx, p)
	}
	return t.conn.Raw(func(dc any) error {
		res, err := dc.(pgxConner).Conn().PgConn().Exec(ctx, "commit").ReadAll()
		if err == nil && len(res) == 1 && res[0].CommandTag.String() == "ROLLBACK" {
			err = errCommitRolledBack
		}
		return err
	})
}

// saveAndCommit sends the save p (saveWithEventChecked) and COMMIT in one
// pipeline, one round trip (pipelineSaveCommit). When the save fails,
// PostgreSQL skips the COMMIT, and the transaction, failed, is rolled
// back by releasePgx.
func (t *txn) saveAndCommit(ctx context.Context, p *pendingSave) error {
	var saveErr error
	err := t.conn.Raw(func(dc any) error {
		var err error
		saveErr, err = pipelineSaveCommit(ctx, dc.(pgxConner).Conn(), t.s.q.save(saveAndEventChecked, p.u.cols), p.args)
		return err
	})
	if saveErr != nil {
		if savedNothing(saveErr) {
			return p.u.conflict()
		}
		return translate(ctx, "save card", saveErr)
	}
	return err
}

// pipelineSaveCommit sends query, a save with its event, with args, and
// COMMIT in one pipeline on pc. query is prepared on the connection once
// (pgx's Prepare keeps it by its text). saveErr is the save's failure (the
// COMMIT is then skipped); err the COMMIT's, or the round trip's.
func pipelineSaveCommit(ctx context.Context, pc *pgx.Conn, query string, args []any) (saveErr, err error) {
	commit, err := pc.Prepare(ctx, commitSQL, commitSQL)
	if err != nil {
		return nil, err
	}
	sd, err := pc.Prepare(ctx, query, query)
	if err != nil {
		return nil, err
	}
	var eqb pgx.ExtendedQueryBuilder
	if err := eqb.Build(pc.TypeMap(), sd, args); err != nil {
		return nil, err
	}
	p := pc.PgConn().StartPipeline(ctx)
	p.SendQueryStatement(sd, eqb.ParamValues, eqb.ParamFormats, eqb.ResultFormats)
	p.SendQueryStatement(commit, nil, nil, nil)
	if err := p.Sync(); err != nil {
		_ = p.Close()
		return nil, err
	}
	tags, err := pipelineTags(p, 2)
	if cerr := p.Close(); err == nil {
		err = cerr
	}
	switch {
	case len(tags) == 0 && err != nil:
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) { // the save failed; a lost connection is the round trip's
			return err, nil
		}
		return nil, err
	case err == nil && tags[1].String() == "ROLLBACK":
		return nil, errCommitRolledBack
	}
	return nil, err
}

// pipelineTags reads the command tags of the n statements of pipeline p,
// up to the first that fails, whose error it returns.
func pipelineTags(p *pgconn.Pipeline, n int) ([]pgconn.CommandTag, error) {
	tags := make([]pgconn.CommandTag, 0, n)
	for i := range n {
		res, err := p.GetResults()
		if err != nil {
			return tags, err
		}
		rr, ok := res.(*pgconn.ResultReader)
		if !ok {
			return tags, fmt.Errorf("bunstore: the pipeline gave %T for its statement %d", res, i+1)
		}
		tag, err := rr.Close()
		if err != nil {
			return tags, err
		}
		tags = append(tags, tag)
	}
	return tags, nil
}

// releasePgx ends what is left of a pgx transaction on its connection:
// it rolls back a transaction still open (after an error, a panic, a ctx
// done), and has the pool close the connection when the rollback fails
// or the connection is broken, so that no connection goes back to the
// pool inside a transaction, holding its locks.
func releasePgx(ctx context.Context, conn *sql.Conn) {
	_ = conn.Raw(func(dc any) error {
		pc := dc.(pgxConner).Conn().PgConn()
		if pc.IsClosed() {
			return driver.ErrBadConn
		}
		if pc.TxStatus() == 'I' {
			return nil
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
		defer cancel()
		if _, err := pc.Exec(rctx, "rollback").ReadAll(); err != nil || pc.TxStatus() != 'I' {
			return driver.ErrBadConn // database/sql closes the connection
		}
		return nil
	})
}

// stmt is a statement of a transaction: a *sql.Stmt prepared for the
// transaction, or on a pgx transaction a connStmt.
type stmt interface {
	ExecContext(ctx context.Context, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, args ...any) *sql.Row
	Close() error
}

// connStmt is a statement of a pgx transaction: its text, run on the
// transaction's connection in pgx's statement cache (prepared on the
// connection once, as the pool's prepared statements are), whatever query
// mode the host chose for its own queries. pgx's database/sql driver takes
// the mode as the first argument.
type connStmt struct {
	conn  *sql.Conn
	query string
}

func (s connStmt) args(args []any) []any {
	return append([]any{pgx.QueryExecModeCacheStatement}, args...)
}

func (s connStmt) ExecContext(ctx context.Context, args ...any) (sql.Result, error) {
	return s.conn.ExecContext(ctx, s.query, s.args(args)...)
}

func (s connStmt) QueryContext(ctx context.Context, args ...any) (*sql.Rows, error) {
	return s.conn.QueryContext(ctx, s.query, s.args(args)...)
}

func (s connStmt) QueryRowContext(ctx context.Context, args ...any) *sql.Row {
	return s.conn.QueryRowContext(ctx, s.query, s.args(args)...)
}

func (connStmt) Close() error { return nil } // pgx's statement cache keeps it
