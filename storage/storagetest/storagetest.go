package storagetest

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
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

// suite groups the checks by the method whose promise they verify.
var suite = []struct {
	name   string
	checks []check
}{
	{"Insert", insertChecks},
	{"Card", cardChecks},
	{"Save", saveChecks},
	{"CardsByAccount", cardsByAccountChecks},
	{"CardByToken", cardByTokenChecks},
	{"CardByLast4", cardByLast4Checks},
	{"Successor", successorChecks},
	{"VirtualAlias", virtualAliasChecks},
	{"Update", updateChecks},
	{"Outbox", outboxChecks},
	{"Feed", feedChecks},
	{"Due", dueChecks},
	{"Claim", claimChecks},
	{"Reason", reasonChecks},
	{"Bulk", bulkChecks},
	{"ExternalIDs", externalIDChecks},
	{"InsertCards", insertCardsChecks},
	{"UnboundCards", unboundCardsChecks},
	{"Concurrency", concurrencyChecks},
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
// create use case makes it before Insert: program 1, mode CREDIT, account
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

// update runs fn in one transaction and fails the test when it does not
// commit.
func update(t *testing.T, s storage.Store, fn func(ctx context.Context, tx storage.Tx) error) {
	t.Helper()
	if err := s.Update(t.Context(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// inTx runs fn in one transaction, commits, and returns what fn returned.
func inTx[T any](t *testing.T, s storage.Store, fn func(ctx context.Context, tx storage.Tx) (T, error)) T {
	t.Helper()
	var v T
	err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
		var err error
		v, err = fn(ctx, tx)
		return err
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	return v
}

// insert inserts cs in one transaction and returns them as the store left
// them (ID and Token set).
func insert(t *testing.T, s storage.Store, cs ...card.Card) []card.Card {
	t.Helper()
	return inTx(t, s, func(ctx context.Context, tx storage.Tx) ([]card.Card, error) {
		out := make([]card.Card, 0, len(cs))
		for i, c := range cs {
			if err := tx.Insert(ctx, &c); err != nil {
				return nil, fmt.Errorf("insert card %d of the batch: %w", i, err)
			}
			out = append(out, c)
		}
		return out, nil
	})
}

// save saves c in its own transaction.
func save(t *testing.T, s storage.Store, c card.Card) {
	t.Helper()
	update(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.Save(ctx, &c) })
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

// pending returns up to limit pending events of the outbox.
func pending(t *testing.T, s storage.Store, limit int) []events.Event {
	t.Helper()
	evs, err := s.Pending(t.Context(), limit)
	if err != nil {
		t.Fatalf("Pending(%d): %v", limit, err)
	}
	return evs
}

// checkErr fails the test unless err wraps want without exposing the
// database/sql errors a driver returns.
func checkErr(t *testing.T, what string, err, want error) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("%s: got no error, want one wrapping %q", what, want)
	case !errors.Is(err, want):
		t.Errorf("%s: got %q, want an error wrapping %q", what, err, want)
	case exposesDriver(err):
		t.Errorf("%s: %q wraps a database/sql error; the store must translate it", what, err)
	}
}

// exposesDriver reports whether err wraps an error of database/sql.
func exposesDriver(err error) bool {
	return errors.Is(err, sql.ErrNoRows) || errors.Is(err, sql.ErrTxDone) || errors.Is(err, sql.ErrConnDone)
}

// mustEqualCard reports the fields where got differs from want.
func mustEqualCard(t *testing.T, what string, want, got card.Card) {
	t.Helper()
	if d := diffFields(want, got); len(d) > 0 {
		t.Errorf("%s (card %d) differs from what was stored:\n\t%s", what, want.ID, strings.Join(d, "\n\t"))
	}
}

// mustEqualCards checks that got holds the cards of want, in that order.
func mustEqualCards(t *testing.T, what string, want, got []card.Card) {
	t.Helper()
	if !slices.Equal(cardIDs(want), cardIDs(got)) {
		t.Errorf("%s: got cards %v, want %v", what, cardIDs(got), cardIDs(want))
		return
	}
	for i := range want {
		mustEqualCard(t, what, want[i], got[i])
	}
}

// mustEqualEvents checks that got holds the events of want, in that order,
// with ascending positive seqs.
func mustEqualEvents(t *testing.T, what string, want, got []events.Event) {
	t.Helper()
	if !slices.Equal(eventIDs(want), eventIDs(got)) {
		t.Errorf("%s: got events %v, want %v", what, eventIDs(got), eventIDs(want))
		return
	}
	var last int64
	for i := range want {
		if got[i].Seq <= last {
			t.Errorf("%s: event %d has Seq %d, want above %d", what, i, got[i].Seq, last)
		}
		last = got[i].Seq
		if d := diffFields(want[i], got[i], "Seq"); len(d) > 0 {
			t.Errorf("%s: event %d (%s) differs from what was appended:\n\t%s", what, i, want[i].ID, strings.Join(d, "\n\t"))
		}
	}
}

func cardIDs(cs []card.Card) []int64 {
	ids := make([]int64, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	return ids
}

func eventIDs(evs []events.Event) []string {
	ids := make([]string, len(evs))
	for i, e := range evs {
		ids[i] = e.ID
	}
	return ids
}

// diffFields compares two structs of one type field by field, but the
// fields named in skip, and describes each difference. Times are equal when
// they are the same instant and got is in UTC (the zero time aside); JSON
// is equal when it decodes to the same value; the rest is reflect.DeepEqual.
// Walking the fields by reflection keeps the check honest when a field is
// added to card.Card or events.Event.
func diffFields(want, got any, skip ...string) []string {
	wv, gv := reflect.ValueOf(want), reflect.ValueOf(got)
	var out []string
	for i := range wv.NumField() {
		name := wv.Type().Field(i).Name
		if slices.Contains(skip, name) {
			continue
		}
		w, g := wv.Field(i).Interface(), gv.Field(i).Interface()
		if !fieldEqual(w, g) {
			out = append(out, fmt.Sprintf("%s: got %s, want %s", name, show(g), show(w)))
		}
	}
	return out
}

func fieldEqual(want, got any) bool {
	switch w := want.(type) {
	case time.Time:
		g := got.(time.Time)
		return w.Equal(g) && (g.IsZero() || g.Location() == time.UTC)
	case json.RawMessage:
		return jsonEqual(w, got.(json.RawMessage))
	}
	return reflect.DeepEqual(want, got)
}

// jsonEqual reports whether a and b are the same JSON value; nil (no value)
// equals only nil or empty.
func jsonEqual(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func show(v any) string {
	switch v := v.(type) {
	case time.Time:
		return v.Format(time.RFC3339Nano) + " (" + v.Location().String() + ")"
	case json.RawMessage:
		if v == nil {
			return "nil"
		}
		return "`" + string(v) + "`"
	case *int:
		if v == nil {
			return "nil"
		}
		return fmt.Sprintf("&%d", *v)
	case string:
		return fmt.Sprintf("%q", v)
	case fmt.Stringer:
		return fmt.Sprintf("%q", v.String())
	}
	return fmt.Sprintf("%v", v)
}
