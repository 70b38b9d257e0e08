package bunstore

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/storage"
	"github.com/google/uuid"
)

// The chained save of SQLite (saveSQLite) writes the card chain's links
// itself. With the outbox's trigger dropped, only it links events: a card
// read once and saved twice in each of three transactions still has every
// event in its history, so the first save of a transaction linked to the
// card's last_seq as read, and the second to the seq the first one wrote.
func TestChainedSaveLinksItself(t *testing.T) {
	s, db := storeForPlan(t, "sqlite")
	ctx := t.Context()
	c := createForChain(t, s)
	if _, err := db.ExecContext(ctx, "DROP TRIGGER cardcore_outbox_card_chain"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		err := s.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
			got, err := tx.Card(ctx, c.OrgID, c.ID)
			if err != nil {
				return err
			}
			for range 2 {
				toggle(&got)
				if err := tx.Save(ctx, &got, events.Updated(card.UpdateStatus, time.Now())); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := checkHistory(t, s, c); n != 7 {
		t.Errorf("history has %d events, want 7", n)
	}
}

// An event of the card written in the transaction between its read and its
// save moves the card's last_seq past the one read. Through Append the
// store forgets the link it read; through SQL of its own, as a host may
// write in its transaction (InTx), the chained UPDATE changes nothing, as
// its last_seq is no longer the one read, and the save is sent again
// unchained. Either way the history has every event, in order.
func TestChainedSaveAfterAnotherEventOfTheCard(t *testing.T) {
	for _, how := range []string{"Append", "own SQL"} {
		t.Run(how, func(t *testing.T) {
			s, _ := storeForPlan(t, "sqlite")
			c := createForChain(t, s)
			err := readWriteSave(t.Context(), s, c, func(ctx context.Context, tx *txn) error {
				e := events.Event{ID: uuid.NewString(), Type: events.CardUpdated, OrgID: c.OrgID, CID: "cid",
					Timestamp: time.Now(), CardID: c.ID, Data: []byte(`{"card_id":1,"version":1}`)}
				if how == "Append" {
					return tx.Append(ctx, e)
				}
				_, err := tx.idb.ExecContext(ctx, "INSERT INTO cardcore_outbox "+
					"(event_id, org_id, card_id, event_type, cid, occurred_at, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
					tx.appendEventArgs(nil, &e)...)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if n := checkHistory(t, s, c); n != 3 {
				t.Errorf("history has %d events, want 3", n)
			}
		})
	}
}

// A chained save whose version is not the stored one is a conflict, as an
// unchained one is, and writes nothing.
func TestChainedSaveConflict(t *testing.T) {
	s, _ := storeForPlan(t, "sqlite")
	ctx := t.Context()
	c := createForChain(t, s)
	err := readWriteSave(ctx, s, c, func(ctx context.Context, tx *txn) error {
		_, err := tx.idb.ExecContext(ctx, "UPDATE cardcore_cards SET version = version + 1 WHERE id = ?", c.ID)
		return err
	})
	if !errors.Is(err, card.ErrConflict) {
		t.Fatalf("save over a changed version: %v, want a conflict", err)
	}
	if n := checkHistory(t, s, c); n != 1 {
		t.Errorf("history has %d events, want 1", n)
	}
}

// readWriteSave reads c in a transaction of s, runs write, then saves
// c's next version.
func readWriteSave(ctx context.Context, s *Store, c card.Card, write func(ctx context.Context, tx *txn) error) error {
	return s.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
		got, err := tx.Card(ctx, c.OrgID, c.ID)
		if err != nil {
			return err
		}
		if err := write(ctx, tx.(*txn)); err != nil {
			return err
		}
		toggle(&got)
		return tx.Save(ctx, &got, events.Updated(card.UpdateStatus, time.Now()))
	})
}

// createForChain stores a NORMAL card with its creation event.
func createForChain(t *testing.T, s *Store) card.Card {
	t.Helper()
	c := variedCard(2)
	err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
		return tx.Save(ctx, &c, events.Created(card.Create, time.Now()))
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// toggle makes c's next version, NORMAL <-> BLOCKED.
func toggle(c *card.Card) {
	next := card.Blocked
	if c.Status == card.Blocked {
		next = card.Normal
	}
	c.Status, c.PreviousStatus, c.Version = next, c.Status, c.Version+1
}

// checkHistory checks that c's history is its events of the feed, in feed
// order, and returns their number.
func checkHistory(t *testing.T, s *Store, c card.Card) int {
	t.Helper()
	feed, err := s.Feed(t.Context(), c.OrgID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, e := range feed {
		if e.CardID == c.ID {
			want = append(want, e.ID)
		}
	}
	hist, err := s.CardEvents(t.Context(), c.OrgID, c.ID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range hist {
		got = append(got, e.ID)
	}
	if !slices.Equal(got, want) {
		t.Errorf("history %v, want the card's events of the feed %v", got, want)
	}
	return len(got)
}
