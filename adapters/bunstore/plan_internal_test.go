package bunstore

import (
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	_ "modernc.org/sqlite" // registers "sqlite"
)

// The sweep reads due cards through the partial indexes, not by scanning
// the table: the query plans name the indexes on both databases.
func TestDueQueriesUseTheirIndexes(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			db := openForPlan(t, kind)
			now := time.Date(2030, 1, 15, 0, 0, 0, 0, time.UTC)
			var rows []cardRow
			for name, q := range map[string]*bun.SelectQuery{
				"cardcore_cards_expiry":   expiredQuery(db, &rows, now, 500),
				"cardcore_cards_validity": elapsedQuery(db, &rows, now, 500),
			} {
				explain := "EXPLAIN QUERY PLAN "
				if kind == "postgres" {
					explain = "EXPLAIN "
					// A near-empty table makes a sequential scan the best plan;
					// ask for the plan the indexes give.
					if _, err := db.ExecContext(t.Context(), "SET enable_seqscan = off"); err != nil {
						t.Fatal(err)
					}
				}
				plan := explainLines(t, db, explain+q.String())
				if !strings.Contains(plan, name) {
					t.Errorf("plan of %s does not use %s:\n%s", q.String(), name, plan)
				}
			}
		})
	}
}

// The card lookups of the sync and sandbox APIs read through their
// indexes: a synced card by its key, any card by its token.
func TestLookupQueriesUseTheirIndexes(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			db := openForPlan(t, kind)
			var r cardRow
			explain := "EXPLAIN QUERY PLAN "
			if kind == "postgres" {
				explain = "EXPLAIN "
				// With no statistics every index looks alike to the planner;
				// give it an org of many cards, as a real one has.
				if _, err := db.ExecContext(t.Context(), `INSERT INTO cardcore_cards
  (token, org_id, program_id, account_id, customer_id, type, mode, status, name, issuing_date, track_number, pin_length, contactless_enabled, version, created_at, updated_at)
  SELECT gen_random_uuid()::text, 'org', 1, 'acct-' || (i % 50), 'cust', 'PLASTIC', 'CREDIT', 'NORMAL', 'PLASTIC', now(), 1, 4, true, 1, now(), now()
  FROM generate_series(1, 2000) AS i`); err != nil {
					t.Fatal(err)
				}
				if _, err := db.ExecContext(t.Context(), "ANALYZE cardcore_cards"); err != nil {
					t.Fatal(err)
				}
			}
			for name, q := range map[string]*bun.SelectQuery{
				"cardcore_cards_synced": syncedQuery(db, &r, "org", "acct", "cust", "1234"),
				"cardcore_cards_token":  tokenQuery(db, &r, "org", "0b7e4a52-6f0e-4c2a-9d51-3a8e5f0c1d22"),
			} {
				plan := explainLines(t, db, explain+q.String())
				if !strings.Contains(plan, name) {
					t.Errorf("plan of %s does not use %s:\n%s", q.String(), name, plan)
				}
			}
		})
	}
}

func explainLines(t *testing.T, db *bun.DB, query string) string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var b strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			switch v := v.(type) {
			case string:
				b.WriteString(v + " ")
			case []byte:
				b.Write(v)
				b.WriteString(" ")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// openForPlan opens a migrated database of kind. The package's own tests
// cannot use internal/testdb, which imports this package.
func openForPlan(t *testing.T, kind string) *bun.DB {
	t.Helper()
	var db *bun.DB
	switch kind {
	case "sqlite":
		sqldb, err := sql.Open("sqlite", ModerncDSN(filepath.Join(t.TempDir(), "plan.db")))
		if err != nil {
			t.Fatal(err)
		}
		db = bun.NewDB(sqldb, sqlitedialect.New())
	default:
		dsn := os.Getenv("CARDCORE_TEST_PG_DSN")
		if dsn == "" {
			t.Skip("PostgreSQL tests skipped: set CARDCORE_TEST_PG_DSN")
		}
		schema := fmt.Sprintf("cardcore_plan_%d", time.Now().UnixNano())
		admin, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close()
		if _, err := admin.ExecContext(t.Context(), "CREATE SCHEMA "+schema); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if drop, err := sql.Open("pgx", dsn); err == nil {
				_, _ = drop.Exec("DROP SCHEMA " + schema + " CASCADE")
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
		sqldb, err := sql.Open("pgx", u.String())
		if err != nil {
			t.Fatal(err)
		}
		sqldb.SetMaxOpenConns(1) // the SET of the test applies to its one connection
		db = bun.NewDB(sqldb, pgdialect.New())
	}
	t.Cleanup(func() { db.Close() })
	if err := Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	return db
}
