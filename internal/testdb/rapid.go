package testdb

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/cardcore/cardcore/adapters/bunstore"
	"github.com/uptrace/bun"
	"pgregory.net/rapid"
)

// Checks runs prop as a rapid property on every database, as Each does.
// On SQLite each check gets a fresh file and the org sqliteOrg; on
// PostgreSQL the checks share one schema and each gets an org of its own,
// whose rows are deleted when the check ends (the sweep and the outbox are
// not scoped by org, so checks must not see each other's rows).
func Checks(t *testing.T, sqliteOrg string, prop func(rt *rapid.T, db *bun.DB, org string)) {
	t.Run("sqlite", func(t *testing.T) {
		dir, n := t.TempDir(), 0
		rapid.Check(t, func(rt *rapid.T) {
			n++
			path := filepath.Join(dir, fmt.Sprintf("check-%d.db", n))
			db := SQLite(t, path)
			rt.Cleanup(func() {
				db.Close()
				for _, suffix := range []string{"", "-wal", "-shm"} {
					os.Remove(path + suffix)
				}
			})
			if err := bunstore.Migrate(context.Background(), db); err != nil {
				rt.Fatalf("migrate: %v", err)
			}
			prop(rt, db, sqliteOrg)
		})
	})
	t.Run("postgres", func(t *testing.T) {
		db, n := Open(t, "postgres"), 0
		rapid.Check(t, func(rt *rapid.T) {
			n++
			org := fmt.Sprintf("model-%d", n)
			rt.Cleanup(func() { deleteOrg(t, db, org) })
			prop(rt, db, org)
		})
	})
}

// deleteOrg removes every row of org from the store's tables.
func deleteOrg(t *testing.T, db *bun.DB, org string) {
	ctx := context.Background()
	if _, err := db.NewRaw("DELETE FROM cardcore_bulk_external_ids WHERE bulk_id IN (SELECT id FROM cardcore_bulks WHERE org_id = ?)", org).Exec(ctx); err != nil {
		t.Errorf("clean external ids of %s: %v", org, err)
	}
	for _, table := range []string{"cardcore_cards", "cardcore_outbox", "cardcore_idempotency", "cardcore_reasons", "cardcore_bulks"} {
		if _, err := db.NewDelete().TableExpr(table).Where("org_id = ?", org).Exec(ctx); err != nil {
			t.Errorf("clean %s of %s: %v", table, org, err)
		}
	}
}
