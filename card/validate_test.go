package card_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
)

// wantField fails unless err is an *InvalidError naming field, or nil when
// field is "".
func wantField(t *testing.T, err error, field string) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Fatalf("err = %v, want none", err)
		}
		return
	}
	var ie *card.InvalidError
	if !errors.Is(err, card.ErrInvalid) || !errors.As(err, &ie) {
		t.Fatalf("err = %v, want invalid %s", err, field)
	}
	if ie.Field != field || ie.Rule == "" || !strings.Contains(err.Error(), field) {
		t.Fatalf("err = %v (field %q, rule %q), want field %q", err, ie.Field, ie.Rule, field)
	}
}

// TestValidateNames checks the printed name and the alias (name): each
// valid input is accepted, each other one refused naming the field.
func TestValidateNames(t *testing.T) {
	for _, tc := range []struct {
		field          string
		validate       func(string) error
		valid, refused []string
	}{
		{"printed_name", card.ValidatePrintedName,
			[]string{"JANE DOE", "Al", "mary ann de la cruz", strings.Repeat("A", 26)},
			[]string{"", "J", strings.Repeat("A", 27), "JOHN 3RD", "JOSÉ", "O'BRIEN", "JANE-DOE", "JANE\tDOE",
				" JANE", "JANE ", "A\x00"}},
		{"name", card.ValidateName,
			[]string{"a", "online shopping", strings.Repeat("é", 50)},
			[]string{"", strings.Repeat("é", 51), "a\x00", "a\nb", "\xff"}},
	} {
		t.Run(tc.field, func(t *testing.T) {
			for _, in := range tc.valid {
				t.Run(in, func(t *testing.T) { wantField(t, tc.validate(in), "") })
			}
			for _, in := range tc.refused {
				t.Run(in, func(t *testing.T) { wantField(t, tc.validate(in), tc.field) })
			}
		})
	}
}

func TestValidateMetadata(t *testing.T) {
	object := func(n int) json.RawMessage { // an object of exactly n bytes
		return json.RawMessage(`{"a":"` + strings.Repeat("x", n-8) + `"}`)
	}
	for _, tc := range []struct {
		name  string
		in    json.RawMessage
		field string
	}{
		{"nil", nil, ""},
		{"empty object", json.RawMessage(`{}`), ""},
		{"nested", json.RawMessage(`{"a":{"b":[1,2,{"c":null}]},"d":"é"}`), ""},
		{"surrounding spaces", json.RawMessage(" {\"a\":1}\n"), ""},
		{"3200 bytes", object(3200), ""},
		{"3201 bytes", object(3201), "metadata"},
		{"empty", json.RawMessage{}, "metadata"},
		{"array", json.RawMessage(`[1]`), "metadata"},
		{"string", json.RawMessage(`"x"`), "metadata"},
		{"number", json.RawMessage(`1`), "metadata"},
		{"null", json.RawMessage(`null`), "metadata"},
		{"truncated", json.RawMessage(`{"a":`), "metadata"},
		{"trailing garbage", json.RawMessage(`{"a":1}x`), "metadata"},
		{"two objects", json.RawMessage(`{}{}`), "metadata"},
		{"escaped NUL", json.RawMessage(`{"a":"\u0000"}`), "metadata"},
		{"not UTF-8", json.RawMessage("{\"a\":\"\xff\"}"), "metadata"},
	} {
		t.Run(tc.name, func(t *testing.T) { wantField(t, card.ValidateMetadata(tc.in), tc.field) })
	}
}

func TestValidateRefAndExternalID(t *testing.T) {
	wantField(t, card.ValidateRef("account_id", "42"), "")
	wantField(t, card.ValidateRef("account_id", strings.Repeat("9", 64)), "")
	wantField(t, card.ValidateRef("account_id", ""), "account_id")
	wantField(t, card.ValidateRef("customer_id", strings.Repeat("9", 65)), "customer_id")
	wantField(t, card.ValidateRef("customer_id", "a\tb"), "customer_id")
	wantField(t, card.ValidateExternalID("ext-1"), "")
	wantField(t, card.ValidateExternalID(strings.Repeat("é", 255)), "")
	wantField(t, card.ValidateExternalID(strings.Repeat("é", 256)), "external_id")
	wantField(t, card.ValidateExternalID(""), "external_id")
	wantField(t, card.ValidateExternalID("a\x00"), "external_id")
}

func TestParseExpiration(t *testing.T) {
	for m := 1; m <= 12; m++ {
		want := time.Date(2028, time.Month(m), 1, 0, 0, 0, 0, time.UTC)
		yymm := card.FormatExpiration(want)
		got, err := card.ParseExpiration(yymm)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Fatalf("ParseExpiration(%q) = %v, %v; want %v", yymm, got, err, want)
		}
	}
	if got := card.FormatExpiration(time.Date(2031, time.December, 25, 23, 0, 0, 0, time.UTC)); got != "3112" {
		t.Errorf("FormatExpiration of a day in December 2031 = %q", got)
	}
	if got := card.FormatExpiration(time.Time{}); got != "" {
		t.Errorf("FormatExpiration(zero) = %q, want empty", got)
	}
	for _, bad := range []string{"", "280", "28031", "2800", "2813", "28-3", "2a03", "０３28", " 2803"} {
		_, err := card.ParseExpiration(bad)
		wantField(t, err, "expiration_date")
	}
	local := time.Date(2026, time.April, 1, 1, 0, 0, 0, time.FixedZone("UTC+3", 3*3600)) // March 31, 22:00 UTC
	if got := card.MonthOf(local); !got.Equal(time.Date(2026, time.March, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("MonthOf(%v) = %v, want March 2026 in UTC", local, got)
	}
}

// valid is a card that passes every rule; the cases below break one each.
func valid() card.Card {
	issued := time.Date(2026, time.March, 15, 10, 0, 0, 0, time.UTC)
	return card.Card{
		OrgID: "org-1", ProgramID: 1, Token: "0b7e4a52-6f0e-4c2a-9d51-3a8e5f0c1d22",
		AccountID: "42", CustomerID: "7",
		Type: card.Virtual, Mode: card.Credit, Status: card.Normal,
		Name: "online", PrintedName: "JANE DOE",
		IssuingDate: issued, ExpirationDate: time.Date(2032, time.March, 1, 0, 0, 0, 0, time.UTC),
		ValidityPeriodHours: 24, ValidUntil: issued.Add(24 * time.Hour),
		TrackNumber: 1, PINLength: 4, ContactlessEnabled: true,
		CVVRotationIntervalHours: ptr(0), Metadata: json.RawMessage(`{"k":"v"}`),
		TransactionLimit: "1500.00", EmbossingGroup: "GROUP-1", TemplateID: "tpl-1",
		BIN: "12345678", Last4: "4242", Brand: card.Visa,
		Version: 1,
	}
}

func TestCardValidate(t *testing.T) {
	noname := func(c *card.Card) {
		c.Type, c.Name, c.Status = card.Plastic, card.PlasticName, card.Unbound
		c.AccountID, c.CustomerID, c.BulkID, c.ExternalID = "", "", "bulk-1", "ext-1"
		c.ValidityPeriodHours, c.ValidUntil = 0, time.Time{}
	}
	for _, tc := range []struct {
		name   string
		change func(c *card.Card)
		field  string
	}{
		{"valid", func(c *card.Card) {}, ""},
		{"no token yet", func(c *card.Card) { c.Token = "" }, ""},
		{"PLASTIC", func(c *card.Card) { c.Type, c.Name = card.Plastic, card.PlasticName }, ""},
		{"TEMPORARY without cvv rotation", func(c *card.Card) {
			c.Type, c.CVVRotationIntervalHours, c.ValidityPeriodHours, c.ValidUntil = card.Temporary, nil, 0, time.Time{}
		}, ""},
		{"UNBOUND noname", noname, ""},
		{"canceled noname never bound", func(c *card.Card) { noname(c); c.Status = card.Canceled }, ""},
		{"no expiration date", func(c *card.Card) { c.ExpirationDate = time.Time{} }, ""},
		{"valid until the end of the expiration month", func(c *card.Card) {
			c.ExpirationDate = time.Date(2026, time.March, 1, 0, 0, 0, 0, time.UTC)
			c.ValidUntil = time.Date(2026, time.April, 1, 0, 0, 0, 0, time.UTC)
		}, ""},
		{"synced and closed", func(c *card.Card) { c.Synced, c.CloseDate = true, c.IssuingDate }, ""},
		{"close date on a card not synced", func(c *card.Card) { c.CloseDate = c.IssuingDate.Add(time.Hour) }, "close_date"},
		{"synced closed before it opened", func(c *card.Card) { c.Synced, c.CloseDate = true, c.IssuingDate.Add(-time.Second) }, "close_date"},
		{"synced without last four digits", func(c *card.Card) { c.Synced, c.Last4 = true, "" }, "last_4_digits"},
		{"no org", func(c *card.Card) { c.OrgID = "" }, "org_id"},
		{"org of 65 chars", func(c *card.Card) { c.OrgID = strings.Repeat("o", 65) }, "org_id"},
		{"no program", func(c *card.Card) { c.ProgramID = 0 }, "program_id"},
		{"token not a UUID", func(c *card.Card) { c.Token = "card-1" }, "token"},
		{"customer without account", func(c *card.Card) { c.AccountID = "" }, "account_id"},
		{"account without customer", func(c *card.Card) { c.CustomerID = "" }, "customer_id"},
		{"named card without owner", func(c *card.Card) { c.AccountID, c.CustomerID = "", "" }, "account_id"},
		{"bound noname without owner", func(c *card.Card) { noname(c); c.Status = card.Created }, "account_id"},
		{"account of 65 chars", func(c *card.Card) { c.AccountID = strings.Repeat("4", 65) }, "account_id"},
		{"customer with a control char", func(c *card.Card) { c.CustomerID = "7\x1b" }, "customer_id"},
		{"external id without bulk", func(c *card.Card) { noname(c); c.BulkID = "" }, "bulk_id"},
		{"bulk without external id", func(c *card.Card) { noname(c); c.ExternalID = "" }, "external_id"},
		{"no type", func(c *card.Card) { c.Type = card.Type{} }, "type"},
		{"no mode", func(c *card.Card) { c.Mode = card.Mode{} }, "mode"},
		{"no status", func(c *card.Card) { c.Status = card.Status{} }, "status"},
		{"PLASTIC with another name", func(c *card.Card) { c.Type = card.Plastic }, "name"},
		{"no alias", func(c *card.Card) { c.Name = "" }, "name"},
		{"alias of 51 chars", func(c *card.Card) { c.Name = strings.Repeat("n", 51) }, "name"},
		{"printed name of 1 char", func(c *card.Card) { c.PrintedName = "J" }, "printed_name"},
		{"UNNUMBERED without printed name", func(c *card.Card) { c.Status, c.PrintedName = card.Unnumbered, "" }, "printed_name"},
		{"no issuing date", func(c *card.Card) { c.IssuingDate = time.Time{} }, "issuing_date"},
		{"expiring before issuing", func(c *card.Card) { c.ExpirationDate = time.Date(2026, time.February, 1, 0, 0, 0, 0, time.UTC) }, "expiration_date"},
		{"negative validity", func(c *card.Card) { c.ValidityPeriodHours = -1 }, "validity_period_hours"},
		{"validity on TEMPORARY", func(c *card.Card) { c.Type = card.Temporary }, "validity_period_hours"},
		{"validity on RECURRING", func(c *card.Card) { c.Type = card.Recurring }, "validity_period_hours"},
		{"validity without valid_until", func(c *card.Card) { c.ValidUntil = time.Time{} }, "valid_until"},
		{"valid_until without validity", func(c *card.Card) { c.ValidityPeriodHours = 0 }, "valid_until"},
		{"valid_until past expiration", func(c *card.Card) {
			c.ExpirationDate = time.Date(2026, time.March, 1, 0, 0, 0, 0, time.UTC)
			c.ValidUntil = time.Date(2026, time.April, 1, 0, 0, 0, 1000, time.UTC)
		}, "validity_period_hours"},
		{"track number 0", func(c *card.Card) { c.TrackNumber = 0 }, "track_number"},
		{"negative predecessor", func(c *card.Card) { c.ReissuedCardID = -1 }, "reissued_card_id"},
		{"metadata array", func(c *card.Card) { c.Metadata = json.RawMessage(`[]`) }, "metadata"},
		{"embossing custom field of 1001 chars", func(c *card.Card) { c.EmbossingCustomField = strings.Repeat("é", 1001) }, "embossing_custom_field"},
		{"embossing custom field with NUL", func(c *card.Card) { c.EmbossingCustomField = "a\x00" }, "embossing_custom_field"},
		{"embossing group of 1 char", func(c *card.Card) { c.EmbossingGroup = "G" }, "embossing_group"},
		{"embossing group of 33 chars", func(c *card.Card) { c.EmbossingGroup = strings.Repeat("G", 33) }, "embossing_group"},
		{"pin length 5", func(c *card.Card) { c.PINLength = 5 }, "pin_length"},
		{"pin length unset", func(c *card.Card) { c.PINLength = 0 }, "pin_length"},
		{"transaction limit with a trailing dot", func(c *card.Card) { c.TransactionLimit = "1." }, "transaction_limit"},
		{"transaction limit with a leading dot", func(c *card.Card) { c.TransactionLimit = ".5" }, "transaction_limit"},
		{"transaction limit with two dots", func(c *card.Card) { c.TransactionLimit = "1.2.3" }, "transaction_limit"},
		{"transaction limit of 33 chars", func(c *card.Card) { c.TransactionLimit = strings.Repeat("1", 33) }, "transaction_limit"},
		{"template id of 65 chars", func(c *card.Card) { c.TemplateID = strings.Repeat("t", 65) }, "template_id"},
		{"VIRTUAL without cvv rotation", func(c *card.Card) { c.CVVRotationIntervalHours = nil }, "cvv_rotation_interval_hours"},
		{"cvv rotation over a year", func(c *card.Card) { c.CVVRotationIntervalHours = ptr(24*366 + 1) }, "cvv_rotation_interval_hours"},
		{"cvv rotation over Pismo's 4320 hours", func(c *card.Card) { c.CVVRotationIntervalHours = ptr(4321) }, "cvv_rotation_interval_hours"},
		{"negative PIN tries", func(c *card.Card) { c.PasswordTries = -1 }, "password_tries"},
		{"negative cvv rotation", func(c *card.Card) { c.CVVRotationIntervalHours = ptr(-1) }, "cvv_rotation_interval_hours"},
		{"last four of 3 digits", func(c *card.Card) { c.Last4 = "424" }, "last_4_digits"},
		{"last four with a letter", func(c *card.Card) { c.Last4 = "42a2" }, "last_4_digits"},
		{"bin of 7 digits", func(c *card.Card) { c.BIN = "1234567" }, "bin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.change(&c)
			wantField(t, c.Validate(), tc.field)
		})
	}
}

func TestStatuses(t *testing.T) {
	groups := map[card.Group]string{
		card.GroupInitial:        "CREATED UNBOUND UNNUMBERED",
		card.GroupActive:         "NORMAL REISSUED",
		card.GroupTemporaryBlock: "BLOCKED PENDING WARNING INOPERATIVE",
		card.GroupTermination:    "LOST ROBBED THEFT CANCELED FRAUD DAMAGED EXPIRED DELETED BROKEN DEFECT",
	}
	seen := map[card.Status]bool{}
	for g, names := range groups {
		for _, n := range strings.Fields(names) {
			s, err := card.ParseStatus(n)
			if err != nil {
				t.Fatalf("ParseStatus(%q): %v", n, err)
			}
			if s.Group() != g || s.Terminated() != (g == card.GroupTermination) {
				t.Errorf("%s is in group %s (terminated %v), the spec says %s", s, s.Group(), s.Terminated(), g)
			}
			seen[s] = true
		}
	}
	all := card.Statuses()
	if len(all) != card.NumStatuses || len(seen) != card.NumStatuses {
		t.Fatalf("%d statuses, %d in the spec's groups, want %d", len(all), len(seen), card.NumStatuses)
	}
	for i, s := range all {
		if s.Index() != i || !seen[s] {
			t.Errorf("status %s has index %d at position %d", s, s.Index(), i)
		}
	}
	var zero card.Status
	if !zero.IsZero() || zero.String() != "" || zero.Group() != card.GroupNone || zero.Terminated() || zero.Index() != -1 {
		t.Errorf("the zero status is not 'no status': %q, group %s, index %d", zero.String(), zero.Group(), zero.Index())
	}
}

// TestEnumsRoundTrip: every value of every enum renders as its API name and
// parses back, through Parse and through text and JSON encoding.
func TestEnumsRoundTrip(t *testing.T) {
	modes := []string{"CREDIT", "DEBIT", "COMBO", "MULTIPLE"}
	brands := []string{"VISA", "MASTERCARD", "ELO", "RUPAY", "DISCOVER", "AMEX", "PRIVATE"}
	for _, s := range card.Statuses() {
		roundTrip(t, s, card.ParseStatus)
	}
	for _, ty := range card.Types() {
		roundTrip(t, ty, card.ParseType)
	}
	for _, n := range modes {
		m, err := card.ParseMode(n)
		if err != nil {
			t.Fatal(err)
		}
		roundTrip(t, m, card.ParseMode)
	}
	for _, n := range brands {
		b, err := card.ParseBrand(n)
		if err != nil {
			t.Fatal(err)
		}
		roundTrip(t, b, card.ParseBrand)
	}
	if len(card.Types()) != 4 {
		t.Errorf("%d types, want PLASTIC, VIRTUAL, TEMPORARY, RECURRING", len(card.Types()))
	}
}

type enum interface {
	comparable
	String() string
	IsZero() bool
	MarshalText() ([]byte, error)
}

func roundTrip[E enum](t *testing.T, v E, parse func(string) (E, error)) {
	t.Helper()
	name := v.String()
	if v.IsZero() || name == "" || strings.ToUpper(name) != name {
		t.Fatalf("%#v renders as %q", v, name)
	}
	got, err := parse(name)
	if err != nil || got != v {
		t.Fatalf("parse(%q) = %v, %v", name, got, err)
	}
	text, _ := v.MarshalText()
	if string(text) != name {
		t.Fatalf("MarshalText = %q, want %q", text, name)
	}
	b, err := json.Marshal(struct{ V E }{v})
	if err != nil {
		t.Fatal(err)
	}
	var back struct{ V E }
	if err := json.Unmarshal(b, &back); err != nil || back.V != v {
		t.Fatalf("JSON %s decoded to %v, %v", b, back.V, err)
	}
}

// wantRefused checks that parse, named name, refuses in: it returns the
// zero value and an invalid input error naming field.
func wantRefused[E enum](t *testing.T, name, field, in string, parse func(string) (E, error)) {
	t.Helper()
	v, err := parse(in)
	if !v.IsZero() {
		t.Errorf("%s(%q) = %s", name, in, v)
	}
	wantField(t, err, field)
}

// TestZeroEnumsAreRejected: no parser makes the zero value, or anything
// from a misspelled name, and a card without type, mode or status is
// invalid (see TestCardValidate).
func TestZeroEnumsAreRejected(t *testing.T) {
	for _, in := range []string{"", "normal", "Normal", " NORMAL", "NORMAL ", "NONE", "0", "\x00"} {
		wantRefused(t, "ParseStatus", "status", in, card.ParseStatus)
		wantRefused(t, "ParseType", "type", in, card.ParseType)
		wantRefused(t, "ParseMode", "mode", in, card.ParseMode)
		wantRefused(t, "ParseBrand", "brand", in, card.ParseBrand)
	}
	var s card.Status
	if err := s.UnmarshalText([]byte("BOGUS")); err == nil || !s.IsZero() {
		t.Errorf("UnmarshalText(BOGUS) = %v, left %s", err, s)
	}
	var ty card.Type
	if err := json.Unmarshal([]byte(`{"T":"PLASTICS"}`), &struct{ T *card.Type }{&ty}); !errors.Is(err, card.ErrInvalid) {
		t.Errorf("JSON with type PLASTICS: %v, want invalid", err)
	}
}

func TestPrograms(t *testing.T) {
	ps, err := card.NewPrograms(card.Program{ID: 2, BIN: "123456", Brand: card.Elo, PlasticStartsNormal: true})
	if err != nil {
		t.Fatal(err)
	}
	def, err := ps.Lookup(card.DefaultProgramID)
	if err != nil || def.Months() != 72 || def.BulkLimit() != 1000 || def.InitialStatus(card.Plastic) != card.Created {
		t.Fatalf("program 1: %+v, %v", def, err)
	}
	p2, err := ps.Lookup(2)
	if err != nil || p2.InitialStatus(card.Plastic) != card.Normal || p2.InitialStatus(card.Virtual) != card.Normal {
		t.Fatalf("program 2: %+v, %v", p2, err)
	}
	for _, ty := range []card.Type{card.Virtual, card.Temporary, card.Recurring} {
		if def.InitialStatus(ty) != card.Normal {
			t.Errorf("%s starts %s, want NORMAL", ty, def.InitialStatus(ty))
		}
	}
	if def.PINTriesLimit() != 3 || !def.BlocksOnPINTries() {
		t.Errorf("program 1: blocks after %d PIN tries: %v; want 3, true", def.PINTriesLimit(), def.BlocksOnPINTries())
	}
	if p := (card.Program{MaxPINTries: 5, PINTriesKeepStatus: true}); p.PINTriesLimit() != 5 || p.BlocksOnPINTries() {
		t.Errorf("a program of 5 tries that keeps the status: %d, %v", p.PINTriesLimit(), p.BlocksOnPINTries())
	}
	if _, err := ps.Lookup(3); !errors.Is(err, card.ErrNotFound) {
		t.Errorf("Lookup(3) = %v, want not found", err)
	}
	for _, tc := range []struct {
		p     card.Program
		field string
	}{
		{card.Program{ID: 0, BIN: "123456", Brand: card.Visa}, "program_id"},
		{card.Program{ID: 2, BIN: "12345", Brand: card.Visa}, "bin"},
		{card.Program{ID: 2, BIN: "12345a", Brand: card.Visa}, "bin"},
		{card.Program{ID: 2, BIN: "123456"}, "brand"},
		{card.Program{ID: 2, BIN: "123456", Brand: card.Visa, ExpirationMonths: 241}, "expiration_months"},
		{card.Program{ID: 2, BIN: "123456", Brand: card.Visa, ExpirationMonths: -1}, "expiration_months"},
		{card.Program{ID: 2, BIN: "123456", Brand: card.Visa, BulkSizeLimit: -1}, "bulk_size_limit"},
		{card.Program{ID: 2, BIN: "123456", Brand: card.Visa, MaxPINTries: -1}, "max_pin_tries"},
		{card.Program{ID: 2, BIN: "123456", Brand: card.Visa, MaxPINTries: 100}, "max_pin_tries"},
	} {
		_, err := card.NewPrograms(tc.p)
		wantField(t, err, tc.field)
	}
}

func TestErrorTaxonomy(t *testing.T) {
	conflict := error(&card.ConflictError{CardID: 9, Operation: "update_status", Status: card.Lost, Requested: card.Normal, Reason: "no"})
	notFound := error(card.NotFound("card", "9"))
	invalid := error(card.Invalid("name", "too long"))
	for _, tc := range []struct {
		err      error
		sentinel error
		text     []string
	}{
		{conflict, card.ErrConflict, []string{"update_status", "9", "LOST", "NORMAL"}},
		{notFound, card.ErrNotFound, []string{"card", "9"}},
		{invalid, card.ErrInvalid, []string{"name", "too long"}},
	} {
		for _, s := range []error{card.ErrNotFound, card.ErrInvalid, card.ErrConflict, card.ErrUnauthorized, card.ErrForbidden} {
			if got := errors.Is(tc.err, s); got != (s == tc.sentinel) {
				t.Errorf("errors.Is(%v, %v) = %v", tc.err, s, got)
			}
		}
		for _, want := range tc.text {
			if !strings.Contains(tc.err.Error(), want) {
				t.Errorf("%q does not name %q", tc.err.Error(), want)
			}
		}
	}
	var ce *card.ConflictError
	if !errors.As(errors.Join(errors.New("context"), conflict), &ce) || ce.Requested != card.Normal {
		t.Error("a wrapped conflict is not reached with errors.As")
	}
}

func ptr[T any](v T) *T { return &v }

func TestValidatePANHash(t *testing.T) {
	for _, ok := range []string{"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "AbCd+/=_-:0123456789", strings.Repeat("a", 128)} {
		if err := card.ValidatePANHash(ok); err != nil {
			t.Errorf("ValidatePANHash(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "c0ffee", strings.Repeat("a", 129), "4111111111111111", "41111111111111111111", "c0ffee00 c0ffee00c0ffee00", "c0ffee00c0ffee00\x00"} {
		wantField(t, card.ValidatePANHash(bad), "pan_hash")
	}
}
