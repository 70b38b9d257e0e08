package noname_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync/atomic"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/internal/cardtest"
	"github.com/cardcore/cardcore/lifecycle"
	"github.com/cardcore/cardcore/noname"
)

const org = "org-1"

// extIDs returns n external ids prefix-1 ... prefix-n.
func extIDs(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%d", prefix, i+1)
	}
	return ids
}

func mustCreateBulk(t cardtest.TB, e *cardtest.Env, ids ...string) card.Bulk {
	t.Helper()
	b, err := e.Noname.Create(context.Background(), noname.CreateRequest{OrgID: org, ExternalIDs: ids})
	if err != nil {
		t.Fatalf("create bulk of %d ids: %v", len(ids), err)
	}
	return b
}

func mustStart(t cardtest.TB, e *cardtest.Env, id string) card.Bulk {
	t.Helper()
	b, err := e.Noname.Start(context.Background(), org, id)
	if err != nil {
		t.Fatalf("start bulk %s: %v", id, err)
	}
	return b
}

// startedBulk creates and starts a bulk of ids and returns it with its
// cards by external id.
func startedBulk(t cardtest.TB, e *cardtest.Env, ids ...string) (card.Bulk, map[string]card.Card) {
	t.Helper()
	b := mustStart(t, e, mustCreateBulk(t, e, ids...).ID)
	return b, bulkCards(t, e, org, b.ID)
}

// cancelFixture is the bulk the cancel tests cancel: started with the
// external ids a, b, c and d, its card b bound to acct-1 and cust-1, a
// card no cancel may touch. The cards are as they were before the bind.
func cancelFixture(t cardtest.TB, e *cardtest.Env) (card.Bulk, map[string]card.Card) {
	t.Helper()
	b, cs := startedBulk(t, e, "a", "b", "c", "d")
	mustBind(t, e, noname.BindRequest{CardID: cs["b"].ID, AccountID: "acct-1", CustomerID: "cust-1"})
	return b, cs
}

// bulkCards reads the cards of a bulk by external id. The store has no
// port to list a bulk's cards, so their ids come from the table.
func bulkCards(t cardtest.TB, e *cardtest.Env, orgID, bulkID string) map[string]card.Card {
	t.Helper()
	ctx := context.Background()
	var ids []int64
	err := e.DB.NewSelect().TableExpr("cardcore_cards").Column("id").
		Where("org_id = ? AND bulk_id = ?", orgID, bulkID).OrderExpr("id").Scan(ctx, &ids)
	if err != nil {
		t.Fatalf("list the cards of bulk %s: %v", bulkID, err)
	}
	out := make(map[string]card.Card, len(ids))
	for _, id := range ids {
		c, err := e.Cards.Get(ctx, orgID, id)
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

func mustBind(t cardtest.TB, e *cardtest.Env, req noname.BindRequest) noname.BindResult {
	t.Helper()
	if req.OrgID == "" {
		req.OrgID = org
	}
	res, err := e.Noname.Bind(context.Background(), req)
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
func named(t cardtest.TB, e *cardtest.Env, typ card.Type, account string, status card.Status) card.Card {
	t.Helper()
	ctx := context.Background()
	req := lifecycle.CreateRequest{OrgID: org, AccountID: account, CustomerID: "cust-of-" + account,
		Type: typ, Name: fmt.Sprintf("alias-%d", aliases.Add(1)), PrintedName: "OLD OWNER"}
	if typ == card.Virtual {
		zero := 0
		req.CVVRotationIntervalHours = &zero
	}
	c, err := e.Cards.Create(ctx, req)
	if err != nil {
		t.Fatalf("create %s card: %v", typ, err)
	}
	if c.Status == status {
		return c
	}
	if typ == card.Plastic && status != card.Created && !status.Terminated() {
		if c, err = e.Cards.Activate(ctx, org, c.ID); err != nil {
			t.Fatalf("activate card %d: %v", c.ID, err)
		}
	}
	if c.Status != status {
		if c, err = e.Cards.UpdateStatus(ctx, org, c.ID, status); err != nil {
			t.Fatalf("set card %d to %s: %v", c.ID, status, err)
		}
	}
	return c
}

// unnumbered inserts an UNNUMBERED card of account straight into the
// store: no use case of the library makes one yet.
func unnumbered(t cardtest.TB, e *cardtest.Env, account string) card.Card {
	t.Helper()
	c := cardtest.Stored(org, card.Plastic, card.Unnumbered, int(aliases.Add(1)), cardtest.T0)
	c.AccountID, c.CustomerID, c.PrintedName = account, "cust-of-"+account, "OLD OWNER"
	e.Insert(t, &c)
	return c
}

// successors counts the cards of org whose reissued_card_id is id, read
// from the table so that a second successor could not hide.
func successors(t cardtest.TB, e *cardtest.Env, orgID string, id int64) int {
	t.Helper()
	n, err := e.DB.NewSelect().TableExpr("cardcore_cards").
		Where("org_id = ? AND reissued_card_id = ?", orgID, id).Count(context.Background())
	if err != nil {
		t.Fatalf("count successors of %d: %v", id, err)
	}
	return int(n)
}

// snapshot is everything the use cases may write for an org: its cards,
// bulks, bulk external ids and outbox events.
type snapshot struct {
	Cards  []map[string]any
	Bulks  []map[string]any
	IDs    []map[string]any
	Events []map[string]any
}

func snap(t cardtest.TB, e *cardtest.Env, orgID string) snapshot {
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
		if err := e.DB.NewRaw(q.query, orgID).Scan(ctx, q.into); err != nil {
			t.Fatalf("snapshot %q: %v", q.query, err)
		}
	}
	return s
}

// unchanged fails unless nothing of org changed since before.
func unchanged(t cardtest.TB, e *cardtest.Env, orgID string, before snapshot, what string) {
	t.Helper()
	after := snap(t, e, orgID)
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("%s wrote something: %d cards, %d bulks, %d external ids, %d events before; %d, %d, %d, %d after",
			what, len(before.Cards), len(before.Bulks), len(before.IDs), len(before.Events),
			len(after.Cards), len(after.Bulks), len(after.IDs), len(after.Events))
	}
}

// sortedIDs returns the ids sorted, never nil.
func sortedIDs(ids []int64) []int64 {
	out := append([]int64{}, ids...)
	slices.Sort(out)
	return out
}
