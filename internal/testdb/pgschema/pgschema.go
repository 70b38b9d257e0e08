// Package pgschema gives a test a schema of its own in the PostgreSQL
// database of the tests. It imports no cardcore package, so that every
// test can use it, the store's own in-package tests included (package
// testdb, which builds on it, imports the store).
package pgschema

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
)

// Env names the variable holding the PostgreSQL DSN of the tests.
const Env = "CARDCORE_TEST_PG_DSN"

// URL creates a fresh schema, named prefix and a random suffix, in the
// PostgreSQL database named by CARDCORE_TEST_PG_DSN, dropped when t ends,
// and returns the DSN with the schema as its search_path. It skips t when
// the variable is unset.
func URL(t testing.TB, prefix string) string {
	t.Helper()
	dsn := os.Getenv(Env)
	if dsn == "" {
		t.Skipf("PostgreSQL tests skipped: set %s (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", Env)
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := prefix + hex.EncodeToString(b)
	if _, err := admin.ExecContext(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("PostgreSQL at %s is unreachable: %v", Env, err)
	}
	t.Cleanup(func() {
		if drop, err := sql.Open("pgx", dsn); err == nil {
			_, _ = drop.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			drop.Close()
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
