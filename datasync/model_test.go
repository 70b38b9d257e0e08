package datasync_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/datasync"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/cardtest"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/storage"
	"github.com/uptrace/bun"
	"pgregory.net/rapid"
)

// TestModel sends random sequences of sync batches, valid and invalid
// mixed, and checks after each that the store holds what applying the
// valid batches in order to a plain model gives, written from SPEC section
// 8 and the package's rules: the same cards, fields, statuses and versions,
// and one event per change.
func TestModel(t *testing.T) {
	testdb.Checks(t, org, func(rt *rapid.T, db *bun.DB, orgID string) {
		m := &model{e: cardtest.New(rt, db), org: orgID, cards: map[modelKey]modelCard{}}
		rt.Repeat(map[string]func(*rapid.T){
			"batch": m.batch,
			"":      m.check,
		})
	})
}

var (
	modelPaths  = [][2]string{{"acct-1", "cust-1"}, {"acct-2", "cust-1"}}
	modelLast4s = []string{"1111", "2222", "3333"}
	modelOpens  = []time.Time{
		time.Date(2017, time.January, 1, 8, 0, 0, 0, time.UTC),
		time.Date(2020, time.June, 15, 0, 0, 0, 0, time.UTC),
		time.Date(2024, time.February, 29, 12, 30, 45, 0, time.UTC),
	}
	modelCloses = []time.Time{
		time.Date(2016, time.December, 31, 0, 0, 0, 0, time.UTC), // before every openDate
		time.Date(2023, time.April, 6, 8, 0, 0, 0, time.UTC),
		time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC),
	}
)

type modelKey struct{ account, customer, last4 string }

// modelCard is what the model knows of a synced card.
type modelCard struct {
	status, previous card.Status
	mode             card.Mode
	brand            card.Brand
	bin              string
	opened, closed   time.Time
	version          int64
}

type model struct {
	e      *cardtest.Env
	org    string
	cards  map[modelKey]modelCard
	events int // events written so far
}

// batch draws a batch of one to four entries for one of the paths and
// applies it to the store and the model.
func (m *model) batch(t *rapid.T) {
	path := rapid.SampledFrom(modelPaths).Draw(t, "path")
	b := datasync.Batch{OrgID: m.org, SourceAccountID: path[0], SourceCustomerID: path[1]}
	for i := range rapid.IntRange(1, 4).Draw(t, "entries") {
		b.Entries = append(b.Entries, drawEntry(t, i, path))
	}
	_, err := m.e.Sync.Apply(context.Background(), b)
	next, events, want := m.apply(b)
	switch {
	case want == nil && err != nil:
		t.Fatalf("batch %s: %v, want success", show(b), err)
	case want == nil:
		m.cards, m.events = next, m.events+events
	case !errors.Is(err, want.kind):
		t.Fatalf("batch %s: %v, want %v", show(b), err, want)
	case want.kind == card.ErrInvalid:
		var ie *card.InvalidError
		if !errors.As(err, &ie) || ie.Field != want.field {
			t.Fatalf("batch %s: %v, want invalid %s", show(b), err, want.field)
		}
	}
}

// drawEntry draws entry i of a batch of path: mostly valid, each field
// present or not, now and then a value that breaks a rule.
func drawEntry(t *rapid.T, i int, path [2]string) datasync.Entry {
	label := func(s string) string { return fmt.Sprintf("%s %d", s, i) }
	e := datasync.Entry{Index: i, SourceAccountID: path[0], SourceCustomerID: path[1]}
	if rapid.IntRange(0, 30).Draw(t, label("other account?")) == 0 {
		e.SourceAccountID = "acct-9"
	}
	if rapid.IntRange(0, 30).Draw(t, label("other customer?")) == 0 {
		e.SourceCustomerID = "cust-9"
	}
	e.Last4 = rapid.SampledFrom(append(modelLast4s, modelLast4s[0], modelLast4s[1], "11a1")).Draw(t, label("last4"))
	full := rapid.IntRange(0, 2).Draw(t, label("every create field?")) == 0
	present := func(what string) bool { return full || rapid.Bool().Draw(t, label(what+"?")) }
	if present("iin") {
		e.IIN = cardtest.Ptr(rapid.SampledFrom([]string{"123456", "123456", "87345200", "87345200", "12345"}).Draw(t, label("iin")))
	}
	if present("cardType") {
		e.CardType = cardtest.Ptr(rapid.SampledFrom([]string{"CREDIT", "CREDIT", "DEBIT", "DEBIT", "GOLD"}).Draw(t, label("cardType")))
	}
	if present("status") {
		e.Status = cardtest.Ptr(rapid.SampledFrom([]string{"OPEN", "OPEN", "CLOSED", "CLOSED", "SHUT"}).Draw(t, label("status")))
	}
	if present("networkIdentifier") {
		e.NetworkIdentifier = cardtest.Ptr(rapid.SampledFrom([]int{3, 4, 5, 6, 3, 4, 5, 6, 8}).Draw(t, label("networkIdentifier")))
	}
	if present("openDate") {
		e.OpenDate = cardtest.Ptr(rapid.SampledFrom(modelOpens).Draw(t, label("openDate")))
	}
	closing := e.Status != nil && *e.Status == "CLOSED"
	if rapid.IntRange(0, 9).Draw(t, label("closeDate?")) < map[bool]int{true: 9, false: 2}[closing] {
		e.CloseDate = cardtest.Ptr(rapid.SampledFrom(modelCloses).Draw(t, label("closeDate")))
	}
	return e
}

// fault is the error the model expects of a batch.
type fault struct {
	kind  error  // card.ErrInvalid or card.ErrConflict
	field string // for ErrInvalid
}

func (f *fault) String() string { return fmt.Sprintf("%v %s", f.kind, f.field) }

// apply is the model of Service.Apply: it returns the cards after b and
// the events b writes, or the error b fails with.
func (m *model) apply(b datasync.Batch) (map[modelKey]modelCard, int, *fault) {
	invalid := func(i int, field string) *fault {
		return &fault{card.ErrInvalid, fmt.Sprintf("cards[%d].%s", i, field)}
	}
	// Each entry on its own, in order.
	for i, e := range b.Entries {
		if f := staticField(b, e); f != "" {
			return nil, 0, invalid(i, f)
		}
	}
	// Then against the cards, in order: an invalid entry ends the batch; a
	// refused reopening is skipped and fails the batch at its end.
	cards := make(map[modelKey]modelCard, len(m.cards))
	for k, c := range m.cards {
		cards[k] = c
	}
	events, refused := 0, false
	for i, e := range b.Entries {
		k := modelKey{e.SourceAccountID, e.SourceCustomerID, e.Last4}
		c, exists := cards[k]
		if !exists {
			for _, f := range []struct {
				name    string
				missing bool
			}{
				{"iin", e.IIN == nil}, {"cardType", e.CardType == nil}, {"status", e.Status == nil},
				{"networkIdentifier", e.NetworkIdentifier == nil}, {"openDate", e.OpenDate == nil},
			} {
				if f.missing {
					return nil, 0, invalid(i, f.name)
				}
			}
			c = modelCard{status: card.Normal, version: 1}
			if *e.Status == "CLOSED" {
				c.status = card.Canceled
			}
			setFields(&c, e)
			cards[k], events = c, events+1
			continue
		}
		changed := setFields(&c, e)
		moved := false
		if e.Status != nil {
			to := map[string]card.Status{"OPEN": card.Normal, "CLOSED": card.Canceled}[*e.Status]
			switch {
			case to == c.status:
			case c.status == card.Canceled: // a CLOSED card is never reopened
				refused = true
				continue
			default:
				c.previous, c.status, moved = c.status, to, true
			}
		}
		if e.CloseDate != nil && c.status != card.Canceled {
			return nil, 0, invalid(i, "closeDate")
		}
		if !c.closed.IsZero() && c.closed.Before(c.opened) {
			if e.CloseDate != nil {
				return nil, 0, invalid(i, "closeDate")
			}
			return nil, 0, invalid(i, "openDate")
		}
		if moved || changed {
			c.version++
			cards[k], events = c, events+1
		}
	}
	if refused {
		return nil, 0, &fault{kind: card.ErrConflict}
	}
	return cards, events, nil
}

// staticField is the field of the first rule entry e breaks on its own,
// or "".
func staticField(b datasync.Batch, e datasync.Entry) string {
	has := func(p *string, vs ...string) bool {
		for _, v := range vs {
			if *p == v {
				return true
			}
		}
		return false
	}
	switch {
	case e.SourceAccountID != b.SourceAccountID:
		return "sourceAccountId"
	case e.SourceCustomerID != b.SourceCustomerID:
		return "sourceCustomerId"
	case e.Last4 == "11a1":
		return "last4"
	case e.IIN != nil && !has(e.IIN, "123456", "87345200"):
		return "iin"
	case e.CardType != nil && !has(e.CardType, "CREDIT", "DEBIT"):
		return "cardType"
	case e.Status != nil && !has(e.Status, "OPEN", "CLOSED"):
		return "status"
	case e.NetworkIdentifier != nil && (*e.NetworkIdentifier < 3 || *e.NetworkIdentifier > 6):
		return "networkIdentifier"
	case e.Status != nil && *e.Status == "CLOSED" && e.CloseDate == nil:
		return "closeDate"
	case e.Status != nil && *e.Status == "OPEN" && e.CloseDate != nil:
		return "closeDate"
	case e.OpenDate != nil && e.CloseDate != nil && e.CloseDate.Before(*e.OpenDate):
		return "closeDate"
	}
	return ""
}

// setFields copies the entry's fields but the status into c and reports
// whether any changed.
func setFields(c *modelCard, e datasync.Entry) bool {
	before := *c
	if e.IIN != nil {
		c.bin = *e.IIN
	}
	if e.CardType != nil {
		c.mode = map[string]card.Mode{"CREDIT": card.Credit, "DEBIT": card.Debit}[*e.CardType]
	}
	if e.NetworkIdentifier != nil {
		c.brand = map[int]card.Brand{3: card.Mastercard, 4: card.Visa, 5: card.Discover, 6: card.Amex}[*e.NetworkIdentifier]
	}
	if e.OpenDate != nil {
		c.opened = *e.OpenDate
	}
	if e.CloseDate != nil {
		c.closed = *e.CloseDate
	}
	return *c != before
}

// check compares the store with the model: every key's synced card, the
// number of cards of the org, and its events.
func (m *model) check(t *rapid.T) {
	ctx := context.Background()
	for _, path := range modelPaths {
		for _, last4 := range modelLast4s {
			k := modelKey{path[0], path[1], last4}
			want, exists := m.cards[k]
			var got card.Card
			var lookupErr error
			if err := m.e.Store.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
				got, lookupErr = tx.CardByLast4(ctx, m.org, k.account, k.customer, k.last4)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			switch {
			case !exists && errors.Is(lookupErr, card.ErrNotFound):
				continue
			case !exists:
				t.Fatalf("%v: the store has card %d (%v), the model none", k, got.ID, lookupErr)
			case lookupErr != nil:
				t.Fatalf("%v: %v, the model has %+v", k, lookupErr, want)
			}
			have := modelCard{status: got.Status, previous: got.PreviousStatus, mode: got.Mode, brand: got.Brand,
				bin: got.BIN, opened: got.IssuingDate, closed: got.CloseDate, version: got.Version}
			if have != want {
				t.Fatalf("%v: the store has\n\t%+v\nthe model\n\t%+v", k, have, want)
			}
			if !got.Synced || got.Type != card.Plastic || !got.ExpirationDate.IsZero() || got.Validate() != nil {
				t.Fatalf("%v: card %+v is not a valid synced card: %v", k, got, got.Validate())
			}
		}
	}
	if n := m.e.CountCards(t, m.org); n != len(m.cards) {
		t.Fatalf("the org has %d cards, the model %d", n, len(m.cards))
	}
	evs := m.e.Outbox(t, m.org)
	creates := 0
	for _, ev := range evs {
		if ev.Type == events.CardCreated {
			creates++
		}
	}
	if len(evs) != m.events || creates != len(m.cards) {
		t.Fatalf("%d events (%d create-1), the model %d (%d cards)", len(evs), creates, m.events, len(m.cards))
	}
}

// show renders a batch for a failure message.
func show(b datasync.Batch) string {
	var parts []string
	for _, e := range b.Entries {
		s := fmt.Sprintf("{%s/%s/%s", e.SourceAccountID, e.SourceCustomerID, e.Last4)
		if e.IIN != nil {
			s += " iin=" + *e.IIN
		}
		if e.CardType != nil {
			s += " type=" + *e.CardType
		}
		if e.Status != nil {
			s += " status=" + *e.Status
		}
		if e.NetworkIdentifier != nil {
			s += fmt.Sprintf(" net=%d", *e.NetworkIdentifier)
		}
		if e.OpenDate != nil {
			s += " open=" + e.OpenDate.Format("2006-01-02")
		}
		if e.CloseDate != nil {
			s += " close=" + e.CloseDate.Format("2006-01-02")
		}
		parts = append(parts, s+"}")
	}
	return "[" + strings.Join(parts, " ") + "]"
}
