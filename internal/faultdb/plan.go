package faultdb

import (
	"fmt"
	"sync"
)

// Kind is a kind of operation a Plan counts.
type Kind int

// The kinds of operations.
const (
	Statement Kind = iota // an Exec or Query, direct or of a prepared statement
	Prepare               // a statement prepared on a connection
	Begin                 // a transaction begun
	Commit                // a transaction committed
	Reset                 // a pooled connection handed out again
	RoundTrip             // a round trip on PostgreSQL's wire, under pgx (database "pgx" of Open)
	kinds
)

func (k Kind) String() string {
	switch k {
	case Statement:
		return "statement"
	case Prepare:
		return "prepare"
	case Begin:
		return "begin"
	case Commit:
		return "commit"
	case Reset:
		return "reset"
	case RoundTrip:
		return "round trip"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Mode is how a fault fails its operation (see the package documentation).
type Mode int

// The modes of a fault.
const (
	Fail Mode = iota
	Lost
	Break
	Retryable
	Stall
)

func (m Mode) String() string {
	switch m {
	case Fail:
		return "fail"
	case Lost:
		return "lost"
	case Break:
		return "break"
	case Retryable:
		return "retryable"
	case Stall:
		return "stall"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Fault names the operation to fail: the Nth (from 1) of its kind since
// Start, and how.
type Fault struct {
	Kind Kind
	N    int
	Mode Mode
}

func (f Fault) String() string { return fmt.Sprintf("%s %d %s", f.Kind, f.N, f.Mode) }

// Op is an operation the plan counted.
type Op struct {
	Kind  Kind
	N     int    // its number among those of its kind, from 1
	InTx  bool   // it ran on a connection inside a transaction (a commit always does)
	Query string // the statement's text, for statements and prepares
}

func (o Op) String() string {
	where := "outside a transaction"
	if o.InTx {
		where = "in a transaction"
	}
	if o.Query == "" {
		return fmt.Sprintf("%s %d %s", o.Kind, o.N, where)
	}
	return fmt.Sprintf("%s %d %s: %s", o.Kind, o.N, where, abbreviate(o.Query, 120))
}

func abbreviate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Run is what a plan saw between Start and Stop.
type Run struct {
	Counts [kinds]int // operations by Kind
	Trace  []Op       // every operation, in order
	Fired  *Op        // the operation the fault failed; nil when it was not reached
}

// Plan counts the operations of the connections that share it and fails
// the one its fault names. It is safe for concurrent use.
type Plan struct {
	mu      sync.Mutex
	on      bool
	fault   *Fault
	run     Run
	faulted int           // faults fired since the plan was made
	stalled chan struct{} // closed when a Stall fault fires
	once    sync.Once     // closes stalled
	// ended, on the "pgx" database, waits until the PostgreSQL backend of
	// process id pid has ended (wire.go's breakConn).
	ended func(pid uint32)
}

// Stalled returns a channel closed when a Stall fault of the plan fired:
// its operation is blocked, in the middle of what the caller was doing.
func (p *Plan) Stalled() <-chan struct{} { return p.stalled }

// stall reports a Stall fault and blocks the operation for good.
func (p *Plan) stall() {
	p.once.Do(func() { close(p.stalled) })
	select {}
}

// NewPlan returns a plan that counts nothing until Start.
func NewPlan() *Plan { return &Plan{stalled: make(chan struct{})} }

// Start begins counting from zero, failing the operation f names; nil
// only counts.
func (p *Plan) Start(f *Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.on, p.fault, p.run = true, f, Run{}
}

// Stop ends counting and returns what the plan saw since Start.
func (p *Plan) Stop() Run {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.on, p.fault = false, nil
	return p.run
}

// Faulted returns how many faults the plan fired since it was made.
func (p *Plan) Faulted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.faulted
}

// hit counts an operation and returns the fault to apply to it, if any.
func (p *Plan) hit(k Kind, inTx bool, query string) (Mode, *Error, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.on {
		return 0, nil, false
	}
	p.run.Counts[k]++
	op := Op{Kind: k, N: p.run.Counts[k], InTx: inTx, Query: query}
	p.run.Trace = append(p.run.Trace, op)
	f := p.fault
	if f == nil || p.run.Fired != nil || f.Kind != k || f.N != op.N {
		return 0, nil, false
	}
	p.run.Fired = &op
	p.faulted++
	return f.Mode, &Error{Op: op, Mode: f.Mode}, true
}

// Error is the error of an injected fault.
type Error struct {
	Op   Op
	Mode Mode
}

func (e *Error) Error() string { return fmt.Sprintf("faultdb: injected %s fault at %s", e.Mode, e.Op) }

// SerializationFailure is the error of a Retryable fault: it reports
// SQLSTATE 40001, as PostgreSQL's serialization failure does.
type SerializationFailure struct{ Fault *Error }

func (e *SerializationFailure) Error() string {
	return "faultdb: serialization failure (SQLSTATE 40001): " + e.Fault.Error()
}

// SQLState returns 40001, serialization_failure.
func (*SerializationFailure) SQLState() string { return "40001" }

func (e *SerializationFailure) Unwrap() error { return e.Fault }
