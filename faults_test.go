package cardcore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardcore/cardcore"
	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/internal/cardtest"
	"github.com/cardcore/cardcore/internal/faultdb"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/issuance"
)

// Fault injection at every step of every use case (issue 13, item 5).
//
// Each use case runs first without faults on a reference org, counting
// the operations that reach the driver. Then, for every operation of
// that run and every way it can fail (faultsOf), a fresh org gets the same
// fixture, the use case runs with that one operation failed, and the test
// checks:
//
//   - the answer: an error, except where the failure is retried below
//     the use case (faultWant says which);
//   - the store, read past the store with SQL: the org's cards, events,
//     idempotency keys, bulks and reasons are as before the call (none of
//     the change) or as the reference run left them (the whole change with
//     its events), and never anything else; a use case of several
//     transactions (the sweep) may also have some cards changed and
//     others not, each card whole or untouched;
//   - no event without its change: each card's events carry versions
//     1..version in order, the last one with the card's status, and no
//     event names a card the org lacks;
//   - the same request again (same idempotency key where it has one):
//     after none of the change it succeeds and leaves what the reference
//     run left; after the whole change (a lost acknowledgement of the
//     commit) it answers what a second call of the reference answered and
//     leaves what that left, which for every use case but those that
//     repeat by rule (faultUseCase.second) is the reference's one change.
//
// Subscription delivery is checked apart (faults_delivery_test.go).
//
// On PostgreSQL it runs twice: "postgres" injects the faults in a driver
// wrapped around pgx's, with which the store runs its transactions through
// database/sql, as it does with any driver but pgx's; "pgx" injects them
// on the wire under pgx's driver unwrapped, with which the store runs its
// transactions itself (BEGIN pipelined with the first read; bunstore's
// pgxtx.go), one round trip at a time (faultdb's wire.go).
func TestFaults(t *testing.T) {
	for _, kind := range append(slices.Clone(testdb.Kinds), "pgx") {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			tally := &faultTally{}
			t.Run("cases", func(t *testing.T) {
				for _, uc := range faultUseCases() {
					t.Run(uc.name, func(t *testing.T) {
						t.Parallel()
						runFaults(t, kind, uc, tally)
					})
				}
				t.Run("subscription delivery", func(t *testing.T) {
					t.Parallel()
					runDeliveryFaults(t, kind, tally)
				})
			})
			t.Logf("%s: %s", kind, tally)
		})
	}
}

// faultEnv is cardcore over a database reached through a fault plan, with
// the clock its use cases read.
type faultEnv struct {
	db    *faultdb.DB
	core  *cardcore.Core
	clock *cardtest.Clock
}

func newFaultEnv(t *testing.T, kind string) *faultEnv {
	t.Helper()
	e := &faultEnv{db: faultdb.Open(t, kind), clock: cardtest.NewClock(cardtest.T0)}
	e.core = e.newCore(t)
	return e
}

// newCore returns a new Core over e's database and clock: a store with a
// statement cache of its own.
func (e *faultEnv) newCore(t *testing.T) *cardcore.Core {
	t.Helper()
	prov, err := issuance.NewHMACProvisioner(bytes.Repeat([]byte("k"), 32))
	if err != nil {
		t.Fatal(err)
	}
	// Batches of 2 make the sweep of three cards two transactions, and a
	// bulk's cards several batches of one chunk: a bulk start is then one
	// transaction whatever the machine's speed (a chunk's time bound would
	// split it where a slow run crosses it). Chunks that commit apart, and
	// their resumption, are noname's chunk tests and the crash test's.
	// The plan counts every statement the pool runs: the store's background
	// checkpoints of SQLite's log would shift the count at random
	// (TestCheckpointFailuresAreHarmless faults them alone).
	core, err := cardcore.New(t.Context(), e.db.Faulty, quiet, cardcore.WithClock(e.clock.Now), cardcore.WithSQLiteCheckpoints(false),
		cardcore.WithIssuance(prov), cardcore.WithSweepBatch(2), cardcore.WithBulkBatch(2),
		cardcore.WithBulkChunk(1000, time.Hour),
		cardcore.WithMigrations(cardcore.CheckMigrations))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = core.Close() })
	return core
}

// at sets the clock to cardtest.T0 + d.
func (e *faultEnv) at(d time.Duration) { e.clock.Advance(cardtest.T0.Add(d).Sub(e.clock.Now())) }

// faultUseCase is a use case under faults.
type faultUseCase struct {
	name string
	// setup makes org's fixture without faults, leaves the clock where the
	// request runs, and returns the request: the same call, with the same
	// idempotency key where it takes one, each time it is made.
	setup func(t *testing.T, e *faultEnv, org string) func(ctx context.Context) error
	// second is what a second call does once the first one is done:
	// "ok" (it answers and changes nothing: a replay of the key, the same
	// status, nothing due), "conflict" (it is refused, e.g. a bulk started
	// twice, and changes nothing) or "repeats" (it changes the store
	// again: the use case takes no idempotency key and the rules make the
	// change again).
	second string
	// multiTx marks a use case that commits in several transactions.
	multiTx bool
}

// runFaults runs uc once without faults, then once per fault of that run;
// then, as the store's statement cache prepares its statements once, once
// without faults on a new Core (a cold cache) and once per prepare of that
// run failed, each on a new Core. (A prepare's broken connection is left
// out: database/sql handles it as it does a statement's.)
func runFaults(t *testing.T, kind string, uc faultUseCase, tally *faultTally) {
	e := newFaultEnv(t, kind)
	ctx := t.Context()
	plan := e.db.Plan

	// A first run warms the store's statement cache, so the reference run
	// counts what the later ones do.
	if err := uc.setup(t, e, "warm")(ctx); err != nil {
		t.Fatalf("warm-up run: %v", err)
	}
	var ref faultRef
	req := uc.setup(t, e, "ref")
	ref.before = snapOrg(t, e.db, "ref")
	plan.Start(nil)
	err := req(ctx)
	run := plan.Stop()
	if err != nil {
		t.Fatalf("reference run: %v", err)
	}
	ref.once = snapOrg(t, e.db, "ref")
	wantSound(t, "reference run", ref.once)
	if ref.once.norm == ref.before.norm {
		t.Fatalf("the reference run changed nothing")
	}
	err = req(ctx)
	ref.again = outcomeOf(err)
	ref.twice = snapOrg(t, e.db, "ref")
	wantSound(t, "reference run, second call", ref.twice)
	switch want := uc.second; {
	case want == "repeats" && (ref.again != "ok" || ref.twice.norm == ref.once.norm):
		t.Fatalf("second call of the reference: %s (%v), changed the store: %v; want ok and a change", ref.again, err, ref.twice.norm != ref.once.norm)
	case want != "repeats" && (ref.again != want || ref.twice.norm != ref.once.norm):
		t.Fatalf("second call of the reference: %s (%v), changed the store: %v; want %s and no change\n%s",
			ref.again, err, ref.twice.norm != ref.once.norm, want, diffLines(ref.once.norm, ref.twice.norm))
	}
	ref.trace = run.Trace

	faults := faultsOf(run, kind)
	for i, f := range faults {
		e.inject(t, uc, ref, f, fmt.Sprintf("f%d", i), nil, tally)
	}

	// Prepares, on a store whose statement cache is cold.
	warm := e.core
	req = uc.setup(t, e, "cold")
	e.core = e.newCore(t)
	plan.Start(nil)
	err = req(ctx)
	cold := plan.Stop()
	e.core = warm
	if got := snapOrg(t, e.db, "cold"); err != nil || got.norm != ref.once.norm {
		t.Fatalf("run on a cold store: %v; store against the reference run:\n%s", err, diffLines(ref.once.norm, got.norm))
	}
	var prepares []faultdb.Fault
	for _, op := range cold.Trace {
		if op.Kind == faultdb.Prepare {
			prepares = append(prepares, faultdb.Fault{Kind: op.Kind, N: op.N, Mode: faultdb.Fail})
		}
	}
	for i, f := range prepares {
		e.inject(t, uc, ref, f, fmt.Sprintf("p%d", i), e.newCore(t), tally)
	}
	t.Logf("%d operations (%d statements, %d commits, %d round trips), %d faults; on a cold store %d prepares, %d faults",
		len(run.Trace), run.Counts[faultdb.Statement], run.Counts[faultdb.Commit], run.Counts[faultdb.RoundTrip], len(faults),
		cold.Counts[faultdb.Prepare], len(prepares))
}

// faultRef is what the reference run of a use case did.
type faultRef struct {
	before, once, twice storeSnap    // the store before it, after it, after a second call
	again               string       // the outcome of the second call
	trace               []faultdb.Op // its operations
}

// inject makes org's fixture, runs uc's request with fault f, checks the
// answer and the store, then runs the same request again and checks them
// again. With core, the request runs there (a Core with a cold statement
// cache) and the fixture on e's.
func (e *faultEnv) inject(t *testing.T, uc faultUseCase, ref faultRef, f faultdb.Fault, org string, core *cardcore.Core, tally *faultTally) {
	t.Helper()
	ctx := t.Context()
	req := uc.setup(t, e, org)
	before := snapOrg(t, e.db, org)
	if before.norm != ref.before.norm {
		t.Fatalf("%s: the fixture of %s differs from the reference's:\n%s", f, org, diffLines(ref.before.norm, before.norm))
	}
	if core != nil {
		warm := e.core
		e.core = core
		defer func() { e.core = warm }()
	}
	e.db.Plan.Start(&f)
	err := req(ctx)
	got := e.db.Plan.Stop()
	tally.add(f, got.Fired != nil)
	where := f.String() + " (not reached)"
	if got.Fired != nil {
		where = fmt.Sprintf("%s fault at %s", f.Mode, got.Fired)
	} else {
		t.Logf("%s: this run had only %v operations by kind", where, got.Counts)
	}
	after := snapOrg(t, e.db, org)
	wantSound(t, where, after)
	state := stateOf(before, after, ref.once, uc.multiTx)
	w := faultWant(f, got.Fired, true)
	if msg := w.check(err, state, uc.multiTx); msg != "" {
		t.Errorf("%s: %s\noperations of the run:\n%s\nstore after the fault, against the reference run:\n%s",
			where, msg, traceText(got.Trace), diffLines(ref.once.norm, after.norm))
		return
	}
	// The same request again.
	err = req(ctx)
	final := snapOrg(t, e.db, org)
	wantSound(t, where+", then again", final)
	if state == "whole" {
		if again := outcomeOf(err); again != ref.again || final.norm != ref.twice.norm {
			t.Errorf("%s: the change was whole; again: %s (%v), want %s as the reference's second call; store against it:\n%s",
				where, again, err, ref.again, diffLines(ref.twice.norm, final.norm))
		}
		return
	}
	if err != nil || final.norm != ref.once.norm {
		t.Errorf("%s: the store held %s of the change; again: %v, want success and the reference's change; store against it:\n%s",
			where, state, err, diffLines(ref.once.norm, final.norm))
	}
}

// faultsOf lists the faults to inject for the operations of run: every
// statement failed, lost (outside a transaction: inside one the
// transaction rolls back and a lost statement is a failed one) and its
// connection broken, and on PostgreSQL failed as a serialization failure
// inside a transaction; every begin failed and its
// connection broken; every commit failed (rolled back), lost (committed),
// its connection broken, and on PostgreSQL a serialization failure; and
// the first connection the pool hands out again, broken.
func faultsOf(run faultdb.Run, kind string) []faultdb.Fault {
	pg := kind == "postgres"
	var fs []faultdb.Fault
	add := func(op faultdb.Op, modes ...faultdb.Mode) {
		for _, m := range modes {
			fs = append(fs, faultdb.Fault{Kind: op.Kind, N: op.N, Mode: m})
		}
	}
	for _, op := range run.Trace {
		switch op.Kind {
		case faultdb.Statement:
			add(op, faultdb.Fail, faultdb.Break)
			if !op.InTx {
				add(op, faultdb.Lost)
			}
			if op.InTx && pg {
				add(op, faultdb.Retryable)
			}
		case faultdb.Begin:
			add(op, faultdb.Fail, faultdb.Break)
		case faultdb.Commit:
			add(op, faultdb.Fail, faultdb.Lost, faultdb.Break)
			if pg {
				add(op, faultdb.Retryable)
			}
		case faultdb.Reset:
			if op.N == 1 {
				add(op, faultdb.Break)
			}
		case faultdb.RoundTrip:
			add(op, faultdb.Break, faultdb.Lost)
		}
	}
	return fs
}

// want is what a fault must lead to.
type want struct {
	fails  string // "yes", "no" or "either"
	why    string
	commit bool // a lost commit: the change is whole although the call failed
}

// faultWant says what fault f, which hit operation fired (nil: not
// reached), must lead to. retried is whether a serialization failure in a
// transaction is run again below the caller (Store.Update does; the feed's
// sequencer does not).
func faultWant(f faultdb.Fault, fired *faultdb.Op, retried bool) want {
	switch {
	case fired == nil:
		return want{fails: "no", why: "the fault was not reached"}
	case f.Kind == faultdb.RoundTrip:
		return roundTripWant(f, fired)
	case f.Kind == faultdb.Reset:
		return want{fails: "no", why: "database/sql discards a connection that fails its reset and takes another"}
	case f.Mode == faultdb.Break && !fired.InTx && f.Kind != faultdb.Commit:
		return want{fails: "no", why: "database/sql runs an operation outside a transaction again on another connection when the driver says the connection is bad"}
	case f.Mode == faultdb.Retryable && retried:
		return want{fails: "no", why: "Store.Update runs a transaction aborted by a serialization failure again"}
	case f.Kind == faultdb.Prepare && !fired.InTx:
		return want{fails: "either", why: "the statement cache's warm-up skips a statement it could not prepare on the pool (the transaction that needs it prepares it); a read of the pool fails"}
	case f.Kind == faultdb.Commit && f.Mode == faultdb.Lost:
		return want{fails: "yes", why: "the commit happened and its answer was lost", commit: true}
	}
	return want{fails: "yes", why: "the operation failed"}
}

// roundTripWant is faultWant for a round trip on pgx's wire (database
// "pgx"), which op is. A round trip that ends with COMMIT is the commit's,
// alone or after the transaction's last save (bunstore's saveAndCommit).
func roundTripWant(f faultdb.Fault, op *faultdb.Op) want {
	switch {
	case !op.InTx && strings.HasPrefix(op.Query, "begin"):
		return want{fails: "no", why: "the transaction's first round trip: the connection is gone with nothing of the transaction " +
			"(PostgreSQL rolls back what it ran), and the store begins it again on another connection (Store.Update, the feed's sequencer)"}
	case op.InTx && (op.Query == "commit" || strings.HasSuffix(op.Query, "; commit")) && f.Mode == faultdb.Lost:
		return want{fails: "yes", why: "the commit happened and its answer was lost", commit: true}
	case op.InTx:
		return want{fails: "yes", why: "the connection was lost in the transaction, which PostgreSQL rolled back"}
	case f.Mode == faultdb.Break:
		return want{fails: "no", why: "outside a transaction nothing was sent: database/sql sends a statement again on another " +
			"connection when pgx's driver says so, the store reads a card again on another connection, and runs its " +
			"transaction again when the round trip before its first (pgx preparing a statement) lost the connection"}
	}
	return want{fails: "either", why: "outside a transaction, the answer of a read of the store's through pgx's API, or of pgx " +
		"preparing a transaction's statement, is sent again on another connection; a bun query's is not " +
		"(database/sql sends again only what was not sent)"}
}

// check returns what is wrong with err and state (stateOf) after a fault,
// or "".
func (w want) check(err error, state string, multiTx bool) string {
	if state == "torn" {
		return fmt.Sprintf("the store holds part of the change (error %v)", err)
	}
	if err == nil {
		if w.fails == "yes" {
			return fmt.Sprintf("no error, want one: %s", w.why)
		}
		if state != "whole" {
			return fmt.Sprintf("no error, and the store holds %s of the change", state)
		}
		return ""
	}
	if w.fails == "no" {
		return fmt.Sprintf("error %v, want none: %s", err, w.why)
	}
	if o := outcomeOf(err); o != "error" {
		return fmt.Sprintf("error %v is reported as %s: an injected failure is no fault of the request", err, o)
	}
	allowed := []string{"none"}
	if multiTx {
		allowed = append(allowed, "partial")
	}
	if w.commit {
		allowed = append(allowed, "whole")
	}
	if !slices.Contains(allowed, state) {
		return fmt.Sprintf("error %v, and the store holds %s of the change; want %s", err, state, strings.Join(allowed, " or "))
	}
	return ""
}

// stateOf compares the store after a fault with before it and with the
// reference run: "none" of the change, the "whole" change, "partial" (a
// use case of several transactions: each card and the rest either as
// before or as the reference left them) or "torn" (anything else).
func stateOf(before, after, ref storeSnap, multiTx bool) string {
	switch {
	case after.raw == before.raw:
		return "none"
	case after.norm == ref.norm:
		return "whole"
	case !multiTx || len(after.cards) != len(ref.cards) || len(before.cards) != len(ref.cards):
		return "torn"
	}
	for i := range after.cards {
		if after.cards[i] != before.cards[i] && after.cards[i] != ref.cards[i] {
			return "torn"
		}
	}
	if after.rest != before.rest && after.rest != ref.rest {
		return "torn"
	}
	return "partial"
}

// outcomeOf classifies a use case's answer.
func outcomeOf(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, card.ErrConflict):
		return "conflict"
	case errors.Is(err, card.ErrInvalid):
		return "invalid"
	case errors.Is(err, card.ErrNotFound):
		return "not found"
	case errors.Is(err, card.ErrForbidden), errors.Is(err, card.ErrUnauthorized):
		return "refused"
	}
	return "error"
}

// faultTally counts the faults a test injected.
type faultTally struct {
	mu       sync.Mutex
	injected map[string]int // by kind and mode
	total    int
	unfired  int
}

func (ft *faultTally) add(f faultdb.Fault, fired bool) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	if !fired {
		ft.unfired++
		return
	}
	if ft.injected == nil {
		ft.injected = make(map[string]int)
	}
	ft.injected[f.Kind.String()+" "+f.Mode.String()]++
	ft.total++
}

func (ft *faultTally) String() string {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	keys := make([]string, 0, len(ft.injected))
	for k := range ft.injected {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%d faults injected, %d not reached (", ft.total, ft.unfired)
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", k, ft.injected[k])
	}
	b.WriteString(")")
	return b.String()
}

// traceText lists the operations of a run, one a line.
func traceText(ops []faultdb.Op) string {
	var b strings.Builder
	for _, op := range ops {
		fmt.Fprintf(&b, "  %s\n", op)
	}
	return b.String()
}

// diffLines shows the lines of want and got that differ.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for _, l := range w {
		if !slices.Contains(g, l) {
			fmt.Fprintf(&b, "  - %s\n", l)
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			fmt.Fprintf(&b, "  + %s\n", l)
		}
	}
	if b.Len() == 0 {
		return "  (the same lines, in another order)\n"
	}
	return b.String()
}
