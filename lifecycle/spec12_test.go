package lifecycle_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/cardtest"
	"github.com/cardcore/cardcore/internal/spec"
	"github.com/cardcore/cardcore/lifecycle"
)

// The programs of the PIN-try tests, beside program 1 (3 tries, blocks).
var (
	keepsStatus = card.Program{ID: 2, BIN: "400000", Brand: card.Visa, PINTriesKeepStatus: true}
	fiveTries   = card.Program{ID: 3, BIN: "400001", Brand: card.Mastercard, MaxPINTries: 5}
)

// pinLimit is SPEC 12's maximum of a program: 3 unless it names one.
func pinLimit(p card.Program) int {
	if p.MaxPINTries == 0 {
		return 3
	}
	return p.MaxPINTries
}

// spec12Case is one card of a table test: its status and what the test
// does to it.
type spec12Case struct {
	from    card.Status
	program card.Program
	tries   int
	noname  bool
	c       card.Card
}

// insertCases writes one card per case, as fixtures, and moves the clock
// on so that a change shows in UpdatedAt.
func insertCases(t *testing.T, e *cardtest.Env, cases []*spec12Case) {
	t.Helper()
	now := e.Clock.Now()
	fixtures := make([]*card.Card, len(cases))
	for i, k := range cases {
		k.c = stored(k.from, now, i)
		k.c.ProgramID, k.c.PasswordTries = k.program.ID, k.tries
		if k.c.ProgramID == 0 {
			k.c.ProgramID = card.DefaultProgramID
		}
		if k.noname && k.c.BulkID == "" {
			k.c.BulkID, k.c.ExternalID = "bulk-"+org, "ext-n-"+k.from.String()
			if k.from == card.Unnumbered {
				k.c.AccountID, k.c.CustomerID = "", ""
			}
		}
		fixtures[i] = &k.c
	}
	e.Insert(t, fixtures...)
	e.Clock.Advance(time.Minute)
}

// wantRefused checks a refusal of op on the case's card: a conflict naming
// the card, its status and op, and nothing written.
func wantRefused(t *testing.T, e *cardtest.Env, k *spec12Case, op card.Operation, err error) {
	t.Helper()
	var ce *card.ConflictError
	if !errors.Is(err, card.ErrConflict) || !errors.As(err, &ce) || ce.CardID != k.c.ID || ce.Status != k.from ||
		ce.Operation != op.String() || !ce.Requested.IsZero() {
		t.Errorf("%s on %s (%d tries): %v; want a conflict naming the card in %s", op, k.from, k.tries, err, k.from)
		return
	}
	if got := e.Card(t, org, k.c.ID); got.Version != 1 || got.Status != k.from || got.PasswordTries != k.tries {
		t.Errorf("%s refused on %s wrote: %s version %d, %d tries", op, k.from, got.Status, got.Version, got.PasswordTries)
	}
}

// wantChange checks the case's card after op changed it: the answer and
// the store agree, at version 2, in status to with tries wrong PINs, and
// one Card updated says so with operation_type.
func wantChange(t *testing.T, e *cardtest.Env, k *spec12Case, got card.Card, to card.Status, tries int, opType string, evs cardtest.Events) {
	t.Helper()
	stored := e.Card(t, org, k.c.ID)
	cardtest.SameCard(t, "answer and store", got, stored)
	previous := k.c.PreviousStatus
	if to != k.from {
		previous = k.from
	}
	if got.Status != to || got.PreviousStatus != previous || got.PasswordTries != tries || got.Version != 2 ||
		!got.UpdatedAt.Equal(e.Clock.Now()) {
		t.Errorf("%s from %s (%d tries): %s (previous %s) version %d, %d tries; want %s, version 2, %d tries",
			opType, k.from, k.tries, got.Status, got.PreviousStatus, got.Version, got.PasswordTries, to, tries)
	}
	if len(evs) != 1 {
		t.Errorf("%s from %s: %d events, want 1", opType, k.from, len(evs))
		return
	}
	d := evs[0].Card
	if evs[0].Type != events.CardUpdated || d.CardStatus != to.String() || d.OperationType != opType ||
		d.PasswordTries != tries || d.Version != 2 {
		t.Errorf("%s from %s: event %s %+v", opType, k.from, evs[0].Type, d)
	}
	if _, ok := evs[0].Keys()["password_tries"]; !ok {
		t.Errorf("%s from %s: the event's data has no password_tries: %s", opType, k.from, evs[0].Data)
	}
}

// wantNothing checks that nothing was written for the case's card.
func wantNothing(t *testing.T, e *cardtest.Env, k *spec12Case, what string, got card.Card, evs cardtest.Events) {
	t.Helper()
	stored := e.Card(t, org, k.c.ID)
	if got.Version != 1 || stored.Version != 1 || !stored.UpdatedAt.Equal(k.c.UpdatedAt) || len(evs) != 0 {
		t.Errorf("%s on %s changed nothing but wrote: answer version %d, stored version %d, %d events",
			what, k.from, got.Version, stored.Version, len(evs))
	}
}

// TestIncreasePINTriesEveryStatus counts a wrong PIN on a card of every
// status, under programs that block at 3 (the default), at 5, and that
// never block, from counts below, just below and above the maximum, and
// checks the answer, the store and the outbox against SPEC 12.
func TestIncreasePINTriesEveryStatus(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		var cases []*spec12Case
		for _, from := range card.Statuses() {
			for _, p := range []card.Program{card.DefaultProgram, keepsStatus, fiveTries} {
				for _, tries := range []int{0, pinLimit(p) - 1, pinLimit(p) + 1} {
					cases = append(cases, &spec12Case{from: from, program: p, tries: tries})
				}
			}
		}
		insertCases(t, e, cases)
		answers := make([]card.Card, len(cases))
		errs := make([]error, len(cases))
		for i, k := range cases {
			answers[i], errs[i] = e.Cards.IncreasePINTries(t.Context(), org, k.c.ID)
		}
		outbox := e.Outbox(t, org).ByCard()
		for i, k := range cases {
			ok, to := spec.PINTry(k.from, k.tries+1, pinLimit(k.program), !k.program.PINTriesKeepStatus)
			if !ok {
				wantRefused(t, e, k, card.IncreasePINTries, errs[i])
				continue
			}
			if errs[i] != nil {
				t.Errorf("wrong PIN on %s (%d tries, program %d): %v", k.from, k.tries, k.program.ID, errs[i])
				continue
			}
			opType := "PIN_TRIES_INCREASE"
			if to != k.from.String() {
				opType = "PIN_TRIES_EXCEEDED"
			}
			want, _ := card.ParseStatus(to)
			wantChange(t, e, k, answers[i], want, k.tries+1, opType, outbox[k.c.ID])
		}
	}, cardtest.Programs(keepsStatus, fiveTries))
}

// TestResetPINTriesEveryStatus resets the PIN tries of a card of every
// status, with and without wrong PINs counted, against SPEC 12: BLOCKED ->
// NORMAL, NORMAL, PENDING and WARNING keep their status, anything else is
// refused; a reset with nothing to reset writes nothing.
func TestResetPINTriesEveryStatus(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		var cases []*spec12Case
		for _, from := range card.Statuses() {
			for _, tries := range []int{0, 2} {
				cases = append(cases, &spec12Case{from: from, tries: tries})
			}
		}
		insertCases(t, e, cases)
		answers := make([]card.Card, len(cases))
		errs := make([]error, len(cases))
		for i, k := range cases {
			answers[i], errs[i] = e.Cards.ResetPINTries(t.Context(), org, k.c.ID)
		}
		outbox := e.Outbox(t, org).ByCard()
		for i, k := range cases {
			ok, to := spec.PINReset(k.from)
			switch {
			case !ok:
				wantRefused(t, e, k, card.ResetPINTries, errs[i])
			case errs[i] != nil:
				t.Errorf("reset on %s (%d tries): %v", k.from, k.tries, errs[i])
			case to == k.from.String() && k.tries == 0:
				wantNothing(t, e, k, "reset", answers[i], outbox[k.c.ID])
			default:
				want, _ := card.ParseStatus(to)
				wantChange(t, e, k, answers[i], want, 0, "PIN_TRIES_RESET", outbox[k.c.ID])
			}
		}
	})
}

// TestUpdateInfoEveryStatus updates the information of a PLASTIC and a
// VIRTUAL card of every status against SPEC 12: a terminated card is
// refused, any other is updated (its status kept); an update that changes
// nothing writes nothing.
func TestUpdateInfoEveryStatus(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		var cases []*spec12Case
		for _, from := range card.Statuses() {
			cases = append(cases, &spec12Case{from: from}, &spec12Case{from: from})
		}
		insertCases(t, e, cases)
		name := "ADA KING"
		same := "JANE DOE" // what the fixtures carry
		for i, k := range cases {
			u := lifecycle.InfoUpdate{PrintedName: &name}
			if i%2 == 1 {
				u = lifecycle.InfoUpdate{PrintedName: &same}
			}
			got, err := e.Cards.UpdateInfo(t.Context(), org, k.c.ID, u)
			evs := e.Outbox(t, org).ByCard()[k.c.ID]
			switch {
			case !spec.Keeps(card.UpdateInfo, k.from):
				wantRefused(t, e, k, card.UpdateInfo, err)
			case err != nil:
				t.Errorf("update information on %s: %v", k.from, err)
			case i%2 == 1:
				wantNothing(t, e, k, "an update to the same information", got, evs)
			default:
				wantChange(t, e, k, got, k.from, 0, "CARD_INFO_UPDATE", evs)
				if got.PrintedName != name {
					t.Errorf("printed name %q after the update", got.PrintedName)
				}
			}
		}
	})
}

// TestNumberEveryStatus numbers a named and a noname card of every status
// against SPEC 12: UNNUMBERED becomes CREATED, or UNBOUND for a noname
// card, and keeps the last four digits and the hash; anything else is
// refused.
func TestNumberEveryStatus(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		var cases []*spec12Case
		for _, from := range card.Statuses() {
			cases = append(cases, &spec12Case{from: from}, &spec12Case{from: from, noname: true})
		}
		insertCases(t, e, cases)
		n := lifecycle.Numbering{Last4: "4242", PANHash: "c0ffee00c0ffee00c0ffee00c0ffee00"}
		for _, k := range cases {
			got, err := e.Cards.Number(t.Context(), org, k.c.ID, n)
			to := card.Created
			if k.c.Noname() {
				to = card.Unbound
			}
			if !spec.Allows(card.Number, k.from, to) {
				wantRefused(t, e, k, card.Number, err)
				continue
			}
			if err != nil {
				t.Errorf("number %s (noname %v): %v", k.from, k.c.Noname(), err)
				continue
			}
			wantChange(t, e, k, got, to, 0, "PAN_UPDATE", e.Outbox(t, org).ByCard()[k.c.ID])
			if got.Last4 != "4242" || got.PANHash != n.PANHash || got.Brand != card.DefaultProgram.Brand {
				t.Errorf("numbered card: last4 %q hash %q brand %s", got.Last4, got.PANHash, got.Brand)
			}
		}
	})
}

// TestNumberingRefusesInput checks the numbering's input before any card is
// read: the last four digits, a hash that is not digits alone (a PAN), a
// BIN.
func TestNumberingRefusesInput(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		for _, tc := range []struct {
			n     lifecycle.Numbering
			field string
		}{
			{lifecycle.Numbering{PANHash: "c0ffee00c0ffee00c0ffee00"}, "last_4_digits"},
			{lifecycle.Numbering{Last4: "42a2", PANHash: "c0ffee00c0ffee00c0ffee00"}, "last_4_digits"},
			{lifecycle.Numbering{Last4: "4242"}, "pan_hash"},
			{lifecycle.Numbering{Last4: "4242", PANHash: "4111111111111111"}, "pan_hash"},
			{lifecycle.Numbering{Last4: "4242", PANHash: "short"}, "pan_hash"},
			{lifecycle.Numbering{Last4: "4242", PANHash: "c0ffee00c0ffee00 c0ffee00"}, "pan_hash"},
			{lifecycle.Numbering{Last4: "4242", PANHash: "c0ffee00c0ffee00c0ffee00", BIN: "12345"}, "bin"},
		} {
			_, err := e.Cards.Number(t.Context(), org, 1, tc.n)
			var ie *card.InvalidError
			if !errors.As(err, &ie) || ie.Field != tc.field {
				t.Errorf("Number(%+v) = %v; want invalid %s", tc.n, err, tc.field)
			}
		}
	})
}

// TestCreateUnnumbered makes an issuer-numbered card: PLASTIC only, with a
// printed name; numbered, it is CREATED with the program's brand, and
// activation makes it NORMAL.
func TestCreateUnnumbered(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		req := request(card.Plastic, "")
		req.Status = card.Unnumbered
		c := mustCreate(t, e, req)
		if c.Status != card.Unnumbered || c.Last4 != "" || !c.Brand.IsZero() {
			t.Fatalf("created %s, last4 %q, brand %s", c.Status, c.Last4, c.Brand)
		}
		for _, tc := range []struct {
			change func(*lifecycle.CreateRequest)
			field  string
		}{
			{func(r *lifecycle.CreateRequest) { r.PrintedName = "" }, "printed_name"},
			{func(r *lifecycle.CreateRequest) { *r = request(card.Virtual, "v"); r.Status = card.Unnumbered }, "status"},
			{func(r *lifecycle.CreateRequest) { r.Status = card.Normal }, "status"},
		} {
			r := req
			tc.change(&r)
			_, err := e.Cards.Create(t.Context(), r)
			var ie *card.InvalidError
			if !errors.As(err, &ie) || ie.Field != tc.field {
				t.Errorf("create %+v: %v; want invalid %s", r, err, tc.field)
			}
		}
		numbered, err := e.Cards.Number(t.Context(), org, c.ID, lifecycle.Numbering{Last4: "0005", PANHash: "AbCd+/=_-:0123456789", BIN: "12345678", Brand: card.Elo})
		if err != nil || numbered.Status != card.Created || numbered.Brand != card.Elo || numbered.BIN != "12345678" {
			t.Fatalf("number: %+v, %v", numbered, err)
		}
		active, err := e.Cards.Activate(t.Context(), org, c.ID)
		if err != nil || active.Status != card.Normal {
			t.Fatalf("activate the numbered card: %s, %v", active.Status, err)
		}
	})
}

// TestUpdateInfoRules checks each field of an information update against
// create's rules, the alias of a VIRTUAL card against the customer's other
// VIRTUAL cards, and a PLASTIC card's name, which stays PLASTIC.
func TestUpdateInfoRules(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		v := mustCreate(t, e, request(card.Virtual, "online"))
		mustCreate(t, e, request(card.Virtual, "travel"))
		p := mustCreate(t, e, request(card.Plastic, ""))
		s := func(v string) *string { return &v }
		for _, tc := range []struct {
			u     lifecycle.InfoUpdate
			field string
		}{
			{lifecycle.InfoUpdate{PrintedName: s("Ada 2")}, "printed_name"},
			{lifecycle.InfoUpdate{PrintedName: s(" ADA")}, "printed_name"},
			{lifecycle.InfoUpdate{Name: s("")}, "name"},
			{lifecycle.InfoUpdate{TransactionLimit: s("")}, "transaction_limit"},
			{lifecycle.InfoUpdate{TransactionLimit: s("-1")}, "transaction_limit"},
			{lifecycle.InfoUpdate{EmbossingCustomField: s(string(make([]byte, 1001)))}, "embossing_custom_field"},
			{lifecycle.InfoUpdate{Metadata: json.RawMessage(`[1]`)}, "metadata"},
		} {
			_, err := e.Cards.UpdateInfo(t.Context(), org, v.ID, tc.u)
			var ie *card.InvalidError
			if !errors.As(err, &ie) || ie.Field != tc.field {
				t.Errorf("UpdateInfo(%+v) = %v; want invalid %s", tc.u, err, tc.field)
			}
		}
		if _, err := e.Cards.UpdateInfo(t.Context(), org, v.ID, lifecycle.InfoUpdate{Name: s("travel")}); !errors.Is(err, card.ErrConflict) {
			t.Errorf("renaming to a taken alias: %v, want a conflict", err)
		}
		off := false
		got, err := e.Cards.UpdateInfo(t.Context(), org, p.ID, lifecycle.InfoUpdate{Name: s("anything"), ContactlessEnabled: &off,
			TransactionLimit: s("99.90"), EmbossingCustomField: s("metal"), Metadata: json.RawMessage(`{"a":1}`)})
		if err != nil || got.Name != card.PlasticName || got.ContactlessEnabled || got.TransactionLimit != "99.90" ||
			got.EmbossingCustomField != "metal" || string(got.Metadata) != `{"a":1}` || got.Version != 2 {
			t.Errorf("PLASTIC update: %+v, %v", got, err)
		}
		// The alias freed by a terminated card is free again.
		if _, err := e.Cards.UpdateStatus(t.Context(), org, v.ID, card.Lost); err != nil {
			t.Fatal(err)
		}
		w := mustCreate(t, e, request(card.Virtual, "spare"))
		if got, err := e.Cards.UpdateInfo(t.Context(), org, w.ID, lifecycle.InfoUpdate{Name: s("online")}); err != nil || got.Name != "online" {
			t.Errorf("renaming to the alias of a terminated card: %+v, %v", got, err)
		}
		if _, err := e.Cards.UpdateInfo(t.Context(), org, 999999, lifecycle.InfoUpdate{}); !errors.Is(err, card.ErrNotFound) {
			t.Errorf("update of a missing card: %v", err)
		}
	})
}

// TestCreateFingerprintOfEarlierRequests: a create request without SPEC
// 12's status encodes as it did before the field existed, so an
// idempotency key an earlier version kept still replays.
func TestCreateFingerprintOfEarlierRequests(t *testing.T) {
	b, err := json.Marshal(request(card.Plastic, ""))
	if err != nil || strings.Contains(string(b), `"Status"`) {
		t.Errorf("a create request without a status encodes as %s, %v", b, err)
	}
}
