package natsjs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/cardcore/cardcore/events"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// startServer runs a JetStream server in the test process with its store
// in dir, on port (-1: any free port).
func startServer(tb testing.TB, dir string, port int, configure ...func(*server.Options)) *server.Server {
	tb.Helper()
	opts := &server.Options{
		Host:      "127.0.0.1",
		Port:      port,
		JetStream: true,
		StoreDir:  dir,
		NoLog:     true,
		NoSigs:    true,
	}
	for _, c := range configure {
		c(opts)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		tb.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		tb.Fatal("nats server not ready")
	}
	tb.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

func connect(tb testing.TB, url string, opts ...nats.Option) *nats.Conn {
	tb.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	return nc
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
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := js.Stream(ctx, stream)
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

// freePort is a loopback port nothing listens on.
func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
