package bunstore_test

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cardcore/cardcore/adapters/bunstore"
	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/storage"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
)

func TestMigrateTwiceAndOwnTable(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		if err := bunstore.Migrate(t.Context(), db); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		var n int
		if err := db.NewSelect().Table(bunstore.MigrationTable).ColumnExpr("count(*)").Scan(t.Context(), &n); err != nil {
			t.Fatalf("read %s: %v", bunstore.MigrationTable, err)
		}
		if ups := embedded(t, db); n != len(ups) || n < 2 {
			t.Fatalf("%s holds %d migrations, want the %d embedded ones", bunstore.MigrationTable, n, len(ups))
		}
		exists, err := db.NewSelect().Table("bun_migrations").ColumnExpr("1").Exists(t.Context())
		if err == nil || exists {
			t.Fatalf("bun_migrations must not be created by the store (exists=%v, err=%v)", exists, err)
		}
	})
}

func TestNewRefusesSQLiteWithoutBusyTimeout(t *testing.T) {
	sqldb, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	db := bun.NewDB(sqldb, sqlitedialect.New())
	defer db.Close()
	if _, err := bunstore.New(t.Context(), db); err == nil {
		t.Fatal("New accepted a SQLite connection without busy timeout")
	}
}

// A failing statement inside Update leaves no transaction open on the
// connection: the next Update on a one-connection pool works.
func TestFailedTransactionReleasesConnection(t *testing.T) {
	db := testdb.Open(t, "sqlite")
	db.SetMaxOpenConns(1)
	s, err := bunstore.New(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	boom := errors.New("boom")
	for range 3 {
		err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error { return boom })
		if !errors.Is(err, boom) {
			t.Fatalf("Update returned %v, want the function's error", err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	err = s.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
		cancel()
		_, err := tx.Card(ctx, "org", 1)
		return err
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled Update returned %v, want context.Canceled", err)
	}
	if _, err := s.Card(t.Context(), "org", 1); !errors.Is(err, card.ErrNotFound) {
		t.Fatalf("after failures, Card = %v, want not found", err)
	}
	// Canceled once the change is written (SQLite runs the statements
	// after the write lock without ctx's cancellation): nothing commits.
	ctx, cancel = context.WithCancel(t.Context())
	c := validCard(testNow())
	err = s.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
		if err := tx.Save(ctx, &c, created); err != nil {
			return err
		}
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Update canceled after its save returned %v, want context.Canceled", err)
	}
	if n, err := s.Head(t.Context()); err != nil || n != 0 {
		t.Fatalf("after a canceled save the feed's head is %d (%v), want 0: the save committed", n, err)
	}
	if _, err := s.Card(t.Context(), "org", c.ID); c.ID != 0 && !errors.Is(err, card.ErrNotFound) {
		t.Fatalf("after a canceled save, Card = %v, want not found", err)
	}
	if err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error { return nil }); err != nil {
		t.Fatalf("Update after failures: %v", err)
	}
}

// A unique violation comes back as a card conflict that names the rule, and
// no driver error type can be reached through it.
func TestUniqueViolationIsConflictWithoutDriverError(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		s := newStore(t, db)
		now := testNow()
		first := validCard(now)
		if err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error { return tx.Save(ctx, &first, created) }); err != nil {
			t.Fatal(err)
		}
		dup := validCard(now)
		dup.Token = first.Token
		err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error { return tx.Save(ctx, &dup, created) })
		var ce *card.ConflictError
		if !errors.As(err, &ce) || ce.Reason != "the card token is already used" {
			t.Fatalf("duplicate token: %v, want a conflict naming the token rule", err)
		}
		var pg interface{ SQLState() string }
		var lite interface{ Code() int }
		if errors.As(err, &pg) || errors.As(err, &lite) {
			t.Fatalf("driver error type leaked through %v", err)
		}
	})
}

// Pending lists every embedded migration of a database the store never
// migrated, without writing to it, none once Migrate ran, and a migration
// whose record is gone.
func TestPendingMigrations(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			var db *bun.DB
			if kind == "sqlite" {
				db = testdb.SQLite(t, filepath.Join(t.TempDir(), "fresh.db"))
			} else {
				db = testdb.Postgres(t)
			}
			ctx := t.Context()
			all := embedded(t, db)
			pending := func() []string {
				t.Helper()
				names, err := bunstore.Pending(ctx, db)
				if err != nil {
					t.Fatalf("Pending: %v", err)
				}
				return names
			}
			if got := pending(); !slices.Equal(got, all) {
				t.Errorf("Pending of a fresh database: %v, want every migration %v", got, all)
			}
			if _, err := db.NewSelect().Table(bunstore.MigrationTable).Exists(ctx); err == nil {
				t.Errorf("Pending of a fresh database created %s", bunstore.MigrationTable)
			}
			if err := bunstore.Migrate(ctx, db); err != nil {
				t.Fatal(err)
			}
			if got := pending(); len(got) != 0 {
				t.Errorf("Pending after Migrate: %v, want none", got)
			}
			last := all[len(all)-1]
			if _, err := db.NewDelete().Table(bunstore.MigrationTable).Where("name = ?", strings.SplitN(last, "_", 2)[0]).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			if got := pending(); !slices.Equal(got, []string{last}) {
				t.Errorf("Pending once the record of %s is gone: %v", last, got)
			}
		})
	}
}

// embedded returns the names of the store's migrations for db's dialect, as
// their files name them (e.g. "20261122000001_cards"), in order.
func embedded(t *testing.T, db *bun.DB) []string {
	t.Helper()
	files, err := bunstore.Migrations(db.Dialect().Name())
	if err != nil {
		t.Fatal(err)
	}
	ups, err := fs.Glob(files, "*.up.sql")
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(ups))
	for i, up := range ups {
		names[i] = strings.TrimSuffix(strings.TrimSuffix(up, ".up.sql"), ".tx")
	}
	return names
}
