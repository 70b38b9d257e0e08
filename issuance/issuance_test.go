package issuance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cardcore/cardcore"
	"github.com/cardcore/cardcore/adapters/bunstore"
	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/issuance"
	"github.com/cardcore/cardcore/storage"
	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// t0 is the time of the test clock, which stands still.
var t0 = time.Date(2026, time.March, 15, 10, 20, 30, 123456000, time.UTC)

const (
	org     = "org-1"
	account = "5a3c4f8e-2b1d-4e6f-9a0b-7c8d9e0f1a2b"
	bin     = "45678912"
)

// env is cardcore on a real database, with program 1 of BIN 45678912 and
// brand VISA, a clock that stands still at t0 and the sandbox issuance.
type env struct {
	db    *bun.DB
	dir   string // the SQLite database's directory; "" on PostgreSQL
	store *bunstore.Store
	svc   *issuance.Service
}

func newEnv(t *testing.T, db *bun.DB, p issuance.Provisioner) *env {
	t.Helper()
	if p == nil {
		var err error
		if p, err = issuance.NewHMACProvisioner(bytes.Repeat([]byte("k"), 32)); err != nil {
			t.Fatal(err)
		}
	}
	cc, err := cardcore.New(t.Context(), db, cardcore.WithPrograms(card.Program{ID: 1, BIN: bin, Brand: card.Visa}),
		cardcore.WithClock(func() time.Time { return t0 }), cardcore.WithIssuance(p))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return &env{db: db, store: cc.Store, svc: cc.Issuance}
}

// each runs f on a fresh env per database; on SQLite env.dir is the
// directory of its files, which the test may scan.
func each(t *testing.T, f func(t *testing.T, e *env)) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			var db *bun.DB
			var dir string
			if kind == "sqlite" {
				dir = t.TempDir()
				db = testdb.SQLite(t, filepath.Join(dir, "cardcore.db"))
			} else {
				db = testdb.Open(t, kind)
			}
			e := newEnv(t, db, nil)
			e.dir = dir
			f(t, e)
		})
	}
}

// issue and fail settle card token of org without an idempotency key.
func (e *env) issue(ctx context.Context, org, token string) (card.Card, error) {
	return e.svc.Issue(ctx, issuance.Settlement{OrgID: org, Token: token})
}

func (e *env) fail(ctx context.Context, org, token string) (card.Card, error) {
	return e.svc.Fail(ctx, issuance.Settlement{OrgID: org, Token: token})
}

func mustCreate(t *testing.T, e *env, typ card.Type, key string) card.Card {
	t.Helper()
	c, err := e.svc.Create(t.Context(), org, account, typ, key)
	if err != nil {
		t.Fatalf("create %s: %v", typ, err)
	}
	return c
}

// cardEvents returns the org's events in the feed, with their card data
// decoded.
func cardEvents(t *testing.T, e *env) ([]events.Event, []events.CardData) {
	t.Helper()
	all, err := e.store.Feed(t.Context(), org, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var evs []events.Event
	var data []events.CardData
	for _, ev := range all {
		if ev.OrgID != org {
			continue
		}
		var d events.CardData
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			t.Fatal(err)
		}
		evs, data = append(evs, ev), append(data, d)
	}
	return evs, data
}

func TestCreatePending(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		v := mustCreate(t, e, card.Virtual, "")
		tmp := mustCreate(t, e, card.Temporary, "")
		for _, c := range []card.Card{v, tmp} {
			switch {
			case c.Status != card.Pending || !c.PreviousStatus.IsZero() || c.Version != 1:
				t.Errorf("%s card: status %s (previous %s), version %d; want PENDING at 1", c.Type, c.Status, c.PreviousStatus, c.Version)
			case c.AccountID != account || c.CustomerID != account || c.OrgID != org || c.ProgramID != 1:
				t.Errorf("%s card: account %q, customer %q, org %q, program %d", c.Type, c.AccountID, c.CustomerID, c.OrgID, c.ProgramID)
			case c.Name != "sandbox-"+c.Token[:8] || uuid.Validate(c.Token) != nil:
				t.Errorf("%s card: alias %q, token %q", c.Type, c.Name, c.Token)
			case !c.Brand.IsZero() || c.BIN != "" || c.Last4 != "" || c.PANHash != "":
				t.Errorf("%s card has PCI data before issuance: %s %s %s %s", c.Type, c.Brand, c.BIN, c.Last4, c.PANHash)
			case !c.IssuingDate.Equal(t0) || !c.ExpirationDate.Equal(time.Date(2032, time.March, 1, 0, 0, 0, 0, time.UTC)):
				t.Errorf("%s card: issued %v, expires %v", c.Type, c.IssuingDate, c.ExpirationDate)
			case !c.ActivationDate.IsZero() || c.Mode != card.Credit || c.PINLength != 4 || !c.ContactlessEnabled:
				t.Errorf("%s card: activation %v, mode %s, PIN %d, contactless %v", c.Type, c.ActivationDate, c.Mode, c.PINLength, c.ContactlessEnabled)
			}
			got, err := e.svc.Get(t.Context(), org, c.Token)
			if err != nil || got.ID != c.ID || got.Status != card.Pending {
				t.Errorf("Get(%s) = %d %s, %v", c.Token, got.ID, got.Status, err)
			}
		}
		if h := v.CVVRotationIntervalHours; h == nil || *h != 0 {
			t.Errorf("VIRTUAL card's CVV rotation: %v, want 0 (never)", h)
		}
		if tmp.CVVRotationIntervalHours != nil {
			t.Errorf("TEMPORARY card's CVV rotation: %d, want none", *tmp.CVVRotationIntervalHours)
		}
		evs, data := cardEvents(t, e)
		if len(evs) != 2 {
			t.Fatalf("%d events, want 2 create-1", len(evs))
		}
		for i, c := range []card.Card{v, tmp} {
			if evs[i].Type != events.CardCreated || data[i].CardToken != c.Token || data[i].CardID != c.ID ||
				data[i].CardStatus != "PENDING" || data[i].CardType != c.Type.String() || data[i].CardHash != "" {
				t.Errorf("event %d: %s %+v, want create-1 of card %s, PENDING", i, evs[i].Type, data[i], c.Token)
			}
		}
	})
}

// Only VIRTUAL and TEMPORARY cards are made, for accounts named by a UUID.
func TestCreateInvalid(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		for _, tc := range []struct {
			name    string
			account string
			typ     card.Type
			key     string
			field   string
		}{
			{"PLASTIC", account, card.Plastic, "", "type"},
			//lint:ignore SA1019 RECURRING is deprecated but still accepted; this proves it
			{"RECURRING", account, card.Recurring, "", "type"},
			{"no type", account, card.Type{}, "", "type"},
			{"account not a UUID", "42", card.Virtual, "", "accountId"},
			{"account UUID without hyphens", strings.ReplaceAll(account, "-", ""), card.Virtual, "", "accountId"},
			{"no account", "", card.Virtual, "", "accountId"},
			{"key too long", account, card.Virtual, strings.Repeat("k", 37), "idempotency_key"},
		} {
			_, err := e.svc.Create(t.Context(), org, tc.account, tc.typ, tc.key)
			var ie *card.InvalidError
			if !errors.As(err, &ie) || !errors.Is(err, card.ErrInvalid) || ie.Field != tc.field {
				t.Errorf("%s: %v, want invalid %s", tc.name, err, tc.field)
			}
		}
		if evs, _ := cardEvents(t, e); len(evs) != 0 {
			t.Errorf("%d events after invalid creates, want none", len(evs))
		}
	})
}

// An account id in upper case names the same account.
func TestCreateCanonicalAccount(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		c, err := e.svc.Create(t.Context(), org, strings.ToUpper(account), card.Virtual, "")
		if err != nil || c.AccountID != account || c.CustomerID != account {
			t.Errorf("create for %s: account %q, %v; want %s", strings.ToUpper(account), c.AccountID, err, account)
		}
		got, err := e.svc.Get(t.Context(), org, strings.ToUpper(c.Token))
		if err != nil || got.ID != c.ID {
			t.Errorf("Get by the upper-case token: %v", err)
		}
	})
}

// Issue makes a PENDING card NORMAL with PCI data of the program, whose
// PAN is stored nowhere: not in the database files, not in the outbox.
func TestIssue(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		var issued []card.Card
		for range 5 {
			c := mustCreate(t, e, card.Virtual, "")
			got, err := e.issue(t.Context(), org, c.Token)
			if err != nil {
				t.Fatal(err)
			}
			issued = append(issued, got)
		}
		evs, data := cardEvents(t, e)
		for i, c := range issued {
			switch {
			case c.Status != card.Normal || c.PreviousStatus != card.Pending || c.Version != 2 || !c.ActivationDate.Equal(t0):
				t.Errorf("issued card: %s (previous %s), version %d, activated %v", c.Status, c.PreviousStatus, c.Version, c.ActivationDate)
			case c.Brand != card.Visa || c.BIN != bin || len(c.Last4) != 4 || len(c.PANHash) != 64:
				t.Errorf("issued card's PCI data: %s %s %q %q", c.Brand, c.BIN, c.Last4, c.PANHash)
			}
			if err := c.Validate(); err != nil {
				t.Errorf("issued card: %v", err)
			}
			stored, err := e.svc.Get(t.Context(), org, c.Token)
			if err != nil || stored.PANHash != c.PANHash || stored.Last4 != c.Last4 || stored.Status != card.Normal {
				t.Errorf("stored card: %+v, %v", stored, err)
			}
			ev, d := evs[2*i+1], data[2*i+1]
			if ev.Type != events.CardUpdated || d.CardToken != c.Token || d.CardStatus != "NORMAL" ||
				d.CardLastFourNumbers != c.Last4 || d.CardHash != c.PANHash || d.OperationType != card.Issuance.OperationType() {
				t.Errorf("event of the issue: %s %+v", ev.Type, d)
			}
		}
		if pans := storedPANs(t, e, issued); len(pans) > 0 {
			t.Errorf("the database holds PANs of BIN %s: %v", bin, pans)
		}
	})
}

// storedPANs returns every 16-digit sequence that starts with the BIN and
// passes the Luhn check, found in the SQLite files (the database and its
// WAL) or in any row of the cards, outbox and idempotency tables.
//
// SQLite writes a row's values next to each other, and the columns bin,
// last4 and pan_hash follow one another: an issued card's BIN, last four
// digits and a hash that starts with digits read as one run, which passes
// the Luhn check one time in ten. Those runs, made of what the card may
// keep, are not PANs and are left out.
func storedPANs(t *testing.T, e *env, issued []card.Card) []string {
	t.Helper()
	var blobs [][]byte
	if e.dir != "" {
		files, err := os.ReadDir(e.dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(e.dir, f.Name()))
			if err != nil {
				t.Fatal(err)
			}
			blobs = append(blobs, b)
		}
		if len(blobs) == 0 {
			t.Fatal("no SQLite file to scan")
		}
	} else {
		for _, table := range []string{"cardcore_cards", "cardcore_outbox", "cardcore_idempotency"} {
			var rows []string
			if err := e.db.NewRaw("SELECT t::text FROM "+table+" AS t").Scan(t.Context(), &rows); err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				blobs = append(blobs, []byte(r))
			}
		}
	}
	evs, _ := cardEvents(t, e)
	for _, ev := range evs {
		blobs = append(blobs, []byte(ev.String()))
	}
	kept := map[string]bool{}
	for _, c := range issued {
		kept[(c.BIN + c.Last4 + c.PANHash)[:16]] = true
	}
	var pans []string
	for _, b := range blobs {
		for _, pan := range pansIn(b, bin) {
			if !kept[pan] {
				pans = append(pans, pan)
			}
		}
	}
	return pans
}

// pansIn returns the 16-digit windows of b's digit runs that start with
// prefix and pass the Luhn check.
func pansIn(b []byte, prefix string) []string {
	var out []string
	for i := 0; i < len(b); {
		if b[i] < '0' || b[i] > '9' {
			i++
			continue
		}
		j := i
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		for k := i; k+16 <= j; k++ {
			if w := string(b[k : k+16]); strings.HasPrefix(w, prefix) && luhn(w) {
				out = append(out, w)
			}
		}
		i = j
	}
	return out
}

func luhn(s string) bool {
	sum := 0
	for i := range len(s) {
		d := int(s[len(s)-1-i] - '0')
		if i%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

// The scanner finds a PAN where one is written, so the check above means
// something.
func TestPANScannerFindsAPAN(t *testing.T) {
	pan := "456789123456789"
	for d := '0'; d <= '9'; d++ {
		if luhn(pan + string(d)) {
			pan += string(d)
			break
		}
	}
	in := `{"data":"x` + pan + `y","n":` + pan + `0, "other":"4111111111111111"}`
	if got := pansIn([]byte(in), bin); len(got) != 2 || got[0] != pan || got[1] != pan {
		t.Errorf("pansIn(%s) = %v, want %s twice", in, got, pan)
	}
}

// A PAN written to the database is found by storedPANs, on each
// database: the scan of TestIssue reaches where the data is.
func TestStoredPANsSeesTheDatabase(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		pan := "456789120000000"
		for d := '0'; d <= '9'; d++ {
			if luhn(pan + string(d)) {
				pan += string(d)
				break
			}
		}
		c := mustCreate(t, e, card.Temporary, "")
		c.Metadata = json.RawMessage(`{"leak": "` + pan + `"}`)
		c.Version++
		if err := e.store.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
			return tx.Save(ctx, &c, events.Updated(card.UpdateStatus, t0))
		}); err != nil {
			t.Fatal(err)
		}
		if pans := storedPANs(t, e, nil); len(pans) == 0 || pans[0] != pan {
			t.Errorf("storedPANs = %v, want %s", pans, pan)
		}
	})
}

func TestFail(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		c := mustCreate(t, e, card.Temporary, "")
		got, err := e.fail(t.Context(), org, c.Token)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != card.Canceled || got.PreviousStatus != card.Pending || got.Version != 2 || got.PANHash != "" || !got.ActivationDate.IsZero() {
			t.Errorf("failed card: %s (previous %s), version %d, hash %q", got.Status, got.PreviousStatus, got.Version, got.PANHash)
		}
		evs, data := cardEvents(t, e)
		if len(evs) != 2 || evs[1].Type != events.CardUpdated || data[1].CardStatus != "CANCELED" || data[1].CardToken != c.Token {
			t.Errorf("events: %+v", data)
		}
	})
}

// Issue and Fail of a card that is not PENDING are conflicts that write
// nothing.
func TestSettleNotPendingIsConflict(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		issued := mustCreate(t, e, card.Virtual, "")
		if _, err := e.issue(t.Context(), org, issued.Token); err != nil {
			t.Fatal(err)
		}
		failed := mustCreate(t, e, card.Virtual, "")
		if _, err := e.fail(t.Context(), org, failed.Token); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name   string
			settle func(ctx context.Context, org, token string) (card.Card, error)
			c      card.Card
			status card.Status
		}{
			{"issue an issued card", e.issue, issued, card.Normal},
			{"fail an issued card", e.fail, issued, card.Normal},
			{"issue a failed card", e.issue, failed, card.Canceled},
			{"fail a failed card", e.fail, failed, card.Canceled},
		} {
			before, err := e.svc.Get(t.Context(), org, tc.c.Token)
			if err != nil {
				t.Fatal(err)
			}
			_, err = tc.settle(t.Context(), org, tc.c.Token)
			var ce *card.ConflictError
			if !errors.As(err, &ce) || !errors.Is(err, card.ErrConflict) || ce.Status != tc.status || ce.Operation != card.Issuance.String() || ce.CardID != tc.c.ID {
				t.Errorf("%s: %v, want a conflict of issuance in status %s", tc.name, err, tc.status)
			}
			after, _ := e.svc.Get(t.Context(), org, tc.c.Token)
			if after.Version != before.Version || after.PANHash != before.PANHash {
				t.Errorf("%s changed the card: version %d -> %d", tc.name, before.Version, after.Version)
			}
		}
		if evs, _ := cardEvents(t, e); len(evs) != 4 {
			t.Errorf("%d events, want 2 create-1 and 2 update-1", len(evs))
		}
	})
}

func TestUnknownCards(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		c := mustCreate(t, e, card.Virtual, "")
		for _, tc := range []struct {
			name, org, token string
			want             error
		}{
			{"a token with no card", org, uuid.NewString(), card.ErrNotFound},
			{"a card of another org", "org-2", c.Token, card.ErrNotFound},
			{"a token that is not a UUID", org, "card-1", card.ErrInvalid},
		} {
			for op, f := range map[string]func(ctx context.Context, org, token string) (card.Card, error){
				"Get": e.svc.Get, "Issue": e.issue, "Fail": e.fail,
			} {
				if _, err := f(t.Context(), tc.org, tc.token); !errors.Is(err, tc.want) {
					t.Errorf("%s of %s: %v, want %v", op, tc.name, err, tc.want)
				}
			}
		}
		if got, _ := e.svc.Get(t.Context(), org, c.Token); got.Status != card.Pending || got.Version != 1 {
			t.Errorf("the card changed: %s v%d", got.Status, got.Version)
		}
	})
}

// A PENDING card that already has PCI data keeps it when issued: a PAN is
// never replaced.
func TestIssueKeepsExistingPCIData(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		zero := 0
		c := card.Card{OrgID: org, ProgramID: 1, AccountID: account, CustomerID: account,
			Type: card.Virtual, Mode: card.Credit, Status: card.Pending, Name: "kept",
			Brand: card.Amex, BIN: "371234", Last4: "0005", PANHash: strings.Repeat("ab", 32),
			IssuingDate: t0, TrackNumber: 1, PINLength: 4, CVVRotationIntervalHours: &zero,
			Version: 1, CreatedAt: t0, UpdatedAt: t0}
		if err := e.store.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
			return tx.Save(ctx, &c, events.Created(card.Create, t0))
		}); err != nil {
			t.Fatal(err)
		}
		got, err := e.issue(t.Context(), org, c.Token)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != card.Normal || got.PANHash != c.PANHash || got.Last4 != "0005" || got.BIN != "371234" || got.Brand != card.Amex {
			t.Errorf("issued card: %s %s %s %s %s", got.Status, got.Brand, got.BIN, got.Last4, got.PANHash)
		}
	})
}

// failingProvisioner cannot issue PCI data.
type failingProvisioner struct{}

var errNoNetwork = errors.New("the card network is down")

func (failingProvisioner) Provision(context.Context, *card.Card, card.Program) error {
	return errNoNetwork
}

// A provisioning failure fails the issue: the card stays PENDING and no
// event is written.
func TestProvisionFailureWritesNothing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, failingProvisioner{})
		c := mustCreate(t, e, card.Virtual, "")
		if _, err := e.issue(t.Context(), org, c.Token); !errors.Is(err, errNoNetwork) {
			t.Errorf("Issue: %v, want the provisioner's error", err)
		}
		got, err := e.svc.Get(t.Context(), org, c.Token)
		if err != nil || got.Status != card.Pending || got.Version != 1 || got.PANHash != "" {
			t.Errorf("after the failed issue: %+v, %v", got, err)
		}
		if evs, _ := cardEvents(t, e); len(evs) != 1 {
			t.Errorf("%d events, want the create-1 only", len(evs))
		}
	})
}

func TestNewNeedsItsDependencies(t *testing.T) {
	if _, err := issuance.New(nil, nil, nil); err == nil {
		t.Error("New(nil, nil, nil) succeeded")
	}
}
