package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cardcore/cardcore"
	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/internal/natstest"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/lifecycle"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/uptrace/bun"
)

// startNATS runs a JetStream server in the test process.
func startNATS(t *testing.T) *server.Server {
	t.Helper()
	return natstest.StartServer(t, t.TempDir(), -1)
}

// createAndBlock creates a VIRTUAL card of org for account and blocks it:
// two events.
func createAndBlock(ctx context.Context, core *cardcore.Core, org string, account int) error {
	never := 0
	c, err := core.Cards.Create(ctx, lifecycle.CreateRequest{OrgID: org, AccountID: strconv.Itoa(account),
		CustomerID: strconv.Itoa(account), Type: card.Virtual, Name: "online", CVVRotationIntervalHours: &never})
	if err == nil {
		_, err = core.Cards.UpdateStatus(ctx, org, c.ID, card.Blocked)
	}
	return err
}

// makeChanges creates n cards of org and blocks each: 2n events.
func makeChanges(t *testing.T, core *cardcore.Core, org string, n int) {
	t.Helper()
	for i := range n {
		if err := createAndBlock(t.Context(), core, org, 1000+i); err != nil {
			t.Fatal(err)
		}
	}
}

// streamed reads the stream's messages in order: their Nats-Msg-Id (the
// event ids) and Cardcore-Seq.
func streamed(t *testing.T, url, stream string) (ids []string, seqs []int64) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close() // streamed polls: each call closes its own connection
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil // the relay has not created it yet
	}
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for n := uint64(1); n <= info.State.LastSeq; n++ {
		m, err := st.GetMsg(ctx, n)
		if err != nil {
			t.Fatalf("message %d: %v", n, err)
		}
		seq, err := strconv.ParseInt(m.Header.Get("Cardcore-Seq"), 10, 64)
		if err != nil {
			t.Fatalf("message %d: Cardcore-Seq: %v", n, err)
		}
		ids, seqs = append(ids, m.Header.Get("Nats-Msg-Id")), append(seqs, seq)
	}
	return ids, seqs
}

// wantWholeFeed checks that the stream holds every event of the feed
// exactly once, in feed order.
func wantWholeFeed(t *testing.T, core *cardcore.Core, url, stream string) {
	t.Helper()
	feed, err := core.Store.After(t.Context(), 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	ids, seqs := streamed(t, url, stream)
	if len(ids) != len(feed) {
		t.Fatalf("the stream holds %d messages, the feed %d events", len(ids), len(feed))
	}
	for i, e := range feed {
		if ids[i] != e.ID || seqs[i] != e.Seq {
			t.Fatalf("message %d is event %s (seq %d), want %s (seq %d)", i+1, ids[i], seqs[i], e.ID, e.Seq)
		}
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitDelivered waits until the stream holds as many messages as the
// feed has events now, and returns that head.
func waitDelivered(t *testing.T, core *cardcore.Core, url, stream, what string, d time.Duration) int64 {
	t.Helper()
	head, err := core.Store.Head(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, what, d, func() bool {
		ids, _ := streamed(t, url, stream)
		return int64(len(ids)) >= head
	})
	return head
}

// The relay delivers the whole feed to JetStream, in order, keeps up with
// new changes, and returns nil once stopped.
func TestRelay(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		ns := startNATS(t)
		core, err := cardcore.New(t.Context(), db, cardcore.WithMigrations(cardcore.SkipMigrations))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = core.Close() })
		makeChanges(t, core, "acme", 10)
		cfg := &relayConfig{natsURL: ns.ClientURL(), stream: "RELAY_TEST", prefix: "cardcore", replicas: 1,
			holder: "test", lease: 2 * time.Second, progress: 100 * time.Millisecond, endpointsEvery: time.Second}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- runRelay(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), core, cfg) }()
		makeChanges(t, core, "globex", 10)
		waitDelivered(t, core, ns.ClientURL(), "RELAY_TEST", "the relay to deliver the feed", 30*time.Second)
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("relay: %v", err)
		}
		wantWholeFeed(t, core, ns.ClientURL(), "RELAY_TEST")
	})
}

// A relay process killed with SIGKILL in the middle of a stream of
// changes loses nothing and duplicates nothing: the next relay takes the
// lease over once it expires, resumes at the cursor, and JetStream drops
// the redelivery of the batch that was in flight.
func TestRelayKill9(t *testing.T) {
	bin := buildCommand(t)
	ns := startNATS(t)
	path := filepath.Join(t.TempDir(), "relay.db")
	db := testdb.SQLite(t, path)
	core, err := cardcore.New(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = core.Close() })
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "relay", "--db", path, "--nats", ns.ClientURL(), "--lease", "1s", "--progress-every", "0")
		if testing.Verbose() {
			cmd.Stderr = os.Stderr
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}

	var wg sync.WaitGroup
	load, stop := context.WithCancel(t.Context())
	wg.Go(func() {
		for i := 0; load.Err() == nil; i++ {
			if err := createAndBlock(t.Context(), core, "acme", i); err != nil {
				t.Error(err)
				return
			}
		}
	})
	first := start()
	waitFor(t, "the first relay to deliver", 30*time.Second, func() bool {
		ids, _ := streamed(t, ns.ClientURL(), "CARDCORE_EVENTS")
		return len(ids) >= 200
	})
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	time.Sleep(300 * time.Millisecond) // more changes while no relay runs
	second := start()
	t.Cleanup(func() { _ = second.Process.Kill(); _ = second.Wait() })
	time.Sleep(500 * time.Millisecond)
	stop()
	wg.Wait()

	head := waitDelivered(t, core, ns.ClientURL(), "CARDCORE_EVENTS", "the second relay to catch up", 60*time.Second)
	if err := second.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := second.Wait(); err != nil {
		t.Fatalf("the second relay exited with %v after SIGINT", err)
	}
	wantWholeFeed(t, core, ns.ClientURL(), "CARDCORE_EVENTS")
	t.Logf("%d events, delivered exactly once across a kill -9", head)
}
