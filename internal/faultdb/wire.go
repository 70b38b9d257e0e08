package faultdb

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"strings"
	"sync"
)

// Faults on PostgreSQL's wire, under pgx's own connections.
//
// The store runs its PostgreSQL transactions itself when the connection
// is pgx's (bunstore's pgxtx.go): BEGIN pipelined with the first read,
// COMMIT and ROLLBACK through pgconn. A driver wrapper would hide pgx's
// connection from the store, and the store would take database/sql's path
// instead; so for the "pgx" database of Open, the faults are injected
// below pgx, in the net.Conn it dials (pgx's DialFunc), and the store sees
// pgx's driver unwrapped.
//
// The plan counts round trips (Kind RoundTrip): each write of pgx's that
// ends a batch of the frontend protocol with Sync, Query or CopyDone, the
// point where pgx waits for PostgreSQL's answer. An Op's InTx is the
// connection's transaction status as PostgreSQL last reported it
// (ReadyForQuery) before the round trip was sent; its Query names the
// statements the batch runs. Two modes apply:
//
//   - Break: the connection is lost before the round trip is sent: none
//     of it reaches PostgreSQL, pgx's write fails and pgx closes the
//     connection (PostgreSQL then rolls back what the connection had
//     open).
//   - Lost: the round trip is sent, PostgreSQL runs it and answers, and
//     the answer is lost with the connection: pgx's read fails. On a
//     COMMIT, the transaction is committed.

// wireConn is a connection of pgx's to PostgreSQL, counted by a plan.
type wireConn struct {
	net.Conn
	p *Plan

	mu       sync.Mutex
	pid      uint32            // the backend's process id (BackendKeyData)
	out, in  frames            // the frontend and backend streams
	prepared map[string]string // statement name -> text, from Parse
	status   byte              // transaction status of the last ReadyForQuery
	broken   bool              // lost: every use fails
	lost     *Error            // a Lost fault fired: drain the answer, then break
	awaiting int               // ReadyForQuery messages the lost round trip gets
}

// wireDialer returns a pgx DialFunc whose connections p counts.
func wireDialer(p *Plan) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &wireConn{Conn: c, p: p, out: frames{untyped: true}, prepared: map[string]string{}, status: 'I'}, nil
	}
}

// errBroken is the error of a connection a fault broke, after the fault.
var errBroken = &net.OpError{Op: "write", Net: "tcp", Err: net.ErrClosed}

func (c *wireConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	if c.broken {
		c.mu.Unlock()
		return 0, errBroken
	}
	msgs := c.out.feed(b)
	ends, query := 0, []string(nil)
	for _, m := range msgs {
		switch m.typ {
		case 'S', 'Q', 'c':
			ends++
		}
		if q := c.describe(m); q != "" {
			query = append(query, q)
		}
	}
	inTx := c.status != 'I'
	c.mu.Unlock()
	if ends == 0 {
		return c.Conn.Write(b)
	}
	mode, e, ok := c.p.hit(RoundTrip, inTx, strings.Join(query, "; "))
	if !ok {
		return c.Conn.Write(b)
	}
	switch mode {
	case Lost:
		n, err := c.Conn.Write(b)
		if err != nil {
			return n, err
		}
		c.mu.Lock()
		c.lost, c.awaiting = e, ends
		c.mu.Unlock()
		return n, nil
	default: // Break; the other modes do not apply to a round trip
		c.breakConn()
		return 0, &net.OpError{Op: "write", Net: "tcp", Err: e}
	}
}

// describe names what message m of the frontend runs, for the trace.
func (c *wireConn) describe(m message) string {
	switch m.typ {
	case 'Q':
		return cstring(m.body)
	case 'P':
		name, rest := cutCString(m.body)
		q := cstring(rest)
		c.prepared[name] = q
		if name == "" {
			return q
		}
	case 'B':
		_, rest := cutCString(m.body) // the portal
		name := cstring(rest)
		if name != "" {
			return c.prepared[name]
		}
	}
	return ""
}

func (c *wireConn) Read(b []byte) (int, error) {
	c.mu.Lock()
	lost, broken := c.lost, c.broken
	c.mu.Unlock()
	if broken {
		return 0, errBroken
	}
	if lost != nil {
		c.drain()
		return 0, &net.OpError{Op: "read", Net: "tcp", Err: lost}
	}
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	for _, m := range c.in.feed(b[:n]) {
		switch {
		case m.typ == 'Z' && len(m.body) > 0:
			c.status = m.body[0]
		case m.typ == 'K' && len(m.body) >= 4:
			c.pid = binary.BigEndian.Uint32(m.body)
		}
	}
	c.mu.Unlock()
	return n, err
}

// drain reads PostgreSQL's answer to a lost round trip to its end (its
// ReadyForQuery messages, or a COPY's CopyInResponse), so that what the
// round trip ran is done, then breaks the connection.
func (c *wireConn) drain() {
	buf := make([]byte, 4096)
	c.mu.Lock()
	for c.awaiting > 0 {
		n, err := c.Conn.Read(buf)
		for _, m := range c.in.feed(buf[:n]) {
			switch m.typ {
			case 'Z':
				c.awaiting--
			case 'G':
				c.awaiting = 0
			}
		}
		if err != nil {
			break
		}
	}
	c.mu.Unlock()
	c.breakConn()
}

// breakConn closes the connection, and waits for PostgreSQL to end its
// backend (Plan.ended): the backend rolls back what the connection had
// open, and releases its locks, when it reads the end of the connection,
// a moment later. A test's next call could otherwise find the rows still
// locked, which on a real network lasts until the server notices the
// connection gone.
func (c *wireConn) breakConn() {
	c.mu.Lock()
	c.broken, c.lost = true, nil
	pid := c.pid
	c.mu.Unlock()
	_ = c.Conn.Close()
	if c.p.ended != nil && pid != 0 {
		c.p.ended(pid)
	}
}

// message is a message of the protocol: its type, and the start of its
// body (the first bodyKeep bytes; enough for the texts of the trace).
type message struct {
	typ  byte
	body []byte
}

const bodyKeep = 2048

// frames splits a stream of the protocol into its messages, across the
// writes or reads that carry them. The frontend's first messages have no
// type byte: the startup message, after an SSL or GSS encryption request.
type frames struct {
	untyped bool
	hdr     []byte // the header read so far
	cur     message
	left    int // body bytes still to come of cur
}

// feed consumes b and returns the messages it completes.
func (f *frames) feed(b []byte) []message {
	var done []message
	for len(b) > 0 {
		if f.left == 0 { // at or in a header
			need := f.hdrLen() - len(f.hdr)
			k := min(need, len(b))
			f.hdr = append(f.hdr, b[:k]...)
			b = b[k:]
			if len(f.hdr) < f.hdrLen() {
				break
			}
			lenAt := 1
			f.cur = message{}
			if f.untyped {
				lenAt = 0
			} else {
				f.cur.typ = f.hdr[0]
			}
			f.left = int(binary.BigEndian.Uint32(f.hdr[lenAt:])) - 4
			if f.left <= 0 {
				done = append(done, f.end())
				continue
			}
		}
		k := min(f.left, len(b))
		if keep := bodyKeep - len(f.cur.body); keep > 0 {
			f.cur.body = append(f.cur.body, b[:min(k, keep)]...)
		}
		f.left -= k
		b = b[k:]
		if f.left == 0 {
			done = append(done, f.end())
		}
	}
	return done
}

func (f *frames) hdrLen() int {
	if f.untyped {
		return 4
	}
	return 5
}

// end completes the current message.
func (f *frames) end() message {
	m := f.cur
	if f.untyped {
		// An SSL or GSS encryption request (refused: the tests' connections
		// are plain) is followed by the startup message, untyped too.
		code := uint32(0)
		if len(m.body) >= 4 {
			code = binary.BigEndian.Uint32(m.body)
		}
		f.untyped = code == 80877103 || code == 80877104
	}
	f.hdr, f.cur, f.left = f.hdr[:0], message{}, 0
	return m
}

// cutCString splits b after its first NUL.
func cutCString(b []byte) (string, []byte) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return string(b), nil
	}
	return string(b[:i]), b[i+1:]
}

func cstring(b []byte) string {
	s, _ := cutCString(b)
	return s
}
