package testdb

import (
	"slices"
	"testing"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// Schema describes the tables, columns, indexes and constraints of db (on
// PostgreSQL, of its current schema), one line each, sorted and free of
// the schema's name, so that two databases migrated apart compare equal
// when their schemas are the same.
func Schema(t testing.TB, db *bun.DB) []string {
	t.Helper()
	queries := []string{"SELECT type || ' ' || name || ': ' || coalesce(sql, '') FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"}
	if db.Dialect().Name() == dialect.PG {
		queries = []string{
			`SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' null=' || is_nullable ||
				' default=' || coalesce(column_default, '') FROM information_schema.columns WHERE table_schema = current_schema()`,
			`SELECT 'index ' || indexname || ': ' || replace(indexdef, quote_ident(current_schema()) || '.', '')
				FROM pg_indexes WHERE schemaname = current_schema()`,
			`SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ': ' || pg_get_constraintdef(oid)
				FROM pg_constraint WHERE connamespace = current_schema()::regnamespace`,
		}
	}
	var lines []string
	for _, q := range queries {
		var part []string
		if err := db.NewRaw(q).Scan(t.Context(), &part); err != nil {
			t.Fatalf("read the schema: %v", err)
		}
		lines = append(lines, part...)
	}
	slices.Sort(lines)
	return lines
}
