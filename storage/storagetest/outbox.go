package storagetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/storage"
	"github.com/google/uuid"
)

var outboxChecks = []check{
	{"PendingInSeqOrderWithEveryField", outboxPendingInSeqOrder},
	{"LimitAndMarkPublished", outboxLimitAndMarkPublished},
}

// Events come back in the order they were appended, within a transaction
// and across transactions committed one after the other, with every field
// of the envelope, for every org, with or without a card.
func outboxPendingInSeqOrder(t *testing.T, s storage.Store) {
	c := insert(t, s, NewCard(orgA))[0]
	e1, e2, e3 := newEvent(orgA, c.ID, 1), newEvent(orgA, c.ID, 2), newEvent(orgA, c.ID, 3)
	cancellation := events.Event{
		ID:            uuid.NewString(),
		Domain:        events.Domain,
		Type:          events.NonameCancellation,
		SchemaVersion: events.SchemaVersion,
		OrgID:         orgB,
		CID:           "cid-" + uuid.NewString(),
		Timestamp:     time.Date(2030, 5, 6, 7, 8, 9, 123456000, time.UTC),
		Data:          json.RawMessage(`{"bulk_id": "bulk-1", "cancel_type": "FULL", "card_ids": [3, 1, 2]}`),
	}
	update(t, s, func(ctx context.Context, tx storage.Tx) error {
		if err := tx.Append(ctx, e1); err != nil {
			return err
		}
		return tx.Append(ctx, e2, e3)
	})
	update(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.Append(ctx, cancellation) })
	mustEqualEvents(t, "Pending", []events.Event{e1, e2, e3, cancellation}, pending(t, s, 10))
}

func outboxLimitAndMarkPublished(t *testing.T, s storage.Store) {
	c := insert(t, s, NewCard(orgA))[0]
	var evs []events.Event
	for v := range int64(5) {
		evs = append(evs, newEvent(orgA, c.ID, v+1))
	}
	update(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.Append(ctx, evs...) })
	first := pending(t, s, 2)
	mustEqualEvents(t, "Pending(2)", evs[:2], first)
	if len(first) != 2 {
		return
	}
	mark := func(seqs ...int64) {
		t.Helper()
		if err := s.MarkPublished(t.Context(), seqs...); err != nil {
			t.Fatalf("MarkPublished(%v): %v", seqs, err)
		}
	}
	mark(first[0].Seq, first[1].Seq)
	rest := pending(t, s, 10)
	mustEqualEvents(t, "Pending after two were marked published", evs[2:], rest)
	if len(rest) != 3 {
		return
	}
	mark(rest[1].Seq)
	mustEqualEvents(t, "Pending after one in the middle was marked published",
		[]events.Event{evs[2], evs[4]}, pending(t, s, 10))
	mark(rest[0].Seq, rest[2].Seq)
	mustEqualEvents(t, "Pending after all were marked published", nil, pending(t, s, 10))
}
