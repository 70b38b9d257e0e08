package natsjs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cardcore/cardcore/adapters/natsjs"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/natstest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

var (
	startServer = natstest.StartServer
	connect     = natstest.Connect
)

// newDestination starts a server, connects to it and makes a Destination
// with opts on that connection.
func newDestination(tb testing.TB, opts ...natsjs.Option) (*natsjs.Destination, *nats.Conn) {
	tb.Helper()
	nc := connect(tb, startServer(tb, tb.TempDir(), -1).ClientURL())
	d, err := natsjs.New(tb.Context(), nc, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return d, nc
}

// newJetStream is the JetStream API on nc.
func newJetStream(tb testing.TB, nc *nats.Conn) jetstream.JetStream {
	tb.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	return js
}

// wantIDs checks that msgs are the events evs, in order, by Nats-Msg-Id.
func wantIDs(tb testing.TB, msgs []jetstream.Msg, evs []events.Event) {
	tb.Helper()
	for i, m := range msgs {
		if id := m.Headers().Get(jetstream.MsgIDHeader); id != evs[i].ID {
			tb.Fatalf("message %d is %s, want %s", i, id, evs[i].ID)
		}
	}
}

// storedSeqs is the Cardcore-Seq of every message of the stream, in
// stream order, joined by spaces.
func storedSeqs(tb testing.TB, nc *nats.Conn, stream string) string {
	tb.Helper()
	var got []string
	for _, m := range stored(tb, nc, stream) {
		got = append(got, m.Headers().Get(natsjs.SeqHeader))
	}
	return strings.Join(got, " ")
}

// feed makes n events with seq from..from+n-1, over a few orgs and types.
func feed(from int64, n int) []events.Event {
	orgs := []string{"acme", "globex", "org.with dots"}
	types := []events.Type{events.CardCreated, events.CardUpdated, events.CustomerBound}
	evs := make([]events.Event, n)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range evs {
		seq := from + int64(i)
		evs[i] = events.Event{
			ID:            fmt.Sprintf("00000000-0000-4000-8000-%012d", seq),
			Domain:        events.Domain,
			Type:          types[i%len(types)],
			SchemaVersion: events.SchemaVersion,
			OrgID:         orgs[i%len(orgs)],
			CID:           "cid-" + strconv.FormatInt(seq, 10),
			Timestamp:     at.Add(time.Duration(seq) * time.Millisecond),
			Data:          json.RawMessage(fmt.Sprintf(`{"card_id":%d,"version":1}`, seq)),
			Seq:           seq,
			CardID:        seq,
		}
	}
	return evs
}

// stored reads every message of the stream, in stream order, with an
// ordered consumer.
func stored(tb testing.TB, nc *nats.Conn, stream string) []jetstream.Msg {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := newJetStream(tb, nc).Stream(ctx, stream)
	if err != nil {
		tb.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	n := int(info.State.Msgs)
	if n == 0 {
		return nil
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		tb.Fatal(err)
	}
	msgs := make([]jetstream.Msg, 0, n)
	for len(msgs) < n {
		// A cluster that just lost a node may answer no one for a moment;
		// the ordered consumer resumes after the last message it gave.
		batch, err := c.Fetch(min(n-len(msgs), 1000), jetstream.FetchMaxWait(2*time.Second))
		if err == nil {
			for m := range batch.Messages() {
				msgs = append(msgs, m)
			}
			err = batch.Error()
		}
		if err != nil {
			if ctx.Err() != nil {
				tb.Fatalf("read the stream after %d of %d messages: %v", len(msgs), n, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return msgs
}
