package noname_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/cardtest"
	"github.com/cardcore/cardcore/internal/spec"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/lifecycle"
	"github.com/cardcore/cardcore/noname"
	"github.com/uptrace/bun"
	"pgregory.net/rapid"
)

// TestModel runs random sequences of the noname use cases (bulk create,
// start, increment, cancel FULL and PARTIAL, bind with and without a card
// to replace) mixed with named cards, activation and status updates, and
// checks the store against a plain model written from SPEC sections 2, 3,
// 4 and 5 after every step, each check on a database or an org of its own
// (testdb.Checks).
func TestModel(t *testing.T) {
	testdb.Checks(t, org, runModel)
}

var (
	modelAccounts  = []string{"acct-1", "acct-2"}
	modelCustomers = []string{"cust-1", "cust-2", "cust-3"}
	// modelExternalIDs is small so that requests repeat ids, within a
	// request and across increments.
	modelExternalIDs = []string{"e0", "e1", "e2", "e3", "e4", "e5"}
)

// modelCard is what the model knows of a card.
type modelCard struct {
	typ               card.Type
	bulk, ext         string // "" for a named card
	account, customer string
	status, previous  card.Status
	version           int64
	track             int
	predecessor       int64
	successor         int64
	events            map[events.Type]int
}

// change records a committed status change and its event.
func (c *modelCard) change(to card.Status, typ events.Type) {
	c.previous, c.status = c.status, to
	c.version++
	c.events[typ]++
}

type modelBulk struct {
	id     string
	status card.BulkStatus
	ids    []string
	cards  map[string]int64 // by external id, once started
	made   int              // the first made ids have their card
}

func (b *modelBulk) holds(ext string) bool { return slices.Contains(b.ids, ext) }

// modelCancel is a committed bulk cancel.
type modelCancel struct {
	bulk, typ string
	cards     []int64 // sorted
}

type model struct {
	e       *cardtest.Env
	org     string
	cards   map[int64]*modelCard
	ids     []int64
	bulks   []*modelBulk
	cancels []modelCancel
	seq     int64 // the last outbox event seen
	aliases int
	// changed is set by a step the store accepted; a refused step is
	// checked against its snapshot instead, which is stricter.
	changed bool
}

func runModel(t *rapid.T, db *bun.DB, orgID string) {
	batch := rapid.SampledFrom([]int{1, 2, 1000}).Draw(t, "batch")
	m := &model{e: cardtest.New(t, db, cardtest.BulkBatch(batch)), org: orgID, cards: map[int64]*modelCard{}}
	t.Repeat(map[string]func(*rapid.T){
		"create bulk":   m.createBulk,
		"start":         m.start,
		"stopped start": m.stoppedStart,
		"increment":     m.increment,
		"cancel":        m.cancel,
		"bind":          m.bind,
		"named card":    m.named,
		"activate":      m.activate,
		"set status":    m.setStatus,
		"":              m.check,
	})
}

func drawExternalIDs(t *rapid.T, label string, least int) []string {
	ids := make([]string, rapid.IntRange(least, 3).Draw(t, label+" count"))
	for i := range ids {
		ids[i] = rapid.SampledFrom(modelExternalIDs).Draw(t, label)
	}
	return ids
}

func distinct(ids []string) bool {
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			return false
		}
		seen[id] = true
	}
	return true
}

// newEvents returns the outbox events of the org since the last call.
func (m *model) newEvents(t *rapid.T) cardtest.Events {
	evs := m.e.Outbox(t, m.org).Since(m.seq)
	if len(evs) > 0 {
		m.seq = evs.LastSeq()
	}
	return evs
}

// expectRefusal takes a snapshot of the org when the model expects a
// refusal (kind is card.ErrInvalid or card.ErrConflict), for refused to
// check that nothing changed; it costs nothing when the call should
// succeed.
func (m *model) expectRefusal(t *rapid.T, kind error) *snapshot {
	if kind == nil {
		return nil
	}
	s := snap(t, m.e, m.org)
	return &s
}

// refused fails unless err is of the kind wanted and nothing of the org
// changed.
func (m *model) refused(t *rapid.T, what string, err, kind error, before *snapshot) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("%s: got %v; want %v", what, err, kind)
	}
	unchanged(t, m.e, m.org, *before, what)
}

func (m *model) createBulk(t *rapid.T) {
	ids := drawExternalIDs(t, "external id", 1)
	var kind error
	if !distinct(ids) {
		kind = card.ErrInvalid
	}
	before := m.expectRefusal(t, kind)
	b, err := m.e.Noname.Create(t.Context(), noname.CreateRequest{OrgID: m.org, ExternalIDs: ids})
	if kind != nil {
		m.refused(t, fmt.Sprintf("create a bulk of %v", ids), err, kind, before)
		return
	}
	m.changed = true
	if err != nil || b.Status != card.BulkCreated || b.ExternalIDs != len(ids) {
		t.Fatalf("create a bulk of %v: %+v, %v", ids, b, err)
	}
	m.bulks = append(m.bulks, &modelBulk{id: b.ID, status: card.BulkCreated, ids: ids, cards: map[string]int64{}})
}

func (m *model) pickBulk(t *rapid.T) *modelBulk {
	if len(m.bulks) == 0 {
		t.Skip("no bulk yet")
	}
	return m.bulks[rapid.IntRange(0, len(m.bulks)-1).Draw(t, "bulk")]
}

// made records the UNBOUND cards a start or an increment made for ids,
// learning their card ids from their create-1 events.
func (m *model) made(t *rapid.T, b *modelBulk, ids []string) {
	evs := m.newEvents(t)
	if len(evs) != len(ids) {
		t.Fatalf("%d events for %d new cards of bulk %s", len(evs), len(ids), b.id)
	}
	for _, ev := range evs {
		d := ev.Card
		if ev.Type != events.CardCreated || d.BulkID != b.id || d.CardStatus != "UNBOUND" || d.CardType != "PLASTIC" ||
			!slices.Contains(ids, d.ExternalID) || b.cards[d.ExternalID] != 0 {
			t.Fatalf("unexpected event for bulk %s ids %v: %s %s", b.id, ids, ev.Type, ev.Data)
		}
		b.cards[d.ExternalID] = ev.CardID
		if _, dup := m.cards[ev.CardID]; dup {
			t.Fatalf("card id %d reused", ev.CardID)
		}
		m.cards[ev.CardID] = &modelCard{typ: card.Plastic, bulk: b.id, ext: d.ExternalID,
			status: card.Unbound, version: 1, track: 1, events: map[events.Type]int{events.CardCreated: 1}}
		m.ids = append(m.ids, ev.CardID)
	}
}

func (m *model) start(t *rapid.T) {
	b := m.pickBulk(t)
	var kind error
	if b.status != card.BulkCreated && b.status != card.BulkProcessing {
		kind = card.ErrConflict
	}
	before := m.expectRefusal(t, kind)
	got, err := m.e.Noname.Start(t.Context(), m.org, b.id)
	if kind != nil {
		m.refused(t, "start a "+b.status.String()+" bulk", err, kind, before)
		return
	}
	m.changed = true
	if err != nil || got.Status != card.BulkStarted || got.CardsMade != len(b.ids) {
		t.Fatalf("start %s bulk %s: %+v, %v", b.status, b.id, got, err)
	}
	b.status = card.BulkStarted
	m.made(t, b, b.ids[b.made:])
	b.made = len(b.ids)
}

// stoppedStart starts a CREATED or PROCESSING bulk chunk by chunk, chunk
// cards a chunk, and stops it after its first chunk as a killed process
// would: the bulk is PROCESSING with that chunk's cards, or STARTED when
// one chunk finished it.
func (m *model) stoppedStart(t *rapid.T) {
	b := m.pickBulk(t)
	chunk := rapid.IntRange(1, 3).Draw(t, "chunk")
	var kind error
	if b.status != card.BulkCreated && b.status != card.BulkProcessing {
		kind = card.ErrConflict
	}
	before := m.expectRefusal(t, kind)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	s, err := noname.New(m.e.Store, m.e.Cards, noname.WithChunk(chunk, time.Hour),
		noname.WithProgress(func(context.Context, card.Bulk) { cancel() }))
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Start(ctx, m.org, b.id)
	if kind != nil {
		m.refused(t, "start a "+b.status.String()+" bulk", err, kind, before)
		return
	}
	m.changed = true
	n := min(chunk, len(b.ids)-b.made)
	m.made(t, b, b.ids[b.made:b.made+n])
	b.made += n
	if b.made == len(b.ids) {
		if err != nil || got.Status != card.BulkStarted {
			t.Fatalf("a start whose first chunk finished bulk %s: %+v, %v", b.id, got, err)
		}
		b.status = card.BulkStarted
		return
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("a start stopped after its first chunk: %v; want context.Canceled", err)
	}
	b.status = card.BulkProcessing
}

func (m *model) increment(t *rapid.T) {
	b := m.pickBulk(t)
	ids := drawExternalIDs(t, "external id", 1)
	var kind error
	switch {
	case !distinct(ids):
		kind = card.ErrInvalid
	case b.status == card.BulkCanceled || b.status == card.BulkProcessing || slices.ContainsFunc(ids, b.holds):
		kind = card.ErrConflict
	}
	before := m.expectRefusal(t, kind)
	what := fmt.Sprintf("increment %s bulk %v with %v", b.status, b.ids, ids)
	got, err := m.e.Noname.Increment(t.Context(), m.org, b.id, ids)
	if kind != nil {
		m.refused(t, what, err, kind, before)
		return
	}
	m.changed = true
	if err != nil || got.ExternalIDs != len(b.ids)+len(ids) || got.Status != b.status {
		t.Fatalf("%s: %+v, %v", what, got, err)
	}
	b.ids = append(b.ids, ids...)
	if b.status == card.BulkStarted {
		m.made(t, b, ids)
		b.made = len(b.ids)
	}
}

func (m *model) cancel(t *rapid.T) {
	b := m.pickBulk(t)
	typ := rapid.SampledFrom([]string{noname.CancelFull, noname.CancelPartial, noname.CancelPartial, "BOGUS"}).Draw(t, "cancel type")
	var ids []string
	if typ != noname.CancelFull {
		ids = drawExternalIDs(t, "listed external id", 0)
	}
	var kind error
	field := ""
	switch {
	case typ != noname.CancelFull && typ != noname.CancelPartial:
		kind, field = card.ErrInvalid, "cancel_type"
	case typ == noname.CancelPartial && (len(ids) == 0 || !distinct(ids)):
		kind, field = card.ErrInvalid, "external_ids"
	case b.status == card.BulkCanceled || (typ == noname.CancelPartial && b.status != card.BulkStarted):
		kind = card.ErrConflict
	}
	before := m.expectRefusal(t, kind)
	what := fmt.Sprintf("cancel %s bulk %s %v", b.status, typ, ids)
	got, canceled, err := m.e.Noname.Cancel(t.Context(), m.org, b.id, typ, ids)
	if kind != nil {
		if field != "" {
			cardtest.WantInvalid(t, err, field)
		}
		m.refused(t, what, err, kind, before)
		return
	}
	m.changed = true
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	want := []int64{}
	for ext, id := range b.cards {
		if c := m.cards[id]; c.status == card.Unbound && (typ == noname.CancelFull || slices.Contains(ids, ext)) {
			c.change(card.Canceled, events.CardUpdated)
			want = append(want, id)
		}
	}
	slices.Sort(want)
	if typ == noname.CancelFull {
		b.status = card.BulkCanceled
	}
	if got.Status != b.status || !slices.Equal(sortedIDs(canceled), want) {
		t.Fatalf("%s: bulk %s, canceled %v; want %s and %v", what, got.Status, canceled, b.status, want)
	}
	m.cancels = append(m.cancels, modelCancel{bulk: b.id, typ: typ, cards: want})
}

func (m *model) pickCard(t *rapid.T, label string) (int64, *modelCard) {
	if len(m.ids) == 0 {
		t.Skip("no card yet")
	}
	id := rapid.SampledFrom(m.ids).Draw(t, label)
	return id, m.cards[id]
}

// bind binds a card, mostly an UNBOUND one, sometimes replacing a card of
// the same account, some other card, or one that does not exist.
func (m *model) bind(t *rapid.T) {
	var unbound []int64
	for _, id := range m.ids {
		if m.cards[id].status == card.Unbound {
			unbound = append(unbound, id)
		}
	}
	var id int64
	if len(unbound) > 0 && rapid.IntRange(0, 3).Draw(t, "an UNBOUND card?") > 0 {
		id = rapid.SampledFrom(unbound).Draw(t, "card")
	} else {
		id, _ = m.pickCard(t, "card")
	}
	c := m.cards[id]
	req := noname.BindRequest{OrgID: m.org, CardID: id,
		AccountID:   rapid.SampledFrom(modelAccounts).Draw(t, "account"),
		CustomerID:  rapid.SampledFrom(modelCustomers).Draw(t, "customer"),
		PrintedName: rapid.SampledFrom([]string{"", "JANE DOE"}).Draw(t, "printed name")}
	switch rapid.SampledFrom([]string{"none", "none", "a card of the account", "any card", "no such card"}).Draw(t, "replaces") {
	case "a card of the account":
		var same []int64
		for _, other := range m.ids {
			if m.cards[other].account == req.AccountID {
				same = append(same, other)
			}
		}
		if len(same) > 0 {
			req.ReissuedCardID = rapid.SampledFrom(same).Draw(t, "replaced card")
		}
	case "any card":
		req.ReissuedCardID, _ = m.pickCard(t, "replaced card")
	case "no such card":
		req.ReissuedCardID = 1 << 40
	}
	old := m.cards[req.ReissuedCardID]

	var kind error
	switch {
	case req.ReissuedCardID == id:
		kind = card.ErrInvalid
	case c.status != card.Unbound:
		// Binding a card that is not UNBOUND is a conflict and changes nothing.
		kind = card.ErrConflict
	case req.ReissuedCardID != 0 && (old == nil || old.account != req.AccountID || old.successor != 0 ||
		spec.In(old.status, spec.NotReissued)):
		kind = card.ErrConflict
	}
	before := m.expectRefusal(t, kind)
	what := fmt.Sprintf("bind %s card %d replacing %d", c.status, id, req.ReissuedCardID)
	res, err := m.e.Noname.Bind(t.Context(), req)
	if kind != nil {
		m.refused(t, what, err, kind, before)
		return
	}
	m.changed = true
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	// A bound card was UNBOUND just before.
	if res.Card.PreviousStatus != card.Unbound || res.Card.Status != card.Created {
		t.Fatalf("%s: bound card is %s from %s", what, res.Card.Status, res.Card.PreviousStatus)
	}
	c.change(card.Created, events.CustomerBound)
	c.account, c.customer = req.AccountID, req.CustomerID
	if old != nil {
		c.predecessor, c.track = req.ReissuedCardID, old.track+1
		old.successor = id
		// The old card's fate is that of a reissue without must_block.
		if _, to := spec.ReissueOld(old.typ.String(), false, old.status); to != old.status.String() {
			s, _ := card.ParseStatus(to)
			old.change(s, events.CardUpdated)
		}
	}
	if res.Card.ReissuedCardID != c.predecessor || res.Card.TrackNumber != c.track || res.Card.Version != c.version ||
		res.Card.CustomerID != c.customer {
		t.Fatalf("%s: answered %+v", what, res.Card)
	}
}

// named makes a card for a customer, PLASTIC (CREATED) or VIRTUAL
// (NORMAL), for binds to replace.
func (m *model) named(t *rapid.T) {
	m.changed = true
	typ := rapid.SampledFrom([]card.Type{card.Plastic, card.Virtual}).Draw(t, "type")
	who := rapid.IntRange(0, len(modelAccounts)-1).Draw(t, "account")
	m.aliases++
	req := lifecycle.CreateRequest{OrgID: m.org, AccountID: modelAccounts[who], CustomerID: modelCustomers[who],
		Type: typ, Name: fmt.Sprintf("alias-%d", m.aliases)}
	status := card.Created
	if typ == card.Virtual {
		zero := 0
		req.CVVRotationIntervalHours, status = &zero, card.Normal
	}
	c, err := m.e.Cards.Create(t.Context(), req)
	if err != nil || c.Status != status {
		t.Fatalf("create %s card: %+v, %v", typ, c, err)
	}
	m.cards[c.ID] = &modelCard{typ: typ, account: req.AccountID, customer: req.CustomerID, status: status,
		version: 1, track: 1, events: map[events.Type]int{events.CardCreated: 1}}
	m.ids = append(m.ids, c.ID)
}

func (m *model) activate(t *rapid.T) {
	id, c := m.pickCard(t, "card")
	var kind error
	if c.typ != card.Plastic || c.status != card.Created {
		kind = card.ErrConflict
	}
	before := m.expectRefusal(t, kind)
	got, err := m.e.Cards.Activate(t.Context(), m.org, id)
	if kind != nil {
		m.refused(t, fmt.Sprintf("activate %s %s card %d", c.typ, c.status, id), err, kind, before)
		return
	}
	m.changed = true
	if err != nil {
		t.Fatalf("activate card %d: %v", id, err)
	}
	c.change(card.Normal, events.CardUpdated)
	if p := m.cards[c.predecessor]; p != nil && !spec.Terminated(p.status) {
		p.change(card.Canceled, events.CardUpdated)
	}
	if got.Status != card.Normal || got.Version != c.version {
		t.Fatalf("activated card %d: %+v", id, got)
	}
}

// setStatus sets BLOCKED, NORMAL or LOST by hand, by SPEC section 2 (a
// block from an active status or another block, NORMAL only from a block,
// a termination from anything); the status a card has is a no-op.
func (m *model) setStatus(t *rapid.T) {
	id, c := m.pickCard(t, "card")
	to := rapid.SampledFrom([]card.Status{card.Blocked, card.Normal, card.Lost}).Draw(t, "status")
	var kind error
	if ok, _ := spec.UpdateStatus(c.status, to); !ok {
		kind = card.ErrConflict
	}
	before := m.expectRefusal(t, kind)
	got, err := m.e.Cards.UpdateStatus(t.Context(), m.org, id, to)
	if kind != nil {
		m.refused(t, fmt.Sprintf("set %s on %s card %d", to, c.status, id), err, kind, before)
		return
	}
	m.changed = true
	if c.status != to {
		c.change(to, events.CardUpdated)
	}
	if err != nil || got.Status != to || got.Version != c.version {
		t.Fatalf("set %s on card %d: %+v, %v", to, id, got, err)
	}
}

// storedCard is the part of a stored card the model knows.
type storedCard struct {
	ID             int64  `bun:"id"`
	Type           string `bun:"type"`
	BulkID         string `bun:"bulk_id"`
	ExternalID     string `bun:"external_id"`
	AccountID      string `bun:"account_id"`
	CustomerID     string `bun:"customer_id"`
	Status         string `bun:"status"`
	PreviousStatus string `bun:"previous_status"`
	Version        int64  `bun:"version"`
	TrackNumber    int    `bun:"track_number"`
	ReissuedCardID int64  `bun:"reissued_card_id"`
}

// check compares the store with the model: every card, every bulk and its
// counts, at most one successor per card, and an outbox holding exactly
// the events of the committed changes. The cards are read in one query, as
// a check runs after every step.
func (m *model) check(t *rapid.T) {
	if !m.changed {
		return
	}
	m.changed = false
	var rows []storedCard
	err := m.e.DB.NewRaw(`SELECT id, type, COALESCE(bulk_id, '') AS bulk_id, COALESCE(external_id, '') AS external_id,
		account_id, customer_id, status, previous_status, version, track_number,
		COALESCE(reissued_card_id, 0) AS reissued_card_id
		FROM cardcore_cards WHERE org_id = ? ORDER BY id`, m.org).Scan(t.Context(), &rows)
	if err != nil {
		t.Fatalf("read cards: %v", err)
	}
	if len(rows) != len(m.cards) {
		t.Fatalf("the store has %d cards, the model %d", len(rows), len(m.cards))
	}
	succeeded := map[int64]int64{}
	for _, r := range rows {
		c, ok := m.cards[r.ID]
		if !ok {
			t.Fatalf("card %d is not in the model", r.ID)
		}
		want := storedCard{ID: r.ID, Type: c.typ.String(), BulkID: c.bulk, ExternalID: c.ext,
			AccountID: c.account, CustomerID: c.customer, Status: c.status.String(), PreviousStatus: c.previous.String(),
			Version: c.version, TrackNumber: c.track, ReissuedCardID: c.predecessor}
		if r != want {
			t.Fatalf("card %d:\nstored %+v\nmodel  %+v", r.ID, r, want)
		}
		// A card has at most one successor.
		if r.ReissuedCardID != 0 {
			if other, dup := succeeded[r.ReissuedCardID]; dup {
				t.Fatalf("card %d has two successors: %d and %d", r.ReissuedCardID, other, r.ID)
			}
			succeeded[r.ReissuedCardID] = r.ID
		}
	}

	for _, b := range m.bulks {
		v, err := m.e.Noname.Get(t.Context(), m.org, b.id)
		if err != nil {
			t.Fatalf("get bulk %s: %v", b.id, err)
		}
		counts := map[card.Status]int{}
		for _, id := range b.cards {
			counts[m.cards[id].status]++
		}
		if v.Status != b.status || v.ExternalIDs != len(b.ids) || !mapsEqual(v.Cards, counts) || v.CardsMade != b.made {
			t.Fatalf("bulk %s: %s with %d ids, %d made and %v; model %s with %d, %d and %v",
				b.id, v.Status, v.ExternalIDs, v.CardsMade, v.Cards, b.status, len(b.ids), b.made, counts)
		}
	}

	evs := m.e.Outbox(t, m.org)
	got := map[int64]map[events.Type]int{}
	var cancels []modelCancel
	for _, ev := range evs {
		if ev.Type == events.NonameCancellation {
			cancels = append(cancels, modelCancel{bulk: ev.Cancel.BulkID, typ: ev.Cancel.CancelType, cards: sortedIDs(ev.Cancel.CardIDs)})
			continue
		}
		if got[ev.CardID] == nil {
			got[ev.CardID] = map[events.Type]int{}
		}
		got[ev.CardID][ev.Type]++
		// Canceling a bulk never touches a bound card.
		if ev.Card.OperationType == card.CancelBulk.OperationType() && (ev.Card.CardPreviousStatus != "UNBOUND" || ev.Card.AccountID != "") {
			t.Fatalf("a bulk cancel changed a bound card: %s", ev.Data)
		}
	}
	for id, c := range m.cards {
		if !sameCounts(got[id], c.events) {
			t.Fatalf("card %d has events %v; the model %v", id, got[id], c.events)
		}
		delete(got, id)
	}
	if len(got) != 0 {
		t.Fatalf("the outbox has events of cards the model does not know: %v", got)
	}
	if len(cancels) != len(m.cancels) {
		t.Fatalf("%d noname_cancellation-1 events for %d cancels", len(cancels), len(m.cancels))
	}
	for i := range cancels {
		if g, w := cancels[i], m.cancels[i]; g.bulk != w.bulk || g.typ != w.typ || !slices.Equal(g.cards, w.cards) {
			t.Fatalf("cancel %d: event %+v, model %+v", i, g, w)
		}
	}
	m.seq = evs.LastSeq()
}

// sameCounts compares event counts by type, a missing type counting 0.
func sameCounts(got, want map[events.Type]int) bool {
	n := 0
	for k, v := range want {
		if v != 0 {
			n++
			if got[k] != v {
				return false
			}
		}
	}
	return len(got) == n
}
