package reissue_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/cardtest"
	"github.com/cardcore/cardcore/lifecycle"
	"github.com/cardcore/cardcore/reissue"
)

// plastic inserts a PLASTIC card of org in status and returns it.
func plastic(t *testing.T, e *cardtest.Env, status card.Status) card.Card {
	t.Helper()
	c := stored(org, card.Plastic, status, 1)
	e.Insert(t, &c)
	return c
}

func mustReissue(t *testing.T, e *cardtest.Env, req reissue.Request) reissue.Result {
	t.Helper()
	res, err := e.Reissue.Reissue(t.Context(), req)
	if err != nil {
		t.Fatalf("reissue %+v: %v", req, err)
	}
	return res
}

// unchanged fails unless the org still holds only the given cards, as they
// were, and its outbox holds n events.
func unchanged(t *testing.T, e *cardtest.Env, n int, cards ...card.Card) {
	t.Helper()
	if got := e.CountCards(t, org); got != len(cards) {
		t.Fatalf("the org has %d cards, want %d", got, len(cards))
	}
	for _, c := range cards {
		cardtest.SameCard(t, fmt.Sprintf("card %d", c.ID), e.Card(t, org, c.ID), c)
	}
	e.WantEvents(t, org, n)
}

func TestReissueCopiesTheOldCard(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		old := stored(org, card.Virtual, card.Normal, 1)
		old.Mode = card.Combo
		old.PrintedName = "JOHN SMITH"
		old.EmbossingCustomField = "VIP"
		old.EmbossingGroup = "GOLD"
		old.ContactlessEnabled = false
		old.Metadata = json.RawMessage(`{"tier":"gold"}`)
		old.PINLength = 6
		old.TransactionLimit = "1500.00"
		old.TemplateID = "tpl-9"
		old.CVVRotationIntervalHours = cardtest.Ptr(12)
		old.ValidityPeriodHours = 72
		old.ValidUntil = cardtest.T0.Add(72 * time.Hour)
		e.Insert(t, &old)
		e.Clock.Advance(30 * 24 * time.Hour) // April 2026
		now := e.Clock.Now()

		res := mustReissue(t, e, reissue.Request{OrgID: org, CardID: old.ID, ReasonID: newReason(t, e, org, false).ID})
		n := res.New
		if n.Mode != card.Combo || n.Name != old.Name || n.PrintedName != "JOHN SMITH" || n.EmbossingCustomField != "VIP" ||
			n.EmbossingGroup != "GOLD" || n.ContactlessEnabled || string(n.Metadata) != `{"tier":"gold"}` || n.PINLength != 6 ||
			n.TransactionLimit != "1500.00" || n.TemplateID != "tpl-9" || n.CVVRotationIntervalHours == nil || *n.CVVRotationIntervalHours != 12 {
			t.Fatalf("the successor %+v does not copy the old card %+v", n, old)
		}
		// Dates start again from the reissue: the program's default
		// expiration from today, the validity period from now.
		if !n.IssuingDate.Equal(now) || !n.ExpirationDate.Equal(time.Date(2032, time.April, 1, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("successor issued %v expiring %v", n.IssuingDate, n.ExpirationDate)
		}
		if n.ValidityPeriodHours != 72 || !n.ValidUntil.Equal(now.Add(72*time.Hour)) {
			t.Fatalf("successor validity %d hours until %v, want 72 until %v", n.ValidityPeriodHours, n.ValidUntil, now.Add(72*time.Hour))
		}
		cardtest.SameCard(t, "stored successor", e.Card(t, org, n.ID), n)
	})
}

func TestReissueOptions(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		old := plastic(t, e, card.Normal)
		reason := newReason(t, e, org, false)
		meta := json.RawMessage(`{"channel":"app","n":2}`)
		res := mustReissue(t, e, reissue.Request{OrgID: org, CardID: old.ID, ReasonID: reason.ID, Options: reissue.Options{
			PrintedName: "MARY ANN", EmbossingCustomField: "NEW FIELD", EmbossingGroup: "GROUP B",
			ContactlessEnabled: cardtest.Ptr(false), Metadata: meta, PINLength: 6,
			ExpirationDate: "3012", ValidityPeriodHours: 48,
		}})
		n := e.Card(t, org, res.New.ID)
		cardtest.SameCard(t, "result", res.New, n)
		if n.PrintedName != "MARY ANN" || n.EmbossingCustomField != "NEW FIELD" || n.EmbossingGroup != "GROUP B" ||
			n.ContactlessEnabled || string(n.Metadata) != string(meta) || n.PINLength != 6 {
			t.Fatalf("options not applied: %+v", n)
		}
		if !n.ExpirationDate.Equal(time.Date(2030, time.December, 1, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("expiration %v, want December 2030", n.ExpirationDate)
		}
		if n.ValidityPeriodHours != 48 || !n.ValidUntil.Equal(cardtest.T0.Add(48*time.Hour)) {
			t.Fatalf("validity %d until %v, want 48 until %v", n.ValidityPeriodHours, n.ValidUntil, cardtest.T0.Add(48*time.Hour))
		}
		d := e.WantEvents(t, org, 2).ByCard()[n.ID][0].Card
		if d.CardPrintedName != "MARY ANN" || d.ExpirationDate != "3012" || d.ValidUntil == "" {
			t.Fatalf("create-1 data %+v does not carry the options", d)
		}
		// The old card keeps its own fields.
		if o := e.Card(t, org, old.ID); o.PrintedName != "JANE DOE" || o.PINLength != 4 || !o.ContactlessEnabled {
			t.Fatalf("the options changed the old card: %+v", o)
		}
	})
}

func TestReissueRefusesBadOptions(t *testing.T) {
	cases := []struct {
		name  string
		typ   card.Type
		opts  reissue.Options
		key   string
		field string
	}{
		{"printed name too short", card.Plastic, reissue.Options{PrintedName: "J"}, "", "printed_name"},
		{"printed name with digits", card.Plastic, reissue.Options{PrintedName: "JANE 2"}, "", "printed_name"},
		{"pin length", card.Plastic, reissue.Options{PINLength: 5}, "", "pin_length"},
		{"metadata not an object", card.Plastic, reissue.Options{Metadata: json.RawMessage(`[1]`)}, "", "metadata"},
		{"metadata too big", card.Plastic, reissue.Options{Metadata: json.RawMessage(`{"a":"` + strings.Repeat("x", 3200) + `"}`)}, "", "metadata"},
		{"expiration month", card.Plastic, reissue.Options{ExpirationDate: "2613"}, "", "expiration_date"},
		{"expiration in the past", card.Plastic, reissue.Options{ExpirationDate: "2512"}, "", "expiration_date"},
		{"negative validity", card.Plastic, reissue.Options{ValidityPeriodHours: -1}, "", "validity_period_hours"},
		{"validity past expiration", card.Virtual, reissue.Options{ValidityPeriodHours: 24 * 366 * 7}, "", "validity_period_hours"},
		{"validity overflowing a duration", card.Plastic, reissue.Options{ValidityPeriodHours: math.MaxInt64 / int(time.Hour) * 2}, "", "validity_period_hours"},
		{"validity on TEMPORARY", card.Temporary, reissue.Options{ValidityPeriodHours: 24}, "", "validity_period_hours"},
		//lint:ignore SA1019 RECURRING is deprecated but still accepted; this proves it
		{"validity on RECURRING", card.Recurring, reissue.Options{ValidityPeriodHours: 24}, "", "validity_period_hours"},
		{"embossing group", card.Plastic, reissue.Options{EmbossingGroup: "X"}, "", "embossing_group"},
		{"embossing custom field", card.Plastic, reissue.Options{EmbossingCustomField: strings.Repeat("x", 1001)}, "", "embossing_custom_field"},
		{"idempotency key too long", card.Plastic, reissue.Options{}, strings.Repeat("k", 37), "idempotency_key"},
	}
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				orgID := fmt.Sprintf("options-%d", i)
				old := stored(orgID, tc.typ, card.Normal, i)
				e.Insert(t, &old)
				_, err := e.Reissue.Reissue(t.Context(), reissue.Request{OrgID: orgID, CardID: old.ID,
					ReasonID: newReason(t, e, orgID, true).ID, Options: tc.opts, IdempotencyKey: tc.key})
				cardtest.WantInvalid(t, err, tc.field)
				if n := e.CountCards(t, orgID); n != 1 {
					t.Fatalf("a refused reissue left %d cards", n)
				}
				cardtest.SameCard(t, "the old card", e.Card(t, orgID, old.ID), old)
				e.WantEvents(t, orgID, 0)
			})
		}
	})
}

func TestReissueRefusesBadReasons(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		old := plastic(t, e, card.Normal)
		disabled := newReason(t, e, org, false)
		if _, err := e.Reissue.UpdateReason(t.Context(), org, disabled.ID, reissue.ReasonChange{Enabled: cardtest.Ptr(false)}); err != nil {
			t.Fatal(err)
		}
		foreign := newReason(t, e, "org-2", false)
		for name, id := range map[string]int64{"unknown": disabled.ID + 1000, "zero": 0, "disabled": disabled.ID, "of another org": foreign.ID} {
			t.Run(name, func(t *testing.T) {
				for _, key := range []string{"", "key-1"} {
					_, err := e.Reissue.Reissue(t.Context(), reissue.Request{OrgID: org, CardID: old.ID, ReasonID: id, IdempotencyKey: key})
					cardtest.WantInvalid(t, err, "reason_id")
					unchanged(t, e, 0, old)
				}
			})
		}
		// The key was not spent on the refused requests.
		res := mustReissue(t, e, reissue.Request{OrgID: org, CardID: old.ID, ReasonID: newReason(t, e, org, false).ID, IdempotencyKey: "key-1"})
		if res.Existing {
			t.Fatal("the key replayed a refused request")
		}
	})
}

func TestReissueUnknownCard(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		old := plastic(t, e, card.Normal)
		reason := newReason(t, e, "org-2", false)
		// The card exists, but in another org than the request's.
		_, err := e.Reissue.Reissue(t.Context(), reissue.Request{OrgID: "org-2", CardID: old.ID, ReasonID: reason.ID})
		if !errors.Is(err, card.ErrNotFound) {
			t.Fatalf("reissue of another org's card: %v, want not found", err)
		}
		_, err = e.Reissue.Reissue(t.Context(), reissue.Request{OrgID: "org-2", CardID: old.ID + 100, ReasonID: reason.ID})
		if !errors.Is(err, card.ErrNotFound) {
			t.Fatalf("reissue of no card: %v, want not found", err)
		}
		unchanged(t, e, 0, old)
		e.WantEvents(t, "org-2", 0)
	})
}

// TestReissueNeverBoundNonameCard: a noname card terminated while UNBOUND
// has no account and customer to give a successor; its reissue is refused
// as a conflict (not as invalid input: the request is fine) and writes
// nothing.
func TestReissueNeverBoundNonameCard(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		c := stored(org, card.Plastic, card.Unbound, 1)
		e.Insert(t, &c)
		lost, err := e.Cards.UpdateStatus(t.Context(), org, c.ID, card.Lost)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.Reissue.Reissue(t.Context(), reissue.Request{OrgID: org, CardID: c.ID, ReasonID: newReason(t, e, org, false).ID})
		if ce := cardtest.WantConflict(t, err, "reissue of a never bound card"); ce.CardID != c.ID || ce.Status != card.Lost {
			t.Fatalf("the conflict names card %d in %s, want %d in LOST", ce.CardID, ce.Status, c.ID)
		}
		unchanged(t, e, 1, lost)
	})
}

// TestReissueTwice: a card that has a successor returns it, whatever the
// reason or options of the later request, and writes nothing.
func TestReissueTwice(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		old := plastic(t, e, card.Normal)
		keep := newReason(t, e, org, false)
		first := mustReissue(t, e, reissue.Request{OrgID: org, CardID: old.ID, ReasonID: keep.ID})
		blocking := newReason(t, e, org, true)
		e.WantEvents(t, org, 2)
		oldNow := e.Card(t, org, old.ID)
		for i, req := range []reissue.Request{
			{OrgID: org, CardID: old.ID, ReasonID: keep.ID},
			{OrgID: org, CardID: old.ID, ReasonID: blocking.ID},
			{OrgID: org, CardID: old.ID, ReasonID: blocking.ID, Options: reissue.Options{PrintedName: "OTHER NAME", PINLength: 6}},
			{OrgID: org, CardID: old.ID, ReasonID: blocking.ID, Options: reissue.Options{ValidityPeriodHours: 24 * 366 * 7}},
			{OrgID: org, CardID: old.ID, ReasonID: blocking.ID, IdempotencyKey: "later"},
		} {
			res := mustReissue(t, e, req)
			if !res.Existing {
				t.Fatalf("request %d: a second reissue is not Existing", i)
			}
			cardtest.SameCard(t, "the successor", res.New, first.New)
			cardtest.SameCard(t, "the old card", res.Old, oldNow)
			unchanged(t, e, 2, oldNow, first.New)
		}
		// The successor itself may be reissued: its own successor is new.
		third := mustReissue(t, e, reissue.Request{OrgID: org, CardID: first.New.ID, ReasonID: blocking.ID})
		if third.Existing || third.New.ReissuedCardID != first.New.ID || third.New.TrackNumber != old.TrackNumber+2 {
			t.Fatalf("reissue of the successor: %+v", third.New)
		}
		if third.Old.Status != card.Canceled {
			t.Fatalf("a CREATED successor reissued with must_block is %s, want CANCELED", third.Old.Status)
		}
		e.WantEvents(t, org, 4)
	})
}

// TestReissueVirtualKeepsItsAlias: the successor of a VIRTUAL card has its
// alias, which stays unique among the customer's live VIRTUAL cards.
func TestReissueVirtualKeepsItsAlias(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		created, err := e.Cards.Create(t.Context(), lifecycle.CreateRequest{OrgID: org, AccountID: "acct-1", CustomerID: "cust-1",
			Type: card.Virtual, Name: "travel", CVVRotationIntervalHours: cardtest.Ptr(0)})
		if err != nil {
			t.Fatal(err)
		}
		res := mustReissue(t, e, reissue.Request{OrgID: org, CardID: created.ID, ReasonID: newReason(t, e, org, false).ID})
		if res.New.Name != "travel" || res.New.Status != card.Normal || res.Old.Status != card.Canceled {
			t.Fatalf("reissued VIRTUAL: old %s, new %q %s", res.Old.Status, res.New.Name, res.New.Status)
		}
		evs := e.WantEvents(t, org, 3).ByCard()
		cardtest.WantTypes(t, created.ID, evs[created.ID], events.CardCreated, events.CardUpdated)
		cardtest.WantTypes(t, res.New.ID, evs[res.New.ID], events.CardCreated)
		// The alias is the successor's now.
		_, err = e.Cards.Create(t.Context(), lifecycle.CreateRequest{OrgID: org, AccountID: "acct-1", CustomerID: "cust-1",
			Type: card.Virtual, Name: "travel", CVVRotationIntervalHours: cardtest.Ptr(0)})
		cardtest.WantConflict(t, err, "create a VIRTUAL card of the successor's alias")
	})
}

// TestReissueVirtualAliasTaken: a terminated VIRTUAL card whose alias a
// live VIRTUAL card of the customer has taken since cannot be reissued
// under that alias; the refusal writes nothing.
func TestReissueVirtualAliasTaken(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		lost := stored(org, card.Virtual, card.Lost, 1)
		live := stored(org, card.Virtual, card.Normal, 1) // same alias
		e.Insert(t, &lost, &live)
		_, err := e.Reissue.Reissue(t.Context(), reissue.Request{OrgID: org, CardID: lost.ID, ReasonID: newReason(t, e, org, false).ID})
		cardtest.WantConflict(t, err, "reissue under a taken alias")
		unchanged(t, e, 0, lost, live)
	})
}

// TestReissueUnderAProgramStartingNormal: the successor starts in the
// initial status its program gives its type.
func TestReissueUnderAProgramStartingNormal(t *testing.T) {
	program2 := card.Program{ID: 2, BIN: "12345678", Brand: card.Visa, ExpirationMonths: 36, PlasticStartsNormal: true}
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		old := stored(org, card.Plastic, card.Normal, 1)
		old.ProgramID = 2
		e.Insert(t, &old)
		res := mustReissue(t, e, reissue.Request{OrgID: org, CardID: old.ID, ReasonID: newReason(t, e, org, false).ID})
		// The successor is active at once, so the old card is canceled at
		// once, as activating a CREATED successor would.
		if res.New.Status != card.Normal || res.New.ProgramID != 2 || res.Old.Status != card.Canceled {
			t.Fatalf("old %s, new %s in program %d", res.Old.Status, res.New.Status, res.New.ProgramID)
		}
		if want := time.Date(2029, time.March, 1, 0, 0, 0, 0, time.UTC); !res.New.ExpirationDate.Equal(want) {
			t.Fatalf("successor expires %v, want the program's 36 months: %v", res.New.ExpirationDate, want)
		}
	}, cardtest.Programs(program2))
}

// Check answers the errors that do not depend on the card, and writes
// nothing.
func TestCheck(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		enabled := newReason(t, e, org, false)
		disabled := newReason(t, e, org, false)
		off := false
		if _, err := e.Reissue.UpdateReason(t.Context(), org, disabled.ID, reissue.ReasonChange{Enabled: &off}); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			name  string
			req   reissue.Request
			field string // "" for no error
		}{
			{"valid", reissue.Request{OrgID: org, CardID: 999, ReasonID: enabled.ID}, ""},
			{"unknown reason", reissue.Request{OrgID: org, ReasonID: enabled.ID + 100}, "reason_id"},
			{"disabled reason", reissue.Request{OrgID: org, ReasonID: disabled.ID}, "reason_id"},
			{"reason of another org", reissue.Request{OrgID: "another-org", ReasonID: enabled.ID}, "reason_id"},
			{"bad pin length", reissue.Request{OrgID: org, ReasonID: enabled.ID, Options: reissue.Options{PINLength: 5}}, "pin_length"},
			{"bad printed name", reissue.Request{OrgID: org, ReasonID: enabled.ID, Options: reissue.Options{PrintedName: "J0HN"}}, "printed_name"},
			{"long key", reissue.Request{OrgID: org, ReasonID: enabled.ID, IdempotencyKey: "0123456789012345678901234567890123456789"}, "idempotency_key"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				err := e.Reissue.Check(t.Context(), tt.req)
				var inv *card.InvalidError
				switch {
				case tt.field == "" && err != nil:
					t.Fatalf("Check = %v, want nil", err)
				case tt.field != "" && (!errors.As(err, &inv) || inv.Field != tt.field):
					t.Fatalf("Check = %v, want invalid %s", err, tt.field)
				}
			})
		}
		if evs, err := e.Store.After(t.Context(), 0, 100); err != nil || len(evs) != 0 {
			t.Fatalf("Check wrote %d events (%v), want none", len(evs), err)
		}
	})
}
