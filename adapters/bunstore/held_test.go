package bunstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cardcore/cardcore/adapters/bunstore"
	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/storage"
	"github.com/uptrace/bun"
)

// A save is visible to the rest of its transaction, whether or not its
// event follows, and a save with its event commits both.
func TestSaveIsReadInItsTransaction(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := t.Context()
		s := newStore(t, db)
		c := insertVirtual(t, s, "alias", card.Normal)
		err := s.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
			got, err := tx.Card(ctx, c.OrgID, c.ID)
			if err != nil {
				return err
			}
			got.Status, got.PreviousStatus, got.Version = card.Blocked, card.Normal, got.Version+1
			if err := tx.Save(ctx, &got); err != nil {
				return err
			}
			again, err := tx.Card(ctx, c.OrgID, c.ID)
			if err != nil {
				return err
			}
			if again.Status != card.Blocked || again.Version != 2 {
				t.Errorf("read after save: %s version %d, want BLOCKED version 2", again.Status, again.Version)
			}
			again.Status, again.PreviousStatus, again.Version = card.Normal, card.Blocked, 3
			if err := tx.Save(ctx, &again); err != nil {
				return err
			}
			e, err := events.ForCard(ctx, events.CardUpdated, &again, events.OpStatusUpdate, again.UpdatedAt)
			if err != nil {
				return err
			}
			return tx.Append(ctx, e)
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Card(ctx, c.OrgID, c.ID)
		if err != nil || got.Status != card.Normal || got.Version != 3 {
			t.Fatalf("after commit: %s version %d (%v), want NORMAL version 3", got.Status, got.Version, err)
		}
		evs, err := s.Feed(ctx, c.OrgID, 0, 10)
		if err != nil || len(evs) != 1 || evs[0].CardID != c.ID {
			t.Fatalf("feed: %+v (%v), want the one event of card %d", evs, err, c.ID)
		}
	})
}

// A save that breaks a unique rule fails the transaction, whether its
// event follows or the function ends after it, and leaves nothing behind.
func TestSaveBreakingAUniqueRuleFailsTheTransaction(t *testing.T) {
	for _, withEvent := range []bool{true, false} {
		testdb.Each(t, func(t *testing.T, db *bun.DB) {
			ctx := t.Context()
			s := newStore(t, db)
			insertVirtual(t, s, "alias", card.Normal)
			old := insertVirtual(t, s, "alias", card.Canceled) // terminated: the alias is free
			err := s.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
				c, err := tx.Card(ctx, old.OrgID, old.ID)
				if err != nil {
					return err
				}
				c.Status, c.Version = card.Normal, c.Version+1 // not a lifecycle change: the store's rule alone
				if err := tx.Save(ctx, &c); err != nil {
					return err
				}
				if !withEvent {
					return nil
				}
				e, err := events.ForCard(ctx, events.CardUpdated, &c, events.OpStatusUpdate, c.UpdatedAt)
				if err != nil {
					return err
				}
				return tx.Append(ctx, e)
			})
			if !errors.Is(err, card.ErrConflict) {
				t.Fatalf("with event %v: Update = %v, want a conflict", withEvent, err)
			}
			got, err := s.Card(ctx, old.OrgID, old.ID)
			if err != nil || got.Status != card.Canceled || got.Version != 1 {
				t.Errorf("card after the failed save: %s version %d (%v)", got.Status, got.Version, err)
			}
			if evs, err := s.Feed(ctx, old.OrgID, 0, 10); err != nil || len(evs) != 0 {
				t.Errorf("feed after the failed save: %d events (%v)", len(evs), err)
			}
		})
	}
}

func newStore(t *testing.T, db *bun.DB) *bunstore.Store {
	t.Helper()
	s, err := bunstore.New(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// insertVirtual stores a VIRTUAL card of customer "c1" named name.
func insertVirtual(t *testing.T, s *bunstore.Store, name string, st card.Status) card.Card {
	t.Helper()
	now := time.Date(2030, 1, 15, 0, 0, 0, 0, time.UTC)
	c := card.Card{OrgID: "org", CustomerID: "c1", AccountID: "a1", Type: card.Virtual, Status: st, Mode: card.Credit,
		Name: name, IssuingDate: now, ExpirationDate: now.AddDate(1, 0, 0), TrackNumber: 1, PINLength: 4,
		Version: 1, CreatedAt: now, UpdatedAt: now}
	if err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error { return tx.Insert(ctx, &c) }); err != nil {
		t.Fatal(err)
	}
	return c
}
