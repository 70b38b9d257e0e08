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
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/lifecycle"
	"github.com/cardcore/cardcore/reissue"
	"github.com/cardcore/cardcore/storage"
	"github.com/uptrace/bun"
)

// plastic inserts a PLASTIC card of org in status and returns it.
func plastic(t *testing.T, e *env, status card.Status) card.Card {
	t.Helper()
	c := stored(org, card.Plastic, status, 1)
	insert(t, e.store, &c)
	return c
}

func mustReissue(t *testing.T, e *env, req reissue.Request) reissue.Result {
	t.Helper()
	res, err := e.reissue.Reissue(t.Context(), req)
	if err != nil {
		t.Fatalf("reissue %+v: %v", req, err)
	}
	return res
}

// unchanged fails unless the org still holds only the given cards, as they
// were, and its outbox holds n events.
func unchanged(t *testing.T, e *env, n int, cards ...card.Card) {
	t.Helper()
	if got := countCards(t, e, org); got != len(cards) {
		t.Fatalf("the org has %d cards, want %d", got, len(cards))
	}
	for _, c := range cards {
		sameCard(t, fmt.Sprintf("card %d", c.ID), mustGet(t, e, org, c.ID), c)
	}
	wantEvents(t, e, org, n)
}

func TestReissueCopiesTheOldCard(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
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
		old.CVVRotationIntervalHours = ptr(12)
		old.ValidityPeriodHours = 72
		old.ValidUntil = t0.Add(72 * time.Hour)
		insert(t, e.store, &old)
		e.clock.Advance(30 * 24 * time.Hour) // April 2026
		now := e.clock.Now()

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
		sameCard(t, "stored successor", mustGet(t, e, org, n.ID), n)
	})
}

func TestReissueOptions(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		old := plastic(t, e, card.Normal)
		reason := newReason(t, e, org, false)
		meta := json.RawMessage(`{"channel":"app","n":2}`)
		res := mustReissue(t, e, reissue.Request{OrgID: org, CardID: old.ID, ReasonID: reason.ID, Options: reissue.Options{
			PrintedName: "MARY ANN", EmbossingCustomField: "NEW FIELD", EmbossingGroup: "GROUP B",
			ContactlessEnabled: ptr(false), Metadata: meta, PINLength: 6,
			ExpirationDate: "3012", ValidityPeriodHours: 48,
		}})
		n := mustGet(t, e, org, res.New.ID)
		sameCard(t, "result", res.New, n)
		if n.PrintedName != "MARY ANN" || n.EmbossingCustomField != "NEW FIELD" || n.EmbossingGroup != "GROUP B" ||
			n.ContactlessEnabled || string(n.Metadata) != string(meta) || n.PINLength != 6 {
			t.Fatalf("options not applied: %+v", n)
		}
		if !n.ExpirationDate.Equal(time.Date(2030, time.December, 1, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("expiration %v, want December 2030", n.ExpirationDate)
		}
		if n.ValidityPeriodHours != 48 || !n.ValidUntil.Equal(t0.Add(48*time.Hour)) {
			t.Fatalf("validity %d until %v, want 48 until %v", n.ValidityPeriodHours, n.ValidUntil, t0.Add(48*time.Hour))
		}
		d := wantEvents(t, e, org, 2)[n.ID][0].data
		if d.CardPrintedName != "MARY ANN" || d.ExpirationDate != "3012" || d.ValidUntil == "" {
			t.Fatalf("create-1 data %+v does not carry the options", d)
		}
		// The old card keeps its own fields.
		if o := mustGet(t, e, org, old.ID); o.PrintedName != "JANE DOE" || o.PINLength != 4 || !o.ContactlessEnabled {
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
		{"validity on RECURRING", card.Recurring, reissue.Options{ValidityPeriodHours: 24}, "", "validity_period_hours"},
		{"embossing group", card.Plastic, reissue.Options{EmbossingGroup: "X"}, "", "embossing_group"},
		{"embossing custom field", card.Plastic, reissue.Options{EmbossingCustomField: strings.Repeat("x", 1001)}, "", "embossing_custom_field"},
		{"idempotency key too long", card.Plastic, reissue.Options{}, strings.Repeat("k", 37), "idempotency_key"},
	}
	each(t, func(t *testing.T, e *env) {
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				orgID := fmt.Sprintf("options-%d", i)
				old := stored(orgID, tc.typ, card.Normal, i)
				insert(t, e.store, &old)
				_, err := e.reissue.Reissue(t.Context(), reissue.Request{OrgID: orgID, CardID: old.ID,
					ReasonID: newReason(t, e, orgID, true).ID, Options: tc.opts, IdempotencyKey: tc.key})
				wantInvalid(t, err, tc.field)
				if n := countCards(t, e, orgID); n != 1 {
					t.Fatalf("a refused reissue left %d cards", n)
				}
				sameCard(t, "the old card", mustGet(t, e, orgID, old.ID), old)
				wantEvents(t, e, orgID, 0)
			})
		}
	})
}

func TestReissueRefusesBadReasons(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		old := plastic(t, e, card.Normal)
		disabled := newReason(t, e, org, false)
		if _, err := e.reissue.UpdateReason(t.Context(), org, disabled.ID, reissue.ReasonChange{Enabled: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		foreign := newReason(t, e, "org-2", false)
		for name, id := range map[string]int64{"unknown": disabled.ID + 1000, "zero": 0, "disabled": disabled.ID, "of another org": foreign.ID} {
			t.Run(name, func(t *testing.T) {
				for _, key := range []string{"", "key-1"} {
					_, err := e.reissue.Reissue(t.Context(), reissue.Request{OrgID: org, CardID: old.ID, ReasonID: id, IdempotencyKey: key})
					wantInvalid(t, err, "reason_id")
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
	each(t, func(t *testing.T, e *env) {
		old := plastic(t, e, card.Normal)
		reason := newReason(t, e, "org-2", false)
		// The card exists, but in another org than the request's.
		_, err := e.reissue.Reissue(t.Context(), reissue.Request{OrgID: "org-2", CardID: old.ID, ReasonID: reason.ID})
		if !errors.Is(err, card.ErrNotFound) {
			t.Fatalf("reissue of another org's card: %v, want not found", err)
		}
		_, err = e.reissue.Reissue(t.Context(), reissue.Request{OrgID: "org-2", CardID: old.ID + 100, ReasonID: reason.ID})
		if !errors.Is(err, card.ErrNotFound) {
			t.Fatalf("reissue of no card: %v, want not found", err)
		}
		unchanged(t, e, 0, old)
		wantEvents(t, e, "org-2", 0)
	})
}

// TestReissueNeverBoundNonameCard: a noname card terminated while UNBOUND
// has no account and customer to give a successor; its reissue is refused
// as a conflict (not as invalid input: the request is fine) and writes
// nothing.
func TestReissueNeverBoundNonameCard(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		c := stored(org, card.Plastic, card.Unbound, 1)
		insert(t, e.store, &c)
		lost, err := e.cards.UpdateStatus(t.Context(), org, c.ID, card.Lost)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.reissue.Reissue(t.Context(), reissue.Request{OrgID: org, CardID: c.ID, ReasonID: newReason(t, e, org, false).ID})
		var ce *card.ConflictError
		if wantConflict(t, err); !errors.As(err, &ce) || ce.CardID != c.ID || ce.Status != card.Lost {
			t.Fatalf("the conflict names card %d in %s, want %d in LOST", ce.CardID, ce.Status, c.ID)
		}
		unchanged(t, e, 1, lost)
	})
}

// TestReissueTwice: a card that has a successor returns it, whatever the
// reason or options of the later request, and writes nothing.
func TestReissueTwice(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		old := plastic(t, e, card.Normal)
		keep := newReason(t, e, org, false)
		first := mustReissue(t, e, reissue.Request{OrgID: org, CardID: old.ID, ReasonID: keep.ID})
		blocking := newReason(t, e, org, true)
		wantEvents(t, e, org, 2)
		oldNow := mustGet(t, e, org, old.ID)
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
			sameCard(t, "the successor", res.New, first.New)
			sameCard(t, "the old card", res.Old, oldNow)
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
		wantEvents(t, e, org, 4)
	})
}

func TestIdempotencyKey(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		a := stored(org, card.Plastic, card.Normal, 1)
		b := stored(org, card.Plastic, card.Normal, 2)
		insert(t, e.store, &a, &b)
		reason := newReason(t, e, org, false)
		other := newReason(t, e, org, false)
		req := reissue.Request{OrgID: org, CardID: a.ID, ReasonID: reason.ID, IdempotencyKey: "key-1",
			Options: reissue.Options{PrintedName: "MARY ANN"}}
		first := mustReissue(t, e, req)
		if first.Existing {
			t.Fatal("the first request is Existing")
		}
		after := []card.Card{mustGet(t, e, org, a.ID), first.New, b}

		t.Run("replay", func(t *testing.T) {
			e.clock.Advance(time.Hour)
			got := mustReissue(t, e, req)
			if !got.Existing {
				t.Fatal("a replay is not Existing")
			}
			sameCard(t, "replayed new card", got.New, first.New)
			sameCard(t, "replayed old card", got.Old, first.Old)
			unchanged(t, e, 2, after...)
		})
		t.Run("replay after the reason is disabled", func(t *testing.T) {
			if _, err := e.reissue.UpdateReason(t.Context(), org, reason.ID, reissue.ReasonChange{Enabled: ptr(false)}); err != nil {
				t.Fatal(err)
			}
			got := mustReissue(t, e, req)
			sameCard(t, "replayed new card", got.New, first.New)
			unchanged(t, e, 2, after...)
			if _, err := e.reissue.UpdateReason(t.Context(), org, reason.ID, reissue.ReasonChange{Enabled: ptr(true)}); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("same key, another request", func(t *testing.T) {
			for name, r := range map[string]reissue.Request{
				"other options":    {OrgID: org, CardID: a.ID, ReasonID: reason.ID, IdempotencyKey: "key-1", Options: reissue.Options{PrintedName: "JOHN DOE"}},
				"no options":       {OrgID: org, CardID: a.ID, ReasonID: reason.ID, IdempotencyKey: "key-1"},
				"other reason":     {OrgID: org, CardID: a.ID, ReasonID: other.ID, IdempotencyKey: "key-1", Options: reissue.Options{PrintedName: "MARY ANN"}},
				"other pin":        {OrgID: org, CardID: a.ID, ReasonID: reason.ID, IdempotencyKey: "key-1", Options: reissue.Options{PrintedName: "MARY ANN", PINLength: 6}},
				"other metadata":   {OrgID: org, CardID: a.ID, ReasonID: reason.ID, IdempotencyKey: "key-1", Options: reissue.Options{PrintedName: "MARY ANN", Metadata: json.RawMessage(`{}`)}},
				"other validity":   {OrgID: org, CardID: a.ID, ReasonID: reason.ID, IdempotencyKey: "key-1", Options: reissue.Options{PrintedName: "MARY ANN", ValidityPeriodHours: 1}},
				"other expiration": {OrgID: org, CardID: a.ID, ReasonID: reason.ID, IdempotencyKey: "key-1", Options: reissue.Options{PrintedName: "MARY ANN", ExpirationDate: "3001"}},
			} {
				_, err := e.reissue.Reissue(t.Context(), r)
				if !errors.Is(err, card.ErrConflict) {
					t.Fatalf("%s: %v, want a conflict", name, err)
				}
				unchanged(t, e, 2, after...)
			}
		})
		t.Run("same key, another request with a bad reason", func(t *testing.T) {
			// 400 comes before 409.
			_, err := e.reissue.Reissue(t.Context(), reissue.Request{OrgID: org, CardID: a.ID, ReasonID: other.ID + 100, IdempotencyKey: "key-1"})
			wantInvalid(t, err, "reason_id")
			unchanged(t, e, 2, after...)
		})
		t.Run("the key is scoped to the card", func(t *testing.T) {
			rb := req
			rb.CardID = b.ID
			got := mustReissue(t, e, rb)
			if got.Existing || got.New.ReissuedCardID != b.ID || got.New.ID == first.New.ID {
				t.Fatalf("the key on another card replayed: %+v", got)
			}
			evs := wantEvents(t, e, org, 4)
			wantTypes(t, got.New.ID, evs[got.New.ID], events.CardCreated)
			wantTypes(t, b.ID, evs[b.ID], events.CardUpdated)
			// And replays there.
			again := mustReissue(t, e, rb)
			if !again.Existing || again.New.ID != got.New.ID {
				t.Fatalf("replay on the second card: %+v", again)
			}
			wantEvents(t, e, org, 4)
		})
		t.Run("the key is scoped to the org", func(t *testing.T) {
			c := stored("org-2", card.Plastic, card.Normal, 1)
			insert(t, e.store, &c)
			got := mustReissue(t, e, reissue.Request{OrgID: "org-2", CardID: c.ID, ReasonID: newReason(t, e, "org-2", false).ID,
				IdempotencyKey: "key-1", Options: reissue.Options{PrintedName: "MARY ANN"}})
			if got.Existing || got.New.ReissuedCardID != c.ID {
				t.Fatalf("the key of another org replayed: %+v", got)
			}
		})
	})
}

// TestReissueVirtualKeepsItsAlias: the successor of a VIRTUAL card has its
// alias, which stays unique among the customer's live VIRTUAL cards.
func TestReissueVirtualKeepsItsAlias(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		created, err := e.cards.Create(t.Context(), lifecycle.CreateRequest{OrgID: org, AccountID: "acct-1", CustomerID: "cust-1",
			Type: card.Virtual, Name: "travel", CVVRotationIntervalHours: ptr(0)})
		if err != nil {
			t.Fatal(err)
		}
		res := mustReissue(t, e, reissue.Request{OrgID: org, CardID: created.ID, ReasonID: newReason(t, e, org, false).ID})
		if res.New.Name != "travel" || res.New.Status != card.Normal || res.Old.Status != card.Canceled {
			t.Fatalf("reissued VIRTUAL: old %s, new %q %s", res.Old.Status, res.New.Name, res.New.Status)
		}
		evs := wantEvents(t, e, org, 3)
		wantTypes(t, created.ID, evs[created.ID], events.CardCreated, events.CardUpdated)
		wantTypes(t, res.New.ID, evs[res.New.ID], events.CardCreated)
		// The alias is the successor's now.
		_, err = e.cards.Create(t.Context(), lifecycle.CreateRequest{OrgID: org, AccountID: "acct-1", CustomerID: "cust-1",
			Type: card.Virtual, Name: "travel", CVVRotationIntervalHours: ptr(0)})
		wantConflict(t, err)
	})
}

// TestReissueVirtualAliasTaken: a terminated VIRTUAL card whose alias a
// live VIRTUAL card of the customer has taken since cannot be reissued
// under that alias; the refusal writes nothing.
func TestReissueVirtualAliasTaken(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		lost := stored(org, card.Virtual, card.Lost, 1)
		live := stored(org, card.Virtual, card.Normal, 1) // same alias
		insert(t, e.store, &lost, &live)
		_, err := e.reissue.Reissue(t.Context(), reissue.Request{OrgID: org, CardID: lost.ID, ReasonID: newReason(t, e, org, false).ID})
		wantConflict(t, err)
		unchanged(t, e, 0, lost, live)
	})
}

func TestActivateSuccessor(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		keep := newReason(t, e, org, false)
		activate := func(t *testing.T, id int64) card.Card {
			t.Helper()
			c, err := e.cards.Activate(t.Context(), org, id)
			if err != nil {
				t.Fatalf("activate %d: %v", id, err)
			}
			return c
		}
		// start inserts an old PLASTIC card in status, reissues it without
		// must_block and checks the old card is then in status after.
		start := func(t *testing.T, status, after card.Status) (old, next card.Card) {
			t.Helper()
			old = plastic(t, e, status)
			res := mustReissue(t, e, reissue.Request{OrgID: org, CardID: old.ID, ReasonID: keep.ID})
			if res.Old.Status != after || res.New.Status != card.Created {
				t.Fatalf("reissue of %s: old %s, new %s; want %s and CREATED", status, res.Old.Status, res.New.Status, after)
			}
			return res.Old, res.New
		}
		t.Run("REISSUED predecessor", func(t *testing.T) {
			old, next := start(t, card.Normal, card.Reissued)
			e.clock.Advance(time.Hour)
			got := activate(t, next.ID)
			if got.Status != card.Normal || !got.ActivationDate.Equal(e.clock.Now()) {
				t.Fatalf("activated successor: %s at %v", got.Status, got.ActivationDate)
			}
			o := mustGet(t, e, org, old.ID)
			if o.Status != card.Canceled || o.PreviousStatus != card.Reissued || o.Version != 3 {
				t.Fatalf("predecessor: %s (previous %s) version %d; want CANCELED from REISSUED, version 3", o.Status, o.PreviousStatus, o.Version)
			}
			evs := outbox(t, e.store, org)
			wantTypes(t, old.ID, evs[old.ID], events.CardUpdated, events.CardUpdated)
			if d := evs[old.ID][1].data; d.CardStatus != "CANCELED" || d.CardPreviousStatus != "REISSUED" || d.Version != 3 {
				t.Fatalf("the predecessor's update-1: %+v", d)
			}
			wantTypes(t, next.ID, evs[next.ID], events.CardCreated, events.CardUpdated)
			if evs[old.ID][1].CID != evs[next.ID][1].CID {
				t.Fatal("the activation and the predecessor's cancellation carry two correlation ids")
			}
		})
		t.Run("BLOCKED predecessor", func(t *testing.T) {
			old, next := start(t, card.Blocked, card.Blocked)
			if es := outbox(t, e.store, org)[old.ID]; len(es) != 0 {
				t.Fatalf("the kept BLOCKED card has events: %v", es)
			}
			if o := mustGet(t, e, org, old.ID); o.Status != card.Blocked || o.Version != 1 {
				t.Fatalf("before activation the predecessor is %s version %d, want BLOCKED version 1", o.Status, o.Version)
			}
			activate(t, next.ID)
			o := mustGet(t, e, org, old.ID)
			if o.Status != card.Canceled || o.PreviousStatus != card.Blocked || o.Version != 2 {
				t.Fatalf("predecessor: %s (previous %s) version %d; want CANCELED from BLOCKED, version 2", o.Status, o.PreviousStatus, o.Version)
			}
			evs := outbox(t, e.store, org)
			wantTypes(t, old.ID, evs[old.ID], events.CardUpdated)
			if d := evs[old.ID][0].data; d.CardStatus != "CANCELED" || d.Version != 2 {
				t.Fatalf("the predecessor's update-1: %+v", d)
			}
		})
		for _, terminated := range []card.Status{card.Lost, card.Expired} {
			t.Run("terminated predecessor "+terminated.String(), func(t *testing.T) {
				old, next := start(t, terminated, terminated)
				activate(t, next.ID)
				sameCard(t, "the terminated predecessor", mustGet(t, e, org, old.ID), old)
				if es := outbox(t, e.store, org)[old.ID]; len(es) != 0 {
					t.Fatalf("the terminated predecessor has events: %v", es)
				}
			})
		}
		t.Run("predecessor terminated after the reissue", func(t *testing.T) {
			old, next := start(t, card.Normal, card.Reissued)
			if _, err := e.cards.UpdateStatus(t.Context(), org, old.ID, card.Theft); err != nil {
				t.Fatal(err)
			}
			theft := mustGet(t, e, org, old.ID)
			activate(t, next.ID)
			sameCard(t, "the stolen predecessor", mustGet(t, e, org, old.ID), theft)
			wantTypes(t, old.ID, outbox(t, e.store, org)[old.ID], events.CardUpdated, events.CardUpdated)
		})
	})
}

// TestReissueUnderAProgramStartingNormal: the successor starts in the
// initial status its program gives its type.
func TestReissueUnderAProgramStartingNormal(t *testing.T) {
	programs, err := card.NewPrograms(card.Program{ID: 2, BIN: "12345678", Brand: card.Visa, ExpirationMonths: 36, PlasticStartsNormal: true})
	if err != nil {
		t.Fatal(err)
	}
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, programs)
		old := stored(org, card.Plastic, card.Normal, 1)
		old.ProgramID = 2
		insert(t, e.store, &old)
		res := mustReissue(t, e, reissue.Request{OrgID: org, CardID: old.ID, ReasonID: newReason(t, e, org, false).ID})
		// The successor is active at once, so the old card is canceled at
		// once, as activating a CREATED successor would.
		if res.New.Status != card.Normal || res.New.ProgramID != 2 || res.Old.Status != card.Canceled {
			t.Fatalf("old %s, new %s in program %d", res.Old.Status, res.New.Status, res.New.ProgramID)
		}
		if want := time.Date(2029, time.March, 1, 0, 0, 0, 0, time.UTC); !res.New.ExpirationDate.Equal(want) {
			t.Fatalf("successor expires %v, want the program's 36 months: %v", res.New.ExpirationDate, want)
		}
	})
}

func TestReasonsCreate(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		r, err := e.reissue.CreateReason(t.Context(), card.Reason{OrgID: org, Description: "Card broken in the post",
			Type: "BROKEN", MustBlock: true, MustCharge: true, Cost: "7.5", Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		if r.ID == 0 || !r.CreatedAt.Equal(t0) || !r.UpdatedAt.Equal(t0) {
			t.Fatalf("created reason %+v", r)
		}
		got, err := e.reissue.Reason(t.Context(), org, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameReason(t, got, r)

		valid := card.Reason{OrgID: org, Description: "lost", Type: "LOST", Cost: "0", Enabled: true}
		for _, tc := range []struct {
			field  string
			change func(r *card.Reason)
		}{
			{"description", func(r *card.Reason) { r.Description = "" }},
			{"description", func(r *card.Reason) { r.Description = strings.Repeat("d", 256) }},
			{"description", func(r *card.Reason) { r.Description = "bad\x00" }},
			{"type", func(r *card.Reason) { r.Type = "" }},
			{"type", func(r *card.Reason) { r.Type = "broken" }},
			{"type", func(r *card.Reason) { r.Type = "1BROKEN" }},
			{"type", func(r *card.Reason) { r.Type = "NOT BROKEN" }},
			{"type", func(r *card.Reason) { r.Type = strings.Repeat("B", 33) }},
			{"cost", func(r *card.Reason) { r.Cost = "" }},
			{"cost", func(r *card.Reason) { r.Cost = "-1" }},
			{"cost", func(r *card.Reason) { r.Cost = "1,50" }},
			{"cost", func(r *card.Reason) { r.Cost = "1." }},
			{"org_id", func(r *card.Reason) { r.OrgID = "" }},
		} {
			r := valid
			tc.change(&r)
			_, err := e.reissue.CreateReason(t.Context(), r)
			wantInvalid(t, err, tc.field)
		}
		// The boundaries are accepted.
		long := valid
		long.Description, long.Type = strings.Repeat("d", 255), strings.Repeat("B", 32)
		if _, err := e.reissue.CreateReason(t.Context(), long); err != nil {
			t.Fatalf("255-character description, 32-letter type: %v", err)
		}
		all, _, err := e.reissue.ListReasons(t.Context(), org, nil, storage.Page{Limit: 50})
		if err != nil || len(all) != 2 {
			t.Fatalf("the catalogue holds %d reasons (%v), want the 2 valid ones", len(all), err)
		}
	})
}

func sameReason(t *testing.T, got, want card.Reason) {
	t.Helper()
	if got.ID != want.ID || got.OrgID != want.OrgID || got.Description != want.Description || got.Type != want.Type ||
		got.MustBlock != want.MustBlock || got.MustCharge != want.MustCharge || got.Cost != want.Cost || got.Enabled != want.Enabled ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Fatalf("reason:\n got  %+v\n want %+v", got, want)
	}
}

func TestReasonsUpdate(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		r, err := e.reissue.CreateReason(t.Context(), card.Reason{OrgID: org, Description: "stolen", Type: "THEFT",
			MustBlock: true, MustCharge: false, Cost: "10", Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Minute)
		want := r
		want.UpdatedAt = e.clock.Now()

		got, err := e.reissue.UpdateReason(t.Context(), org, r.ID, reissue.ReasonChange{})
		if err != nil {
			t.Fatal(err)
		}
		sameReason(t, got, want) // nothing changes but the update time

		want.Enabled = false
		got, err = e.reissue.UpdateReason(t.Context(), org, r.ID, reissue.ReasonChange{Enabled: ptr(false)})
		if err != nil {
			t.Fatal(err)
		}
		sameReason(t, got, want)

		want.Description, want.Type, want.MustBlock, want.MustCharge, want.Cost = "stolen card", "ROBBERY", false, true, "0.99"
		got, err = e.reissue.UpdateReason(t.Context(), org, r.ID, reissue.ReasonChange{Description: ptr("stolen card"),
			Type: ptr("ROBBERY"), MustBlock: ptr(false), MustCharge: ptr(true), Cost: ptr("0.99")})
		if err != nil {
			t.Fatal(err)
		}
		sameReason(t, got, want)
		stored, err := e.reissue.Reason(t.Context(), org, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameReason(t, stored, want)

		// An invalid change names its field and changes nothing.
		_, err = e.reissue.UpdateReason(t.Context(), org, r.ID, reissue.ReasonChange{Cost: ptr("cheap"), Enabled: ptr(true)})
		wantInvalid(t, err, "cost")
		_, err = e.reissue.UpdateReason(t.Context(), org, r.ID, reissue.ReasonChange{Type: ptr("x")})
		wantInvalid(t, err, "type")
		stored, _ = e.reissue.Reason(t.Context(), org, r.ID)
		sameReason(t, stored, want)

		for name, f := range map[string]func() error{
			"unknown id": func() error {
				_, err := e.reissue.UpdateReason(t.Context(), org, r.ID+100, reissue.ReasonChange{Enabled: ptr(true)})
				return err
			},
			"another org's update": func() error {
				_, err := e.reissue.UpdateReason(t.Context(), "org-2", r.ID, reissue.ReasonChange{Enabled: ptr(true)})
				return err
			},
			"another org's read": func() error {
				_, err := e.reissue.Reason(t.Context(), "org-2", r.ID)
				return err
			},
		} {
			if err := f(); !errors.Is(err, card.ErrNotFound) {
				t.Fatalf("%s: %v, want not found", name, err)
			}
		}
		stored, _ = e.reissue.Reason(t.Context(), org, r.ID)
		sameReason(t, stored, want)
	})
}

func TestReasonsList(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		var all, on, off []int64
		for i := range 7 {
			enabled := i%3 != 1
			r, err := e.reissue.CreateReason(t.Context(), card.Reason{OrgID: org, Description: fmt.Sprintf("reason %d", i),
				Type: "DAMAGED", Cost: "1", Enabled: enabled})
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, r.ID)
			if enabled {
				on = append(on, r.ID)
			} else {
				off = append(off, r.ID)
			}
			newReason(t, e, "org-2", true) // another org's, interleaved
		}
		ids := func(rs []card.Reason) []int64 {
			out := make([]int64, len(rs))
			for i, r := range rs {
				if r.OrgID != org {
					t.Fatalf("org-1's list holds reason %d of %s", r.ID, r.OrgID)
				}
				out[i] = r.ID
			}
			return out
		}
		for _, tc := range []struct {
			name    string
			enabled *bool
			want    []int64
		}{{"all", nil, all}, {"enabled", ptr(true), on}, {"disabled", ptr(false), off}} {
			t.Run(tc.name, func(t *testing.T) {
				rs, next, err := e.reissue.ListReasons(t.Context(), org, tc.enabled, storage.Page{Limit: 50})
				if err != nil || next != 0 || fmt.Sprint(ids(rs)) != fmt.Sprint(tc.want) {
					t.Fatalf("list: %v next %d, %v; want %v", ids(rs), next, err, tc.want)
				}
				for _, limit := range []int{1, 2, 3, len(tc.want), len(tc.want) + 1} {
					var got []int64
					page := storage.Page{Limit: limit}
					for pages := 1; ; pages++ {
						rs, next, err := e.reissue.ListReasons(t.Context(), org, tc.enabled, page)
						if err != nil || len(rs) > limit || len(rs) == 0 {
							t.Fatalf("limit %d page %d: %d reasons, %v", limit, pages, len(rs), err)
						}
						got = append(got, ids(rs)...)
						if next == 0 {
							break
						}
						if next != rs[len(rs)-1].ID || len(rs) != limit {
							t.Fatalf("limit %d page %d: next %d after %v", limit, pages, next, ids(rs))
						}
						page.After = next
					}
					if fmt.Sprint(got) != fmt.Sprint(tc.want) {
						t.Fatalf("limit %d: paged %v, want %v", limit, got, tc.want)
					}
				}
			})
		}
		t.Run("limits", func(t *testing.T) {
			for _, limit := range []int{0, -1, 51, 1000} {
				_, _, err := e.reissue.ListReasons(t.Context(), org, nil, storage.Page{Limit: limit})
				wantInvalid(t, err, "limit")
			}
			rs, _, err := e.reissue.ListReasons(t.Context(), "org-2", nil, storage.Page{Limit: 50})
			if err != nil || len(rs) != 7 {
				t.Fatalf("org-2 lists %d reasons, %v; want its 7", len(rs), err)
			}
			rs, next, err := e.reissue.ListReasons(t.Context(), "org-3", nil, storage.Page{Limit: 1})
			if err != nil || len(rs) != 0 || next != 0 {
				t.Fatalf("an org without reasons: %d, next %d, %v", len(rs), next, err)
			}
		})
	})
}
