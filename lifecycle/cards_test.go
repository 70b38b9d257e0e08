package lifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/lifecycle"
	"github.com/cardcore/cardcore/storage"
	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// request is a valid create request of account acct-1 for a card of typ.
func request(typ card.Type, name string) lifecycle.CreateRequest {
	r := lifecycle.CreateRequest{OrgID: org, AccountID: "acct-1", CustomerID: "cust-1", Type: typ, Name: name, PrintedName: "JANE DOE"}
	if typ == card.Virtual {
		r.CVVRotationIntervalHours = ptr(0)
	}
	return r
}

func mustCreate(t testing.TB, e *env, req lifecycle.CreateRequest) card.Card {
	t.Helper()
	c, err := e.cards.Create(context.Background(), req)
	if err != nil {
		t.Fatalf("create %s %q: %v", req.Type, req.Name, err)
	}
	return c
}

func mustGet(t testing.TB, e *env, id int64) card.Card {
	t.Helper()
	c, err := e.store.Card(context.Background(), org, id)
	if err != nil {
		t.Fatalf("get card %d: %v", id, err)
	}
	return c
}

// wantConflict fails unless err is a conflict about the card in status.
func wantConflict(t testing.TB, err error, id int64, status card.Status) {
	t.Helper()
	var ce *card.ConflictError
	if !errors.Is(err, card.ErrConflict) || !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a conflict", err)
	}
	if ce.CardID != id || ce.Status != status {
		t.Fatalf("conflict names card %d in %s, want card %d in %s", ce.CardID, ce.Status, id, status)
	}
}

// wantInvalid fails unless err is invalid input naming field.
func wantInvalid(t testing.TB, err error, field string) {
	t.Helper()
	var ie *card.InvalidError
	if !errors.Is(err, card.ErrInvalid) || !errors.As(err, &ie) {
		t.Fatalf("err = %v, want invalid %s", err, field)
	}
	if ie.Field != field {
		t.Fatalf("invalid field %q (%v), want %q", ie.Field, err, field)
	}
}

// wantEvents fails unless org's outbox holds n events.
func wantEvents(t testing.TB, e *env, n int) map[int64][]cardEvent {
	t.Helper()
	evs := outbox(t, e.store, org)
	if got := total(evs); got != n {
		t.Fatalf("the outbox holds %d events, want %d", got, n)
	}
	return evs
}

func TestCreateDefaults(t *testing.T) {
	programs, err := card.NewPrograms(card.Program{ID: 7, BIN: "12345678", Brand: card.Visa, PlasticStartsNormal: true, ExpirationMonths: 36})
	if err != nil {
		t.Fatal(err)
	}
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, programs)
		now := e.clock.Now()
		explicit := request(card.Temporary, "trip")
		explicit.ExpirationDate = "2905"
		program7 := request(card.Plastic, "")
		program7.ProgramID = 7
		cases := []struct {
			name       string
			req        lifecycle.CreateRequest
			status     card.Status
			alias      string
			expiration string
		}{
			{"PLASTIC starts CREATED named PLASTIC", request(card.Plastic, "my card"), card.Created, "PLASTIC", "3203"},
			{"VIRTUAL starts NORMAL", request(card.Virtual, "online"), card.Normal, "online", "3203"},
			{"TEMPORARY starts NORMAL", request(card.Temporary, "trip"), card.Normal, "trip", "3203"},
			{"RECURRING starts NORMAL", request(card.Recurring, "gym"), card.Normal, "gym", "3203"},
			{"program with PLASTIC starting NORMAL", program7, card.Normal, "PLASTIC", "2903"},
			{"explicit yymm wins", explicit, card.Normal, "trip", "2905"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c := mustCreate(t, e, tc.req)
				if c.ID == 0 || c.Status != tc.status || c.Name != tc.alias || !c.PreviousStatus.IsZero() {
					t.Fatalf("card %d: status %s (previous %s), name %q; want %s, %q", c.ID, c.Status, c.PreviousStatus, c.Name, tc.status, tc.alias)
				}
				if got := card.FormatExpiration(c.ExpirationDate); got != tc.expiration {
					t.Errorf("expiration %s, want %s", got, tc.expiration)
				}
				if !c.IssuingDate.Equal(now) || c.Version != 1 || c.TrackNumber != 1 || c.Mode != card.Credit ||
					c.PINLength != 4 || !c.ContactlessEnabled || c.ReissuedCardID != 0 {
					t.Errorf("defaults: %+v", c)
				}
				if _, err := uuid.Parse(c.Token); err != nil {
					t.Errorf("token %q: %v", c.Token, err)
				}
				if got := mustGet(t, e, c.ID); got.Status != c.Status || got.Name != c.Name || !got.ExpirationDate.Equal(c.ExpirationDate) {
					t.Errorf("stored %+v, returned %+v", got, c)
				}
				es := outbox(t, e.store, org)[c.ID]
				if len(es) != 1 || es[0].Type != events.CardCreated || es[0].data.CardStatus != tc.status.String() ||
					es[0].data.Version != 1 || es[0].data.OperationType != events.OpCreation || es[0].data.ExpirationDate != tc.expiration {
					t.Fatalf("events of the new card: %+v", es)
				}
			})
		}
	})
}

func TestCreateFieldRules(t *testing.T) {
	with := func(typ card.Type, f func(r *lifecycle.CreateRequest)) lifecycle.CreateRequest {
		r := request(typ, "alias")
		f(&r)
		return r
	}
	cases := []struct {
		name  string
		req   lifecycle.CreateRequest
		field string
	}{
		{"no type", with(card.Virtual, func(r *lifecycle.CreateRequest) { r.Type = card.Type{} }), "type"},
		{"no org", with(card.Virtual, func(r *lifecycle.CreateRequest) { r.OrgID = "" }), "org_id"},
		{"unknown program", with(card.Virtual, func(r *lifecycle.CreateRequest) { r.ProgramID = 99 }), "program_id"},
		{"no account", with(card.Virtual, func(r *lifecycle.CreateRequest) { r.AccountID = "" }), "account_id"},
		{"no customer", with(card.Virtual, func(r *lifecycle.CreateRequest) { r.CustomerID = "" }), "customer_id"},
		{"account of 65 chars", with(card.Virtual, func(r *lifecycle.CreateRequest) { r.AccountID = strings.Repeat("1", 65) }), "account_id"},
		{"customer with a newline", with(card.Virtual, func(r *lifecycle.CreateRequest) { r.CustomerID = "a\nb" }), "customer_id"},
		{"VIRTUAL without alias", with(card.Virtual, func(r *lifecycle.CreateRequest) { r.Name = "" }), "name"},
		{"alias of 51 chars", with(card.Temporary, func(r *lifecycle.CreateRequest) { r.Name = strings.Repeat("é", 51) }), "name"},
		{"alias with NUL", with(card.Recurring, func(r *lifecycle.CreateRequest) { r.Name = "a\x00" }), "name"},
		{"printed name of 1 char", with(card.Plastic, func(r *lifecycle.CreateRequest) { r.PrintedName = "J" }), "printed_name"},
		{"printed name of 27 chars", with(card.Plastic, func(r *lifecycle.CreateRequest) { r.PrintedName = strings.Repeat("A", 27) }), "printed_name"},
		{"printed name with a digit", with(card.Plastic, func(r *lifecycle.CreateRequest) { r.PrintedName = "JOHN 3RD" }), "printed_name"},
		{"printed name with an accent", with(card.Plastic, func(r *lifecycle.CreateRequest) { r.PrintedName = "JOSÉ" }), "printed_name"},
		{"expiration month 13", with(card.Virtual, func(r *lifecycle.CreateRequest) { r.ExpirationDate = "2613" }), "expiration_date"},
		{"expiration not yymm", with(card.Virtual, func(r *lifecycle.CreateRequest) { r.ExpirationDate = "03/28" }), "expiration_date"},
		{"expiration already over", with(card.Virtual, func(r *lifecycle.CreateRequest) { r.ExpirationDate = "2602" }), "expiration_date"},
		{"validity on TEMPORARY", with(card.Temporary, func(r *lifecycle.CreateRequest) { r.ValidityPeriodHours = 24 }), "validity_period_hours"},
		{"validity on RECURRING", with(card.Recurring, func(r *lifecycle.CreateRequest) { r.ValidityPeriodHours = 24 }), "validity_period_hours"},
		{"negative validity", with(card.Virtual, func(r *lifecycle.CreateRequest) { r.ValidityPeriodHours = -1 }), "validity_period_hours"},
		{"validity past the default expiration", with(card.Plastic, func(r *lifecycle.CreateRequest) { r.ValidityPeriodHours = 24 * 365 * 7 }), "validity_period_hours"},
		{"validity past an explicit expiration", with(card.Virtual, func(r *lifecycle.CreateRequest) {
			r.ExpirationDate, r.ValidityPeriodHours = "2603", 24*17
		}), "validity_period_hours"},
		{"metadata not an object", with(card.Virtual, func(r *lifecycle.CreateRequest) { r.Metadata = []byte(`[1]`) }), "metadata"},
		{"metadata a string", with(card.Virtual, func(r *lifecycle.CreateRequest) { r.Metadata = []byte(`"x"`) }), "metadata"},
		{"metadata not JSON", with(card.Virtual, func(r *lifecycle.CreateRequest) { r.Metadata = []byte(`{"a":`) }), "metadata"},
		{"metadata over 3200 bytes", with(card.Virtual, func(r *lifecycle.CreateRequest) {
			r.Metadata = []byte(`{"a":"` + strings.Repeat("x", 3200-8+1) + `"}`)
		}), "metadata"},
		{"embossing custom field of 1001 chars", with(card.Plastic, func(r *lifecycle.CreateRequest) { r.EmbossingCustomField = strings.Repeat("x", 1001) }), "embossing_custom_field"},
		{"embossing group of 1 char", with(card.Plastic, func(r *lifecycle.CreateRequest) { r.EmbossingGroup = "G" }), "embossing_group"},
		{"embossing group of 33 chars", with(card.Plastic, func(r *lifecycle.CreateRequest) { r.EmbossingGroup = strings.Repeat("G", 33) }), "embossing_group"},
		{"pin length 5", with(card.Plastic, func(r *lifecycle.CreateRequest) { r.PINLength = 5 }), "pin_length"},
		{"transaction limit with a comma", with(card.Virtual, func(r *lifecycle.CreateRequest) { r.TransactionLimit = "1,50" }), "transaction_limit"},
		{"negative transaction limit", with(card.Virtual, func(r *lifecycle.CreateRequest) { r.TransactionLimit = "-1" }), "transaction_limit"},
		{"template id of 65 chars", with(card.Virtual, func(r *lifecycle.CreateRequest) { r.TemplateID = strings.Repeat("t", 65) }), "template_id"},
		{"VIRTUAL without cvv rotation", with(card.Virtual, func(r *lifecycle.CreateRequest) { r.CVVRotationIntervalHours = nil }), "cvv_rotation_interval_hours"},
		{"negative cvv rotation", with(card.Virtual, func(r *lifecycle.CreateRequest) { r.CVVRotationIntervalHours = ptr(-1) }), "cvv_rotation_interval_hours"},
		{"metadata not UTF-8", with(card.Virtual, func(r *lifecycle.CreateRequest) { r.Metadata = []byte("{\"a\":\"\xff\"}") }), "metadata"},
		{"idempotency key of 37 chars", with(card.Virtual, func(r *lifecycle.CreateRequest) { r.IdempotencyKey = strings.Repeat("k", 37) }), "idempotency_key"},
		{"idempotency key with NUL", with(card.Virtual, func(r *lifecycle.CreateRequest) { r.IdempotencyKey = "key\x00" }), "idempotency_key"},
		{"idempotency key not UTF-8", with(card.Virtual, func(r *lifecycle.CreateRequest) { r.IdempotencyKey = "key\xff" }), "idempotency_key"},
	}
	each(t, func(t *testing.T, e *env) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := e.cards.Create(t.Context(), tc.req)
				wantInvalid(t, err, tc.field)
			})
		}
		wantEvents(t, e, 0)
		cs, err := e.cards.ListByAccount(t.Context(), org, "acct-1", storage.Page{Limit: 10})
		if err != nil || len(cs) != 0 {
			t.Fatalf("refused creates left cards: %d, %v", len(cs), err)
		}
	})
}

func TestCreateValidity(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		now := e.clock.Now()
		for _, typ := range []card.Type{card.Virtual, card.Plastic} {
			req := request(typ, "with validity")
			req.ValidityPeriodHours = 30
			c := mustCreate(t, e, req)
			if c.ValidityPeriodHours != 30 || !c.ValidUntil.Equal(now.Add(30*time.Hour)) {
				t.Errorf("%s: validity %d h, valid until %v", typ, c.ValidityPeriodHours, c.ValidUntil)
			}
		}
		// valid_until may reach the end of the expiration month, not pass it.
		expires := time.Date(2026, time.May, 1, 0, 0, 0, 0, time.UTC)
		h := int(expires.Sub(now) / time.Hour)
		req := request(card.Virtual, "until april")
		req.ExpirationDate, req.ValidityPeriodHours = "2604", h
		if c := mustCreate(t, e, req); c.ValidUntil.After(c.ExpiresAt()) {
			t.Errorf("valid until %v passes %v", c.ValidUntil, c.ExpiresAt())
		}
		req.Name, req.ValidityPeriodHours = "past april", h+1
		_, err := e.cards.Create(t.Context(), req)
		wantInvalid(t, err, "validity_period_hours")
		wantEvents(t, e, 3)
	})
}

func TestCreateVirtualAliasIsUniquePerCustomer(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		first := mustCreate(t, e, request(card.Virtual, "online"))
		_, err := e.cards.Create(t.Context(), request(card.Virtual, "online"))
		if !errors.Is(err, card.ErrConflict) {
			t.Fatalf("second VIRTUAL named online: %v, want a conflict", err)
		}
		wantEvents(t, e, 1)

		other := request(card.Virtual, "online")
		other.AccountID, other.CustomerID = "acct-2", "cust-2"
		mustCreate(t, e, other)
		mustCreate(t, e, request(card.Temporary, "online"))
		otherOrg := request(card.Virtual, "online")
		otherOrg.OrgID = "org-2"
		mustCreate(t, e, otherOrg)

		if _, err := e.cards.UpdateStatus(t.Context(), org, first.ID, card.Canceled); err != nil {
			t.Fatal(err)
		}
		again := mustCreate(t, e, request(card.Virtual, "online"))
		if again.ID == first.ID || again.Status != card.Normal {
			t.Fatalf("after the first was canceled, create returned %+v", again)
		}
		_, err = e.cards.Create(t.Context(), request(card.Virtual, "online"))
		if !errors.Is(err, card.ErrConflict) {
			t.Fatalf("VIRTUAL named online next to a NORMAL one: %v, want a conflict", err)
		}
		wantEvents(t, e, 5) // 4 creates and the cancellation in org-1
	})
}

func TestCreateIsIdempotentOnKey(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		req := request(card.Virtual, "online")
		req.IdempotencyKey = "key-1"
		first := mustCreate(t, e, req)
		if _, err := e.cards.UpdateStatus(t.Context(), org, first.ID, card.Blocked); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Hour)
		replay := mustCreate(t, e, req)
		if replay.ID != first.ID || replay.Token != first.Token || replay.Version != 1 || replay.Status != card.Normal ||
			!replay.IssuingDate.Equal(first.IssuingDate) || replay.Name != first.Name {
			t.Fatalf("replay returned %+v, want the first result %+v", replay, first)
		}
		wantEvents(t, e, 2) // create and block; the replay wrote nothing

		changed := req
		changed.Name = "other"
		_, err := e.cards.Create(t.Context(), changed)
		if !errors.Is(err, card.ErrConflict) {
			t.Fatalf("same key, different request: %v, want a conflict", err)
		}
		otherAccount := req
		otherAccount.AccountID, otherAccount.CustomerID = "acct-2", "cust-2"
		if c := mustCreate(t, e, otherAccount); c.ID == first.ID {
			t.Fatal("the key of account acct-1 replayed for account acct-2")
		}
		cs, err := e.cards.ListByAccount(t.Context(), org, "acct-1", storage.Page{Limit: 10})
		if err != nil || len(cs) != 1 {
			t.Fatalf("account acct-1 has %d cards (%v), want 1", len(cs), err)
		}
		wantEvents(t, e, 3)
	})
}

// A replay answers with the first result even when the same request would
// now be refused because time went by (SPEC 7.1: an idempotent replay
// answers with the original status code and body).
func TestCreateReplayOutlivesItsExpirationMonth(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		req := request(card.Temporary, "trip")
		req.ExpirationDate, req.IdempotencyKey = "2604", "key-2"
		first := mustCreate(t, e, req)
		e.clock.AddMonths(3)
		replay, err := e.cards.Create(t.Context(), req)
		if err != nil || replay.ID != first.ID {
			t.Fatalf("replay after the expiration month: card %d, %v; want card %d", replay.ID, err, first.ID)
		}
		// A new request under the key is still checked first: 400 wins over 409.
		req.Name = "other trip"
		_, err = e.cards.Create(t.Context(), req)
		wantInvalid(t, err, "expiration_date")
		wantEvents(t, e, 1)
	})
}

func TestActivate(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		plastic := mustCreate(t, e, request(card.Plastic, ""))
		e.clock.Advance(time.Hour)
		now := e.clock.Now()
		c, err := e.cards.Activate(t.Context(), org, plastic.ID)
		if err != nil {
			t.Fatal(err)
		}
		if c.Status != card.Normal || c.PreviousStatus != card.Created || c.Version != 2 || !c.ActivationDate.Equal(now) {
			t.Fatalf("activated card: %s (previous %s) version %d activated %v", c.Status, c.PreviousStatus, c.Version, c.ActivationDate)
		}
		if got := mustGet(t, e, c.ID); !got.ActivationDate.Equal(now) || got.Status != card.Normal {
			t.Fatalf("stored card: %s activated %v", got.Status, got.ActivationDate)
		}
		es := wantEvents(t, e, 2)[c.ID]
		if d := es[1].data; d.OperationType != events.OpActivation || d.CardStatus != "NORMAL" || d.CardPreviousStatus != "CREATED" || d.ActivationDate == "" {
			t.Fatalf("activation event: %+v", d)
		}

		_, err = e.cards.Activate(t.Context(), org, plastic.ID)
		wantConflict(t, err, plastic.ID, card.Normal)
		virtual := mustCreate(t, e, request(card.Virtual, "online"))
		_, err = e.cards.Activate(t.Context(), org, virtual.ID)
		wantConflict(t, err, virtual.ID, card.Normal)
		blocked := stored(card.Blocked, now, 1)
		insert(t, e.store, &blocked)
		_, err = e.cards.Activate(t.Context(), org, blocked.ID)
		wantConflict(t, err, blocked.ID, card.Blocked)
		wantEvents(t, e, 3) // 2 creates and the activation
		if got := mustGet(t, e, blocked.ID); got.Status != card.Blocked || got.Version != 1 || !got.ActivationDate.IsZero() {
			t.Fatalf("a refused activation changed the card: %+v", got)
		}
	})
}

// Activating a reissued card cancels its predecessor unless that one is
// already terminated, in the same transaction, with an event each.
func TestActivateCancelsPredecessor(t *testing.T) {
	for _, status := range []card.Status{card.Normal, card.Reissued, card.Blocked, card.Pending, card.Warning, card.Inoperative, card.Created, card.Lost, card.Canceled, card.Expired} {
		t.Run(status.String(), func(t *testing.T) {
			each(t, func(t *testing.T, e *env) {
				now := e.clock.Now()
				old := stored(status, now, 1)
				insert(t, e.store, &old)
				succ := stored(card.Created, now, 2)
				succ.ReissuedCardID, succ.TrackNumber = old.ID, 2
				insert(t, e.store, &succ)
				e.clock.Advance(time.Hour)

				c, err := e.cards.Activate(t.Context(), org, succ.ID)
				if err != nil || c.Status != card.Normal {
					t.Fatalf("activate the successor: %s, %v", c.Status, err)
				}
				got := mustGet(t, e, old.ID)
				evs := outbox(t, e.store, org)
				if status.Terminated() {
					if got.Status != status || got.Version != 1 || len(evs[old.ID]) != 0 {
						t.Fatalf("terminated predecessor changed: %s version %d, %d events", got.Status, got.Version, len(evs[old.ID]))
					}
					return
				}
				if got.Status != card.Canceled || got.PreviousStatus != status || got.Version != 2 {
					t.Fatalf("predecessor: %s (previous %s) version %d, want CANCELED from %s", got.Status, got.PreviousStatus, got.Version, status)
				}
				if es := evs[old.ID]; len(es) != 1 || es[0].data.OperationType != events.OpSuccessorActivated || es[0].data.CardStatus != "CANCELED" {
					t.Fatalf("predecessor events: %+v", es)
				}
				if es := evs[succ.ID]; len(es) != 1 || es[0].data.OperationType != events.OpActivation {
					t.Fatalf("successor events: %+v", es)
				}
			})
		})
	}
}

func TestRenewValidity(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		req := request(card.Virtual, "renewed")
		req.ValidityPeriodHours = 48
		c := mustCreate(t, e, req)
		e.clock.Advance(72 * time.Hour)
		if res, err := e.cards.Sweep(t.Context()); err != nil || res.Inoperative != 1 {
			t.Fatalf("sweep: %+v, %v", res, err)
		}
		e.clock.Advance(time.Hour)
		now := e.clock.Now()
		got, err := e.cards.RenewValidity(t.Context(), org, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != card.Normal || got.PreviousStatus != card.Inoperative || got.Version != 3 || !got.ValidUntil.Equal(now.Add(48*time.Hour)) {
			t.Fatalf("renewed INOPERATIVE card: %s (previous %s) version %d until %v", got.Status, got.PreviousStatus, got.Version, got.ValidUntil)
		}
		es := wantEvents(t, e, 3)[c.ID]
		if d := es[2].data; d.OperationType != events.OpValidityRenewal || d.CardStatus != "NORMAL" || d.Version != 3 {
			t.Fatalf("renewal event: %+v", d)
		}

		// Other statuses keep theirs; valid_until is recomputed all the same.
		if _, err := e.cards.UpdateStatus(t.Context(), org, c.ID, card.Blocked); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Hour)
		got, err = e.cards.RenewValidity(t.Context(), org, c.ID)
		if err != nil || got.Status != card.Blocked || got.PreviousStatus != card.Normal || got.Version != 5 ||
			!got.ValidUntil.Equal(e.clock.Now().Add(48*time.Hour)) {
			t.Fatalf("renewed BLOCKED card: %+v, %v", got, err)
		}
		if stored := mustGet(t, e, c.ID); !stored.ValidUntil.Equal(got.ValidUntil) || stored.Version != 5 {
			t.Fatalf("stored card: version %d until %v", stored.Version, stored.ValidUntil)
		}
		wantEvents(t, e, 5)
	})
}

func TestRenewValidityStopsAtExpiration(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		req := request(card.Plastic, "")
		req.ExpirationDate, req.ValidityPeriodHours = "2604", 24
		c := mustCreate(t, e, req)
		e.clock.Advance(time.Date(2026, time.April, 30, 20, 0, 0, 0, time.UTC).Sub(e.clock.Now()))
		got, err := e.cards.RenewValidity(t.Context(), org, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if want := time.Date(2026, time.May, 1, 0, 0, 0, 0, time.UTC); !got.ValidUntil.Equal(want) {
			t.Fatalf("valid until %v, want the end of the expiration month %v", got.ValidUntil, want)
		}
	})
}

func TestRenewValidityRefusals(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		temporary := mustCreate(t, e, request(card.Temporary, "trip"))
		_, err := e.cards.RenewValidity(t.Context(), org, temporary.ID)
		wantConflict(t, err, temporary.ID, card.Normal)

		req := request(card.Virtual, "lost")
		req.ValidityPeriodHours = 24
		lost := mustCreate(t, e, req)
		if _, err := e.cards.UpdateStatus(t.Context(), org, lost.ID, card.Lost); err != nil {
			t.Fatal(err)
		}
		_, err = e.cards.RenewValidity(t.Context(), org, lost.ID)
		wantConflict(t, err, lost.ID, card.Lost)
		if got := mustGet(t, e, lost.ID); got.Version != 2 || !got.ValidUntil.Equal(lost.ValidUntil) {
			t.Fatalf("a refused renewal changed the card: version %d until %v", got.Version, got.ValidUntil)
		}

		// Past its expiration month, before the sweep has made it EXPIRED.
		req = request(card.Virtual, "expired")
		req.ExpirationDate, req.ValidityPeriodHours = "2604", 24
		expired := mustCreate(t, e, req)
		e.clock.Advance(time.Date(2026, time.May, 1, 0, 0, 0, 0, time.UTC).Sub(e.clock.Now()))
		_, err = e.cards.RenewValidity(t.Context(), org, expired.ID)
		wantConflict(t, err, expired.ID, card.Normal)
		wantEvents(t, e, 4)
	})
}

func TestSweep(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		now := e.clock.Now()
		march := time.Date(2026, time.March, 1, 0, 0, 0, 0, time.UTC) // over on April 1
		withValidity := func(c card.Card, until time.Time) card.Card {
			c.ValidityPeriodHours, c.ValidUntil = 24, until
			return c
		}
		expiring := func(c card.Card) card.Card { c.ExpirationDate = march; return c }
		fixtures := []struct {
			name string
			c    card.Card
			want card.Status
		}{
			{"expiration month over", expiring(virtual(card.Normal, now, 1)), card.Expired},
			{"blocked, expiration month over", expiring(virtual(card.Blocked, now, 2)), card.Expired},
			{"created, expiration month over", expiring(stored(card.Created, now, 3)), card.Expired},
			{"validity elapsed", withValidity(virtual(card.Normal, now, 4), now.Add(24*time.Hour)), card.Inoperative},
			{"pending, validity elapsed", withValidity(virtual(card.Pending, now, 5), now.Add(24*time.Hour)), card.Inoperative},
			{"validity elapsed and expiration month over", expiring(withValidity(virtual(card.Warning, now, 6), now.Add(time.Hour))), card.Expired},
			{"inoperative, expiration month over", expiring(withValidity(stored(card.Inoperative, now, 7), now)), card.Expired},
			{"created, validity elapsed", withValidity(stored(card.Created, now, 8), now.Add(time.Hour)), card.Created},
			{"terminated", expiring(withValidity(virtual(card.Lost, now, 9), now.Add(time.Hour))), card.Lost},
			{"validity not elapsed", withValidity(virtual(card.Normal, now, 10), now.Add(24*time.Hour*60)), card.Normal},
			{"no expiration date", func() card.Card { c := virtual(card.Normal, now, 11); c.ExpirationDate = time.Time{}; return c }(), card.Normal},
			{"expiration month not over", func() card.Card {
				c := virtual(card.Normal, now, 12)
				c.ExpirationDate = time.Date(2026, time.May, 1, 0, 0, 0, 0, time.UTC)
				return c
			}(), card.Normal},
		}
		cs := make([]*card.Card, len(fixtures))
		for i := range fixtures {
			cs[i] = &fixtures[i].c
		}
		insert(t, e.store, cs...)
		e.clock.Advance(time.Date(2026, time.May, 1, 0, 0, 0, 0, time.UTC).Sub(now) - time.Microsecond)
		res, err := e.cards.Sweep(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if res != (lifecycle.SweepResult{Expired: 5, Inoperative: 2}) {
			t.Errorf("sweep result %+v, want 5 expired and 2 inoperative", res)
		}
		evs := outbox(t, e.store, org)
		for _, f := range fixtures {
			got := mustGet(t, e, f.c.ID)
			es := evs[f.c.ID]
			if got.Status != f.want {
				t.Errorf("%s: %s, want %s", f.name, got.Status, f.want)
				continue
			}
			if f.want == f.c.Status {
				if got.Version != 1 || len(es) != 0 {
					t.Errorf("%s: untouched card has version %d and %d events", f.name, got.Version, len(es))
				}
				continue
			}
			op := events.OpValidityElapsed
			if f.want == card.Expired {
				op = events.OpExpiration
			}
			if got.Version != 2 || got.PreviousStatus != f.c.Status || len(es) != 1 || es[0].data.OperationType != op || es[0].data.Version != 2 {
				t.Errorf("%s: version %d previous %s, events %+v", f.name, got.Version, got.PreviousStatus, es)
			}
		}
		if res, err := e.cards.Sweep(t.Context()); err != nil || res != (lifecycle.SweepResult{}) {
			t.Fatalf("second sweep: %+v, %v; want nothing to do", res, err)
		}
		wantEvents(t, e, 7)
	})
}

// With a batch of 2, a sweep still changes every due card, in several
// transactions.
func TestSweepInBatches(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		now := e.clock.Now()
		var cs []*card.Card
		for i := range 5 {
			c := virtual(card.Normal, now, i)
			if i < 3 {
				c.ExpirationDate = time.Date(2026, time.April, 1, 0, 0, 0, 0, time.UTC)
			} else {
				c.ValidityPeriodHours, c.ValidUntil = 1, now.Add(time.Duration(i)*time.Hour)
			}
			cs = append(cs, &c)
		}
		insert(t, e.store, cs...)
		e.clock.AddMonths(2)
		res, err := e.cards.Sweep(t.Context())
		if err != nil || res != (lifecycle.SweepResult{Expired: 3, Inoperative: 2}) {
			t.Fatalf("sweep: %+v, %v; want 3 expired and 2 inoperative", res, err)
		}
		wantEvents(t, e, 5)
	}, lifecycle.WithSweepBatch(2))
}

// A card both past its expiration month and past its validity is found by
// both of the store's queries; a batch holding it must not end the sweep
// while other cards are still due.
func TestSweepBatchWithACardDueTwice(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		now := e.clock.Now()
		both := virtual(card.Normal, now, 1)
		both.ExpirationDate = time.Date(2026, time.April, 1, 0, 0, 0, 0, time.UTC)
		both.ValidityPeriodHours, both.ValidUntil = 1, now.Add(time.Hour)
		cs := []*card.Card{&both}
		for i := 2; i <= 4; i++ {
			c := virtual(card.Normal, now, i)
			c.ValidityPeriodHours, c.ValidUntil = 1, now.Add(time.Duration(i)*time.Hour)
			cs = append(cs, &c)
		}
		insert(t, e.store, cs...)
		e.clock.AddMonths(2)
		res, err := e.cards.Sweep(t.Context())
		if err != nil || res != (lifecycle.SweepResult{Expired: 1, Inoperative: 3}) {
			t.Fatalf("sweep: %+v, %v; want 1 expired and 3 inoperative", res, err)
		}
	}, lifecycle.WithSweepBatch(2))
}

// INOPERATIVE is set only by the sweep: no status may be set to it by hand.
func TestInoperativeIsNeverSetByHand(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		now := e.clock.Now()
		var cs []*card.Card
		for i, s := range card.Statuses() {
			c := stored(s, now, i)
			cs = append(cs, &c)
		}
		insert(t, e.store, cs...)
		for _, c := range cs {
			got, err := e.cards.UpdateStatus(t.Context(), org, c.ID, card.Inoperative)
			if c.Status == card.Inoperative {
				if err != nil || got.Version != 1 {
					t.Errorf("INOPERATIVE -> INOPERATIVE: version %d, %v; want a no-op", got.Version, err)
				}
				continue
			}
			var ce *card.ConflictError
			if !errors.As(err, &ce) || ce.Requested != card.Inoperative || ce.Status != c.Status {
				t.Errorf("%s -> INOPERATIVE: %v, want a conflict", c.Status, err)
			}
		}
		wantEvents(t, e, 0)
	})
}

func TestUpdateStatusNeedsAStatus(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		c := mustCreate(t, e, request(card.Virtual, "online"))
		_, err := e.cards.UpdateStatus(t.Context(), org, c.ID, card.Status{})
		wantInvalid(t, err, "status")
		wantEvents(t, e, 1)
	})
}

// A card is found only in its own org, by every use case.
func TestNotFoundAcrossOrgs(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		req := request(card.Plastic, "")
		req.ValidityPeriodHours = 24
		c := mustCreate(t, e, req)
		ctx := t.Context()
		ops := map[string]func(org string, id int64) error{
			"get":      func(o string, id int64) error { _, err := e.cards.Get(ctx, o, id); return err },
			"update":   func(o string, id int64) error { _, err := e.cards.UpdateStatus(ctx, o, id, card.Blocked); return err },
			"activate": func(o string, id int64) error { _, err := e.cards.Activate(ctx, o, id); return err },
			"renew":    func(o string, id int64) error { _, err := e.cards.RenewValidity(ctx, o, id); return err },
		}
		for name, op := range ops {
			for _, target := range []struct {
				org string
				id  int64
			}{{"org-2", c.ID}, {org, c.ID + 1000}} {
				err := op(target.org, target.id)
				var nf *card.NotFoundError
				if !errors.Is(err, card.ErrNotFound) || !errors.As(err, &nf) || nf.Kind != "card" {
					t.Errorf("%s card %d of %s: %v, want not found", name, target.id, target.org, err)
				}
			}
		}
		cs, err := e.cards.ListByAccount(ctx, "org-2", "acct-1", storage.Page{Limit: 10})
		if err != nil || len(cs) != 0 {
			t.Errorf("org-2 lists %d cards of acct-1 (%v)", len(cs), err)
		}
		if got, err := e.cards.Get(ctx, org, c.ID); err != nil || got.ID != c.ID || got.Version != 1 {
			t.Fatalf("get in its own org: %+v, %v", got, err)
		}
		wantEvents(t, e, 1)
	})
}

func TestListByAccount(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		var ids []int64
		for i := range 5 {
			ids = append(ids, mustCreate(t, e, request(card.Virtual, fmt.Sprintf("card %d", i))).ID)
		}
		other := request(card.Virtual, "elsewhere")
		other.AccountID = "acct-2"
		mustCreate(t, e, other)
		var got []int64
		page := storage.Page{Limit: 2}
		for {
			cs, err := e.cards.ListByAccount(t.Context(), org, "acct-1", page)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cs {
				got = append(got, c.ID)
			}
			if len(cs) < page.Limit {
				break
			}
			page.After = cs[len(cs)-1].ID
		}
		if fmt.Sprint(got) != fmt.Sprint(ids) {
			t.Fatalf("listed %v, want %v", got, ids)
		}
		for _, limit := range []int{0, -1, 1001} {
			_, err := e.cards.ListByAccount(t.Context(), org, "acct-1", storage.Page{Limit: limit})
			wantInvalid(t, err, "limit")
		}
	})
}

// BenchmarkUpdateStatus toggles random cards among 1,000 between BLOCKED
// and NORMAL through the use case, each toggle a transaction with its
// event, from 1 and from 16 goroutines.
func BenchmarkUpdateStatus(b *testing.B) {
	for _, kind := range testdb.Kinds {
		b.Run(kind, func(b *testing.B) {
			e := newEnv(b, testdb.Open(b, kind), nil)
			now := e.clock.Now()
			cs := make([]*card.Card, 1000)
			for i := range cs {
				c := virtual(card.Normal, now, i)
				cs[i] = &c
			}
			insert(b, e.store, cs...)
			var toggles [1000]atomic.Uint32
			toggle := func(ctx context.Context) error {
				i := rand.IntN(len(cs))
				to := card.Blocked
				if toggles[i].Add(1)%2 == 0 {
					to = card.Normal
				}
				_, err := e.cards.UpdateStatus(ctx, org, cs[i].ID, to)
				return err
			}
			b.Run("goroutines=1", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := toggle(b.Context()); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("goroutines=16", func(b *testing.B) {
				b.ReportAllocs()
				b.SetParallelism((16 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := toggle(context.Background()); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		})
	}
}
