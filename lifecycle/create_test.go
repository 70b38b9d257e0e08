package lifecycle_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/cardtest"
	"github.com/cardcore/cardcore/lifecycle"
	"github.com/cardcore/cardcore/storage"
	"github.com/google/uuid"
)

func TestCreateDefaults(t *testing.T) {
	program7 := card.Program{ID: 7, BIN: "12345678", Brand: card.Visa, PlasticStartsNormal: true, ExpirationMonths: 36}
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		now := e.Clock.Now()
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
			//lint:ignore SA1019 RECURRING is deprecated but still accepted; this proves it
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
				if got := e.Card(t, org, c.ID); got.Status != c.Status || got.Name != c.Name || !got.ExpirationDate.Equal(c.ExpirationDate) {
					t.Errorf("stored %+v, returned %+v", got, c)
				}
				es := e.Outbox(t, org).ByCard()[c.ID]
				if len(es) != 1 || es[0].Type != events.CardCreated || es[0].Card.CardStatus != tc.status.String() ||
					es[0].Card.Version != 1 || es[0].Card.OperationType != card.Create.OperationType() || es[0].Card.ExpirationDate != tc.expiration {
					t.Fatalf("events of the new card: %+v", es)
				}
			})
		}
	}, cardtest.Programs(program7))
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
		//lint:ignore SA1019 RECURRING is deprecated but still accepted; this proves it
		{"alias with NUL", with(card.Recurring, func(r *lifecycle.CreateRequest) { r.Name = "a\x00" }), "name"},
		{"printed name of 1 char", with(card.Plastic, func(r *lifecycle.CreateRequest) { r.PrintedName = "J" }), "printed_name"},
		{"printed name of 27 chars", with(card.Plastic, func(r *lifecycle.CreateRequest) { r.PrintedName = strings.Repeat("A", 27) }), "printed_name"},
		{"printed name with a digit", with(card.Plastic, func(r *lifecycle.CreateRequest) { r.PrintedName = "JOHN 3RD" }), "printed_name"},
		{"printed name with an accent", with(card.Plastic, func(r *lifecycle.CreateRequest) { r.PrintedName = "JOSÉ" }), "printed_name"},
		{"expiration month 13", with(card.Virtual, func(r *lifecycle.CreateRequest) { r.ExpirationDate = "2613" }), "expiration_date"},
		{"expiration not yymm", with(card.Virtual, func(r *lifecycle.CreateRequest) { r.ExpirationDate = "03/28" }), "expiration_date"},
		{"expiration already over", with(card.Virtual, func(r *lifecycle.CreateRequest) { r.ExpirationDate = "2602" }), "expiration_date"},
		{"validity on TEMPORARY", with(card.Temporary, func(r *lifecycle.CreateRequest) { r.ValidityPeriodHours = 24 }), "validity_period_hours"},
		//lint:ignore SA1019 RECURRING is deprecated but still accepted; this proves it
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
		{"negative cvv rotation", with(card.Virtual, func(r *lifecycle.CreateRequest) { r.CVVRotationIntervalHours = cardtest.Ptr(-1) }), "cvv_rotation_interval_hours"},
		{"metadata not UTF-8", with(card.Virtual, func(r *lifecycle.CreateRequest) { r.Metadata = []byte("{\"a\":\"\xff\"}") }), "metadata"},
		{"idempotency key of 37 chars", with(card.Virtual, func(r *lifecycle.CreateRequest) { r.IdempotencyKey = strings.Repeat("k", 37) }), "idempotency_key"},
		{"idempotency key with NUL", with(card.Virtual, func(r *lifecycle.CreateRequest) { r.IdempotencyKey = "key\x00" }), "idempotency_key"},
		{"idempotency key not UTF-8", with(card.Virtual, func(r *lifecycle.CreateRequest) { r.IdempotencyKey = "key\xff" }), "idempotency_key"},
	}
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := e.Cards.Create(t.Context(), tc.req)
				cardtest.WantInvalid(t, err, tc.field)
			})
		}
		e.WantEvents(t, org, 0)
		cs, err := e.Cards.ListByAccount(t.Context(), org, "acct-1", storage.Page{Limit: 10})
		if err != nil || len(cs) != 0 {
			t.Fatalf("refused creates left cards: %d, %v", len(cs), err)
		}
	})
}

func TestCreateValidity(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		now := e.Clock.Now()
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
		_, err := e.Cards.Create(t.Context(), req)
		cardtest.WantInvalid(t, err, "validity_period_hours")
		e.WantEvents(t, org, 3)
	})
}

func TestCreateVirtualAliasIsUniquePerCustomer(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		first := mustCreate(t, e, request(card.Virtual, "online"))
		_, err := e.Cards.Create(t.Context(), request(card.Virtual, "online"))
		if !errors.Is(err, card.ErrConflict) {
			t.Fatalf("second VIRTUAL named online: %v, want a conflict", err)
		}
		e.WantEvents(t, org, 1)

		other := request(card.Virtual, "online")
		other.AccountID, other.CustomerID = "acct-2", "cust-2"
		mustCreate(t, e, other)
		mustCreate(t, e, request(card.Temporary, "online"))
		otherOrg := request(card.Virtual, "online")
		otherOrg.OrgID = "org-2"
		mustCreate(t, e, otherOrg)

		if _, err := e.Cards.UpdateStatus(t.Context(), org, first.ID, card.Canceled); err != nil {
			t.Fatal(err)
		}
		again := mustCreate(t, e, request(card.Virtual, "online"))
		if again.ID == first.ID || again.Status != card.Normal {
			t.Fatalf("after the first was canceled, create returned %+v", again)
		}
		_, err = e.Cards.Create(t.Context(), request(card.Virtual, "online"))
		if !errors.Is(err, card.ErrConflict) {
			t.Fatalf("VIRTUAL named online next to a NORMAL one: %v, want a conflict", err)
		}
		e.WantEvents(t, org, 5) // 4 creates and the cancellation in org-1
	})
}

func TestCreateIsIdempotentOnKey(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		req := request(card.Virtual, "online")
		req.IdempotencyKey = "key-1"
		first := mustCreate(t, e, req)
		if _, err := e.Cards.UpdateStatus(t.Context(), org, first.ID, card.Blocked); err != nil {
			t.Fatal(err)
		}
		e.Clock.Advance(time.Hour)
		replay := mustCreate(t, e, req)
		if replay.ID != first.ID || replay.Token != first.Token || replay.Version != 1 || replay.Status != card.Normal ||
			!replay.IssuingDate.Equal(first.IssuingDate) || replay.Name != first.Name {
			t.Fatalf("replay returned %+v, want the first result %+v", replay, first)
		}
		e.WantEvents(t, org, 2) // create and block; the replay wrote nothing

		changed := req
		changed.Name = "other"
		_, err := e.Cards.Create(t.Context(), changed)
		if !errors.Is(err, card.ErrConflict) {
			t.Fatalf("same key, different request: %v, want a conflict", err)
		}
		otherAccount := req
		otherAccount.AccountID, otherAccount.CustomerID = "acct-2", "cust-2"
		if c := mustCreate(t, e, otherAccount); c.ID == first.ID {
			t.Fatal("the key of account acct-1 replayed for account acct-2")
		}
		cs, err := e.Cards.ListByAccount(t.Context(), org, "acct-1", storage.Page{Limit: 10})
		if err != nil || len(cs) != 1 {
			t.Fatalf("account acct-1 has %d cards (%v), want 1", len(cs), err)
		}
		e.WantEvents(t, org, 3)
	})
}

// A replay answers with the first result even when the same request would
// now be refused because time went by (SPEC 7.1: an idempotent replay
// answers with the original status code and body).
func TestCreateReplayOutlivesItsExpirationMonth(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		req := request(card.Temporary, "trip")
		req.ExpirationDate, req.IdempotencyKey = "2604", "key-2"
		first := mustCreate(t, e, req)
		e.Clock.AddMonths(3)
		replay, err := e.Cards.Create(t.Context(), req)
		if err != nil || replay.ID != first.ID {
			t.Fatalf("replay after the expiration month: card %d, %v; want card %d", replay.ID, err, first.ID)
		}
		// A new request under the key is still checked first: 400 wins over 409.
		req.Name = "other trip"
		_, err = e.Cards.Create(t.Context(), req)
		cardtest.WantInvalid(t, err, "expiration_date")
		e.WantEvents(t, org, 1)
	})
}
