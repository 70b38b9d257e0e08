package storagetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/storage"
	"github.com/google/uuid"
)

// Run runs the conformance suite against stores made by newStore. Each call
// of newStore must return a fresh, empty, migrated store; closing it is
// newStore's business (t.Cleanup).
func Run(t *testing.T, newStore func(t *testing.T) storage.Store) {
	for _, g := range suite {
		t.Run(g.name, func(t *testing.T) {
			for _, c := range g.checks {
				t.Run(c.name, func(t *testing.T) { c.run(t, newStore(t)) })
			}
		})
	}
}

// check is one promise of the ports, verified against a fresh store.
type check struct {
	name string
	run  func(t *testing.T, s storage.Store)
}

// suite groups the checks by the role of package storage whose promises
// they verify, one file each.
var suite = []struct {
	name   string
	checks []check
}{
	{"Cards", cardsChecks},             // cards.go: Cards, and the Store's card reads
	{"CardWriter", writerChecks},       // writer.go: Save, SaveNew, Append
	{"Sweeps", sweepsChecks},           // sweeps.go: Due
	{"Idempotency", idempotencyChecks}, // idempotency.go: Claim, Complete, storage.Idempotent
	{"ReasonWriter", reasonChecks},     // reasons.go
	{"BulkWriter", bulkChecks},         // bulks.go, externalids.go
	{"Feed", feedChecks},               // feed.go: Feed and the outbox
	{"History", historyChecks},         // history.go: CardEvents, a card's history
	{"Update", updateChecks},           // update.go: Store.Update's transaction
	{"Concurrency", concurrencyChecks}, // concurrency.go: two transactions at once
	{"Subscriptions", subsChecks},      // subscriptions.go: events.Subscriptions, cursors and leases
	{"Endpoints", endpointsChecks},     // endpoints.go: storage.Endpoints, webhook endpoints
	{"Purge", purgeChecks},             // purge.go: Store.Purge, the retention
}

// The orgs of the checks. Every lookup is scoped by org, so most checks
// store a card in orgB to prove orgA does not see it.
const (
	orgA = "org-a"
	orgB = "org-b"
)

// errRollback is what a check's function returns to make Update roll back.
var errRollback = errors.New("storagetest: roll back")

// NewCard returns a valid PLASTIC card of org in status CREATED, as the
// create use case makes it before Save: program 1, mode CREDIT, account
// "1001", customer "2001", issued now (UTC, to the microsecond a store
// keeps), expiring six years after the current month, track 1, PIN length
// 4, contactless, version 1, created and updated at the issuing instant.
// ID and Token are left for the store. Change what a test needs.
func NewCard(org string) card.Card {
	now := time.Now().UTC().Truncate(time.Microsecond)
	return card.Card{
		OrgID:              org,
		ProgramID:          card.DefaultProgramID,
		AccountID:          "1001",
		CustomerID:         "2001",
		Type:               card.Plastic,
		Mode:               card.Credit,
		Status:             card.Created,
		Name:               card.PlasticName,
		IssuingDate:        now,
		ExpirationDate:     card.MonthOf(now).AddDate(6, 0, 0),
		TrackNumber:        1,
		PINLength:          4,
		ContactlessEnabled: true,
		Version:            1,
		CreatedAt:          now,
		UpdatedAt:          now,
	}
}

// fullCard returns a valid card of org with every field but ID set to a
// value other than its zero, so a round trip shows any field a store
// drops. predecessor is the stored card it reissues.
func fullCard(org string, predecessor int64) card.Card {
	c := NewCard(org)
	cvv := 12
	c.Token = uuid.NewString()
	c.ProgramID = 7
	c.AccountID, c.CustomerID = "acct-full", "cust-full"
	c.Mode = card.Combo
	c.Status, c.PreviousStatus = card.Normal, card.Created
	c.PrintedName = "JANE Q DOE"
	c.Brand, c.BIN, c.Last4 = card.Visa, "41111111", "4242"
	c.PANHash = "b6f0e1c3a9d84f27a1c5e0d2f3b4a5968778695a4b3c2d1e0f9e8d7c6b5a4938"
	c.ActivationDate = c.IssuingDate.Add(90*time.Minute + 123*time.Microsecond)
	c.ValidityPeriodHours = 48
	c.ValidUntil = c.ActivationDate.Add(48 * time.Hour)
	c.TrackNumber = 2
	c.ReissuedCardID = predecessor
	c.BulkID, c.ExternalID = "bulk-full", "ext-full"
	c.Synced = true
	c.CloseDate = c.ActivationDate.Add(24*time.Hour + 5*time.Microsecond)
	c.Metadata = json.RawMessage(`{"tier": "gold", "limits": {"daily": 1500.5, "atm": 200}, "tags": ["a", "b"], "vip": true, "note": null}`)
	c.EmbossingCustomField = "Côté client ✓"
	c.EmbossingGroup = "group-7"
	c.PINLength = 6
	c.ContactlessEnabled = true
	c.TransactionLimit = "1500.00"
	c.TemplateID = "template-3"
	c.CVVRotationIntervalHours = &cvv
	c.PasswordTries = 2
	c.CreatedAt = c.IssuingDate
	c.UpdatedAt = c.ActivationDate
	return c
}

// virtualCard returns a valid NORMAL VIRTUAL card of org for customer,
// named alias, whose CVV never rotates.
func virtualCard(org, customer, alias string) card.Card {
	c := NewCard(org)
	never := 0
	c.Type, c.Status, c.Name = card.Virtual, card.Normal, alias
	c.CustomerID = customer
	c.CVVRotationIntervalHours = &never
	return c
}

// unboundCard returns a valid noname card of org, not bound to an account.
func unboundCard(org, externalID string) card.Card {
	c := NewCard(org)
	c.AccountID, c.CustomerID = "", ""
	c.BulkID, c.ExternalID = "bulk-1", externalID
	c.Status = card.Unbound
	return c
}

// inBulk returns a valid noname card of org in bulk, in status st, as the
// noname use cases leave it: bound to an account when NORMAL, printed when
// UNNUMBERED, with UNBOUND as its previous status when terminated.
func inBulk(org, bulk, externalID string, st card.Status) card.Card {
	c := unboundCard(org, externalID)
	c.BulkID, c.Status = bulk, st
	switch {
	case st == card.Normal:
		c.AccountID, c.CustomerID, c.PreviousStatus = "1001", "2001", card.Unbound
	case st == card.Unnumbered:
		c.PrintedName = "JANE DOE"
	case st.Terminated():
		c.PreviousStatus = card.Unbound
	}
	return c
}

// flip returns c changed by hand from NORMAL to BLOCKED or back, one version
// later.
func flip(c card.Card) card.Card {
	next := c
	next.PreviousStatus = c.Status
	next.Status = card.Blocked
	if c.Status == card.Blocked {
		next.Status = card.Normal
	}
	next.Version = c.Version + 1
	next.UpdatedAt = next.UpdatedAt.Add(time.Second)
	return next
}

// newEvent returns a Card updated event of org for card id at version.
func newEvent(org string, id, version int64) events.Event {
	return events.Event{
		ID:            uuid.NewString(),
		Domain:        events.Domain,
		Type:          events.CardUpdated,
		SchemaVersion: events.SchemaVersion,
		OrgID:         org,
		CID:           uuid.NewString(),
		Timestamp:     time.Now().UTC().Truncate(time.Microsecond),
		Data:          json.RawMessage(fmt.Sprintf(`{"card_id": %d, "card_status": "NORMAL", "version": %d}`, id, version)),
		CardID:        id,
	}
}

// validCard fails the test when c breaks a field rule: the suite must store
// only cards the use cases could make.
func validCard(t *testing.T, what string, c card.Card) {
	t.Helper()
	if err := c.Validate(); err != nil {
		t.Fatalf("storagetest: %s is not a valid card: %v", what, err)
	}
}

// txFunc is the function a check passes to Store.Update.
type txFunc = func(ctx context.Context, tx storage.Tx) error

// update runs fn in one transaction and fails the test when it does not
// commit.
func update(t *testing.T, s storage.Store, fn txFunc) {
	t.Helper()
	if err := s.Update(t.Context(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// inTx runs fn in one transaction, commits, and returns what fn returned.
func inTx[T any](t *testing.T, s storage.Store, fn func(ctx context.Context, tx storage.Tx) (T, error)) T {
	t.Helper()
	var v T
	update(t, s, func(ctx context.Context, tx storage.Tx) error {
		var err error
		v, err = fn(ctx, tx)
		return err
	})
	return v
}

// errIn runs fn in a transaction that commits whatever fn returns, as a use
// case that goes on after a refusal, and returns fn's error.
func errIn(t *testing.T, s storage.Store, fn txFunc) error {
	t.Helper()
	var err error
	update(t, s, func(ctx context.Context, tx storage.Tx) error {
		err = fn(ctx, tx)
		return nil
	})
	return err
}

// conflicts runs fn in a transaction that returns fn's error, as a use case
// does, and checks that fn's error and Update's are both a conflict.
func conflicts(t *testing.T, s storage.Store, what string, fn txFunc) {
	t.Helper()
	var fnErr error
	err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
		fnErr = fn(ctx, tx)
		return fnErr
	})
	checkErr(t, what, fnErr, card.ErrConflict)
	checkErr(t, "Update returning that error", err, card.ErrConflict)
}

// saveFunc writes one card, bulk or reason in a transaction.
type saveFunc[T any] func(ctx context.Context, tx storage.Tx, x *T) error

// The writers of the checks. A card is saved with the Change a use case
// gives: its creation when it is new, else a status update, at its
// UpdatedAt.
var (
	saveCard   saveFunc[card.Card]   = func(ctx context.Context, tx storage.Tx, c *card.Card) error { return tx.Save(ctx, c, changeOf(c)) }
	saveBulk   saveFunc[card.Bulk]   = func(ctx context.Context, tx storage.Tx, b *card.Bulk) error { return tx.SaveBulk(ctx, b) }
	saveReason saveFunc[card.Reason] = func(ctx context.Context, tx storage.Tx, r *card.Reason) error { return tx.SaveReason(ctx, r) }
)

// changeOf is the Change saveCard gives c.
func changeOf(c *card.Card) events.Change {
	if c.ID == 0 {
		return events.Created(card.Create, c.UpdatedAt)
	}
	return events.Updated(card.UpdateStatus, c.UpdatedAt)
}

// saveAll writes xs in one transaction and returns them as the store left
// them (IDs and Tokens set).
func saveAll[T any](t *testing.T, s storage.Store, save saveFunc[T], xs ...T) []T {
	t.Helper()
	return inTx(t, s, func(ctx context.Context, tx storage.Tx) ([]T, error) {
		out := slices.Clone(xs)
		for i := range out {
			if err := save(ctx, tx, &out[i]); err != nil {
				return nil, fmt.Errorf("save %d of the batch: %w", i, err)
			}
		}
		return out, nil
	})
}

// saveAndRead saves the new x and reads it back with read in the same
// transaction; it returns x as saved and what read found.
func saveAndRead[T any](t *testing.T, s storage.Store, save saveFunc[T], x T, read func(ctx context.Context, tx storage.Tx, x T) (T, error)) (saved, found T) {
	t.Helper()
	update(t, s, func(ctx context.Context, tx storage.Tx) error {
		saved = x
		if err := save(ctx, tx, &saved); err != nil {
			return err
		}
		var err error
		found, err = read(ctx, tx, saved)
		return err
	})
	return saved, found
}

// insert saves new cards in one transaction and returns them as the store
// left them.
func insert(t *testing.T, s storage.Store, cs ...card.Card) []card.Card {
	t.Helper()
	return saveAll(t, s, saveCard, cs...)
}

// load returns card id of org, read outside any transaction.
func load(t *testing.T, s storage.Store, org string, id int64) card.Card {
	t.Helper()
	c, err := s.Card(t.Context(), org, id)
	if err != nil {
		t.Fatalf("Card(%s, %d): %v", org, id, err)
	}
	return c
}

// byAccount returns the first 1000 cards of the account.
func byAccount(t *testing.T, s storage.Store, org, account string) []card.Card {
	t.Helper()
	cs, err := s.CardsByAccount(t.Context(), org, account, storage.Page{Limit: 1000})
	if err != nil {
		t.Fatalf("CardsByAccount(%s, %s): %v", org, account, err)
	}
	return cs
}

// feedFrom0 returns up to limit events of the feed across orgs, from its
// start: every event the check's store holds, as After hands them to a
// subscription that has delivered nothing.
func feedFrom0(t *testing.T, s storage.Store, limit int) []events.Event {
	t.Helper()
	evs, err := s.After(t.Context(), 0, limit)
	if err != nil {
		t.Fatalf("After(0, %d): %v", limit, err)
	}
	return evs
}

// checkNotFound checks that read, outside any transaction, and readTx, in
// one, both report what they look for as not found.
func checkNotFound[T any](t *testing.T, s storage.Store, what string, read func(ctx context.Context) (T, error), readTx func(ctx context.Context, tx storage.Tx) (T, error)) {
	t.Helper()
	_, err := read(t.Context())
	checkErr(t, "Store."+what, err, card.ErrNotFound)
	err = errIn(t, s, func(ctx context.Context, tx storage.Tx) error {
		_, err := readTx(ctx, tx)
		return err
	})
	checkErr(t, "Tx."+what, err, card.ErrNotFound)
}
