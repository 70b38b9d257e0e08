package lifecycle_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/internal/cardtest"
	"github.com/cardcore/cardcore/internal/spec"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/lifecycle"
	"github.com/cardcore/cardcore/storage"
	"github.com/uptrace/bun"
	"pgregory.net/rapid"
)

// TestModel runs random sequences of the use cases (create, replay a
// create, update status, activate, renew validity, sweep, and SPEC 12's
// wrong PINs, PIN-try resets, information updates and numbering) while a
// clock moves forward, and checks the store against a plain model written
// from SPEC sections 1, 2, 5 and 12 after every step, each check on a
// database or an org of its own (testdb.Checks). Besides the model's own
// state, the checks hold the properties of SPEC 12: the PIN-try count is
// never below 0, a card blocked by its PIN tries returns to NORMAL only by
// a reset or a status update the table allows, and a terminated card is
// never changed but by a status update to another termination.
func TestModel(t *testing.T) {
	testdb.Checks(t, org, runModel)
}

var (
	modelAccounts  = []string{"acct-1", "acct-2"}
	modelCustomers = []string{"cust-1", "cust-2"}
)

// modelCard is what the model knows of a card.
type modelCard struct {
	typ        card.Type
	customer   string
	alias      string
	status     card.Status
	previous   card.Status
	history    []card.Status // the status at each version, from version 1
	validity   int           // hours, 0 for none
	validUntil time.Time
	expiresAt  time.Time // the first instant after the expiration month
	tries      int       // wrong PINs since the last reset
	printed    string    // the printed name
}

func (c *modelCard) version() int64 { return int64(len(c.history)) }

// change records a committed change, of the status or not.
func (c *modelCard) change(to card.Status) {
	if to != c.status {
		c.previous, c.status = c.status, to
	}
	c.history = append(c.history, c.status)
}

// keyedCreate is a create that succeeded with an idempotency key.
type keyedCreate struct {
	req   lifecycle.CreateRequest
	first card.Card
}

type model struct {
	e          *cardtest.Env
	org        string
	cards      map[int64]*modelCard
	ids        []int64
	keys       map[string]keyedCreate // by account and key
	keyIDs     []string
	terminated map[int64]bool // cards the store has shown terminated
}

func runModel(t *rapid.T, db *bun.DB, orgID string) {
	batch := rapid.SampledFrom([]int{1, 2, 3, 500}).Draw(t, "sweep batch")
	m := &model{
		e:   cardtest.New(t, db, cardtest.SweepBatch(batch)),
		org: orgID, cards: map[int64]*modelCard{}, keys: map[string]keyedCreate{}, terminated: map[int64]bool{},
	}
	t.Repeat(map[string]func(*rapid.T){
		"create":   m.create,
		"replay":   m.replay,
		"update":   m.update,
		"activate": m.activate,
		"renew":    m.renew,
		"advance":  m.advance,
		"sweep":    m.sweep,
		"wrongPIN": m.wrongPIN,
		"resetPIN": m.resetPIN,
		"info":     m.info,
		"number":   m.number,
		"":         m.check,
	})
}

// create makes one to three cards, so that sweeps find several due at once.
func (m *model) create(t *rapid.T) {
	for range rapid.IntRange(1, 3).Draw(t, "cards") {
		m.createOne(t)
	}
}

func (m *model) createOne(t *rapid.T) {
	now := m.e.Clock.Now()
	typ, _ := card.ParseType(rapid.SampledFrom([]string{"PLASTIC", "VIRTUAL", "TEMPORARY", "RECURRING"}).Draw(t, "type"))
	who := rapid.IntRange(0, len(modelAccounts)-1).Draw(t, "account")
	req := lifecycle.CreateRequest{
		OrgID: m.org, AccountID: modelAccounts[who], CustomerID: modelCustomers[who], Type: typ,
		Name:           rapid.SampledFrom([]string{"online", "travel", "gift"}).Draw(t, "alias"),
		IdempotencyKey: rapid.SampledFrom([]string{"", "", "", "key-1", "key-2"}).Draw(t, "key"),
	}
	if typ == card.Virtual {
		req.CVVRotationIntervalHours = cardtest.Ptr(rapid.IntRange(0, 72).Draw(t, "cvv rotation"))
	}
	if typ == card.Plastic && rapid.IntRange(1, 3).Draw(t, "issuer-numbered?") == 1 {
		req.Status, req.PrintedName = card.Unnumbered, "GRACE HOPPER"
	}
	// Mostly where it applies; sometimes on TEMPORARY or RECURRING, a 400.
	if odds := map[bool]int{true: 2, false: 10}[card.ValidityApplies(typ)]; rapid.IntRange(1, odds).Draw(t, "validity?") == 1 {
		req.ValidityPeriodHours = rapid.IntRange(1, 24*60).Draw(t, "validity hours")
	}
	if rapid.Bool().Draw(t, "explicit expiration?") {
		months := rapid.IntRange(-1, 24).Draw(t, "expiration in months")
		req.ExpirationDate = card.FormatExpiration(card.MonthOf(now).AddDate(0, months, 0))
	}
	m.send(t, req)
}

// replay sends again a create that succeeded with a key.
func (m *model) replay(t *rapid.T) {
	if len(m.keyIDs) == 0 {
		t.Skip("no keyed create yet")
	}
	m.send(t, m.keys[rapid.SampledFrom(m.keyIDs).Draw(t, "keyed create")].req)
}

// send makes a create request and checks the answer against the spec:
// field rules (400) first, then the idempotency key (replay or 409), then
// the VIRTUAL alias (409).
func (m *model) send(t *rapid.T, req lifecycle.CreateRequest) {
	now := m.e.Clock.Now()
	got, err := m.e.Cards.Create(t.Context(), req)

	expiration := card.MonthOf(now).AddDate(0, card.DefaultExpirationMonths, 0)
	if req.ExpirationDate != "" {
		expiration, _ = time.Parse("0601", req.ExpirationDate)
	}
	expiresAt := expiration.AddDate(0, 1, 0)
	var validUntil time.Time
	if req.ValidityPeriodHours > 0 {
		validUntil = now.Add(time.Duration(req.ValidityPeriodHours) * time.Hour)
	}
	broken := map[string]bool{}
	if req.ValidityPeriodHours > 0 && req.Type != card.Virtual && req.Type != card.Plastic {
		broken["validity_period_hours"] = true // only VIRTUAL and PLASTIC
	}
	if !expiresAt.After(now) {
		broken["expiration_date"] = true
	}
	if validUntil.After(expiresAt) {
		broken["validity_period_hours"] = true // valid_until may not pass expiration
	}
	keyID := req.AccountID + "/" + req.IdempotencyKey
	keyed, used := m.keys[keyID]
	used = used && req.IdempotencyKey != ""

	switch {
	case used && reflect.DeepEqual(keyed.req, req):
		if err != nil || got.ID != keyed.first.ID || got.Version != 1 || got.Status != keyed.first.Status ||
			got.Token != keyed.first.Token || !got.ValidUntil.Equal(keyed.first.ValidUntil) {
			t.Fatalf("replay of key %s: card %+v, %v; want the first result %+v", keyID, got, err, keyed.first)
		}
		return
	case len(broken) > 0:
		var ie *card.InvalidError
		if !errors.As(err, &ie) || !errors.Is(err, card.ErrInvalid) || !broken[ie.Field] {
			t.Fatalf("create %+v at %v: %v; want invalid input naming one of %v", req, now, err, broken)
		}
		return
	case used:
		if !errors.Is(err, card.ErrConflict) {
			t.Fatalf("key %s with another request: %v, want a conflict", keyID, err)
		}
		return
	}
	if req.Type == card.Virtual {
		for _, c := range m.cards {
			if c.typ == card.Virtual && c.customer == req.CustomerID && c.alias == req.Name && !spec.Terminated(c.status) {
				if !errors.Is(err, card.ErrConflict) {
					t.Fatalf("second VIRTUAL %q of %s: %v, want a conflict", req.Name, req.CustomerID, err)
				}
				return
			}
		}
	}
	if err != nil {
		t.Fatalf("create %+v: %v", req, err)
	}
	status, alias := card.Normal, req.Name
	if req.Type == card.Plastic {
		status, alias = card.Created, card.PlasticName
	}
	if req.Status == card.Unnumbered {
		status = card.Unnumbered
	}
	if got.Status != status || got.Name != alias || got.Version != 1 || !got.ValidUntil.Equal(validUntil) || !got.ExpiresAt().Equal(expiresAt) {
		t.Fatalf("created %+v; want %s %q, valid until %v, expiring at %v", got, status, alias, validUntil, expiresAt)
	}
	if _, dup := m.cards[got.ID]; dup {
		t.Fatalf("card id %d reused", got.ID)
	}
	m.cards[got.ID] = &modelCard{
		typ: req.Type, customer: req.CustomerID, alias: alias, status: status, history: []card.Status{status},
		validity: req.ValidityPeriodHours, validUntil: validUntil, expiresAt: expiresAt, printed: req.PrintedName,
	}
	m.ids = append(m.ids, got.ID)
	if req.IdempotencyKey != "" {
		m.keys[keyID] = keyedCreate{req: req, first: got}
		m.keyIDs = append(m.keyIDs, keyID)
	}
}

func (m *model) pick(t *rapid.T) (int64, *modelCard) {
	if len(m.ids) == 0 {
		t.Skip("no card yet")
	}
	id := rapid.SampledFrom(m.ids).Draw(t, "card")
	return id, m.cards[id]
}

// refused fails unless err is a conflict naming the card in its status.
func refused(t *rapid.T, what string, err error, id int64, c *modelCard) {
	t.Helper()
	var ce *card.ConflictError
	if !errors.Is(err, card.ErrConflict) || !errors.As(err, &ce) || ce.CardID != id || ce.Status != c.status {
		t.Fatalf("%s card %d in %s: %v; want a conflict naming it", what, id, c.status, err)
	}
}

func (m *model) update(t *rapid.T) {
	id, c := m.pick(t)
	to := drawStatus(t, "to")
	got, err := m.e.Cards.UpdateStatus(t.Context(), m.org, id, to)
	ok, changed := spec.UpdateStatus(c.status, to)
	if !ok {
		refused(t, "set "+to.String()+" on", err, id, c)
		return
	}
	if err != nil || got.Status != to {
		t.Fatalf("%s -> %s on card %d: %s, %v", c.status, to, id, got.Status, err)
	}
	if changed {
		c.change(to)
	}
	if got.Version != c.version() {
		t.Fatalf("%s -> %s on card %d: version %d, want %d", c.previous, to, id, got.Version, c.version())
	}
}

// drawStatus draws one of the 19 statuses, by name so that a failing
// sequence reads well.
func drawStatus(t *rapid.T, label string) card.Status {
	names := make([]string, 0, card.NumStatuses)
	for _, s := range card.Statuses() {
		names = append(names, s.String())
	}
	s, _ := card.ParseStatus(rapid.SampledFrom(names).Draw(t, label))
	return s
}

func (m *model) activate(t *rapid.T) {
	id, c := m.pick(t)
	got, err := m.e.Cards.Activate(t.Context(), m.org, id)
	if c.typ != card.Plastic || !spec.Allows(card.Activate, c.status, card.Normal) {
		refused(t, "activate", err, id, c)
		return
	}
	if err != nil {
		t.Fatalf("activate card %d in %s: %v", id, c.status, err)
	}
	c.change(card.Normal)
	if got.Status != card.Normal || got.Version != c.version() || !got.ActivationDate.Equal(m.e.Clock.Now()) {
		t.Fatalf("activated card %d: %+v", id, got)
	}
}

func (m *model) renew(t *rapid.T) {
	id, c := m.pick(t)
	got, err := m.e.Cards.RenewValidity(t.Context(), m.org, id)
	// Refused without a validity period, on a terminated card, and once the
	// expiration month is over (the card is due to become EXPIRED, not
	// NORMAL): the spec is silent on these, the library refuses.
	if c.validity == 0 || spec.Terminated(c.status) || !m.e.Clock.Now().Before(c.expiresAt) {
		refused(t, "renew", err, id, c)
		return
	}
	if err != nil {
		t.Fatalf("renew card %d in %s: %v", id, c.status, err)
	}
	to := c.status
	if spec.Allows(card.RenewValidity, c.status, card.Normal) {
		to = card.Normal
	}
	c.change(to)
	c.validUntil = m.e.Clock.Now().Add(time.Duration(c.validity) * time.Hour)
	if c.validUntil.After(c.expiresAt) {
		c.validUntil = c.expiresAt
	}
	if got.Status != c.status || got.Version != c.version() || !got.ValidUntil.Equal(c.validUntil) {
		t.Fatalf("renewed card %d: %s version %d until %v; want %s version %d until %v",
			id, got.Status, got.Version, got.ValidUntil, c.status, c.version(), c.validUntil)
	}
}

func (m *model) advance(t *rapid.T) {
	if rapid.Bool().Draw(t, "by months?") {
		m.e.Clock.AddMonths(rapid.IntRange(1, 40).Draw(t, "months"))
	} else {
		m.e.Clock.Advance(time.Duration(rapid.IntRange(1, 24*60).Draw(t, "hours")) * time.Hour)
	}
}

func (m *model) sweep(t *rapid.T) {
	now := m.e.Clock.Now()
	var want lifecycle.SweepResult
	for _, c := range m.cards {
		switch {
		case spec.Terminated(c.status):
		case !now.Before(c.expiresAt) && spec.Allows(card.Expire, c.status, card.Expired):
			c.change(card.Expired)
			want.Expired++
		case c.validity > 0 && !c.validUntil.After(now) && spec.Allows(card.ValidityElapses, c.status, card.Inoperative):
			c.change(card.Inoperative)
			want.Inoperative++
		}
	}
	got, err := m.e.Cards.Sweep(t.Context())
	if err != nil || got != want {
		t.Fatalf("sweep at %v: %+v, %v; want %+v", now, got, err, want)
	}
}

// check compares the store with the model: every card's status, version
// and dates, no terminated card back in another group, and one event per
// committed change carrying versions 1..version and the status of each.
func (m *model) check(t *rapid.T) {
	stored := map[int64]card.Card{}
	for _, acct := range modelAccounts {
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
	all := m.e.Outbox(t, m.org)
	evs := all.ByCard()
	counted := 0
	for id, mc := range m.cards {
		c, ok := stored[id]
		if !ok {
			t.Fatalf("card %d is not in the store", id)
		}
		if c.PasswordTries < 0 || c.PasswordTries != mc.tries || c.Name != mc.alias || c.PrintedName != mc.printed {
			t.Fatalf("card %d: %d PIN tries, alias %q, printed %q; model %d, %q, %q",
				id, c.PasswordTries, c.Name, c.PrintedName, mc.tries, mc.alias, mc.printed)
		}
		if c.Status != mc.status || c.PreviousStatus != mc.previous || c.Version != mc.version() {
			t.Fatalf("card %d: stored %s (previous %s) version %d; model %s (previous %s) version %d",
				id, c.Status, c.PreviousStatus, c.Version, mc.status, mc.previous, mc.version())
		}
		if !c.ValidUntil.Equal(mc.validUntil) || !c.ExpiresAt().Equal(mc.expiresAt) {
			t.Fatalf("card %d: valid until %v expiring %v; model %v and %v", id, c.ValidUntil, c.ExpiresAt(), mc.validUntil, mc.expiresAt)
		}
		if m.terminated[id] && !c.Status.Terminated() {
			t.Fatalf("card %d was terminated and is now %s", id, c.Status)
		}
		m.terminated[id] = m.terminated[id] || c.Status.Terminated()
		cardtest.CheckVersions(t, id, evs[id], c)
		checkSpec12(t, id, evs[id])
		for i, e := range evs[id] {
			if e.Card.CardStatus != mc.history[i].String() {
				t.Fatalf("card %d: the event of version %d says %s, the model %s", id, i+1, e.Card.CardStatus, mc.history[i])
			}
		}
		counted += len(evs[id])
	}
	if n := len(all); n != counted {
		t.Fatalf("the outbox holds %d events of org %s, %d of them for the model's cards", n, m.org, counted)
	}
}

// checkSpec12 holds SPEC 12's properties over a card's events: the count
// of wrong PINs is never below 0; a card blocked by its PIN tries returns
// to NORMAL only by a reset or a status update the table allows (and
// nothing else moves BLOCKED to NORMAL); once terminated, a card changes
// only by a status update to another termination.
func checkSpec12(t *rapid.T, id int64, evs cardtest.Events) {
	terminated, last := false, ""
	for _, e := range evs {
		d := e.Card
		if d.PasswordTries < 0 {
			t.Fatalf("card %d: version %d has %d PIN tries", id, d.Version, d.PasswordTries)
		}
		if last == "BLOCKED" && d.CardStatus == "NORMAL" && d.OperationType != "PIN_TRIES_RESET" &&
			(d.OperationType != "STATUS_UPDATE" || !spec.Allows(card.UpdateStatus, card.Blocked, card.Normal)) {
			t.Fatalf("card %d: BLOCKED -> NORMAL by %s at version %d", id, d.OperationType, d.Version)
		}
		last = d.CardStatus
		status, _ := card.ParseStatus(d.CardStatus)
		if terminated && (d.OperationType != "STATUS_UPDATE" || !spec.Terminated(status)) {
			t.Fatalf("card %d: terminated, then changed by %s to %s at version %d", id, d.OperationType, d.CardStatus, d.Version)
		}
		terminated = terminated || spec.Terminated(status)
	}
}

// modelPINs is the program of the model's cards: program 1, 3 tries, blocks.
const modelPINs = 3

func (m *model) wrongPIN(t *rapid.T) {
	id, c := m.pick(t)
	got, err := m.e.Cards.IncreasePINTries(t.Context(), m.org, id)
	ok, to := spec.PINTry(c.status, c.tries+1, modelPINs, true)
	if !ok {
		refused(t, "count a wrong PIN on", err, id, c)
		return
	}
	if err != nil {
		t.Fatalf("wrong PIN on card %d in %s: %v", id, c.status, err)
	}
	c.tries++
	status, _ := card.ParseStatus(to)
	c.change(status)
	if got.Status != c.status || got.Version != c.version() || got.PasswordTries != c.tries {
		t.Fatalf("wrong PIN on card %d: %s version %d, %d tries; want %s version %d, %d tries",
			id, got.Status, got.Version, got.PasswordTries, c.status, c.version(), c.tries)
	}
}

func (m *model) resetPIN(t *rapid.T) {
	id, c := m.pick(t)
	got, err := m.e.Cards.ResetPINTries(t.Context(), m.org, id)
	ok, to := spec.PINReset(c.status)
	if !ok {
		refused(t, "reset the PIN tries of", err, id, c)
		return
	}
	if err != nil {
		t.Fatalf("reset card %d in %s: %v", id, c.status, err)
	}
	if status, _ := card.ParseStatus(to); status != c.status || c.tries != 0 {
		c.tries = 0
		c.change(status)
	}
	if got.Status != c.status || got.Version != c.version() || got.PasswordTries != 0 {
		t.Fatalf("reset card %d: %s version %d, %d tries; want %s version %d", id, got.Status, got.Version, got.PasswordTries, c.status, c.version())
	}
}

func (m *model) info(t *rapid.T) {
	id, c := m.pick(t)
	printed := rapid.SampledFrom([]string{"JANE DOE", "GRACE HOPPER", "ADA KING"}).Draw(t, "printed name")
	alias := rapid.SampledFrom([]string{"online", "travel", "gift"}).Draw(t, "alias")
	got, err := m.e.Cards.UpdateInfo(t.Context(), m.org, id, lifecycle.InfoUpdate{PrintedName: &printed, Name: &alias})
	if !spec.Keeps(card.UpdateInfo, c.status) {
		refused(t, "update the information of", err, id, c)
		return
	}
	newAlias := c.alias
	if c.typ != card.Plastic {
		newAlias = alias
	}
	if c.typ == card.Virtual && newAlias != c.alias {
		for oid, o := range m.cards {
			if oid != id && o.typ == card.Virtual && o.customer == c.customer && o.alias == newAlias && !spec.Terminated(o.status) {
				if !errors.Is(err, card.ErrConflict) {
					t.Fatalf("rename card %d to %q, taken by card %d: %v; want a conflict", id, newAlias, oid, err)
				}
				return
			}
		}
	}
	if err != nil {
		t.Fatalf("update the information of card %d in %s: %v", id, c.status, err)
	}
	if printed != c.printed || newAlias != c.alias {
		c.printed, c.alias = printed, newAlias
		c.change(c.status)
	}
	if got.Version != c.version() || got.PrintedName != c.printed || got.Name != c.alias {
		t.Fatalf("updated card %d: version %d %q %q; want version %d %q %q", id, got.Version, got.PrintedName, got.Name, c.version(), c.printed, c.alias)
	}
}

func (m *model) number(t *rapid.T) {
	id, c := m.pick(t)
	got, err := m.e.Cards.Number(t.Context(), m.org, id, lifecycle.Numbering{Last4: "4242", PANHash: "c0ffee00c0ffee00c0ffee00"})
	if !spec.Allows(card.Number, c.status, card.Created) {
		refused(t, "number", err, id, c)
		return
	}
	if err != nil {
		t.Fatalf("number card %d: %v", id, err)
	}
	c.change(card.Created)
	if got.Status != card.Created || got.Version != c.version() || got.Last4 != "4242" {
		t.Fatalf("numbered card %d: %+v", id, got)
	}
}
