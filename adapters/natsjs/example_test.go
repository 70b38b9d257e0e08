package natsjs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/cardcore/cardcore/adapters/natsjs"
	"github.com/cardcore/cardcore/events"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Example delivers two events to JetStream and reads them back as a
// consumer of the stream would. The server runs in the process here; with
// a NATS server on 127.0.0.1:4222, connect to nats.DefaultURL instead.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "natsjs-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		log.Fatal(err)
	}
	go srv.Start()
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	if !srv.ReadyForConnections(10 * time.Second) {
		log.Fatal("nats server not ready")
	}

	// The producer side: what cardcore relay does with each batch.
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	dest, err := natsjs.New(ctx, nc)
	if err != nil {
		log.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	evs := []events.Event{
		{ID: "7f0c1f9e-0000-4000-8000-000000000001", Domain: events.Domain, Type: events.CardCreated,
			SchemaVersion: 1, OrgID: "acme", CID: "c1", Timestamp: at,
			Data: json.RawMessage(`{"card_id":1,"card_status":"NORMAL","version":1}`), Seq: 1},
		{ID: "7f0c1f9e-0000-4000-8000-000000000002", Domain: events.Domain, Type: events.CardUpdated,
			SchemaVersion: 1, OrgID: "acme", CID: "c2", Timestamp: at.Add(time.Second),
			Data: json.RawMessage(`{"card_id":1,"card_status":"BLOCKED","version":2}`), Seq: 2},
	}
	acked, err := dest.Deliver(ctx, evs)
	fmt.Println("acknowledged:", acked, err)

	// The consumer side: the events of org acme, in order.
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	cons, err := js.OrderedConsumer(ctx, natsjs.DefaultStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{natsjs.Subject(natsjs.DefaultPrefix, "acme", ">")},
	})
	if err != nil {
		log.Fatal(err)
	}
	batch, err := cons.Fetch(2, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	for msg := range batch.Messages() {
		org, typ, err := natsjs.ParseSubject(natsjs.DefaultPrefix, msg.Subject())
		if err != nil {
			log.Fatal(err)
		}
		h := msg.Headers()
		fmt.Printf("%s (org %s, %s) Nats-Msg-Id: %s Cardcore-Seq: %s\n",
			msg.Subject(), org, typ, h.Get(jetstream.MsgIDHeader), h.Get(natsjs.SeqHeader))
		fmt.Printf("  %s\n", msg.Data())
	}
	// Output:
	// acknowledged: 2 <nil>
	// cardcore.acme.create-1 (org acme, create-1) Nats-Msg-Id: 7f0c1f9e-0000-4000-8000-000000000001 Cardcore-Seq: 1
	//   {"event_id":"7f0c1f9e-0000-4000-8000-000000000001","domain":"cards","event_type":"create-1","schema_version":1,"org_id":"acme","cid":"c1","timestamp":"2026-03-01T12:00:00Z","data":{"card_id":1,"card_status":"NORMAL","version":1},"seq":1}
	// cardcore.acme.update-1 (org acme, update-1) Nats-Msg-Id: 7f0c1f9e-0000-4000-8000-000000000002 Cardcore-Seq: 2
	//   {"event_id":"7f0c1f9e-0000-4000-8000-000000000002","domain":"cards","event_type":"update-1","schema_version":1,"org_id":"acme","cid":"c2","timestamp":"2026-03-01T12:00:01Z","data":{"card_id":1,"card_status":"BLOCKED","version":2},"seq":2}
}
