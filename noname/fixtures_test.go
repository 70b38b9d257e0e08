package noname_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardcore/cardcore/adapters/bunstore"
	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/lifecycle"
	"github.com/cardcore/cardcore/noname"
	"github.com/cardcore/cardcore/storage"
	"github.com/uptrace/bun"
)

// t0 is the time of the test clock, which stands still; it has
// microseconds, the precision the stores keep.
var t0 = time.Date(2026, time.March, 15, 10, 20, 30, 123456000, time.UTC)

// fataler is what the helpers need of a test: *testing.T, *testing.B and
// *rapid.T all have it.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// env is a store on a real database with the lifecycle and noname use
// cases over it.
type env struct {
	db    *bun.DB
	store *bunstore.Store
	cards *lifecycle.Cards
	svc   *noname.Service
}

func newEnv(t fataler, db *bun.DB, programs card.Programs, opts ...noname.Option) *env {
	t.Helper()
	store, err := bunstore.New(context.Background(), db)
	if err != nil {
		t.Fatalf("store: %v", err)
	}
	cards, err := lifecycle.NewCards(store, programs, lifecycle.WithClock(func() time.Time { return t0 }))
	if err != nil {
		t.Fatalf("lifecycle use cases: %v", err)
	}
	svc, err := noname.New(store, cards, opts...)
	if err != nil {
		t.Fatalf("noname use cases: %v", err)
	}
	return &env{db: db, store: store, cards: cards, svc: svc}
}

// each runs f on a fresh env per database (PostgreSQL only when
// CARDCORE_TEST_PG_DSN is set).
func each(t *testing.T, f func(t *testing.T, e *env), opts ...noname.Option) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) { f(t, newEnv(t, db, nil, opts...)) })
}

const org = "org-1"

// extIDs returns n external ids prefix-1 ... prefix-n.
func extIDs(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%d", prefix, i+1)
	}
	return ids
}

func mustCreateBulk(t fataler, e *env, ids ...string) card.Bulk {
	t.Helper()
	b, err := e.svc.Create(context.Background(), noname.CreateRequest{OrgID: org, ExternalIDs: ids})
	if err != nil {
		t.Fatalf("create bulk of %d ids: %v", len(ids), err)
	}
	return b
}

func mustStart(t fataler, e *env, id string) card.Bulk {
	t.Helper()
	b, err := e.svc.Start(context.Background(), org, id)
	if err != nil {
		t.Fatalf("start bulk %s: %v", id, err)
	}
	return b
}

// startedBulk creates and starts a bulk of ids and returns it with its
// cards by external id.
func startedBulk(t fataler, e *env, ids ...string) (card.Bulk, map[string]card.Card) {
	t.Helper()
	b := mustStart(t, e, mustCreateBulk(t, e, ids...).ID)
	return b, bulkCards(t, e, org, b.ID)
}

// bulkCards reads the cards of a bulk by external id. The store has no
// port to list a bulk's cards, so their ids come from the table.
func bulkCards(t fataler, e *env, orgID, bulkID string) map[string]card.Card {
	t.Helper()
	ctx := context.Background()
	var ids []int64
	err := e.db.NewSelect().TableExpr("cardcore_cards").Column("id").
		Where("org_id = ? AND bulk_id = ?", orgID, bulkID).OrderExpr("id").Scan(ctx, &ids)
	if err != nil {
		t.Fatalf("list the cards of bulk %s: %v", bulkID, err)
	}
	out := make(map[string]card.Card, len(ids))
	for _, id := range ids {
		c, err := e.cards.Get(ctx, orgID, id)
		if err != nil {
			t.Fatalf("get card %d: %v", id, err)
		}
		if _, dup := out[c.ExternalID]; dup {
			t.Fatalf("bulk %s has two cards for external id %q", bulkID, c.ExternalID)
		}
		out[c.ExternalID] = c
	}
	return out
}

func mustGet(t fataler, e *env, id int64) card.Card {
	t.Helper()
	c, err := e.cards.Get(context.Background(), org, id)
	if err != nil {
		t.Fatalf("get card %d: %v", id, err)
	}
	return c
}

func mustBind(t fataler, e *env, req noname.BindRequest) noname.BindResult {
	t.Helper()
	if req.OrgID == "" {
		req.OrgID = org
	}
	res, err := e.svc.Bind(context.Background(), req)
	if err != nil {
		t.Fatalf("bind %+v: %v", req, err)
	}
	return res
}

// aliases numbers the aliases of named cards, which must differ among a
// customer's VIRTUAL cards.
var aliases atomic.Int64

// named makes a card of account through the lifecycle use cases and brings
// it to status: PLASTIC cards start CREATED (NORMAL by activation), VIRTUAL
// ones NORMAL; other statuses are set by hand from there.
func named(t fataler, e *env, typ card.Type, account string, status card.Status) card.Card {
	t.Helper()
	ctx := context.Background()
	req := lifecycle.CreateRequest{OrgID: org, AccountID: account, CustomerID: "cust-of-" + account,
		Type: typ, Name: fmt.Sprintf("alias-%d", aliases.Add(1)), PrintedName: "OLD OWNER"}
	if typ == card.Virtual {
		zero := 0
		req.CVVRotationIntervalHours = &zero
	}
	c, err := e.cards.Create(ctx, req)
	if err != nil {
		t.Fatalf("create %s card: %v", typ, err)
	}
	if c.Status == status {
		return c
	}
	if typ == card.Plastic && status != card.Created && !status.Terminated() {
		if c, err = e.cards.Activate(ctx, org, c.ID); err != nil {
			t.Fatalf("activate card %d: %v", c.ID, err)
		}
	}
	if c.Status != status {
		if c, err = e.cards.UpdateStatus(ctx, org, c.ID, status); err != nil {
			t.Fatalf("set card %d to %s: %v", c.ID, status, err)
		}
	}
	return c
}

// unnumbered inserts an UNNUMBERED card of account straight into the
// store: no use case of the library makes one yet.
func unnumbered(t fataler, e *env, account string) card.Card {
	t.Helper()
	now := t0
	c := card.Card{
		OrgID: org, ProgramID: card.DefaultProgramID, AccountID: account, CustomerID: "cust-of-" + account,
		Type: card.Plastic, Mode: card.Credit, Status: card.Unnumbered,
		Name: card.PlasticName, PrintedName: "OLD OWNER",
		IssuingDate: now, ExpirationDate: card.MonthOf(now).AddDate(0, card.DefaultExpirationMonths, 0),
		TrackNumber: 1, PINLength: 4, ContactlessEnabled: true,
		Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("fixture: %v", err)
	}
	err := e.store.Update(context.Background(), func(ctx context.Context, tx storage.Tx) error {
		return tx.Insert(ctx, &c)
	})
	if err != nil {
		t.Fatalf("insert UNNUMBERED card: %v", err)
	}
	return c
}

// successors counts the cards of org whose reissued_card_id is id, read
// from the table so that a second successor could not hide.
func successors(t fataler, e *env, orgID string, id int64) int {
	t.Helper()
	n, err := e.db.NewSelect().TableExpr("cardcore_cards").
		Where("org_id = ? AND reissued_card_id = ?", orgID, id).Count(context.Background())
	if err != nil {
		t.Fatalf("count successors of %d: %v", id, err)
	}
	return int(n)
}

// event is an outbox event with its data decoded both ways: as card data
// and as a plain map, to see which keys it carries.
type event struct {
	events.Event
	card   events.CardData
	cancel events.CancellationData
	keys   map[string]json.RawMessage
}

// outbox returns the pending events of org in outbox order.
func outbox(t fataler, e *env, orgID string) []event {
	t.Helper()
	evs, err := e.store.Pending(context.Background(), 1<<22)
	if err != nil {
		t.Fatalf("read outbox: %v", err)
	}
	var out []event
	for _, ev := range evs {
		if ev.OrgID != orgID {
			continue
		}
		x := event{Event: ev}
		if err := json.Unmarshal(ev.Data, &x.keys); err != nil {
			t.Fatalf("event %d data %s: %v", ev.Seq, ev.Data, err)
		}
		if ev.Type == events.NonameCancellation {
			if err := json.Unmarshal(ev.Data, &x.cancel); err != nil {
				t.Fatalf("event %d data %s: %v", ev.Seq, ev.Data, err)
			}
		} else {
			if err := json.Unmarshal(ev.Data, &x.card); err != nil {
				t.Fatalf("event %d data %s: %v", ev.Seq, ev.Data, err)
			}
			if x.card.CardID != ev.CardID {
				t.Fatalf("event %d: data card_id %d, envelope card %d", ev.Seq, x.card.CardID, ev.CardID)
			}
		}
		if ev.Domain != events.Domain || ev.SchemaVersion != events.SchemaVersion || ev.ID == "" || ev.CID == "" {
			t.Fatalf("event %d has a bad envelope: %+v", ev.Seq, ev)
		}
		out = append(out, x)
	}
	return out
}

// since returns the events after seq.
func since(evs []event, seq int64) []event {
	i := 0
	for i < len(evs) && evs[i].Seq <= seq {
		i++
	}
	return evs[i:]
}

func lastSeq(evs []event) int64 {
	if len(evs) == 0 {
		return 0
	}
	return evs[len(evs)-1].Seq
}

// ofCard returns the events of card id.
func ofCard(evs []event, id int64) []event {
	var out []event
	for _, ev := range evs {
		if ev.CardID == id {
			out = append(out, ev)
		}
	}
	return out
}

// ofType returns the events of type typ.
func ofType(evs []event, typ events.Type) []event {
	var out []event
	for _, ev := range evs {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// snapshot is everything the use cases may write for an org: its cards,
// bulks, bulk external ids and outbox events.
type snapshot struct {
	Cards  []map[string]any
	Bulks  []map[string]any
	IDs    []map[string]any
	Events []map[string]any
}

func snap(t fataler, e *env, orgID string) snapshot {
	t.Helper()
	ctx := context.Background()
	var s snapshot
	queries := []struct {
		into  *[]map[string]any
		query string
	}{
		{&s.Cards, "SELECT * FROM cardcore_cards WHERE org_id = ? ORDER BY id"},
		{&s.Bulks, "SELECT * FROM cardcore_bulks WHERE org_id = ? ORDER BY id"},
		{&s.IDs, "SELECT x.* FROM cardcore_bulk_external_ids x JOIN cardcore_bulks b ON b.id = x.bulk_id WHERE b.org_id = ? ORDER BY x.bulk_id, x.position"},
		{&s.Events, "SELECT seq, event_id, card_id, event_type, data FROM cardcore_outbox WHERE org_id = ? ORDER BY seq"},
	}
	for _, q := range queries {
		if err := e.db.NewRaw(q.query, orgID).Scan(ctx, q.into); err != nil {
			t.Fatalf("snapshot %q: %v", q.query, err)
		}
	}
	return s
}

// unchanged fails unless nothing of org changed since before.
func unchanged(t fataler, e *env, orgID string, before snapshot, what string) {
	t.Helper()
	after := snap(t, e, orgID)
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("%s wrote something: %d cards, %d bulks, %d external ids, %d events before; %d, %d, %d, %d after",
			what, len(before.Cards), len(before.Bulks), len(before.IDs), len(before.Events),
			len(after.Cards), len(after.Bulks), len(after.IDs), len(after.Events))
	}
}

// wantInvalid fails unless err is invalid input naming field.
func wantInvalid(t fataler, err error, field string) {
	t.Helper()
	var ie *card.InvalidError
	if !errors.Is(err, card.ErrInvalid) || !errors.As(err, &ie) || ie.Field != field {
		t.Fatalf("got %v; want invalid input naming %s", err, field)
	}
}

// wantConflict fails unless err is a conflict.
func wantConflict(t fataler, err error, what string) *card.ConflictError {
	t.Helper()
	var ce *card.ConflictError
	if !errors.Is(err, card.ErrConflict) || !errors.As(err, &ce) {
		t.Fatalf("%s: got %v; want a conflict", what, err)
	}
	return ce
}

func wantNotFound(t fataler, err error, what string) {
	t.Helper()
	if !errors.Is(err, card.ErrNotFound) {
		t.Fatalf("%s: got %v; want not found", what, err)
	}
}

// sortedIDs returns the ids sorted, never nil.
func sortedIDs(ids []int64) []int64 {
	out := append([]int64{}, ids...)
	slices.Sort(out)
	return out
}
