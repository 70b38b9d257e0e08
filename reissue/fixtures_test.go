package reissue_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cardcore/cardcore/adapters/bunstore"
	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/lifecycle"
	"github.com/cardcore/cardcore/reissue"
	"github.com/cardcore/cardcore/storage"
	"github.com/uptrace/bun"
)

// t0 is where the test clocks start. It has microseconds, the precision the
// stores keep, so a lost fraction shows up as a mismatch.
var t0 = time.Date(2026, time.March, 15, 10, 20, 30, 123456000, time.UTC)

// clock is a controllable clock: the use cases read it, the test moves it.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fataler is what the helpers need of a test: *testing.T, *testing.B and
// *rapid.T all have it.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// env is a store on a real database and the use cases over it.
type env struct {
	db      *bun.DB
	store   *bunstore.Store
	cards   *lifecycle.Cards
	reissue *reissue.Service
	clock   *clock
}

func newEnv(t fataler, db *bun.DB, programs card.Programs) *env {
	t.Helper()
	store, err := bunstore.New(context.Background(), db)
	if err != nil {
		t.Fatalf("store: %v", err)
	}
	clk := &clock{now: t0}
	cards, err := lifecycle.NewCards(store, programs, lifecycle.WithClock(clk.Now))
	if err != nil {
		t.Fatalf("lifecycle use cases: %v", err)
	}
	svc, err := reissue.New(store, cards)
	if err != nil {
		t.Fatalf("reissue use cases: %v", err)
	}
	return &env{db: db, store: store, cards: cards, reissue: svc, clock: clk}
}

// each runs f on a fresh env per database (PostgreSQL only when
// CARDCORE_TEST_PG_DSN is set).
func each(t *testing.T, f func(t *testing.T, e *env)) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) { f(t, newEnv(t, db, nil)) })
}

const org = "org-1"

// stored returns a valid card of orgID of type typ in status, as the use
// cases could have left it: account acct-1 and customer cust-1, mode DEBIT,
// track number 3, with an alias unique for n when VIRTUAL. An UNBOUND card
// is a noname card with no account yet; an INOPERATIVE card has an elapsed
// validity period when its type allows one.
func stored(orgID string, typ card.Type, status card.Status, n int) card.Card {
	now := t0
	c := card.Card{
		OrgID: orgID, ProgramID: card.DefaultProgramID,
		AccountID: "acct-1", CustomerID: "cust-1",
		Type: typ, Mode: card.Debit, Status: status,
		Name: "alias-" + strconv.Itoa(n), PrintedName: "JANE DOE",
		IssuingDate: now, ExpirationDate: card.MonthOf(now).AddDate(0, card.DefaultExpirationMonths, 0),
		TrackNumber: 3, PINLength: 4, ContactlessEnabled: true,
		Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	switch typ {
	case card.Plastic:
		c.Name = card.PlasticName
	case card.Virtual:
		c.CVVRotationIntervalHours = ptr(24)
	}
	if status == card.Unbound {
		c.AccountID, c.CustomerID = "", ""
		c.BulkID, c.ExternalID = "bulk-"+orgID, "ext-"+strconv.Itoa(n)
	}
	if status == card.Inoperative && (typ == card.Plastic || typ == card.Virtual) {
		c.ValidityPeriodHours = 24
		c.ValidUntil = now
	}
	return c
}

// insert writes cards straight into the store in one transaction, as a
// fixture; their ids are set. Inserted cards have no events.
func insert(t fataler, s storage.Store, cards ...*card.Card) {
	t.Helper()
	for _, c := range cards {
		if err := c.Validate(); err != nil {
			t.Fatalf("fixture card %s %s is invalid: %v", c.Type, c.Status, err)
		}
	}
	err := s.Update(context.Background(), func(ctx context.Context, tx storage.Tx) error {
		for _, c := range cards {
			if err := tx.Insert(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("insert fixtures: %v", err)
	}
}

// newReason adds an enabled reason to orgID's catalogue.
func newReason(t fataler, e *env, orgID string, mustBlock bool) card.Reason {
	t.Helper()
	r, err := e.reissue.CreateReason(context.Background(), card.Reason{
		OrgID: orgID, Description: "card damaged", Type: "DAMAGED", MustBlock: mustBlock, Cost: "12.50", Enabled: true,
	})
	if err != nil {
		t.Fatalf("create reason: %v", err)
	}
	return r
}

func mustGet(t fataler, e *env, orgID string, id int64) card.Card {
	t.Helper()
	c, err := e.store.Card(context.Background(), orgID, id)
	if err != nil {
		t.Fatalf("get card %d: %v", id, err)
	}
	return c
}

// countCards counts the cards of orgID in the database, read past the
// store so that a card written by mistake shows up wherever it is.
func countCards(t fataler, e *env, orgID string) int {
	t.Helper()
	n, err := e.db.NewSelect().TableExpr("cardcore_cards").Where("org_id = ?", orgID).Count(context.Background())
	if err != nil {
		t.Fatalf("count cards: %v", err)
	}
	return int(n)
}

// sameCard fails unless got and want are the same card, field by field.
// Cards are compared through their JSON encoding, where equal instants read
// the same.
func sameCard(t fataler, what string, got, want card.Card) {
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

// cardEvent is an outbox event with its data decoded.
type cardEvent struct {
	events.Event
	data events.CardData
}

// outbox returns the pending events of orgID, per card, in outbox order.
func outbox(t fataler, s storage.Store, orgID string) map[int64][]cardEvent {
	t.Helper()
	evs, err := s.Pending(context.Background(), 1<<20)
	if err != nil {
		t.Fatalf("read outbox: %v", err)
	}
	out := map[int64][]cardEvent{}
	for _, e := range evs {
		if e.OrgID != orgID {
			continue
		}
		ce := cardEvent{Event: e}
		if err := json.Unmarshal(e.Data, &ce.data); err != nil {
			t.Fatalf("event %d data %s: %v", e.Seq, e.Data, err)
		}
		if ce.data.CardID != e.CardID {
			t.Fatalf("event %d: data card_id %d, envelope card %d", e.Seq, ce.data.CardID, e.CardID)
		}
		if e.Domain != "cards" || e.SchemaVersion != 1 || e.ID == "" || e.CID == "" {
			t.Fatalf("event %d has a bad envelope: %+v", e.Seq, e)
		}
		out[e.CardID] = append(out[e.CardID], ce)
	}
	return out
}

// total counts the events of a per-card outbox.
func total(evs map[int64][]cardEvent) int {
	n := 0
	for _, es := range evs {
		n += len(es)
	}
	return n
}

// wantEvents fails unless orgID's outbox holds n events.
func wantEvents(t fataler, e *env, orgID string, n int) map[int64][]cardEvent {
	t.Helper()
	evs := outbox(t, e.store, orgID)
	if got := total(evs); got != n {
		t.Fatalf("the outbox of %s holds %d events, want %d: %v", orgID, got, n, evs)
	}
	return evs
}

// wantTypes fails unless es are events of the given types, in order.
func wantTypes(t fataler, id int64, es []cardEvent, types ...events.Type) {
	t.Helper()
	if len(es) != len(types) {
		t.Fatalf("card %d has %d events, want %v", id, len(es), types)
	}
	for i, e := range es {
		if e.Type != types[i] {
			t.Fatalf("card %d: event %d is %s, want %s", id, i, e.Type, types[i])
		}
	}
}

// wantInvalid fails unless err is invalid input naming field.
func wantInvalid(t fataler, err error, field string) {
	t.Helper()
	var ie *card.InvalidError
	if !errors.Is(err, card.ErrInvalid) || !errors.As(err, &ie) {
		t.Fatalf("err = %v, want invalid %s", err, field)
	}
	if ie.Field != field {
		t.Fatalf("invalid field %q (%v), want %q", ie.Field, err, field)
	}
}

// wantConflict fails unless err is a conflict.
func wantConflict(t fataler, err error) {
	t.Helper()
	var ce *card.ConflictError
	if !errors.Is(err, card.ErrConflict) || !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a conflict", err)
	}
}

func ptr[T any](v T) *T { return &v }
