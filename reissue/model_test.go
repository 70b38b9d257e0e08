package reissue_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/cardtest"
	"github.com/cardcore/cardcore/internal/spec"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/lifecycle"
	"github.com/cardcore/cardcore/reissue"
	"github.com/cardcore/cardcore/storage"
	"github.com/uptrace/bun"
	"pgregory.net/rapid"
)

// TestModel runs random sequences of create, update status, activate,
// reissue (of any card, again of a card that has a successor, replays of a
// keyed request) and reason changes, and checks the store against a plain
// model written from SPEC sections 2, 3 and 5 after every step, each check
// on a database or an org of its own (testdb.Checks).
func TestModel(t *testing.T) {
	testdb.Checks(t, org, runModel)
}

var (
	modelAccounts  = []string{"acct-1", "acct-2"}
	modelCustomers = []string{"cust-1", "cust-2"}
	modelAliases   = []string{"travel", "travel", "online"} // mostly one, so aliases collide
)

// modelOptions are the reissue options the model draws, with the field a
// 400 names for those the spec refuses whatever the card ("" for valid).
var modelOptions = []struct {
	name    string
	options reissue.Options
	invalid string
}{
	{"none", reissue.Options{}, ""},
	{"printed name", reissue.Options{PrintedName: "NEW HOLDER"}, ""},
	{"pin 6, no contactless", reissue.Options{PINLength: 6, ContactlessEnabled: cardtest.Ptr(false)}, ""},
	{"validity 48h", reissue.Options{ValidityPeriodHours: 48}, ""}, // 400 on TEMPORARY and RECURRING
	{"pin 5", reissue.Options{PINLength: 5}, "pin_length"},
}

// modelCard is what the model knows of a card.
type modelCard struct {
	typ      card.Type
	customer string
	alias    string
	status   card.Status
	previous card.Status
	history  []card.Status // the status at each version, from version 1
	track    int
	pred     int64 // the card it replaced, 0 for none
	succ     int64 // its successor, 0 for none; set once
}

func (c *modelCard) version() int64 { return int64(len(c.history)) }

func (c *modelCard) change(to card.Status) {
	c.previous, c.status = c.status, to
	c.history = append(c.history, to)
}

type modelReason struct{ mustBlock, enabled bool }

// keyedReissue is a reissue that succeeded with an idempotency key.
type keyedReissue struct {
	req reissue.Request
	res reissue.Result
}

type model struct {
	e         *cardtest.Env
	org       string
	cards     map[int64]*modelCard
	ids       []int64
	reasons   map[int64]*modelReason
	reasonIDs []int64
	keys      map[string]keyedReissue // by card and key
	keyIDs    []string
}

func runModel(t *rapid.T, db *bun.DB, orgID string) {
	m := &model{
		e: cardtest.New(t, db), org: orgID,
		cards: map[int64]*modelCard{}, reasons: map[int64]*modelReason{}, keys: map[string]keyedReissue{},
	}
	for i := range rapid.IntRange(1, 3).Draw(t, "reasons") {
		r := card.Reason{OrgID: orgID, Description: fmt.Sprintf("reason %d", i), Type: "DAMAGED", Cost: "0",
			MustBlock: rapid.Bool().Draw(t, "must_block"), Enabled: i == 0 || !oneIn(t, 4, "disabled?")}
		r, err := m.e.Reissue.CreateReason(t.Context(), r)
		if err != nil {
			t.Fatalf("create reason: %v", err)
		}
		m.reasons[r.ID] = &modelReason{mustBlock: r.MustBlock, enabled: r.Enabled}
		m.reasonIDs = append(m.reasonIDs, r.ID)
	}
	t.Repeat(map[string]func(*rapid.T){
		"create":   m.create,
		"insert":   m.insert,
		"update":   m.update,
		"activate": m.activate,
		"reissue":  m.reissue,
		"again":    m.again,
		"replay":   m.replay,
		"reuse":    m.reuse,
		"reason":   m.changeReason,
		"":         m.check,
	})
}

// oneIn draws true about once in n times: rapid favours small numbers, so
// the rare outcome is the largest.
func oneIn(t *rapid.T, n int, label string) bool { return rapid.IntRange(1, n).Draw(t, label) == n }

func (m *model) create(t *rapid.T) {
	typ := rapid.SampledFrom(card.Types()).Draw(t, "type")
	who := rapid.IntRange(0, len(modelAccounts)-1).Draw(t, "account")
	req := lifecycle.CreateRequest{OrgID: m.org, AccountID: modelAccounts[who], CustomerID: modelCustomers[who],
		Type: typ, Name: rapid.SampledFrom(modelAliases).Draw(t, "alias"), PrintedName: "JANE DOE"}
	if typ == card.Virtual {
		req.CVVRotationIntervalHours = cardtest.Ptr(0)
	}
	got, err := m.e.Cards.Create(t.Context(), req)
	if typ == card.Virtual && m.aliasTaken(req.CustomerID, req.Name, 0) {
		if !errors.Is(err, card.ErrConflict) {
			t.Fatalf("a second live VIRTUAL %q of %s: %v, want a conflict", req.Name, req.CustomerID, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("create %+v: %v", req, err)
	}
	status, alias := card.Normal, req.Name
	if typ == card.Plastic {
		status, alias = card.Created, card.PlasticName
	}
	if got.Status != status || got.TrackNumber != 1 || got.ReissuedCardID != 0 {
		t.Fatalf("created %+v, want %s track 1", got, status)
	}
	m.add(t, got.ID, &modelCard{typ: typ, customer: req.CustomerID, alias: alias, status: status,
		history: []card.Status{status}, track: 1})
}

// insert writes a card of a random type in any of the 19 statuses straight
// into the store, with the create-1 that a use case would have emitted, so
// that reissues meet the statuses the use cases of the model do not reach
// (UNBOUND, UNNUMBERED, INOPERATIVE).
func (m *model) insert(t *rapid.T) {
	typ := rapid.SampledFrom(card.Types()).Draw(t, "type")
	// Half the time one of the statuses only an insert reaches, or DELETED.
	status := rapid.OneOf(rapid.SampledFrom(card.Statuses()),
		rapid.SampledFrom([]card.Status{card.Unbound, card.Unnumbered, card.Inoperative, card.Deleted})).Draw(t, "status")
	who := rapid.IntRange(0, len(modelAccounts)-1).Draw(t, "account")
	c := stored(m.org, typ, status, len(m.ids))
	c.AccountID, c.CustomerID = modelAccounts[who], modelCustomers[who]
	if typ == card.Virtual {
		c.Name = rapid.SampledFrom(modelAliases).Draw(t, "alias")
		if !spec.Terminated(status) && m.aliasTaken(c.CustomerID, c.Name, 0) {
			t.Skip("the alias is taken")
		}
	}
	if status == card.Unbound {
		if typ != card.Plastic {
			t.Skip("noname cards are PLASTIC")
		}
		c.AccountID, c.CustomerID = "", ""
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("fixture %s %s: %v", typ, status, err)
	}
	err := m.e.Store.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
		c.ID = 0 // a retried transaction inserts it again
		return tx.Save(ctx, &c, events.Created(card.Create, c.CreatedAt))
	})
	if err != nil {
		t.Fatalf("insert a %s %s card: %v", typ, status, err)
	}
	m.add(t, c.ID, &modelCard{typ: typ, customer: c.CustomerID, alias: c.Name, status: status,
		history: []card.Status{status}, track: c.TrackNumber})
}

func (m *model) add(t *rapid.T, id int64, c *modelCard) {
	if _, dup := m.cards[id]; dup {
		t.Fatalf("card id %d reused", id)
	}
	m.cards[id] = c
	m.ids = append(m.ids, id)
}

// aliasTaken reports whether the customer has a live VIRTUAL card named
// alias other than card but.
func (m *model) aliasTaken(customer, alias string, but int64) bool {
	for id, c := range m.cards {
		if id != but && c.typ == card.Virtual && c.customer == customer && c.alias == alias && !spec.Terminated(c.status) {
			return true
		}
	}
	return false
}

func (m *model) pick(t *rapid.T) (int64, *modelCard) {
	if len(m.ids) == 0 {
		t.Skip("no card yet")
	}
	id := rapid.SampledFrom(m.ids).Draw(t, "card")
	return id, m.cards[id]
}

func (m *model) update(t *rapid.T) {
	id, c := m.pick(t)
	to := rapid.SampledFrom(card.Statuses()).Draw(t, "to")
	got, err := m.e.Cards.UpdateStatus(t.Context(), m.org, id, to)
	ok, changed := spec.UpdateStatus(c.status, to)
	if !ok {
		if !errors.Is(err, card.ErrConflict) {
			t.Fatalf("%s -> %s on card %d: %v, want a conflict", c.status, to, id, err)
		}
		return
	}
	if err != nil || got.Status != to {
		t.Fatalf("%s -> %s on card %d: %s, %v", c.status, to, id, got.Status, err)
	}
	if changed {
		c.change(to)
	}
}

// activate: a CREATED PLASTIC card becomes NORMAL, and its predecessor, if
// not terminated, CANCELED (SPEC sections 2 and 3).
func (m *model) activate(t *rapid.T) {
	id, c := m.pick(t)
	got, err := m.e.Cards.Activate(t.Context(), m.org, id)
	if c.typ != card.Plastic || c.status != card.Created {
		if !errors.Is(err, card.ErrConflict) {
			t.Fatalf("activate %s %s card %d: %v, want a conflict", c.typ, c.status, id, err)
		}
		return
	}
	if err != nil || got.Status != card.Normal {
		t.Fatalf("activate card %d: %s, %v", id, got.Status, err)
	}
	c.change(card.Normal)
	if p := m.cards[c.pred]; p != nil && !spec.Terminated(p.status) {
		p.change(card.Canceled)
	}
}

func (m *model) reissue(t *rapid.T) {
	var id int64
	if oneIn(t, 16, "unknown card?") {
		id = 1 << 50
	} else {
		id, _ = m.pick(t)
	}
	m.send(t, m.draw(t, id, true))
}

// again reissues a card that already has a successor.
func (m *model) again(t *rapid.T) {
	var with []int64
	for _, id := range m.ids {
		if m.cards[id].succ != 0 {
			with = append(with, id)
		}
	}
	if len(with) == 0 {
		t.Skip("no card has a successor yet")
	}
	m.send(t, m.draw(t, rapid.SampledFrom(with).Draw(t, "card with a successor"), false))
}

// replay sends again a reissue that succeeded with a key.
func (m *model) replay(t *rapid.T) {
	if len(m.keyIDs) == 0 {
		t.Skip("no keyed reissue yet")
	}
	m.send(t, m.keys[rapid.SampledFrom(m.keyIDs).Draw(t, "keyed reissue")].req)
}

// reuse sends another request with the key of a keyed reissue.
func (m *model) reuse(t *rapid.T) {
	if len(m.keyIDs) == 0 {
		t.Skip("no keyed reissue yet")
	}
	first := m.keys[rapid.SampledFrom(m.keyIDs).Draw(t, "keyed reissue")].req
	req := m.draw(t, first.CardID, false)
	req.IdempotencyKey = first.IdempotencyKey
	m.send(t, req)
}

// draw makes a reissue request for card id: a reason of the catalogue (or,
// rarely, none), options and, when keyed, sometimes an idempotency key.
func (m *model) draw(t *rapid.T, id int64, keyed bool) reissue.Request {
	req := reissue.Request{OrgID: m.org, CardID: id, ReasonID: 1 << 50}
	if !oneIn(t, 10, "unknown reason?") {
		req.ReasonID = rapid.SampledFrom(m.reasonIDs).Draw(t, "reason")
	}
	req.Options = modelOptions[rapid.IntRange(0, len(modelOptions)-1).Draw(t, "options")].options
	if keyed {
		req.IdempotencyKey = rapid.SampledFrom([]string{"", "", "key-1", "key-2"}).Draw(t, "key")
	}
	return req
}

// send makes a reissue request and checks the answer against SPEC section
// 3 and the order in which the library reports errors: options (400), a
// replay of the key, the reason (400), the key used for another request
// (409), the card (404), its successor (returned), its status (409), a
// never bound noname card (409), the new card's fields (400), the VIRTUAL
// alias (409).
func (m *model) send(t *rapid.T, req reissue.Request) {
	before := len(m.e.Outbox(t, m.org))
	res, err := m.e.Reissue.Reissue(t.Context(), req)
	wrote := func() bool { return len(m.e.Outbox(t, m.org)) != before }

	invalid := ""
	for _, o := range modelOptions {
		if reflect.DeepEqual(o.options, req.Options) {
			invalid = o.invalid
		}
	}
	keyID := fmt.Sprintf("%d/%s", req.CardID, req.IdempotencyKey)
	first, used := m.keys[keyID]
	used = used && req.IdempotencyKey != ""
	reason := m.reasons[req.ReasonID]
	old := m.cards[req.CardID]

	switch {
	case invalid != "":
		cardtest.WantInvalid(t, err, invalid)
		return
	case used && reflect.DeepEqual(first.req, req):
		if err != nil || !res.Existing {
			t.Fatalf("replay of %s: %+v, %v", keyID, res, err)
		}
		cardtest.SameCard(t, "replayed new card", res.New, first.res.New)
		cardtest.SameCard(t, "replayed old card", res.Old, first.res.Old)
		if wrote() {
			t.Fatal("a replay wrote events")
		}
		return
	case reason == nil || !reason.enabled:
		cardtest.WantInvalid(t, err, "reason_id")
		return
	case used:
		if !errors.Is(err, card.ErrConflict) {
			t.Fatalf("key %s with another request: %v, want a conflict", keyID, err)
		}
		return
	case old == nil:
		if !errors.Is(err, card.ErrNotFound) {
			t.Fatalf("reissue of no card: %v, want not found", err)
		}
		return
	case old.succ != 0:
		if err != nil || !res.Existing || res.New.ID != old.succ || res.Old.ID != req.CardID {
			t.Fatalf("reissue of card %d, whose successor is %d: %+v, %v", req.CardID, old.succ, res, err)
		}
		if wrote() {
			t.Fatal("a reissue of a card that has a successor wrote events")
		}
		m.remember(keyID, req, res)
		return
	case spec.In(old.status, spec.NotReissued):
		if !errors.Is(err, card.ErrConflict) {
			t.Fatalf("reissue of a %s card: %v, want a conflict", old.status, err)
		}
		return
	case old.customer == "":
		// A noname card terminated before it was bound: no account and
		// customer for a successor.
		if !errors.Is(err, card.ErrConflict) {
			t.Fatalf("reissue of a never bound %s card: %v, want a conflict", old.status, err)
		}
		return
	case req.Options.ValidityPeriodHours > 0 && old.typ != card.Virtual && old.typ != card.Plastic:
		cardtest.WantInvalid(t, err, "validity_period_hours")
		return
	case old.typ == card.Virtual && m.aliasTaken(old.customer, old.alias, req.CardID):
		if !errors.Is(err, card.ErrConflict) {
			t.Fatalf("reissue of VIRTUAL %q whose alias a live card holds: %v, want a conflict", old.alias, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("reissue %+v of a %s %s card: %v", req, old.typ, old.status, err)
	}
	refused, to := spec.ReissueOld(old.typ.String(), reason.mustBlock, old.status)
	if refused {
		t.Fatalf("the model refuses what the test let through: %s", old.status)
	}
	if to != old.status.String() {
		s, _ := card.ParseStatus(to)
		old.change(s)
	}
	status := spec.NewStatus(old.typ.String())
	if res.Existing || res.Old.Status != old.status || res.New.Status.String() != status || res.New.Type != old.typ ||
		res.New.ReissuedCardID != req.CardID || res.New.TrackNumber != old.track+1 || res.New.Version != 1 {
		t.Fatalf("reissue of card %d: old %s, new %+v; want old %s, new %s track %d", req.CardID, res.Old.Status, res.New, old.status, status, old.track+1)
	}
	next := &modelCard{typ: old.typ, customer: old.customer, alias: old.alias, status: res.New.Status,
		history: []card.Status{res.New.Status}, track: old.track + 1, pred: req.CardID}
	m.add(t, res.New.ID, next)
	old.succ = res.New.ID
	m.remember(keyID, req, res)
}

func (m *model) remember(keyID string, req reissue.Request, res reissue.Result) {
	if req.IdempotencyKey == "" {
		return
	}
	m.keys[keyID] = keyedReissue{req: req, res: res}
	m.keyIDs = append(m.keyIDs, keyID)
}

// changeReason flips a reason's must_block or enabled flag.
func (m *model) changeReason(t *rapid.T) {
	id := rapid.SampledFrom(m.reasonIDs).Draw(t, "reason")
	r := m.reasons[id]
	var change reissue.ReasonChange
	if !oneIn(t, 4, "flip enabled?") {
		r.mustBlock = !r.mustBlock
		change.MustBlock = cardtest.Ptr(r.mustBlock)
	} else {
		r.enabled = !r.enabled
		change.Enabled = cardtest.Ptr(r.enabled)
	}
	got, err := m.e.Reissue.UpdateReason(t.Context(), m.org, id, change)
	if err != nil || got.MustBlock != r.mustBlock || got.Enabled != r.enabled {
		t.Fatalf("update reason %d: %+v, %v; want must_block %t enabled %t", id, got, err, r.mustBlock, r.enabled)
	}
}

// check compares the store with the model: every card's status, version,
// track number and predecessor; at most one successor per card, the one the
// model knows; track numbers one up along every reissued_card_id link and
// no cycle; and one event per committed change, versions 1..version with
// the status of each.
func (m *model) check(t *rapid.T) {
	stored := map[int64]card.Card{}
	for _, acct := range append([]string{""}, modelAccounts...) { // "": UNBOUND cards
		cs, err := m.e.Cards.ListByAccount(t.Context(), m.org, acct, storage.Page{Limit: 1000})
		if err != nil {
			t.Fatalf("list %s: %v", acct, err)
		}
		for _, c := range cs {
			stored[c.ID] = c
		}
	}
	if len(stored) != len(m.cards) {
		t.Fatalf("the store has %d cards, the model %d", len(stored), len(m.cards))
	}
	successors := map[int64][]int64{}
	for id, c := range stored {
		mc := m.cards[id]
		if mc == nil {
			t.Fatalf("card %d is not in the model", id)
		}
		if c.Status != mc.status || c.PreviousStatus != mc.previous || c.Version != mc.version() ||
			c.TrackNumber != mc.track || c.ReissuedCardID != mc.pred {
			t.Fatalf("card %d: stored %s (previous %s) version %d track %d after %d; model %s (previous %s) version %d track %d after %d",
				id, c.Status, c.PreviousStatus, c.Version, c.TrackNumber, c.ReissuedCardID,
				mc.status, mc.previous, mc.version(), mc.track, mc.pred)
		}
		if c.ReissuedCardID != 0 {
			successors[c.ReissuedCardID] = append(successors[c.ReissuedCardID], id)
			p, ok := stored[c.ReissuedCardID]
			if !ok || p.TrackNumber+1 != c.TrackNumber {
				t.Fatalf("card %d (track %d) replaces card %d (%v, track %d)", id, c.TrackNumber, c.ReissuedCardID, ok, p.TrackNumber)
			}
		}
		// Following the links ends at a first card within len(stored) steps.
		seen := map[int64]bool{}
		for at := id; at != 0; at = stored[at].ReissuedCardID {
			if seen[at] {
				t.Fatalf("the reissued_card_id links from card %d cycle", id)
			}
			seen[at] = true
		}
	}
	for id, mc := range m.cards {
		got := successors[id]
		if len(got) > 1 {
			t.Fatalf("card %d has %d successors: %v", id, len(got), got)
		}
		if (mc.succ == 0) != (len(got) == 0) || (mc.succ != 0 && got[0] != mc.succ) {
			t.Fatalf("card %d: stored successors %v, model %d", id, got, mc.succ)
		}
	}
	all := m.e.Outbox(t, m.org)
	evs := all.ByCard()
	counted := 0
	for id, mc := range m.cards {
		es := evs[id]
		if int64(len(es)) != mc.version() {
			t.Fatalf("card %d at version %d has %d events", id, mc.version(), len(es))
		}
		for i, e := range es {
			want := events.CardUpdated
			if i == 0 {
				want = events.CardCreated
			}
			if e.Type != want || e.Card.Version != int64(i+1) || e.Card.CardStatus != mc.history[i].String() ||
				e.Card.ReissuedCardID != mc.pred || e.Card.TrackNumber != mc.track {
				t.Fatalf("card %d: event %d is %s %+v; want %s version %d %s", id, i, e.Type, e.Card, want, i+1, mc.history[i])
			}
		}
		counted += len(es)
	}
	if n := len(all); n != counted {
		t.Fatalf("the outbox holds %d events of org %s, %d of them for the model's cards", n, m.org, counted)
	}
}
