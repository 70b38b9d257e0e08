package webhooks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/cardcore/cardcore/adapters/webhooks"
	"github.com/cardcore/cardcore/events"
)

// ExampleVerify is a receiver of cardcore's webhooks: it checks each
// delivery's signature with the endpoint's secret before trusting the
// body, and de-duplicates on webhook-id, since a delivery may come again.
// Any Standard Webhooks library verifies them the same way.
func ExampleVerify() {
	secret := webhooks.NewSecret() // what POST /webhooks/v1/endpoints answered
	seen := map[string]bool{}

	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil || webhooks.Verify(secret, r.Header, body, time.Now()) != nil {
			http.Error(w, "not from cardcore", http.StatusUnauthorized)
			return
		}
		if id := r.Header.Get("webhook-id"); !seen[id] {
			seen[id] = true
			var ev struct {
				Type string `json:"event_type"`
				Seq  int64  `json:"seq"`
				Data struct {
					Status string `json:"card_status"`
				} `json:"data"`
			}
			if err := json.Unmarshal(body, &ev); err != nil {
				http.Error(w, "bad event", http.StatusBadRequest)
				return
			}
			fmt.Println("verified", ev.Type, "seq", ev.Seq, ev.Data.Status)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()

	// The sender's side: what cardcore relay does with each batch. The
	// receiver is on 127.0.0.1 here, so private targets are allowed.
	ep := webhooks.Endpoint{ID: "ep_1", OrgID: "acme", URL: receiver.URL, Secret: secret, Enabled: true}
	dest, err := webhooks.New(ep, webhooks.WithAllowPrivate(true))
	if err != nil {
		log.Fatal(err)
	}
	defer dest.Close()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	evs := []events.Event{
		{ID: "7f0c1f9e-0000-4000-8000-000000000001", Domain: events.Domain, Type: events.CardCreated,
			SchemaVersion: 1, OrgID: "acme", CID: "c1", Timestamp: at,
			Data: json.RawMessage(`{"card_id":1,"card_status":"NORMAL","version":1}`), Seq: 1},
		{ID: "7f0c1f9e-0000-4000-8000-000000000002", Domain: events.Domain, Type: events.CardUpdated,
			SchemaVersion: 1, OrgID: "acme", CID: "c2", Timestamp: at.Add(time.Second),
			Data: json.RawMessage(`{"card_id":1,"card_status":"BLOCKED","version":2}`), Seq: 2},
	}
	acked, err := dest.Deliver(context.Background(), evs)
	fmt.Println("acknowledged:", acked, err)
	acked, err = dest.Deliver(context.Background(), evs[1:]) // a redelivery
	fmt.Println("acknowledged again:", acked, err)

	// Output:
	// verified create-1 seq 1 NORMAL
	// verified update-1 seq 2 BLOCKED
	// acknowledged: 2 <nil>
	// acknowledged again: 1 <nil>
}
