package natsjs_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardcore/cardcore/adapters/natsjs"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestDeliverSubjectsHeadersBody(t *testing.T) {
	d, nc := newDestination(t)
	evs := feed(1, 3)
	if acked, err := d.Deliver(t.Context(), evs); acked != 3 || err != nil {
		t.Fatalf("Deliver = %d, %v; want 3, nil", acked, err)
	}

	msgs := stored(t, nc, natsjs.DefaultStream)
	wantSubjects := []string{
		"cardcore.acme.create-1",
		"cardcore.globex.update-1",
		"cardcore.org%2Ewith%20dots.bind_card-1",
	}
	if len(msgs) != len(wantSubjects) {
		t.Fatalf("stream holds %d messages, want %d", len(msgs), len(wantSubjects))
	}
	for i, m := range msgs {
		if m.Subject() != wantSubjects[i] {
			t.Errorf("message %d: subject %q, want %q", i, m.Subject(), wantSubjects[i])
		}
		h := m.Headers()
		if got := h.Get(jetstream.MsgIDHeader); got != evs[i].ID {
			t.Errorf("message %d: Nats-Msg-Id %q, want %q", i, got, evs[i].ID)
		}
		if got := h.Get(natsjs.SeqHeader); got != strconv.FormatInt(evs[i].Seq, 10) {
			t.Errorf("message %d: Cardcore-Seq %q, want %d", i, got, evs[i].Seq)
		}
		// The first event learns the stream's last sequence; the others
		// expect their predecessor's.
		if got, want := h.Get(jetstream.ExpectedLastSeqHeader), []string{"", "1", "2"}[i]; got != want {
			t.Errorf("message %d: Nats-Expected-Last-Sequence %q, want %q", i, got, want)
		}
		org, typ, err := natsjs.ParseSubject(d.Prefix(), m.Subject())
		if err != nil || org != evs[i].OrgID || typ != evs[i].Type {
			t.Errorf("ParseSubject(%q) = %q, %q, %v; want %q, %q", m.Subject(), org, typ, err, evs[i].OrgID, evs[i].Type)
		}
	}
	// The feed's rendering: the envelope, then its seq.
	const wantBody = `{"event_id":"00000000-0000-4000-8000-000000000001","domain":"cards","event_type":"create-1",` +
		`"schema_version":1,"org_id":"acme","cid":"cid-1","timestamp":"2026-03-01T12:00:00.001Z",` +
		`"data":{"card_id":1,"version":1},"seq":1}`
	if got := string(msgs[0].Data()); got != wantBody {
		t.Errorf("body\n got %s\nwant %s", got, wantBody)
	}
}

func TestRedeliveryWithinWindowIsDropped(t *testing.T) {
	d, nc := newDestination(t)
	evs := feed(1, 50)
	if acked, err := d.Deliver(t.Context(), evs); acked != len(evs) || err != nil {
		t.Fatalf("Deliver = %d, %v", acked, err)
	}
	// The deliverer redelivers from a cursor behind what the stream holds
	// (a crash before the cursor moved): the whole batch, and then a batch
	// that overlaps the stored events and goes beyond.
	if acked, err := d.Deliver(t.Context(), evs); acked != len(evs) || err != nil {
		t.Fatalf("redelivery: Deliver = %d, %v", acked, err)
	}
	more := feed(1, 60)
	if acked, err := d.Deliver(t.Context(), more[20:]); acked != 40 || err != nil {
		t.Fatalf("overlapping redelivery: Deliver = %d, %v", acked, err)
	}

	msgs := stored(t, nc, natsjs.DefaultStream)
	if len(msgs) != 60 {
		t.Fatalf("stream holds %d messages, want 60", len(msgs))
	}
	wantIDs(t, msgs, more)

	// The same message, published again, is acknowledged as a duplicate of
	// the stored one.
	js := newJetStream(t, nc)
	m := msgs[4]
	ack, err := js.Publish(t.Context(), m.Subject(), m.Data(), jetstream.WithMsgID(m.Headers().Get(jetstream.MsgIDHeader)))
	if err != nil {
		t.Fatal(err)
	}
	if !ack.Duplicate || ack.Sequence != 5 {
		t.Errorf("PubAck = %+v; want Duplicate of sequence 5", ack)
	}
}

// TestChainDoesNotOutliveACall hands the subscription from one deliverer to
// another and back, with a message of another writer in between: each call
// learns where the stream is, so the events stay in order.
func TestChainDoesNotOutliveACall(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	a, err := natsjs.New(t.Context(), connect(t, s.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	b, err := natsjs.New(t.Context(), connect(t, s.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	nc := connect(t, s.ClientURL())
	js := newJetStream(t, nc)
	evs := feed(1, 30)
	if acked, err := a.Deliver(t.Context(), evs[:10]); acked != 10 || err != nil {
		t.Fatalf("a: Deliver = %d, %v", acked, err)
	}
	if _, err := js.Publish(t.Context(), "cardcore.other.note-1", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if acked, err := b.Deliver(t.Context(), evs[10:20]); acked != 10 || err != nil {
		t.Fatalf("b: Deliver = %d, %v", acked, err)
	}
	if acked, err := a.Deliver(t.Context(), evs[20:]); acked != 10 || err != nil {
		t.Fatalf("a again: Deliver = %d, %v", acked, err)
	}
	got := storedSeqs(t, nc, natsjs.DefaultStream)
	want := "1 2 3 4 5 6 7 8 9 10  11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30"
	if got != want {
		t.Errorf("stream seqs %q, want %q", got, want)
	}
}

// TestDeliverRelearnsOnWrongLastSequence puts an event in the stream ahead
// of its place, so that the chain of a call is refused a wrong last
// sequence after it: the call learns the stream's last sequence again and
// delivers the rest.
func TestDeliverRelearnsOnWrongLastSequence(t *testing.T) {
	d, nc := newDestination(t)
	evs := feed(1, 10)
	if acked, err := d.Deliver(t.Context(), evs[:5]); acked != 5 || err != nil {
		t.Fatalf("Deliver = %d, %v", acked, err)
	}
	js := newJetStream(t, nc)
	e := evs[6]
	if _, err := js.Publish(t.Context(), natsjs.Subject("cardcore", e.OrgID, e.Type), []byte("{}"), jetstream.WithMsgID(e.ID)); err != nil {
		t.Fatal(err)
	}
	// 5 is a duplicate, 6 is stored, 7 a duplicate after it, 8 is refused
	// for a wrong last sequence (the duplicate 7 did not move it), then
	// learnt again.
	if acked, err := d.Deliver(t.Context(), evs[4:]); acked != 6 || err != nil {
		t.Fatalf("Deliver = %d, %v", acked, err)
	}
	got := storedSeqs(t, nc, natsjs.DefaultStream)
	if want := "1 2 3 4 5  6 8 9 10"; got != want {
		t.Errorf("stream seqs %q, want %q", got, want)
	}
}

func TestAckedPrefixWhenServerGoesAway(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, -1)
	port := s.Addr().(*net.TCPAddr).Port
	nc := connect(t, s.ClientURL(), nats.ReconnectWait(50*time.Millisecond), nats.MaxReconnects(-1))
	d, err := natsjs.New(t.Context(), nc, natsjs.WithAckTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}

	// Shut the server down once it has seen 500 of the events.
	watcher := connect(t, s.ClientURL())
	var seen atomic.Int64
	var shutdown sync.Once
	if _, err := watcher.Subscribe("cardcore.>", func(*nats.Msg) {
		if seen.Add(1) == 500 {
			shutdown.Do(func() { go s.Shutdown() })
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := watcher.Flush(); err != nil {
		t.Fatal(err)
	}

	evs := feed(1, 10_000)
	acked, err := d.Deliver(t.Context(), evs)
	if acked >= len(evs) || err == nil {
		t.Fatalf("Deliver = %d, %v; want fewer than %d and an error", acked, err, len(evs))
	}
	var de *natsjs.DeliveryError
	if !errors.As(err, &de) || de.Seq != evs[acked].Seq || de.EventID != evs[acked].ID {
		t.Fatalf("error %v does not name event seq %d (%s)", err, evs[acked].Seq, evs[acked].ID)
	}
	t.Logf("acked %d of %d: %v", acked, len(evs), err)
	// The relay stops with it: what its connection still buffers is lost.
	nc.Close()
	s.WaitForShutdown()

	// After a restart, the stream holds a head of the events in order:
	// every acknowledged one, and maybe some after, never one out of order.
	s = startServer(t, dir, port)
	check := connect(t, s.ClientURL())
	msgs := stored(t, check, natsjs.DefaultStream)
	if len(msgs) < acked {
		t.Fatalf("stream holds %d messages, fewer than the %d acknowledged", len(msgs), acked)
	}
	wantIDs(t, msgs, evs)

	t.Logf("after a restart the stream holds %d", len(msgs))
	// The deliverer resumes from the first unacknowledged event: the
	// stream ends with every event exactly once, in order.
	d, err = natsjs.New(t.Context(), check)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := d.Deliver(t.Context(), evs[acked:]); n != len(evs)-acked || err != nil {
		t.Fatalf("resume: Deliver = %d, %v", n, err)
	}
	msgs = stored(t, check, natsjs.DefaultStream)
	if len(msgs) != len(evs) {
		t.Fatalf("stream holds %d messages, want %d", len(msgs), len(evs))
	}
	wantIDs(t, msgs, evs)
}

func TestExistingStream(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	nc := connect(t, s.ClientURL())
	js := newJetStream(t, nc)
	for _, c := range []struct {
		stream   string
		subjects []string
		prefix   string
		ok       bool
	}{
		{"OTHER", []string{"other.>"}, "cardcore", false},
		{"ONE_ORG", []string{"cardcore.acme.>"}, "cardcore", false},
		{"TYPES", []string{"cardcore.*.*"}, "cardcore", false},
		{"EXACT", []string{"x.>", "cardcore.>"}, "cardcore", true},
		{"WIDER", []string{"prod.>"}, "prod.cardcore", true},
	} {
		t.Run(c.stream, func(t *testing.T) {
			if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: c.stream, Subjects: c.subjects}); err != nil {
				t.Fatal(err)
			}
			defer js.DeleteStream(context.WithoutCancel(t.Context()), c.stream)
			d, err := natsjs.New(t.Context(), nc, natsjs.WithStream(c.stream), natsjs.WithPrefix(c.prefix))
			if c.ok {
				if err != nil {
					t.Fatal(err)
				}
				if acked, err := d.Deliver(t.Context(), feed(1, 3)); acked != 3 || err != nil {
					t.Fatalf("Deliver = %d, %v", acked, err)
				}
				return
			}
			if !errors.Is(err, natsjs.ErrStreamSubjects) {
				t.Fatalf("New = %v; want ErrStreamSubjects", err)
			}
		})
	}
}

func TestNewCreatesStreamWithOptions(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	nc := connect(t, s.ClientURL())
	_, err := natsjs.New(t.Context(), nc, natsjs.WithStream("EVENTS"), natsjs.WithPrefix("prod.cards"),
		natsjs.WithDuplicateWindow(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	js := newJetStream(t, nc)
	st, err := js.Stream(t.Context(), "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	if len(cfg.Subjects) != 1 || cfg.Subjects[0] != "prod.cards.>" || cfg.Duplicates != 10*time.Minute ||
		cfg.Replicas != 1 || cfg.Storage != jetstream.FileStorage {
		t.Errorf("stream config: subjects %q, duplicates %v, replicas %d, storage %v",
			cfg.Subjects, cfg.Duplicates, cfg.Replicas, cfg.Storage)
	}
	// A second New finds the stream and takes it as it is.
	if _, err := natsjs.New(t.Context(), nc, natsjs.WithStream("EVENTS"), natsjs.WithPrefix("prod.cards")); err != nil {
		t.Fatal(err)
	}

	for _, bad := range []natsjs.Option{
		natsjs.WithPrefix(""), natsjs.WithPrefix("a.*"), natsjs.WithPrefix("a..b"), natsjs.WithPrefix("a b"),
		natsjs.WithReplicas(0), natsjs.WithMaxInFlight(0), natsjs.WithAckTimeout(0), natsjs.WithStream(""),
	} {
		if _, err := natsjs.New(t.Context(), nc, bad); err == nil {
			t.Error("New accepted an invalid option")
		}
	}
}

func TestDomain(t *testing.T) {
	s := startServer(t, t.TempDir(), -1, func(o *server.Options) { o.JetStreamDomain = "hub" })
	nc := connect(t, s.ClientURL())
	d, err := natsjs.New(t.Context(), nc, natsjs.WithDomain("hub"))
	if err != nil {
		t.Fatal(err)
	}
	if acked, err := d.Deliver(t.Context(), feed(1, 10)); acked != 10 || err != nil {
		t.Fatalf("Deliver = %d, %v", acked, err)
	}
}

func TestDeliverCanceled(t *testing.T) {
	d, _ := newDestination(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	acked, err := d.Deliver(ctx, feed(1, 10))
	if acked != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("Deliver = %d, %v; want 0, context.Canceled", acked, err)
	}
	if acked, err := d.Deliver(t.Context(), nil); acked != 0 || err != nil {
		t.Fatalf("Deliver(nil) = %d, %v", acked, err)
	}
}

// BenchmarkDeliver delivers batches of 1,000 events (the deliverer's batch
// is smaller; this measures the pipeline) to an in-process server with file
// storage.
func BenchmarkDeliver(b *testing.B) {
	d, _ := newDestination(b)
	const batch = 1000
	evs := feed(1, batch)
	var seq int64
	b.ReportAllocs()
	for b.Loop() {
		for i := range evs {
			seq++
			evs[i].Seq = seq
			evs[i].ID = "bench-" + strconv.FormatInt(seq, 10)
		}
		if acked, err := d.Deliver(b.Context(), evs); acked != batch || err != nil {
			b.Fatalf("Deliver = %d, %v", acked, err)
		}
	}
	b.ReportMetric(float64(seq)/b.Elapsed().Seconds(), "events/s")
}
