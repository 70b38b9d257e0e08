package natsjs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardcore/cardcore"
	"github.com/cardcore/cardcore/adapters/natsjs"
	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/lifecycle"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/uptrace/bun"
)

// The relays' settings: a lease short enough that the successor of a
// killed relay takes over soon (a lease lost to a pause of a loaded
// machine is taken again, and the deliverer goes on), batches small enough
// that the first relay is killed early in the load.
const (
	relayBatch = 32
	relayLease = 2 * time.Second
	// relaySubscription is the subscription cmd/cardcore's relay delivers
	// to JetStream.
	relaySubscription = "jetstream:" + natsjs.DefaultStream
)

// errKilled is what a killed relay process gets from whatever it still
// tries.
var errKilled = errors.New("the relay process was killed")

// TestClusterRelay runs the relay as cmd/cardcore wires it, on a real
// store (SQLite, and PostgreSQL when CARDCORE_TEST_PG_DSN is set), an
// events.Deliverer and the JetStream destination, against a stream with
// three replicas on a three-node cluster, while goroutines create cards
// and change their statuses. In the middle of a batch, with publishes of
// the batch stored by JetStream but their acknowledgements not yet
// received, the relay is killed (no acknowledgement, no cursor move, no
// lease release) and, at the same moment, the node it is connected to,
// the stream leader, is shut down. A new relay (new connection, new
// deliverer, same subscription) takes the lease over once it expires and
// resumes at the cursor. Once the load is over and the relay has caught
// up, the stream holds every event of the feed exactly once, nothing
// else, in seq order, and each card's events in version order.
func TestClusterRelay(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster and a load of changes")
	}
	testdb.Each(t, clusterRelay)
}

func clusterRelay(t *testing.T, db *bun.DB) {
	start := time.Now()
	since := func() time.Duration { return time.Since(start).Round(time.Millisecond) }
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	core, err := cardcore.New(ctx, db, cardcore.WithMigrations(cardcore.SkipMigrations))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = core.Close() })
	c := startCluster(t)
	leader := c.createStream(ctx, t)
	admin := connect(t, c.nodes[c.other(leader)].ClientURL())
	t.Logf("%v: cluster up, stream leader %s", since(), leader)

	l := startLoad(t, core, 3, 10*time.Millisecond)
	// The first relay starts on a backlog, so that the batch it is killed
	// in, its third, is a full one.
	waitUntil(ctx, t, "a backlog of three batches", func() bool { return head(ctx, t, core) >= 3*relayBatch })

	// The first relay, connected to the stream leader through a connection
	// that can hold back what the server sends it.
	gate := newAckGate()
	nc1 := connect(t, c.urls(leader), nats.DontRandomize(), nats.SetCustomDialer(gate))
	dest1, err := natsjs.New(ctx, nc1)
	if err != nil {
		t.Fatal(err)
	}
	kill := &killSwitch{dest: dest1, gate: gate, at: 3, inFlight: make(chan []events.Event, 1), killed: make(chan struct{})}
	p1 := newProcess(core.Store)
	d1 := newRelay(t, p1, kill, "relay-1")
	stop1 := run(t, d1)
	t.Logf("%v: the first relay started", since())

	var batch []events.Event
	select {
	case batch = <-kill.inFlight:
	case <-ctx.Done():
		t.Fatalf("the first relay did not reach its third batch: cursor %d", d1.Cursor())
	}
	if batch == nil {
		t.Fatalf("not killed mid-batch: %v", kill.early)
	}
	// The batch's second publish went out once its first was acknowledged,
	// and the rest follow it: wait until JetStream stored one of those.
	var storedAtKill int64
	waitUntil(ctx, t, "a publish of the batch in flight to be stored", func() bool {
		storedAtKill = lastStoredSeq(ctx, t, admin)
		return storedAtKill >= batch[1].Seq
	})
	cursorAtKill, headAtKill := d1.Cursor(), head(ctx, t, core)
	if victim := nc1.ConnectedServerName(); victim != leader {
		t.Fatalf("the first relay is connected to %s, not to the stream leader %s", victim, leader)
	}

	// The kill: the relay process dies with its batch in flight, and the
	// node it is connected to goes down.
	var down sync.WaitGroup
	down.Go(c.nodes[leader].Shutdown)
	kill.now(p1)
	stop1()
	nc1.Close()
	gate.kill()
	kill.wg.Wait()
	down.Wait()
	t.Logf("%v: killed the relay and %s in the batch of seqs %d-%d: cursor %d, stored up to %d, head %d",
		since(), leader, batch[0].Seq, batch[len(batch)-1].Seq, cursorAtKill, storedAtKill, headAtKill)
	if err := kill.early; err != nil {
		t.Fatalf("not killed mid-batch: %v", err)
	}
	if cursorAtKill >= batch[1].Seq || storedAtKill < batch[1].Seq {
		t.Fatalf("at the kill the cursor was %d and the stream held up to %d: no stored publish of the batch (seqs %d-%d) was unacknowledged",
			cursorAtKill, storedAtKill, batch[0].Seq, batch[len(batch)-1].Seq)
	}
	if cursorAtKill >= headAtKill {
		t.Fatalf("the cursor (%d) was not behind the head (%d) at the kill", cursorAtKill, headAtKill)
	}
	if got := d1.Cursor(); got != cursorAtKill {
		t.Fatalf("the killed relay moved its cursor from %d to %d", cursorAtKill, got)
	}

	// The successor, as a new process: a new connection to the cluster, a
	// new destination once the cluster answers for the stream again, and
	// a new deliverer of the same subscription.
	nc2 := connect(t, c.urls(""), nats.ReconnectWait(50*time.Millisecond), nats.MaxReconnects(-1))
	var dest2 *natsjs.Destination
	waitUntil(ctx, t, "the stream to answer after the node's loss", func() bool {
		nctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		dest2, err = natsjs.New(nctx, nc2)
		return err == nil
	})
	t.Cleanup(dest2.Close)
	p2 := newProcess(core.Store)
	d2 := newRelay(t, p2, dest2, "relay-2")
	stop2 := run(t, d2)
	t.Logf("%v: the second relay started", since())

	// The load goes on until the successor has taken the subscription over
	// and a few batches of changes were made since the kill; then the
	// successor catches up with the head.
	waitUntil(ctx, t, "the successor to take over, and changes after the kill", func() bool {
		return p2.resumed.Load() >= 0 && head(ctx, t, core) >= headAtKill+4*relayBatch
	})
	changes := l.stop(t)
	final := head(ctx, t, core)
	waitUntil(ctx, t, "the successor to catch up with the head", func() bool { return d2.Cursor() == final })
	stop2()
	t.Logf("%v: %d changes, %d events; the first relay delivered %d, the second %d",
		since(), changes, final, d1.Delivered(), d2.Delivered())
	if resumed := p2.resumed.Load(); resumed != cursorAtKill {
		t.Errorf("the successor resumed at %d, want the cursor at the kill, %d", resumed, cursorAtKill)
	}

	all := feedOf(ctx, t, core)
	if int64(len(all)) != changes {
		t.Errorf("the load made %d changes, and the feed holds %d events", changes, len(all))
	}
	wantFeedOnce(t, all, stored(t, admin, natsjs.DefaultStream))
}

// newRelay is the deliverer of the JetStream subscription, as
// cmd/cardcore's relay makes it, with a quicker poll; it logs what it
// reports.
func newRelay(t *testing.T, subs events.Subscriptions, dest events.Destination, holder string) *events.Deliverer {
	t.Helper()
	d, err := events.NewDeliverer(subs, relaySubscription, dest, events.DelivererConfig{
		Holder: holder, LeaseTTL: relayLease, Batch: relayBatch, Idle: 20 * time.Millisecond, Drain: 2 * time.Second,
		OnError: func(err error) { t.Logf("%s: %v", holder, err) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// run runs d until the returned function is called, or the test ends.
func run(t *testing.T, d *events.Deliverer) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v, want nil", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("Run did not return within 10s of its context's end")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// process is the store as one relay process reaches it. Once the process
// is killed it reaches nothing more: it moves no cursor, renews nothing
// and releases no lease, which is left to expire.
type process struct {
	events.Subscriptions
	dead atomic.Bool
	// resumed is the cursor of the first lease the process took, -1 until
	// it took one.
	resumed atomic.Int64
}

func newProcess(subs events.Subscriptions) *process {
	p := &process{Subscriptions: subs}
	p.resumed.Store(-1)
	return p
}

func (p *process) Acquire(ctx context.Context, name, holder string, ttl time.Duration) (events.Lease, error) {
	if p.dead.Load() {
		return events.Lease{}, errKilled
	}
	l, err := p.Subscriptions.Acquire(ctx, name, holder, ttl)
	if err == nil {
		p.resumed.CompareAndSwap(-1, l.Cursor)
	}
	return l, err
}

func (p *process) Advance(ctx context.Context, l events.Lease, seq int64, ttl time.Duration) (events.Lease, error) {
	if p.dead.Load() {
		return events.Lease{}, errKilled
	}
	return p.Subscriptions.Advance(ctx, l, seq, ttl)
}

func (p *process) Release(ctx context.Context, l events.Lease) error {
	if p.dead.Load() {
		return errKilled
	}
	return p.Subscriptions.Release(ctx, l)
}

func (p *process) After(ctx context.Context, after int64, limit int) ([]events.Event, error) {
	if p.dead.Load() {
		return nil, errKilled
	}
	return p.Subscriptions.After(ctx, after, limit)
}

// killSwitch is the first relay's destination: it delivers through dest
// until its at-th Deliver call. That call has the gate hold back what the
// server sends once the batch's publishes are pipelined (its second
// publish is on its way), sends the batch on inFlight, and waits for the
// kill; then it returns no acknowledgement at all, as a dead process
// would, and leaves the publishes it made to land. A call that ends before
// its publishes are in flight passes the kill on to the next.
type killSwitch struct {
	dest     events.Destination
	gate     *ackGate
	at       int
	inFlight chan []events.Event
	killed   chan struct{}

	calls int
	wg    sync.WaitGroup
	// early is set when the batch's Deliver returned before the kill: the
	// kill would not have been mid-batch.
	early error
}

func (k *killSwitch) Deliver(ctx context.Context, evs []events.Event) (int, error) {
	if k.calls++; k.calls != k.at {
		select {
		case <-k.killed:
			return 0, errKilled
		default:
			return k.dest.Deliver(ctx, evs)
		}
	}
	k.gate.arm(2)
	type result struct {
		acked int
		err   error
	}
	res := make(chan result, 1)
	k.wg.Go(func() {
		acked, err := k.dest.Deliver(ctx, evs)
		res <- result{acked, err}
	})
	select {
	case <-k.gate.holding:
		k.inFlight <- evs
	case r := <-res:
		if k.gate.disarm() {
			// Over before its publishes were in flight (a refusal, a lost
			// lease): the kill waits for the next batch.
			k.at++
			return r.acked, r.err
		}
		k.early = fmt.Errorf("the batch's Deliver returned %d, %v with its publishes in flight", r.acked, r.err)
		k.inFlight <- nil
		return r.acked, r.err
	}
	select {
	case <-k.killed:
	case r := <-res:
		select {
		case <-k.killed:
		default:
			k.early = fmt.Errorf("the batch's Deliver returned %d, %v before the kill", r.acked, r.err)
			return r.acked, r.err
		}
	}
	return 0, errKilled
}

// now kills the relay process of p and k: from now on p reaches nothing,
// and the Deliver in flight returns no acknowledgement.
func (k *killSwitch) now(p *process) {
	p.dead.Store(true)
	close(k.killed)
}

// ackGate dials the connections of a NATS client and can hold back what
// the server sends on them: the client's publishes go on reaching the
// server, and their acknowledgements stay in flight.
type ackGate struct {
	holding chan struct{} // closed once it holds
	dead    chan struct{} // closed by kill

	mu    sync.Mutex
	armed bool
	pubs  int // publishes to let out before holding, while armed
	held  bool
}

func newAckGate() *ackGate {
	return &ackGate{holding: make(chan struct{}), dead: make(chan struct{})}
}

// arm makes the gate hold from the moment the client sends its n-th
// publish of an event from now.
func (g *ackGate) arm(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.armed, g.pubs = true, n
}

// disarm disarms the gate unless it holds already, and reports whether it
// did.
func (g *ackGate) disarm() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.armed = g.held
	return !g.held
}

// kill ends the connections: a read held back fails, as do later ones.
func (g *ackGate) kill() { close(g.dead) }

// Dial implements nats.CustomDialer.
func (g *ackGate) Dial(network, address string) (net.Conn, error) {
	c, err := net.DialTimeout(network, address, 2*time.Second)
	if err != nil {
		return nil, err
	}
	return &gatedConn{Conn: c, g: g}, nil
}

// sent counts the publishes of events in b, about to be written, and
// starts holding when they reach the armed count.
func (g *ackGate) sent(b []byte) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.armed || g.held {
		return
	}
	if g.pubs -= bytes.Count(b, []byte("HPUB "+natsjs.DefaultPrefix+".")); g.pubs <= 0 {
		g.held = true
		close(g.holding)
	}
}

func (g *ackGate) holds() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.held
}

type gatedConn struct {
	net.Conn
	g *ackGate
}

func (c *gatedConn) Write(b []byte) (int, error) {
	c.g.sent(b)
	return c.Conn.Write(b)
}

// Read holds back what arrives once the gate holds (whatever arrived
// after the publish that made it hold) until the kill.
func (c *gatedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if c.g.holds() {
		<-c.g.dead
		return 0, errKilled
	}
	return n, err
}

// load makes changes through core.Cards until stopped.
type load struct {
	done    chan struct{} // closed by stop
	tick    *time.Ticker
	wg      sync.WaitGroup
	changes atomic.Int64
	once    sync.Once
}

// startLoad starts workers goroutines that make changes, together one
// every interval at most: a load that leaves the database time for the
// relay's reads and moves of its cursor, as a service's does.
func startLoad(t *testing.T, core *cardcore.Core, workers int, every time.Duration) *load {
	t.Helper()
	l := &load{done: make(chan struct{}), tick: time.NewTicker(every)}
	for w := range workers {
		l.wg.Go(func() { l.work(t, core, w) })
	}
	t.Cleanup(func() { l.stop(t) })
	return l
}

// work is worker w: it creates VIRTUAL cards in a few orgs, and after
// each it moves one of its earlier cards and the one before it between
// NORMAL and BLOCKED, so that the events of a card are spread over the
// feed. A change it started is finished: stop cancels none, so that the
// feed holds all of them once the load stopped.
func (l *load) work(t *testing.T, core *cardcore.Core, w int) {
	ctx := context.Background()
	type made struct {
		org     string
		id      int64
		blocked bool
	}
	var cards []made
	// change makes the change f in its turn.
	change := func(f func() error) bool {
		select {
		case <-l.done:
			return false
		case <-l.tick.C:
		}
		if err := f(); err != nil {
			t.Errorf("load: %v", err)
			return false
		}
		l.changes.Add(1)
		return true
	}
	toggle := func(m *made) func() error {
		return func() error {
			to := card.Blocked
			if m.blocked {
				to = card.Normal
			}
			_, err := core.Cards.UpdateStatus(ctx, m.org, m.id, to)
			m.blocked = !m.blocked
			return err
		}
	}
	orgs := []string{"acme", "globex", "org.with dots"}
	never := 0
	for i := 0; ; i++ {
		org, cst := orgs[(w+i)%len(orgs)], fmt.Sprintf("w%d-%d", w, i)
		created := change(func() error {
			c, err := core.Cards.Create(ctx, lifecycle.CreateRequest{OrgID: org, AccountID: cst, CustomerID: cst,
				Type: card.Virtual, Name: "online", CVVRotationIntervalHours: &never})
			if err == nil {
				cards = append(cards, made{org: org, id: c.ID})
			}
			return err
		})
		if !created || !change(toggle(&cards[i/2])) || (i > 0 && !change(toggle(&cards[i-1]))) {
			return
		}
	}
}

// stop stops the load, waits for its goroutines and returns how many
// changes it made.
func (l *load) stop(t *testing.T) int64 {
	t.Helper()
	l.once.Do(func() { close(l.done) })
	l.wg.Wait()
	l.tick.Stop()
	return l.changes.Load()
}

// head is the feed's head.
func head(ctx context.Context, t *testing.T, core *cardcore.Core) int64 {
	t.Helper()
	h, err := core.Store.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// feedOf is the whole feed.
func feedOf(ctx context.Context, t *testing.T, core *cardcore.Core) []events.Event {
	t.Helper()
	var all []events.Event
	for {
		var after int64
		if len(all) > 0 {
			after = all[len(all)-1].Seq
		}
		evs, err := core.Store.After(ctx, after, 500)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			return all
		}
		all = append(all, evs...)
	}
}

// lastStoredSeq is the Cardcore-Seq of the stream's last message, 0 when it
// is empty or does not answer.
func lastStoredSeq(ctx context.Context, t *testing.T, nc *nats.Conn) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	s, err := newJetStream(t, nc).Stream(ctx, natsjs.DefaultStream)
	if err != nil {
		return 0
	}
	info, err := s.Info(ctx)
	if err != nil || info.State.LastSeq == 0 {
		return 0
	}
	m, err := s.GetMsg(ctx, info.State.LastSeq)
	if err != nil {
		return 0
	}
	seq, _ := strconv.ParseInt(m.Header.Get(natsjs.SeqHeader), 10, 64)
	return seq
}

// waitUntil polls cond until it holds, and fails the test if ctx ends
// first.
func waitUntil(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s: %v", what, context.Cause(ctx))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// wantFeedOnce checks that msgs, the stream, are the events of feed, each
// exactly once, in seq order, with each card's events in version order.
func wantFeedOnce(t *testing.T, feed []events.Event, msgs []jetstream.Msg) {
	t.Helper()
	bySeq := make(map[string]int64, len(feed))
	for _, e := range feed {
		bySeq[e.ID] = e.Seq
	}
	seen := make(map[string]bool, len(msgs))
	versions := make(map[int64]int64) // the last version of each card
	var last int64
	for i, m := range msgs {
		id := m.Headers().Get(jetstream.MsgIDHeader)
		seq, ok := bySeq[id]
		switch {
		case !ok:
			t.Fatalf("message %d is %s, no event of the feed", i+1, id)
		case seen[id]:
			t.Fatalf("message %d is %s (seq %d) again", i+1, id, seq)
		case m.Headers().Get(natsjs.SeqHeader) != strconv.FormatInt(seq, 10):
			t.Fatalf("message %d is %s with %s %s, want %d", i+1, id, natsjs.SeqHeader, m.Headers().Get(natsjs.SeqHeader), seq)
		case seq <= last:
			t.Fatalf("message %d is seq %d, after seq %d", i+1, seq, last)
		}
		seen[id], last = true, seq
		var body struct {
			Seq  int64 `json:"seq"`
			Data struct {
				CardID  int64 `json:"card_id"`
				Version int64 `json:"version"`
			} `json:"data"`
		}
		if err := json.Unmarshal(m.Data(), &body); err != nil || body.Seq != seq {
			t.Fatalf("message %d (seq %d): body %s: %v", i+1, seq, m.Data(), err)
		}
		c := body.Data
		if prev := versions[c.CardID]; c.Version != prev+1 {
			t.Fatalf("message %d (seq %d) is card %d's version %d, after its version %d", i+1, seq, c.CardID, c.Version, prev)
		}
		versions[c.CardID] = c.Version
	}
	if len(msgs) != len(feed) {
		t.Fatalf("the stream holds %d messages, the feed %d events", len(msgs), len(feed))
	}
}
