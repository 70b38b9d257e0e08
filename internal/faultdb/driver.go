package faultdb

import (
	"context"
	"database/sql/driver"
	"errors"
	"sync"
)

// NewConnector returns a connector whose connections are inner's, with
// their operations counted and failed by p. Open the database with
// sql.OpenDB.
func NewConnector(inner driver.Connector, p *Plan) driver.Connector {
	return &connector{inner: inner, p: p}
}

// DSNConnector is the connector of a driver that has none of its own
// (modernc.org/sqlite): each connection is d.Open(dsn).
func DSNConnector(d driver.Driver, dsn string) driver.Connector {
	return dsnConnector{d: d, dsn: dsn}
}

type dsnConnector struct {
	d   driver.Driver
	dsn string
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.d.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.d }

type connector struct {
	inner driver.Connector
	p     *Plan
}

func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	inner, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &conn{p: c.p, inner: inner, stmts: make(map[*stmt]struct{})}, nil
}

// Driver returns a driver that opens nothing: database/sql opens through
// the connector.
func (c *connector) Driver() driver.Driver { return noDriver{} }

type noDriver struct{}

func (noDriver) Open(string) (driver.Conn, error) {
	return nil, errors.New("faultdb: open the database with sql.OpenDB and a connector")
}

// conn is a connection of the real driver, counted by the plan.
type conn struct {
	p     *Plan
	inner driver.Conn

	mu     sync.Mutex
	broken bool      // lost by a Break fault: every use is driver.ErrBadConn
	tx     driver.Tx // the real transaction in progress, if any
	// stmts are the real statements still open, closed before the
	// connection: database/sql does not close those a transaction prepared
	// when the transaction ends in driver.ErrBadConn, and a SQLite
	// connection closed with statements open stays open, with its
	// transaction and its write lock.
	stmts  map[*stmt]struct{}
	closed bool
}

var (
	_ driver.Conn               = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.Pinger             = (*conn)(nil)
	_ driver.SessionResetter    = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
	_ driver.NamedValueChecker  = (*conn)(nil)
)

// state returns whether c is broken and in a transaction.
func (c *conn) state() (broken, inTx bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.broken, c.tx != nil
}

// check counts an operation of kind k and returns how to fail it: err
// before it runs, or lost after it ran.
func (c *conn) check(k Kind, query string) (lost *Error, err error) {
	broken, inTx := c.state()
	if broken {
		return nil, driver.ErrBadConn
	}
	mode, e, ok := c.p.hit(k, inTx, query)
	if !ok {
		return nil, nil
	}
	switch mode {
	case Fail:
		return nil, e
	case Lost:
		return e, nil
	case Break:
		c.lose()
		return nil, driver.ErrBadConn
	case Stall:
		c.p.stall()
	}
	return nil, &SerializationFailure{Fault: e}
}

// lose marks c broken; database/sql closes it when it sees
// driver.ErrBadConn.
func (c *conn) lose() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.broken = true
}

func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	lost, err := c.check(Prepare, query)
	if err != nil {
		return nil, err
	}
	var si driver.Stmt
	if p, ok := c.inner.(driver.ConnPrepareContext); ok {
		si, err = p.PrepareContext(ctx, query)
	} else {
		si, err = c.inner.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	if lost != nil {
		_ = si.Close()
		return nil, lost
	}
	s := &stmt{c: c, inner: si, query: query}
	c.mu.Lock()
	c.stmts[s] = struct{}{}
	c.mu.Unlock()
	return s, nil
}

// Close closes the real statements still open, rolls back a transaction
// still open (as a server does when its client goes), then closes the real
// connection.
func (c *conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	for s := range c.stmts {
		_ = s.inner.Close()
		s.closed = true
	}
	clear(c.stmts)
	if c.tx != nil {
		_ = c.tx.Rollback()
		c.tx = nil
	}
	return c.inner.Close()
}

func (c *conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	lost, err := c.check(Begin, "")
	if err != nil {
		return nil, err
	}
	var tx driver.Tx
	if b, ok := c.inner.(driver.ConnBeginTx); ok {
		tx, err = b.BeginTx(ctx, opts)
	} else {
		//lint:ignore SA1019 the driver has no BeginTx
		tx, err = c.inner.Begin()
	}
	if err != nil {
		return nil, err
	}
	if lost != nil {
		_ = tx.Rollback()
		return nil, lost
	}
	c.mu.Lock()
	c.tx = tx
	c.mu.Unlock()
	return &txn{c: c}, nil
}

func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := c.inner.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip // database/sql prepares it instead, and counts it there
	}
	lost, err := c.check(Statement, query)
	if err != nil {
		return nil, err
	}
	res, err := e.ExecContext(ctx, query, args)
	if err == nil && lost != nil {
		return nil, lost
	}
	return res, err
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := c.inner.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	lost, err := c.check(Statement, query)
	if err != nil {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, query, args)
	if err == nil && lost != nil {
		_ = rows.Close()
		return nil, lost
	}
	return rows, err
}

func (c *conn) Ping(ctx context.Context) error {
	if broken, _ := c.state(); broken {
		return driver.ErrBadConn
	}
	if p, ok := c.inner.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// ResetSession counts a Reset: the pool hands c out again. A fault on it,
// whatever its mode, loses the connection.
func (c *conn) ResetSession(ctx context.Context) error {
	broken, inTx := c.state()
	if broken {
		return driver.ErrBadConn
	}
	if _, _, ok := c.p.hit(Reset, inTx, ""); ok {
		c.lose()
		return driver.ErrBadConn
	}
	if r, ok := c.inner.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *conn) IsValid() bool {
	if broken, _ := c.state(); broken {
		return false
	}
	if v, ok := c.inner.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// CheckNamedValue passes the real driver's conversion of arguments on;
// driver.ErrSkip makes database/sql convert them as it does for a driver
// without one.
func (c *conn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.inner.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// endTx forgets c's transaction and returns it.
func (c *conn) endTx() driver.Tx {
	c.mu.Lock()
	defer c.mu.Unlock()
	tx := c.tx
	c.tx = nil
	return tx
}

// txn is a transaction of the real driver whose commit the plan counts.
type txn struct{ c *conn }

func (t *txn) Commit() error {
	c := t.c
	broken, _ := c.state()
	if broken {
		if tx := c.endTx(); tx != nil {
			_ = tx.Rollback()
		}
		return driver.ErrBadConn
	}
	mode, e, ok := c.p.hit(Commit, true, "")
	tx := c.endTx()
	if tx == nil {
		return errors.New("faultdb: commit of a transaction that is over")
	}
	if !ok {
		return tx.Commit()
	}
	switch mode {
	case Lost:
		if err := tx.Commit(); err != nil {
			return err
		}
		return e
	case Fail:
		_ = tx.Rollback()
		return e
	case Break:
		_ = tx.Rollback()
		c.lose()
		return driver.ErrBadConn
	}
	_ = tx.Rollback()
	return &SerializationFailure{Fault: e}
}

func (t *txn) Rollback() error {
	c := t.c
	broken, _ := c.state()
	tx := c.endTx()
	if tx == nil {
		return errors.New("faultdb: rollback of a transaction that is over")
	}
	err := tx.Rollback()
	if broken {
		return driver.ErrBadConn
	}
	return err
}

// stmt is a prepared statement of the real driver whose executions the
// plan counts as statements.
type stmt struct {
	c      *conn
	inner  driver.Stmt
	query  string
	closed bool // guarded by c.mu
}

var (
	_ driver.Stmt              = (*stmt)(nil)
	_ driver.StmtExecContext   = (*stmt)(nil)
	_ driver.StmtQueryContext  = (*stmt)(nil)
	_ driver.NamedValueChecker = (*stmt)(nil)
)

func (s *stmt) Close() error {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	delete(s.c.stmts, s)
	return s.inner.Close()
}

func (s *stmt) NumInput() int { return s.inner.NumInput() }

func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), named(args))
}

func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), named(args))
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	lost, err := s.c.check(Statement, s.query)
	if err != nil {
		return nil, err
	}
	var res driver.Result
	if e, ok := s.inner.(driver.StmtExecContext); ok {
		res, err = e.ExecContext(ctx, args)
	} else {
		//lint:ignore SA1019 the driver has no ExecContext
		res, err = s.inner.Exec(values(args))
	}
	if err == nil && lost != nil {
		return nil, lost
	}
	return res, err
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	lost, err := s.c.check(Statement, s.query)
	if err != nil {
		return nil, err
	}
	var rows driver.Rows
	if q, ok := s.inner.(driver.StmtQueryContext); ok {
		rows, err = q.QueryContext(ctx, args)
	} else {
		//lint:ignore SA1019 the driver has no QueryContext
		rows, err = s.inner.Query(values(args))
	}
	if err == nil && lost != nil {
		_ = rows.Close()
		return nil, lost
	}
	return rows, err
}

// CheckNamedValue passes on the conversion of the real statement, or else
// of the real connection (database/sql asks the statement first).
func (s *stmt) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := s.inner.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return s.c.CheckNamedValue(nv)
}

func named(args []driver.Value) []driver.NamedValue {
	nv := make([]driver.NamedValue, len(args))
	for i, v := range args {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return nv
}

func values(args []driver.NamedValue) []driver.Value {
	v := make([]driver.Value, len(args))
	for i, a := range args {
		v[i] = a.Value
	}
	return v
}
