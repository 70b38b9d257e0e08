package lifecycle_test

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cardcore/cardcore/adapters/bunstore"
	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/lifecycle"
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

func newClock(at time.Time) *clock { return &clock{now: at} }

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

func (c *clock) AddMonths(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.AddDate(0, n, 0)
}

// env is a store on a real database and the use cases over it.
type env struct {
	store *bunstore.Store
	cards *lifecycle.Cards
	clock *clock
}

// fataler is what the helpers need of a test: *testing.T, *testing.B and
// *rapid.T all have it.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

func newEnv(t fataler, db *bun.DB, programs card.Programs, opts ...lifecycle.Option) *env {
	t.Helper()
	store, err := bunstore.New(context.Background(), db)
	if err != nil {
		t.Fatalf("store: %v", err)
	}
	clk := newClock(t0)
	cards, err := lifecycle.NewCards(store, programs, append([]lifecycle.Option{lifecycle.WithClock(clk.Now)}, opts...)...)
	if err != nil {
		t.Fatalf("use cases: %v", err)
	}
	return &env{store: store, cards: cards, clock: clk}
}

// each runs f on a fresh env per database (PostgreSQL only when
// CARDCORE_TEST_PG_DSN is set).
func each(t *testing.T, f func(t *testing.T, e *env), opts ...lifecycle.Option) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) { f(t, newEnv(t, db, nil, opts...)) })
}

const org = "org-1"

// stored returns a valid card of org in status, as the use cases would
// have left it: a PLASTIC card of account acct-1, except that an UNBOUND
// card is a noname card with no account yet. n makes names unique.
func stored(status card.Status, now time.Time, n int) card.Card {
	c := card.Card{
		OrgID: org, ProgramID: card.DefaultProgramID,
		AccountID: "acct-1", CustomerID: "cust-1",
		Type: card.Plastic, Mode: card.Credit, Status: status,
		Name: card.PlasticName, PrintedName: "JANE DOE",
		IssuingDate: now, ExpirationDate: card.MonthOf(now).AddDate(0, card.DefaultExpirationMonths, 0),
		TrackNumber: 1, PINLength: 4, ContactlessEnabled: true,
		Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	if status == card.Unbound {
		c.AccountID, c.CustomerID = "", ""
		c.BulkID, c.ExternalID = "bulk-1", "ext-"+strconv.Itoa(n)
	}
	if status == card.Inoperative {
		c.ValidityPeriodHours = 24
		c.ValidUntil = now
	}
	return c
}

// virtual returns a valid VIRTUAL card of org in status, named for n.
func virtual(status card.Status, now time.Time, n int) card.Card {
	c := stored(status, now, n)
	c.Type = card.Virtual
	c.Name = "virtual-" + strconv.Itoa(n)
	c.CVVRotationIntervalHours = ptr(24)
	return c
}

// insert writes cards straight into the store in one transaction, as a
// fixture; their ids are set.
func insert(t testing.TB, s storage.Store, cards ...*card.Card) {
	t.Helper()
	for _, c := range cards {
		if err := c.Validate(); err != nil {
			t.Fatalf("fixture card %s is invalid: %v", c.Status, err)
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

// cardEvent is an outbox event with its data decoded.
type cardEvent struct {
	events.Event
	data events.CardData
}

// outbox returns the pending events of org, per card, in outbox order.
// Events of no card are under card id 0.
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

// checkVersions fails unless the events of card id carry versions
// 1..c.Version in order, the first a create-1 and the others update-1, the
// last one with the card's status: one event per committed change.
func checkVersions(t fataler, id int64, es []cardEvent, c card.Card) {
	t.Helper()
	if int64(len(es)) != c.Version {
		t.Fatalf("card %d at version %d has %d events with versions %v", id, c.Version, len(es), versionsOf(es))
	}
	for i, e := range es {
		want := int64(i + 1)
		if e.data.Version != want {
			t.Fatalf("card %d: event %d has version %d (versions %v)", id, i, e.data.Version, versionsOf(es))
		}
		wantType := events.CardUpdated
		if want == 1 {
			wantType = events.CardCreated
		}
		if e.Type != wantType {
			t.Fatalf("card %d: the event of version %d is %s, want %s", id, want, e.Type, wantType)
		}
	}
	if n := len(es); n > 0 && es[n-1].data.CardStatus != c.Status.String() {
		t.Fatalf("card %d is %s but its last event says %s", id, c.Status, es[n-1].data.CardStatus)
	}
}

func versionsOf(es []cardEvent) []int64 {
	vs := make([]int64, len(es))
	for i, e := range es {
		vs[i] = e.data.Version
	}
	return vs
}

func ptr[T any](v T) *T { return &v }
