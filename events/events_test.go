package events_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/google/uuid"
)

// The envelope carries the fields of SPEC section 5, with a UUID event id,
// a UTC RFC 3339 timestamp and the context's correlation id.
func TestEnvelope(t *testing.T) {
	ctx := events.WithCorrelationID(t.Context(), "cid-1")
	c := card.Card{ID: 9, Token: uuid.NewString(), OrgID: "org", ProgramID: 1, AccountID: "42", CustomerID: "7",
		Type: card.Plastic, Status: card.Unbound, PreviousStatus: card.Created, TrackNumber: 1, Version: 3,
		BulkID: "b1", ExternalID: "x1"}
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.FixedZone("X", 3600))
	e, err := events.Updated(card.UpdateStatus, at).For(ctx, &c)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]any
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	if _, err := uuid.Parse(env["event_id"].(string)); err != nil {
		t.Errorf("event_id %v is not a UUID", env["event_id"])
	}
	for k, want := range map[string]any{"domain": "cards", "event_type": "update-1", "schema_version": 1.0,
		"org_id": "org", "cid": "cid-1", "timestamp": "2026-11-22T09:00:00Z"} {
		if env[k] != want {
			t.Errorf("%s = %v, want %v", k, env[k], want)
		}
	}
	data := env["data"].(map[string]any)
	for k, want := range map[string]any{"card_id": 9.0, "card_token": c.Token, "program_id": 1.0, "account_id": "42",
		"customer_id": "7", "card_status": "UNBOUND", "card_previous_status": "CREATED", "card_type": "PLASTIC",
		"bulk_id": "b1", "external_id": "x1", "track_number": 1.0, "operation_type": "STATUS_UPDATE", "version": 3.0} {
		if data[k] != want {
			t.Errorf("data.%s = %v, want %v", k, data[k], want)
		}
	}
	for _, absent := range []string{"card_last_four_numbers", "card_hash", "activation_date", "reissued_card_id"} {
		if v, ok := data[absent]; ok {
			t.Errorf("data.%s = %v, want it omitted", absent, v)
		}
	}
}

// Without a correlation id in the context, EnsureCorrelationID makes one
// that every event of the call shares.
func TestEnsureCorrelationID(t *testing.T) {
	ctx := events.EnsureCorrelationID(t.Context())
	cid, ok := events.CorrelationID(ctx)
	if !ok || cid == "" {
		t.Fatal("no correlation id")
	}
	if again := events.EnsureCorrelationID(ctx); again != ctx {
		t.Error("EnsureCorrelationID replaced an existing id")
	}
	a, _ := events.New(ctx, events.CardCreated, "org", struct{}{}, time.Now())
	b, _ := events.New(ctx, events.CardCreated, "org", struct{}{}, time.Now())
	if a.CID != cid || b.CID != cid || a.ID == b.ID {
		t.Errorf("cids %s, %s (want %s) and ids %s, %s (want distinct)", a.CID, b.CID, cid, a.ID, b.ID)
	}
}

// The event of a status change of a bound card, as a transition builds it.
func BenchmarkChangeFor(b *testing.B) {
	ctx := events.WithCorrelationID(b.Context(), "cid-1")
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	c := card.Card{ID: 123456, Token: uuid.NewString(), OrgID: "org", ProgramID: 1, AccountID: "42", CustomerID: "7",
		Type: card.Plastic, Status: card.Blocked, PreviousStatus: card.Normal, Name: "Ana Lima", PrintedName: "ANA LIMA",
		Last4: "1234", PANHash: "f3a9c1d2e4b5a6978877665544332211", IssuingDate: at, ExpirationDate: at.AddDate(3, 0, 0),
		TrackNumber: 1, Version: 7}
	ch := events.Updated(card.UpdateStatus, at)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ch.For(ctx, &c); err != nil {
			b.Fatal(err)
		}
	}
}
