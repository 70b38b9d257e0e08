package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/storage"
)

var updateChecks = []check{
	{"ErrorRollsBackEverything", updateErrorRollsBackEverything},
	{"NilCommitsEverything", updateNilCommitsEverything},
	{"PanicLeavesNothingOpen", updatePanicLeavesNothingOpen},
	{"DeadTxWritesNothing", updateDeadTxWritesNothing},
}

// unitOfWork is one of each write a use case makes in a transaction: a new
// card and a saved card, each with its event, an event of no card, and a
// claimed idempotency key.
type unitOfWork struct {
	existing card.Card // stored, version 1
	key      storage.IdempotencyKey
	outbox   []events.Event // the outbox before the unit: the existing card's creation
	appended events.Event   // the unit's event of no card
}

// The new card of a unitOfWork: its own account and alias, so a check
// finds it or its absence.
const (
	unitAccount = "9001"
	unitAlias   = "Unit of work"
)

// unitResult is what a unitOfWork stores for its key.
var unitResult = []byte(`{"card_id":1,"status":"NORMAL"}`)

func newUnitOfWork(t *testing.T, s storage.Store) unitOfWork {
	t.Helper()
	w := unitOfWork{
		existing: insert(t, s, NewCard(orgA))[0],
		key:      storage.IdempotencyKey{OrgID: orgA, Scope: "create_card:account=" + unitAccount, Key: "unit-of-work"},
		appended: newEvent(orgA, 0, 0),
	}
	w.appended.Type = events.NonameCancellation
	w.outbox = feedFrom0(t, s, 100)
	return w
}

func (w unitOfWork) write(ctx context.Context, tx storage.Tx) error {
	c := virtualCard(orgA, "2001", unitAlias)
	c.AccountID = unitAccount
	if err := saveCard(ctx, tx, &c); err != nil {
		return fmt.Errorf("save the new card: %w", err)
	}
	saved := w.existing
	saved.Status, saved.PreviousStatus, saved.Version = card.Canceled, saved.Status, saved.Version+1
	if err := saveCard(ctx, tx, &saved); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	if err := tx.Append(ctx, w.appended); err != nil {
		return fmt.Errorf("append: %w", err)
	}
	_, claimed, err := tx.Claim(ctx, w.key, "fingerprint")
	if err != nil {
		return fmt.Errorf("claim: %w", err)
	}
	if !claimed {
		return errors.New("claim of a new key returned claimed = false")
	}
	if err := tx.Complete(ctx, w.key, unitResult); err != nil {
		return fmt.Errorf("complete: %w", err)
	}
	return nil
}

// check verifies that every write of the unit was kept, or that none was.
func (w unitOfWork) check(t *testing.T, s storage.Store, kept bool) {
	t.Helper()
	existing := load(t, s, orgA, w.existing.ID)
	if kept && (existing.Version != 2 || existing.Status != card.Canceled) {
		t.Errorf("the saved card is %s at version %d, want CANCELED at version 2", existing.Status, existing.Version)
	}
	if !kept {
		mustEqual(t, "the card saved in the rolled-back transaction", w.existing, existing)
	}
	wantCards := 0
	if kept {
		wantCards = 1
	}
	newCards := byAccount(t, s, orgA, unitAccount)
	if got := len(newCards); got != wantCards {
		t.Errorf("the inserted card's account has %d cards, want %d", got, wantCards)
	}
	if got := taken(t, s, orgA, "2001", unitAlias); got != kept {
		t.Errorf("VirtualAliasTaken for the inserted card's alias is %v, want %v", got, kept)
	}
	w.checkOutbox(t, s, newCards)
	rec, claimed := probe(t, s, w.key, "fingerprint")
	switch {
	case claimed == kept:
		t.Errorf("Claim of the unit's key returned claimed = %v, want %v", claimed, !kept)
	case kept && !bytes.Equal(rec.Result, unitResult):
		t.Errorf("Claim of the unit's key returned result %q, want %q", rec.Result, unitResult)
	}
}

// checkOutbox checks that the outbox holds what it held before the unit
// and, when the unit's card newCards[0] was kept, the unit's three events
// after it: the new card's creation, the saved card's update and the
// appended event.
func (w unitOfWork) checkOutbox(t *testing.T, s storage.Store, newCards []card.Card) {
	t.Helper()
	got := feedFrom0(t, s, 100)
	if len(newCards) == 0 {
		mustEqualEvents(t, "the feed after the unit was rolled back", w.outbox, got)
		return
	}
	n := len(w.outbox)
	if len(got) != n+3 {
		t.Errorf("the feed holds %d events, want %d", len(got), n+3)
		return
	}
	mustEqualEvents(t, "the feed before the unit's events", w.outbox, got[:n])
	for i, want := range []struct {
		typ    events.Type
		cardID int64
	}{{events.CardCreated, newCards[0].ID}, {events.CardUpdated, w.existing.ID}} {
		if e := got[n+i]; e.Type != want.typ || e.CardID != want.cardID {
			t.Errorf("the unit's event %d is %s of card %d, want %s of card %d", i, e.Type, e.CardID, want.typ, want.cardID)
		}
	}
	mustEqualEvents(t, "the unit's appended event", []events.Event{w.appended}, got[n+2:])
}

// The error fn returns comes back from Update as itself (errors.Is and
// errors.As find it), and nothing fn wrote is kept.
func updateErrorRollsBackEverything(t *testing.T, s storage.Store) {
	w := newUnitOfWork(t, s)
	refusal := &card.ConflictError{Operation: "storagetest", Reason: "the use case refuses"}
	err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
		if err := w.write(ctx, tx); err != nil {
			return err
		}
		return refusal
	})
	var got *card.ConflictError
	if !errors.Is(err, card.ErrConflict) || !errors.As(err, &got) || got != refusal {
		t.Fatalf("Update: got %v, want the error fn returned (%v)", err, refusal)
	}
	w.check(t, s, false)
}

func updateNilCommitsEverything(t *testing.T, s storage.Store) {
	w := newUnitOfWork(t, s)
	update(t, s, w.write)
	w.check(t, s, true)
}

// A panic in fn may come back as an error or go on up; either way the
// transaction is rolled back and the store goes on working. A transaction
// left open would block the next writer of a single-writer store forever,
// so the check waits for the next Update a bounded time.
func updatePanicLeavesNothingOpen(t *testing.T, s storage.Store) {
	w := newUnitOfWork(t, s)
	var writeErr, err error
	var recovered any
	func() {
		defer func() { recovered = recover() }()
		err = s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
			writeErr = w.write(ctx, tx)
			panic("storagetest: a use case panics")
		})
	}()
	if writeErr != nil {
		t.Fatalf("the writes before the panic: %v", writeErr)
	}
	if recovered == nil && err == nil {
		t.Fatalf("Update returned nil for a function that panicked")
	}
	next := make(chan error, 1)
	go func() {
		next <- s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
			r := newReason(orgA, "NEXT", true) // a write with no event, so the unit's check holds
			return tx.SaveReason(ctx, &r)
		})
	}()
	select {
	case err := <-next:
		if err != nil {
			t.Fatalf("Update after a panic: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("Update after a panic did not return in 30s: the panicking transaction was left open")
	}
	w.check(t, s, false)
}

// A Tx is dead once fn returns: using it may fail or panic, but writes
// nothing.
func updateDeadTxWritesNothing(t *testing.T, s storage.Store) {
	var dead storage.Tx
	update(t, s, func(ctx context.Context, tx storage.Tx) error {
		dead = tx
		return nil
	})
	var err error
	recovered := func() (p any) {
		defer func() { p = recover() }()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		c := NewCard(orgA)
		c.AccountID = unitAccount
		err = saveCard(ctx, dead, &c)
		return nil
	}()
	if recovered == nil && err == nil {
		t.Errorf("Save on the Tx of an Update that returned succeeded")
	}
	mustEqualAll(t, "CardsByAccount after a Save on a dead Tx", nil, byAccount(t, s, orgA, unitAccount))
	mustEqualEvents(t, "the feed after a Save on a dead Tx", nil, feedFrom0(t, s, 10))
}
