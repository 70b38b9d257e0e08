package cardcore_test

import (
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cardcore/cardcore"
	"github.com/cardcore/cardcore/adapters/bunstore"
	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/issuance"
	"github.com/cardcore/cardcore/lifecycle"
	"github.com/uptrace/bun"
)

const org = "org-1"

// quiet keeps New's log lines out of the test output.
var quiet = cardcore.WithLogger(slog.New(slog.DiscardHandler))

// fresh returns an empty database of kind with no migration applied.
func fresh(t *testing.T, kind string) *bun.DB {
	t.Helper()
	if kind == "sqlite" {
		return testdb.SQLite(t, filepath.Join(t.TempDir(), "cardcore.db"))
	}
	return testdb.Postgres(t)
}

// eachFresh runs f on a fresh database of every kind.
func eachFresh(t *testing.T, f func(t *testing.T, db *bun.DB)) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) { f(t, fresh(t, kind)) })
	}
}

// virtual is a request for a VIRTUAL card of account.
func virtual(account, name string) lifecycle.CreateRequest {
	never := 0
	return lifecycle.CreateRequest{OrgID: org, AccountID: account, CustomerID: "cust-" + account,
		Type: card.Virtual, Name: name, CVVRotationIntervalHours: &never}
}

// New on an empty database applies the migrations and returns every use
// case ready to call; Issuance only with WithIssuance.
func TestNew(t *testing.T) {
	eachFresh(t, func(t *testing.T, db *bun.DB) {
		cc, err := cardcore.New(t.Context(), db, quiet)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cc.Close() })
		if pending, err := bunstore.Pending(t.Context(), db); err != nil || len(pending) != 0 {
			t.Errorf("after New: pending migrations %v, %v", pending, err)
		}
		if cc.Cards == nil || cc.Reissue == nil || cc.Noname == nil || cc.Sync == nil || cc.Store == nil {
			t.Fatalf("New left a use case unset: %+v", cc)
		}
		if cc.Issuance != nil {
			t.Error("Issuance is set without WithIssuance")
		}
		c, err := cc.Cards.Create(t.Context(), virtual("acct-1", "online"))
		if err != nil || c.ID == 0 || c.Status != card.Normal {
			t.Fatalf("create: card %d %s, %v", c.ID, c.Status, err)
		}
		evs, err := cc.Store.Feed(t.Context(), org, 0, 10)
		if err != nil || len(evs) != 1 || evs[0].CardID != c.ID {
			t.Errorf("feed: %v, %v; want the card's create-1", evs, err)
		}
		// A second New on the same database finds nothing to apply.
		if _, err := cardcore.New(t.Context(), db, quiet); err != nil {
			t.Errorf("New again: %v", err)
		}
	})
}

func TestNewOptions(t *testing.T) {
	db := fresh(t, "sqlite")
	at := time.Date(2030, time.May, 4, 3, 2, 1, 0, time.UTC)
	pans, err := issuance.NewHMACProvisioner([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	cc, err := cardcore.New(t.Context(), db, quiet, cardcore.WithClock(func() time.Time { return at }),
		cardcore.WithPrograms(card.Program{ID: 2, BIN: "12345678", Brand: card.Visa}),
		cardcore.WithIssuance(pans), cardcore.WithSweepBatch(7))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	if _, err := cc.Cards.Programs().Lookup(2); err != nil {
		t.Errorf("program 2: %v", err)
	}
	if _, err := cc.Cards.Programs().Lookup(card.DefaultProgramID); err != nil {
		t.Errorf("program 1 is gone: %v", err)
	}
	if cc.Issuance == nil {
		t.Error("Issuance is nil with WithIssuance")
	}
	c, err := cc.Cards.Create(t.Context(), virtual("acct-1", "online"))
	if err != nil || !c.CreatedAt.Equal(at) {
		t.Errorf("create: created at %v, %v; want the clock's %v", c.CreatedAt, err, at)
	}

	for _, tc := range []struct {
		name string
		opts []cardcore.Option
		msg  string
	}{
		{"an invalid program", []cardcore.Option{cardcore.WithPrograms(card.Program{ID: 3, BIN: "12"})}, "bin"},
		{"a sweep batch of 0", []cardcore.Option{cardcore.WithSweepBatch(0)}, "sweep batch"},
		{"an unknown migration mode", []cardcore.Option{cardcore.WithMigrations(cardcore.MigrationMode(9))}, "migration mode"},
	} {
		if _, err := cardcore.New(t.Context(), db, append(tc.opts, quiet)...); err == nil || !strings.Contains(strings.ToLower(err.Error()), tc.msg) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.msg)
		}
	}
	if _, err := cardcore.New(t.Context(), nil); err == nil {
		t.Error("New without a database succeeded")
	}
}

// CheckMigrations fails on a database with migrations to apply, naming
// them, and passes once they are applied; SkipMigrations neither applies
// nor checks them.
func TestMigrationModes(t *testing.T) {
	eachFresh(t, func(t *testing.T, db *bun.DB) {
		pending, err := bunstore.Pending(t.Context(), db)
		if err != nil || len(pending) == 0 {
			t.Fatalf("a fresh database has pending migrations %v, %v; want some", pending, err)
		}
		_, err = cardcore.New(t.Context(), db, quiet, cardcore.WithMigrations(cardcore.CheckMigrations))
		if !errors.Is(err, cardcore.ErrMigrationsPending) {
			t.Fatalf("check on a fresh database: %v, want ErrMigrationsPending", err)
		}
		for _, name := range pending {
			if !strings.Contains(err.Error(), name) {
				t.Errorf("the error %q does not name migration %s", err, name)
			}
		}
		if _, err := cardcore.New(t.Context(), db, quiet, cardcore.WithMigrations(cardcore.SkipMigrations)); err != nil {
			t.Fatalf("skip: %v", err)
		}
		if after, err := bunstore.Pending(t.Context(), db); err != nil || len(after) != len(pending) {
			t.Errorf("after skip: pending %v, %v; want all of %v still pending", after, err, pending)
		}
		if err := bunstore.Migrate(t.Context(), db); err != nil {
			t.Fatal(err)
		}
		cc, err := cardcore.New(t.Context(), db, quiet, cardcore.WithMigrations(cardcore.CheckMigrations))
		if err != nil {
			t.Fatalf("check after migrating: %v", err)
		}
		t.Cleanup(func() { _ = cc.Close() })
		if _, err := cc.Cards.Create(t.Context(), virtual("acct-1", "online")); err != nil {
			t.Errorf("create: %v", err)
		}
	})
}
