package cardtest

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/storage"
)

// Stored returns a valid card of org, of typ, in status, as the use cases
// could have left it at at: account acct-1 and customer cust-1, mode DEBIT
// and track number 3 (neither a new card's default, so a successor that
// takes a default instead of copying shows), an alias unique for n. An
// UNBOUND card is a noname card of bulk "bulk-"+org with no account yet;
// an INOPERATIVE card has an elapsed validity period when its type allows
// one.
func Stored(org string, typ card.Type, status card.Status, n int, at time.Time) card.Card {
	c := card.Card{
		OrgID: org, ProgramID: card.DefaultProgramID,
		AccountID: "acct-1", CustomerID: "cust-1",
		Type: typ, Mode: card.Debit, Status: status,
		Name: "alias-" + strconv.Itoa(n), PrintedName: "JANE DOE",
		IssuingDate: at, ExpirationDate: card.MonthOf(at).AddDate(0, card.DefaultExpirationMonths, 0),
		TrackNumber: 3, PINLength: 4, ContactlessEnabled: true,
		Version: 1, CreatedAt: at, UpdatedAt: at,
	}
	switch typ {
	case card.Plastic:
		c.Name = card.PlasticName
	case card.Virtual:
		c.CVVRotationIntervalHours = Ptr(24)
	}
	if status == card.Unbound {
		c.AccountID, c.CustomerID = "", ""
		c.BulkID, c.ExternalID = "bulk-"+org, "ext-"+strconv.Itoa(n)
	}
	if status == card.Inoperative && card.ValidityApplies(typ) {
		c.ValidityPeriodHours = 24
		c.ValidUntil = at
	}
	return c
}

// Insert writes cards straight into the store in one transaction, as
// fixtures, and sets their ids. Their create-1 events are committed, and
// Outbox leaves them out, as if delivered long ago: it then holds only what
// the test's use cases emit.
func (e *Env) Insert(t TB, cards ...*card.Card) {
	t.Helper()
	for _, c := range cards {
		if err := c.Validate(); err != nil {
			t.Fatalf("fixture card %s %s is invalid: %v", c.Type, c.Status, err)
		}
	}
	ctx := context.Background()
	err := e.Store.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
		for _, c := range cards {
			c.ID = 0 // a retried transaction inserts them again
			if err := tx.Save(ctx, c, events.Created(card.Create, c.CreatedAt)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("insert fixtures: %v", err)
	}
	ids := make([]int64, len(cards))
	for i, c := range cards {
		ids[i] = c.ID
	}
	byOrg := map[string]bool{}
	for _, c := range cards {
		byOrg[c.OrgID] = true
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.fixtures == nil {
		e.fixtures = map[string]bool{}
	}
	n := 0
	for org := range byOrg {
		for _, ev := range e.feed(t, org) {
			if slices.Contains(ids, ev.CardID) && ev.Type == events.CardCreated {
				e.fixtures[ev.ID] = true
				n++
			}
		}
	}
	if n != len(cards) {
		t.Fatalf("%d fixture cards have %d events", len(cards), n)
	}
}

// Card reads card id of org from the store.
func (e *Env) Card(t TB, org string, id int64) card.Card {
	t.Helper()
	c, err := e.Store.Card(context.Background(), org, id)
	if err != nil {
		t.Fatalf("get card %d: %v", id, err)
	}
	return c
}

// CountCards counts the cards of org in the table, read past the store so
// that a card written by mistake shows up wherever it is.
func (e *Env) CountCards(t TB, org string) int {
	t.Helper()
	n, err := e.DB.NewSelect().TableExpr("cardcore_cards").Where("org_id = ?", org).Count(context.Background())
	if err != nil {
		t.Fatalf("count cards: %v", err)
	}
	return int(n)
}

// SameCard fails unless got and want are the same card, field by field.
// Cards are compared through their JSON encoding, where equal instants read
// the same.
func SameCard(t TB, what string, got, want card.Card) {
	t.Helper()
	g, err1 := json.Marshal(got)
	w, err2 := json.Marshal(want)
	if err1 != nil || err2 != nil {
		t.Fatalf("%s: encode: %v %v", what, err1, err2)
	}
	if string(g) != string(w) {
		t.Fatalf("%s:\n got  %s\n want %s", what, g, w)
	}
}

// Ptr returns a pointer to v.
func Ptr[T any](v T) *T { return &v }
