package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardcore/cardcore/adapters/bunstore"
	"github.com/cardcore/cardcore/internal/testdb/pgschema"
)

// The crash tests run the built command as a process, kill it with SIGKILL
// at moments drawn from a seeded generator, start it again and hold the
// store to what it acknowledged (SPEC sections 4, 5 and 11). The seed is
// printed; CARDCORE_CRASH_SEED replays the same moments.

const (
	crashSeedEnv = "CARDCORE_CRASH_SEED"
	crashCycles  = 3     // kill and restart cycles of the load, per database
	crashWorkers = 4     // goroutines sending the load
	crashBulk    = 10000 // cards of the bulks killed while they start
	timedBulk    = 2500  // cards of the bulk whose start is timed
	migrateKills = 4     // kills of "cardcore migrate" after its migration began, per database (in at most three times as many tries)
)

func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("kills the command's processes; skipped with -short")
	}
	bin := buildCommand(t)
	seed := crashSeed(t)
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Run("load", func(t *testing.T) {
				testCrashLoad(t, bin, crashTarget(t, kind), crashRand(seed, t.Name()))
			})
			t.Run("bulk start", func(t *testing.T) {
				testCrashBulkStart(t, bin, crashTarget(t, kind), crashRand(seed, t.Name()))
			})
			t.Run("migration", func(t *testing.T) {
				testCrashMigration(t, bin, kind, crashRand(seed, t.Name()))
			})
		})
	}
}

// crashSeed returns the seed of the kill moments: CARDCORE_CRASH_SEED, or
// the clock's. It logs it so that a failure can be replayed.
func crashSeed(t *testing.T) uint64 {
	if v := os.Getenv(crashSeedEnv); v != "" {
		seed, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", crashSeedEnv, v, err)
		}
		t.Logf("seed %d (from %s)", seed, crashSeedEnv)
		return seed
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d (replay with %s=%d)", seed, crashSeedEnv, seed)
	return seed
}

// crashRand returns the generator of one subtest: the same seed and name
// give the same draws, whichever subtests run.
func crashRand(seed uint64, name string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// between draws a duration in [lo, hi).
func between(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(rng.Int64N(int64(hi-lo)))
}

// crashTarget returns a fresh database for the command's --db: a SQLite
// file in the test's directory, or a PostgreSQL schema of its own (skipping
// t without CARDCORE_TEST_PG_DSN).
func crashTarget(t *testing.T, kind string) string {
	if kind == "sqlite" {
		return filepath.Join(t.TempDir(), "crash.db")
	}
	return pgschema.URL(t, "cardcore_crash_")
}

// crashEnv is the environment of the command's processes: the test's, with
// a fresh token secret.
func crashEnv(t *testing.T) []string {
	return append(os.Environ(), secretEnv+"="+newSecret(t))
}

// proc is a process of the command that the test may kill at any moment.
type proc struct {
	cmd    *exec.Cmd
	stderr *syncBuffer   // its output, stdout and stderr
	done   chan struct{} // closed once the process has exited
	err    error         // its exit, once done is closed
}

// startProc starts the command with args; it is killed when t ends.
func startProc(t *testing.T, bin string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.stderr, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.kill)
	return p
}

// kill sends SIGKILL, unless the process has exited, and waits for it.
func (p *proc) kill() {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// exited reports whether the process has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// crashServer is a "cardcore serve" process and a client of its API.
type crashServer struct {
	*proc
	base   string
	token  string
	client *http.Client
}

// startServer starts "cardcore serve" on a free loopback port over target
// and waits until it answers /healthz.
func startServer(t *testing.T, bin string, env []string, token, target string, args ...string) *crashServer {
	t.Helper()
	s := launchServer(t, bin, env, token, target, args...)
	s.ready(t, "")
	return s
}

// launchServer starts "cardcore serve" on a free loopback port over target.
func launchServer(t *testing.T, bin string, env []string, token, target string, args ...string) *crashServer {
	t.Helper()
	addr := freeAddr(t)
	p := startProc(t, bin, env, append([]string{"serve", "--addr", addr, "--db", target}, args...)...)
	s := &crashServer{proc: p, base: "http://" + addr, token: token,
		client: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: crashWorkers}}}
	t.Cleanup(s.client.CloseIdleConnections)
	return s
}

// ready waits until the server answers /healthz, failing t with why if it
// exits first or takes more than 30 s.
func (s *crashServer) ready(t *testing.T, why string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := s.client.Get(s.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-s.done:
			t.Fatalf("serve exited before it was healthy%s: %v; stderr:\n%s", why, s.err, s.stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not healthy after 30 s%s (last: %v); stderr:\n%s", why, err, s.stderr)
		}
	}
}

// do sends one request with the server token. err is a transport error:
// the request got no answer.
func (s *crashServer) do(method, path string, headers map[string]string, body string) (code int, answer []byte, err error) {
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	answer, err = io.ReadAll(resp.Body)
	return resp.StatusCode, answer, err
}

// must sends one request that must be answered with code, and decodes the
// answer into v unless v is nil.
func (s *crashServer) must(t *testing.T, method, path string, headers map[string]string, body string, code int, v any) {
	t.Helper()
	got, answer, err := s.do(method, path, headers, body)
	if err != nil {
		t.Fatalf("%s %s: %v; stderr:\n%s", method, path, err, s.stderr)
	}
	if got != code {
		t.Fatalf("%s %s: %d, want %d; body %s", method, path, got, code, answer)
	}
	if v != nil {
		if err := json.Unmarshal(answer, v); err != nil {
			t.Fatalf("%s %s: %v; body %s", method, path, err, answer)
		}
	}
}

// feedEntry is an event of the feed as the test checks it.
type feedEntry struct {
	Seq     int64
	ID      string
	Type    string
	CardID  int64
	Version int64
	Status  string
	BulkID  string
	ExtID   string
}

// readFeed reads the org's whole feed through GET /events and checks what
// holds of any feed: positions 1, 2, 3... (the database holds one org),
// each event id once, and prev (an earlier read) as its beginning.
func readFeed(t *testing.T, s *crashServer, prev []feedEntry) []feedEntry {
	t.Helper()
	var feed []feedEntry
	for after := int64(0); ; {
		var page struct {
			Events []struct {
				Seq  int64  `json:"seq"`
				ID   string `json:"event_id"`
				Type string `json:"event_type"`
				Data struct {
					CardID     int64  `json:"card_id"`
					Version    int64  `json:"version"`
					CardStatus string `json:"card_status"`
					BulkID     string `json:"bulk_id"`
					ExternalID string `json:"external_id"`
				} `json:"data"`
			} `json:"events"`
			NextAfter int64 `json:"next_after"`
		}
		s.must(t, http.MethodGet, fmt.Sprintf("/events?after=%d&limit=%d", after, 1000), nil, "", http.StatusOK, &page)
		if len(page.Events) == 0 {
			break
		}
		for _, e := range page.Events {
			feed = append(feed, feedEntry{Seq: e.Seq, ID: e.ID, Type: e.Type, CardID: e.Data.CardID,
				Version: e.Data.Version, Status: e.Data.CardStatus, BulkID: e.Data.BulkID, ExtID: e.Data.ExternalID})
		}
		after = page.NextAfter
	}
	ids := make(map[string]int64, len(feed))
	for i, e := range feed {
		if e.Seq != int64(i+1) {
			t.Fatalf("feed event %d has position %d, want %d (a gap or a repeat): %+v", i+1, e.Seq, i+1, e)
		}
		if seq, dup := ids[e.ID]; dup {
			t.Errorf("event id %s is in the feed at %d and at %d", e.ID, seq, e.Seq)
		}
		ids[e.ID] = e.Seq
	}
	if len(feed) < len(prev) {
		t.Fatalf("the feed holds %d events, fewer than the %d read before the kill", len(feed), len(prev))
	}
	for i, e := range prev {
		if feed[i].ID != e.ID {
			t.Errorf("feed position %d holds event %s, before the kill it held %s", e.Seq, feed[i].ID, e.ID)
		}
	}
	return feed
}

// cardRow is a row of cardcore_cards, read past the API.
type cardRow struct {
	ID             int64
	Name           string
	AccountID      string
	Status         string
	Version        int64
	TrackNumber    int
	ReissuedCardID sql.NullInt64
	BulkID         sql.NullString
	ExternalID     sql.NullString
}

// storeRows reads every card of the database and the number of outbox
// rows, through a connection of the test's own.
func storeRows(t *testing.T, target string) (map[int64]cardRow, int) {
	t.Helper()
	ctx := t.Context()
	db, _, err := openDB(ctx, target, false)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// database/sql's own scan: bun's reflection costs seconds for a few
	// ten thousand rows under the race detector.
	q, err := db.QueryContext(ctx, "SELECT id, name, account_id, status, version, track_number, reissued_card_id, bulk_id, external_id FROM cardcore_cards")
	if err != nil {
		t.Fatalf("read cards: %v", err)
	}
	defer q.Close()
	byID := map[int64]cardRow{}
	for q.Next() {
		var r cardRow
		if err := q.Scan(&r.ID, &r.Name, &r.AccountID, &r.Status, &r.Version, &r.TrackNumber, &r.ReissuedCardID, &r.BulkID, &r.ExternalID); err != nil {
			t.Fatalf("read cards: %v", err)
		}
		byID[r.ID] = r
	}
	if err := q.Err(); err != nil {
		t.Fatalf("read cards: %v", err)
	}
	var outbox int
	if err := db.NewRaw("SELECT COUNT(*) FROM cardcore_outbox").Scan(ctx, &outbox); err != nil {
		t.Fatalf("count outbox rows: %v", err)
	}
	return byID, outbox
}

// bulkCards counts the cards of bulk id in the store.
func bulkCards(t *testing.T, target, id string) int {
	t.Helper()
	db, _, err := openDB(t.Context(), target, false)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.NewRaw("SELECT COUNT(*) FROM cardcore_cards WHERE bulk_id = ?", id).Scan(t.Context(), &n); err != nil {
		t.Fatalf("count the cards of bulk %s: %v", id, err)
	}
	return n
}

// wantWholeHistories checks that the feed and the cards agree: every event
// is about a card that exists, each card's events are create-1 then
// update-1 with versions 1..version in feed order, the last one with the
// card's status, and the outbox holds nothing the feed does not serve. It
// returns each card's events by version.
func wantWholeHistories(t *testing.T, rows map[int64]cardRow, outbox int, feed []feedEntry) map[int64][]feedEntry {
	t.Helper()
	if outbox != len(feed) {
		t.Errorf("the outbox holds %d events, the feed serves %d", outbox, len(feed))
	}
	history := make(map[int64][]feedEntry, len(rows))
	for _, e := range feed {
		if _, ok := rows[e.CardID]; !ok {
			t.Errorf("event %+v is about card %d, which does not exist", e, e.CardID)
			continue
		}
		history[e.CardID] = append(history[e.CardID], e)
	}
	for id, r := range rows {
		h := history[id]
		for i, e := range h {
			want := "update-1"
			if i == 0 {
				want = "create-1"
			}
			if e.Version != int64(i+1) || e.Type != want {
				t.Errorf("card %d: event %d of its history is %s version %d, want %s version %d", id, i+1, e.Type, e.Version, want, i+1)
			}
		}
		if int64(len(h)) != r.Version {
			t.Errorf("card %d is at version %d with %d events", id, r.Version, len(h))
		} else if len(h) > 0 && h[len(h)-1].Status != r.Status {
			t.Errorf("card %d is %s, its last event says %s", id, r.Status, h[len(h)-1].Status)
		}
	}
	return history
}

// loadCard is a card the load made, as far as acknowledged answers tell.
type loadCard struct {
	id       int64
	worker   int
	name     string
	version  int64 // acknowledged
	status   string
	replaced bool // reissued: its successor carries on
}

// unanswered is a request that got no answer because the server died: it
// may or may not have landed.
type unanswered struct {
	op     string // "create", "status" or "reissue"
	worker int
	key    string // create and reissue: the idempotency key
	name   string // create: the card's name
	body   string
	card   *loadCard // status and reissue: the card
	to     string    // status: the status asked for
}

// crashLoad is the load's record of what the server acknowledged.
type crashLoad struct {
	t      *testing.T
	reason int64
	mu     sync.Mutex
	cards  map[int64]*loadCard
	owned  [crashWorkers][]*loadCard
	open   []unanswered // requests in flight at the kill
	acked  int          // acknowledged changes
	busy   int          // 503 answers
	flight atomic.Int64 // requests in flight now
}

// loadAccount and loadCustomer are the account and customer of a worker's
// cards.
func loadAccount(worker int) string  { return strconv.Itoa(1001 + worker) }
func loadCustomer(worker int) string { return strconv.Itoa(2001 + worker) }

func (c *loadCard) path() string {
	return fmt.Sprintf("/wallet/v1/customers/%s/accounts/%s/cards/%d", loadCustomer(c.worker), loadAccount(c.worker), c.id)
}

func createHeaders(worker int, key string) map[string]string {
	return map[string]string{"x-account-id": loadAccount(worker), "x-customer-id": loadCustomer(worker), "x-idempotency-key": key}
}

// add records a card the server acknowledged.
func (l *crashLoad) add(c *loadCard) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, dup := l.cards[c.id]; dup {
		l.t.Errorf("card %d acknowledged twice as a new card", c.id)
	}
	l.cards[c.id] = c
	l.owned[c.worker] = append(l.owned[c.worker], c)
}

// answered sorts one answer: ok when it is the code wanted; a transport
// error or a 503 is recorded, anything else fails the test.
func (l *crashLoad) answered(u unanswered, err error, code, want int, body []byte) (ok, goOn bool) {
	switch {
	case err != nil:
		// Even a refused connection may follow an attempt that reached
		// the server: net/http sends a request with an idempotency key
		// again on a new connection when the first one fails.
		l.mu.Lock()
		l.open = append(l.open, u)
		l.mu.Unlock()
		return false, false
	case code == want:
		l.mu.Lock()
		l.acked++
		l.mu.Unlock()
		return true, true
	case code == http.StatusServiceUnavailable:
		l.mu.Lock()
		l.busy++
		l.mu.Unlock()
		return false, true
	default:
		l.t.Errorf("%s of worker %d: %d, want %d; body %s", u.op, u.worker, code, want, body)
		return false, false
	}
}

// work sends the load of one worker until the server dies or ctx ends:
// creates of VIRTUAL cards with idempotency keys, status updates that
// flip NORMAL and BLOCKED, and reissues.
func (l *crashLoad) work(ctx context.Context, s *crashServer, cycle, worker int, rng *rand.Rand) {
	for n := 0; ctx.Err() == nil; n++ {
		var live []*loadCard
		for _, c := range l.owned[worker] {
			if !c.replaced {
				live = append(live, c)
			}
		}
		var ok, goOn bool
		switch p := rng.Float64(); {
		case len(live) == 0 || p < 0.3:
			key := fmt.Sprintf("c%d-w%d-%d", cycle, worker, n)
			u := unanswered{op: "create", worker: worker, key: key, name: "crash-" + key,
				body: fmt.Sprintf(`{"type":"VIRTUAL","name":"crash-%s","cvv_rotation_interval_hours":24}`, key)}
			code, body, err := l.send(s, http.MethodPost, "/wallet/v2/cards", createHeaders(worker, key), u.body)
			if ok, goOn = l.answered(u, err, code, http.StatusCreated, body); ok {
				var got struct {
					ID     int64  `json:"id"`
					Status string `json:"status"`
					Name   string `json:"name"`
				}
				if err := json.Unmarshal(body, &got); err != nil || got.Status != "NORMAL" || got.Name != u.name {
					l.t.Errorf("create %s answered %s (%v), want a NORMAL card named %s", key, body, err, u.name)
					return
				}
				l.add(&loadCard{id: got.ID, worker: worker, name: u.name, version: 1, status: "NORMAL"})
			}
		case p < 0.85:
			c := live[rng.IntN(len(live))]
			to := "BLOCKED"
			if c.status == "BLOCKED" {
				to = "NORMAL"
			}
			u := unanswered{op: "status", worker: worker, card: c, to: to, body: `{"status":"` + to + `"}`}
			code, body, err := l.send(s, http.MethodPut, c.path()+"/status", nil, u.body)
			if ok, goOn = l.answered(u, err, code, http.StatusOK, body); ok {
				if !strings.Contains(string(body), `"status":"`+to+`"`) {
					l.t.Errorf("status %s of card %d answered %s", to, c.id, body)
					return
				}
				c.version, c.status = c.version+1, to
			}
		default:
			c := live[rng.IntN(len(live))]
			key := fmt.Sprintf("r%d-w%d-%d", cycle, worker, n)
			u := unanswered{op: "reissue", worker: worker, key: key, card: c, body: fmt.Sprintf(`{"reason_id":%d}`, l.reason)}
			code, body, err := l.send(s, http.MethodPost, c.path()+"/reissue", map[string]string{"x-idempotency-key": key}, u.body)
			if ok, goOn = l.answered(u, err, code, http.StatusOK, body); ok {
				if err := l.reissued(c, body); err != nil {
					l.t.Error(err)
					return
				}
			}
		}
		if !goOn {
			return
		}
		if !ok {
			time.Sleep(10 * time.Millisecond) // busy: let the other writers through
		}
	}
}

// reissued records an acknowledged reissue of c: a VIRTUAL card that is
// not terminated becomes CANCELED (SPEC 3), and its successor is a new
// NORMAL card.
func (l *crashLoad) reissued(c *loadCard, body []byte) error {
	var got struct {
		ID     int64  `json:"id"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(body, &got); err != nil || got.Status != "NORMAL" || got.ID == c.id {
		return fmt.Errorf("reissue of card %d answered %s (%v), want a new NORMAL card", c.id, body, err)
	}
	c.version, c.status, c.replaced = c.version+1, "CANCELED", true
	l.add(&loadCard{id: got.ID, worker: c.worker, name: c.name, version: 1, status: "NORMAL"})
	return nil
}

// send is crashServer.do, counting the requests in flight.
func (l *crashLoad) send(s *crashServer, method, path string, headers map[string]string, body string) (int, []byte, error) {
	l.flight.Add(1)
	defer l.flight.Add(-1)
	return s.do(method, path, headers, body)
}

// check holds the store, read after a restart, to what the load was told:
// every acknowledged change is there with its event, a request that got
// no answer landed whole or not at all, and no other card exists. prev is
// the feed read at the previous check; check returns the feed it read.
func (l *crashLoad) check(s *crashServer, target string, prev []feedEntry) []feedEntry {
	t := l.t
	t.Helper()
	rows, outbox := storeRows(t, target)
	feed := readFeed(t, s, prev)
	history := wantWholeHistories(t, rows, outbox, feed)

	open := map[*loadCard]unanswered{}
	for _, u := range l.open {
		if u.card != nil {
			open[u.card] = u
		}
	}
	successor := map[int64]int64{} // old card -> its successor
	for _, r := range rows {
		if r.ReissuedCardID.Valid {
			successor[r.ReissuedCardID.Int64] = r.ID
		}
	}
	for id, c := range l.cards {
		r, ok := rows[id]
		if !ok {
			t.Errorf("acknowledged card %d (%s) is gone", id, c.name)
			continue
		}
		if h := history[id]; int64(len(h)) < c.version || h[c.version-1].Status != c.status {
			t.Errorf("card %d: no event of version %d with the acknowledged status %s; history %+v", id, c.version, c.status, h)
		}
		u, inFlight := open[c]
		switch {
		case !inFlight:
			if r.Version != c.version || r.Status != c.status {
				t.Errorf("card %d is %s at version %d, acknowledged %s at version %d", id, r.Status, r.Version, c.status, c.version)
			}
		case r.Version == c.version:
			if r.Status != c.status {
				t.Errorf("card %d is %s at its acknowledged version %d, acknowledged %s", id, r.Status, r.Version, c.status)
			}
			if u.op == "reissue" && successor[id] != 0 {
				t.Errorf("card %d has successor %d, but the reissue left the card unchanged", id, successor[id])
			}
		case r.Version == c.version+1:
			want := u.to
			if u.op == "reissue" {
				want = "CANCELED"
				if successor[id] == 0 {
					t.Errorf("card %d was canceled by a reissue that made no successor", id)
				}
			}
			if r.Status != want {
				t.Errorf("card %d is %s after the %s in flight at the kill, want %s", id, r.Status, u.op, want)
			}
		default:
			t.Errorf("card %d is at version %d, acknowledged at %d with one request in flight", id, r.Version, c.version)
		}
	}

	// Any other card must be the one an unanswered create or reissue made.
	explained := map[int]bool{}
	for id, r := range rows {
		if _, ok := l.cards[id]; ok {
			continue
		}
		found := false
		for i, u := range l.open {
			if explained[i] {
				continue
			}
			create := u.op == "create" && r.Name == u.name && r.TrackNumber == 1 && !r.ReissuedCardID.Valid && r.AccountID == loadAccount(u.worker)
			reissue := u.op == "reissue" && r.ReissuedCardID.Valid && r.ReissuedCardID.Int64 == u.card.id
			if create || reissue {
				explained[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("card %d (%+v) was made by no request of the load", id, r)
		}
	}
	return feed
}

// settle makes the requests that got no answer again, with their
// idempotency keys: each create and reissue yields exactly one card (the
// one that landed before the kill, if any), and a status update's outcome
// is read from the store.
func (l *crashLoad) settle(s *crashServer, target string) {
	t := l.t
	t.Helper()
	rows, _ := storeRows(t, target)
	open := l.open
	l.open = nil
	for _, u := range open {
		switch u.op {
		case "status":
			r := rows[u.card.id]
			u.card.version, u.card.status = r.Version, r.Status
		case "create":
			var got struct{ ID int64 }
			s.must(t, http.MethodPost, "/wallet/v2/cards", createHeaders(u.worker, u.key), u.body, http.StatusCreated, &got)
			for _, r := range rows {
				if r.Name == u.name && r.ID != got.ID {
					t.Errorf("create %s made card %d before the kill and card %d when repeated", u.key, r.ID, got.ID)
				}
			}
			l.acked++
			l.add(&loadCard{id: got.ID, worker: u.worker, name: u.name, version: 1, status: "NORMAL"})
		case "reissue":
			code, body, err := s.do(http.MethodPost, u.card.path()+"/reissue", map[string]string{"x-idempotency-key": u.key}, u.body)
			if err != nil || code != http.StatusOK {
				t.Fatalf("reissue %s of card %d repeated: %d %s (%v)", u.key, u.card.id, code, body, err)
			}
			var got struct{ ID int64 }
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("reissue %s repeated: %v; body %s", u.key, err, body)
			}
			for _, r := range rows {
				if r.ReissuedCardID.Valid && r.ReissuedCardID.Int64 == u.card.id && r.ID != got.ID {
					t.Errorf("reissue %s made card %d before the kill and answered card %d when repeated", u.key, r.ID, got.ID)
				}
			}
			// Whether it landed before the kill or now, the card moved
			// once from its acknowledged version.
			if err := l.reissued(u.card, body); err != nil {
				t.Error(err)
			}
			l.acked++
		}
	}
}

// testCrashLoad kills "cardcore serve" with SIGKILL while workers send it
// changes, restarts it and checks the store against the answers, cycle
// after cycle.
func testCrashLoad(t *testing.T, bin, target string, rng *rand.Rand) {
	env := crashEnv(t)
	token := mintToken(t, bin, env, "--server")
	s := startServer(t, bin, env, token, target)
	l := &crashLoad{t: t, cards: map[int64]*loadCard{}}
	var reason struct{ ID int64 }
	s.must(t, http.MethodPost, "/wallet/v1/reissue-reasons", nil, `{"description":"crash test","type":"BROKEN"}`, http.StatusCreated, &reason)
	l.reason = reason.ID

	var feed []feedEntry
	inFlight := 0
	for cycle := range crashCycles {
		seeds := make([]uint64, crashWorkers)
		for i := range seeds {
			seeds[i] = rng.Uint64()
		}
		wait := between(rng, 100*time.Millisecond, time.Second)
		ctx, stop := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		for w := range crashWorkers {
			wg.Go(func() { l.work(ctx, s, cycle, w, rand.New(rand.NewPCG(seeds[w], uint64(w)))) })
		}
		time.Sleep(wait)
		flying, early := l.flight.Load(), s.exited()
		s.kill()
		stop()
		wg.Wait()
		if early {
			t.Fatalf("serve exited by itself during the load: %v; stderr:\n%s", s.err, s.stderr)
		}
		inFlight += int(flying)
		t.Logf("cycle %d: killed after %s with %d requests in flight; %d left unanswered", cycle+1, wait, flying, len(l.open))
		if t.Failed() {
			t.FailNow()
		}

		s.client.CloseIdleConnections()
		s = startServer(t, bin, env, token, target)
		feed = l.check(s, target, feed)
		l.settle(s, target)
		if t.Failed() {
			t.FailNow()
		}
	}
	feed = l.check(s, target, feed)
	t.Logf("%d kills, %d acknowledged changes checked (%d cards, %d events), %d requests in flight at the kills, %d busy answers",
		crashCycles, l.acked, len(l.cards), len(feed), inFlight, l.busy)
}

// testCrashBulkStart kills "cardcore serve" while it starts a noname bulk
// and restarts it: the bulk has all its cards or none (Start is one
// transaction, package noname), or, were it made chunk by chunk (SPEC 4),
// the cards made so far with no external id twice; starting it again
// finishes it with exactly one card per external id, each with its one
// Card created event.
func testCrashBulkStart(t *testing.T, bin, target string, rng *rand.Rand) {
	env := crashEnv(t)
	token := mintToken(t, bin, env, "--server")
	programs := filepath.Join(t.TempDir(), "programs.json")
	if err := os.WriteFile(programs, fmt.Appendf(nil, `[{"id":2,"bin":"12345678","brand":"VISA","bulk_size_limit":%d}]`, crashBulk), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, bin, env, token, target, "--programs", programs)

	type bulkBody struct {
		ID          string         `json:"id"`
		Status      string         `json:"status"`
		ExternalIDs int            `json:"external_ids"`
		Cards       map[string]int `json:"cards"`
	}
	size := map[string]int{}      // bulk id -> its number of external ids
	prefix := map[string]string{} // bulk id -> the prefix of its external ids
	newBulk := func(n int) string {
		p := fmt.Sprintf("b%d-", len(size))
		ids := make([]string, n)
		for i := range ids {
			ids[i] = fmt.Sprintf("%s%05d", p, i)
		}
		body, _ := json.Marshal(map[string]any{"program_id": 2, "external_ids": ids})
		var b bulkBody
		s.must(t, http.MethodPost, "/cards/v1/bulks", nil, string(body), http.StatusCreated, &b)
		size[b.ID], prefix[b.ID] = n, p
		return b.ID
	}
	wantStarted := func(id string) {
		t.Helper()
		var b bulkBody
		s.must(t, http.MethodGet, "/cards/v1/bulks/"+id, nil, "", http.StatusOK, &b)
		if n := size[id]; b.Status != "STARTED" || b.ExternalIDs != n || len(b.Cards) != 1 || b.Cards["UNBOUND"] != n {
			t.Errorf("bulk %s is %+v, want STARTED with %d UNBOUND cards", id, b, n)
		}
	}

	// An acknowledged start, timed: the kills land within the estimated
	// duration of a start crashBulk/timedBulk times larger.
	first := newBulk(timedBulk)
	began := time.Now()
	s.must(t, http.MethodPost, "/cards/v1/bulks/"+first+"/start", nil, "", http.StatusAccepted, nil)
	took := time.Since(began) * crashBulk / timedBulk
	t.Logf("a %d-card bulk started in %s: a %d-card one should take %s", timedBulk,
		(took * timedBulk / crashBulk).Round(time.Millisecond), crashBulk, took.Round(time.Millisecond))

	hit := false
	for attempt := 0; attempt < 3 && !hit; attempt++ {
		id := newBulk(crashBulk)
		wait := between(rng, took/10, took/2) >> attempt
		answered := make(chan int, 1)
		go func() {
			code, _, err := s.do(http.MethodPost, "/cards/v1/bulks/"+id+"/start", nil, "")
			if err != nil {
				code = 0
			}
			answered <- code
		}()
		time.Sleep(wait)
		s.kill()
		code := <-answered
		hit = code == 0
		t.Logf("bulk %s: killed %s into its start (answered before: %v)", id, wait.Round(time.Millisecond), !hit)
		s.client.CloseIdleConnections()
		s = startServer(t, bin, env, token, target, "--programs", programs)

		var b bulkBody
		s.must(t, http.MethodGet, "/cards/v1/bulks/"+id, nil, "", http.StatusOK, &b)
		made := bulkCards(t, target, id)
		t.Logf("bulk %s after the restart: %s, cards %v (%d in the store)", id, b.Status, b.Cards, made)
		switch b.Status {
		case "CREATED": // rolled back whole
			if made != 0 || len(b.Cards) != 0 {
				t.Errorf("bulk %s is CREATED after the kill, yet %d of its cards exist (bulk read: %v)", id, made, b.Cards)
			}
		case "STARTED": // committed whole before the kill
			if made != size[id] {
				t.Errorf("bulk %s is STARTED with %d of its %d cards", id, made, size[id])
			}
		case "PROCESSING": // made chunk by chunk (SPEC 4)
			// The restarted serve may be finishing it meanwhile: the store,
			// read after the bulk, holds at least the cards the read counts.
			if b.Cards["UNBOUND"] > made {
				t.Errorf("bulk %s is PROCESSING: its read counts %v, the store holds only %d cards", id, b.Cards, made)
			}
		default:
			t.Errorf("bulk %s is %s after a kill during its start", id, b.Status)
		}
		if code != 0 && b.Status != "STARTED" {
			t.Errorf("bulk %s: its start was answered %d before the kill, yet it is %s", id, code, b.Status)
		}
		if b.Status != "STARTED" {
			// Starting it again finishes it; a service that finishes it on
			// its own start (serve resumes PROCESSING bulks) refuses a
			// second start while it runs, or once STARTED. Either way the
			// bulk reaches STARTED.
			code, answer, err := s.do(http.MethodPost, "/cards/v1/bulks/"+id+"/start", nil, "")
			if err != nil || (code != http.StatusAccepted && code != http.StatusConflict) {
				t.Fatalf("starting bulk %s again: %d %s (%v)", id, code, answer, err)
			}
			deadline := time.Now().Add(time.Minute)
			for b.Status != "STARTED" && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
				s.must(t, http.MethodGet, "/cards/v1/bulks/"+id, nil, "", http.StatusOK, &b)
			}
		}
		for id := range size {
			wantStarted(id)
		}
	}
	if !hit {
		t.Fatalf("no kill landed before a start answered in 3 attempts (a start takes %s)", took)
	}

	rows, outbox := storeRows(t, target)
	feed := readFeed(t, s, nil)
	history := wantWholeHistories(t, rows, outbox, feed)
	total := 0
	for _, n := range size {
		total += n
	}
	if len(rows) != total {
		t.Errorf("the store holds %d cards, want %d (bulks %v)", len(rows), total, size)
	}
	seen := map[string]int64{}
	for id, r := range rows {
		key := r.BulkID.String + "/" + r.ExternalID.String
		if other, dup := seen[key]; dup {
			t.Errorf("external id %s has cards %d and %d", key, other, id)
		}
		seen[key] = id
		if p, ok := prefix[r.BulkID.String]; !ok || !strings.HasPrefix(r.ExternalID.String, p) {
			t.Errorf("card %d has external id %s of bulk %s, which the test did not make", id, r.ExternalID.String, r.BulkID.String)
		}
		if h := history[id]; len(h) != 1 || h[0].BulkID != r.BulkID.String || h[0].ExtID != r.ExternalID.String || h[0].Status != "UNBOUND" {
			t.Errorf("card %d of bulk %s has events %+v, want one UNBOUND create-1 with its bulk and external id", id, r.BulkID.String, h)
		}
	}
	t.Logf("%d bulks, %d cards, %d events: no external id twice, every card with its one event", len(size), len(rows), len(feed))
}

// testCrashMigration kills "cardcore migrate" with SIGKILL at random
// early moments on fresh databases, then starts "cardcore serve" on each:
// SPEC 11 wants nothing a killed migration left to block that start. The
// kills go on on one database until a migration runs to its end before
// its kill; the next kills take a fresh database.
func testCrashMigration(t *testing.T, bin, kind string, rng *rand.Rand) {
	env := crashEnv(t)
	// A whole migration on a database of its own, timed from its log line
	// "migrating" (the database is open, the migrations start) to its
	// exit: the kills land within that time after the same line, so that
	// how long a process takes to start on a busy machine does not matter.
	first := startProc(t, bin, env, "migrate", "--db", crashTarget(t, kind))
	began := awaitMigrating(t, first)
	<-first.done
	if first.err != nil {
		t.Fatalf("cardcore migrate: %v\n%s", first.err, first.stderr.String())
	}
	took := time.Since(began)
	t.Logf("a migration of a fresh database takes %s", took.Round(time.Millisecond))

	type killed struct {
		target string
		logs   []string
	}
	dbs := []*killed{{target: crashTarget(t, kind)}}
	kills, during := 0, 0 // during: kills after the migration began and before it ended
	for attempt := 1; attempt <= 3*migrateKills && during < migrateKills; attempt++ {
		db := dbs[len(dbs)-1]
		// The first half: the rest of took is mostly the process's exit.
		wait := between(rng, 0, took/2)
		p := startProc(t, bin, env, "migrate", "--db", db.target)
		awaitMigrating(t, p)
		time.Sleep(wait)
		p.kill()
		out := p.stderr.String()
		// A process the kill found running ended by the signal; "migrating"
		// is logged once the database is open, right before the migrations,
		// and "migrated" printed once they are done.
		running := p.cmd.ProcessState.ExitCode() == -1
		began := strings.Contains(out, "msg=migrating") && !strings.Contains(out, "\nmigrated ")
		t.Logf("migrate %d on database %d: killed %s after it logged migrating (running: %v, migration begun: %v)",
			attempt, len(dbs), wait.Round(time.Millisecond), running, began)
		if !running {
			if p.err != nil {
				t.Errorf("cardcore migrate on database %d after %d kills: %v (SPEC 11: a process killed during a migration leaves nothing that blocks the next start); its log:\n%s\nthe killed migrations' logs:\n%s",
					len(dbs), len(db.logs), p.err, out, strings.Join(db.logs, "---\n"))
			}
			// It ran to its end: the next kill needs a fresh database.
			dbs = append(dbs, &killed{target: crashTarget(t, kind)})
			continue
		}
		kills++
		db.logs = append(db.logs, out)
		if began {
			during++
		}
	}
	if during == 0 {
		t.Fatalf("no kill landed during a migration (a migration takes %s)", took)
	}

	// A normal start on every database a kill left behind.
	token := mintToken(t, bin, env, "--server")
	for i, db := range dbs {
		if len(db.logs) == 0 {
			continue
		}
		s := launchServer(t, bin, env, token, db.target)
		s.ready(t, fmt.Sprintf(" on database %d after %d killed migrations (SPEC 11: a process killed during a migration leaves nothing that blocks the next start); the killed migrations' logs:\n%s",
			i+1, len(db.logs), strings.Join(db.logs, "---\n")))
		wantServing(t, s, db.target)
		s.kill()
	}
	t.Logf("%d kills of cardcore migrate (%d after the migration began), then serve started and served on each database they left",
		kills, during)
}

// awaitMigrating waits until the process p logs "migrating", or exits, and
// returns when it saw it.
func awaitMigrating(t *testing.T, p *proc) time.Time {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(p.stderr.String(), "msg=migrating") && !p.exited() {
		if time.Now().After(deadline) {
			t.Fatalf("cardcore migrate logged no \"migrating\" in a minute; its log:\n%s", p.stderr.String())
		}
		time.Sleep(200 * time.Microsecond)
	}
	return time.Now()
}

// wantServing checks a server started on a database whose migrations were
// killed: no migration is pending, and a card can be made, with its event
// in the feed.
func wantServing(t *testing.T, s *crashServer, target string) {
	t.Helper()
	db, _, err := openDB(t.Context(), target, false)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if pending, err := bunstore.Pending(t.Context(), db); err != nil || len(pending) > 0 {
		t.Errorf("after the start, migrations %v are pending (%v)", pending, err)
	}
	rows, _ := storeRows(t, target)
	feed := readFeed(t, s, nil)
	var created struct{ ID int64 }
	s.must(t, http.MethodPost, "/wallet/v2/cards", createHeaders(0, "after-migrations"),
		`{"type":"VIRTUAL","name":"online","cvv_rotation_interval_hours":24}`, http.StatusCreated, &created)
	after := readFeed(t, s, feed)
	if len(rows) != 0 || len(feed) != 0 || len(after) != 1 || after[0].CardID != created.ID || after[0].Type != "create-1" {
		t.Errorf("%d cards and feed %+v before, feed %+v after one create: want nothing, then the one create-1 of card %d",
			len(rows), feed, after, created.ID)
	}
}
