package bunstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/testdb/pgschema"
	"github.com/cardcore/cardcore/storage"
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

// storeForPlan returns a store over a database of openForPlan.
func storeForPlan(t *testing.T, kind string) (*Store, *bun.DB) {
	t.Helper()
	db := openForPlan(t, kind)
	s, err := New(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	return s, db
}

// openForPlan opens a migrated database of kind. The package's own tests
// cannot use internal/testdb, which imports this package; they can use
// its pgschema.
func openForPlan(t testing.TB, kind string) *bun.DB {
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
		sqldb, err := sql.Open("pgx", pgschema.URL(t, "cardcore_plan_"))
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

// A status change that keeps a card in the same sets (NORMAL <-> BLOCKED,
// the commonest write) rewrites no index: on SQLite the UPDATE's program
// writes no index entry, and on PostgreSQL the row is updated in place
// (a heap-only tuple).
func TestStatusChangeTouchesNoIndex(t *testing.T) {
	cols := statusChangeColumns(t)
	t.Run("sqlite", func(t *testing.T) {
		db := openForPlan(t, "sqlite")
		q := sqlText{}.updateCard(cols)
		rows, err := db.DB.QueryContext(t.Context(), "EXPLAIN "+q, 1, 2, 3, 4, 5, 6, 7) // bound, not formatted by bun
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var addr, p1, p2, p3 int64
			var opcode string
			var p4, p5, comment any
			if err := rows.Scan(&addr, &opcode, &p1, &p2, &p3, &p4, &p5, &comment); err != nil {
				t.Fatal(err)
			}
			switch opcode {
			case "IdxInsert", "IdxDelete", "OpenEphemeral":
				t.Errorf("%s: opcode %s at %d", q, opcode, addr)
			}
		}
	})
	t.Run("postgres", func(t *testing.T) {
		db := openForPlan(t, "postgres")
		ctx := t.Context()
		if _, err := db.ExecContext(ctx, `INSERT INTO cardcore_cards
  (token, org_id, program_id, type, mode, status, name, issuing_date, expiration_date, valid_until, track_number, pin_length, contactless_enabled, version, created_at, updated_at, expiry_due, validity_due)
  VALUES ('t', 'org', 1, 'TEMPORARY', 'CREDIT', 'NORMAL', 'x', now(), '2031-01-01', '2030-01-01', 1, 4, true, 1, now(), now(), '2031-01-01', '2030-01-01')`); err != nil {
			t.Fatal(err)
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		d := sqlText{pg: true}
		res, err := tx.Tx.ExecContext(ctx, d.updateCard(cols), "BLOCKED", "NORMAL", 2, d.time(time.Now(), false), 1, "org", 1)
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			t.Fatalf("updated %d rows", n)
		}
		var hot, all int64
		if err := tx.QueryRowContext(ctx, `SELECT pg_stat_get_xact_tuples_hot_updated('cardcore_cards'::regclass),
  pg_stat_get_xact_tuples_updated('cardcore_cards'::regclass)`).Scan(&hot, &all); err != nil {
			t.Fatal(err)
		}
		if all != 1 || hot != 1 {
			t.Errorf("updates %d, of which heap-only %d; want 1 and 1", all, hot)
		}
	})
}

// statusChangeColumns are the columns a save of NORMAL -> BLOCKED writes.
func statusChangeColumns(t *testing.T) []int {
	t.Helper()
	old := cardRow{Status: "NORMAL", Type: "TEMPORARY", Version: 1}
	nu := old
	nu.Status, nu.PreviousStatus, nu.Version, nu.UpdatedAt = "BLOCKED", "NORMAL", 2, time.Now()
	cols := changedColumns(&old, &nu)
	if len(cols) != 4 {
		t.Fatalf("columns %v", cols)
	}
	return cols
}

// Finding a bulk's UNBOUND cards reads the bulk's index.
func TestUnboundCardsUseTheirIndex(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			db := openForPlan(t, kind)
			explain := "EXPLAIN QUERY PLAN "
			if kind == "postgres" {
				explain = "EXPLAIN "
				if _, err := db.ExecContext(t.Context(), "SET enable_seqscan = off"); err != nil {
					t.Fatal(err)
				}
			}
			var rows []cardRow
			q := unboundQuery(db, &rows, "org", "bulk", nil, 0, 100)
			if plan := explainLines(t, db, explain+q.String()); !strings.Contains(plan, "cardcore_cards_bulk_status") {
				t.Errorf("plan of %s does not use cardcore_cards_bulk_status:\n%s", q.String(), plan)
			}
		})
	}
}

// Migration 5 fills the derived keys of existing cards as derive does for
// new ones: for every type and status, a card stored without its keys gets
// from the migration's UPDATE the keys rowOf gives it.
func TestDerivedKeysBackfill(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			db := openForPlan(t, kind)
			ctx := t.Context()
			files, err := Migrations(db.Dialect().Name())
			if err != nil {
				t.Fatal(err)
			}
			up, err := fs.ReadFile(files, "20261122000005_index_keys.tx.up.sql")
			if err != nil {
				t.Fatal(err)
			}
			var backfill string
			for _, stmt := range strings.Split(string(up), "--bun:split") {
				if strings.HasPrefix(strings.TrimSpace(stmt), "UPDATE") {
					backfill = stmt
				}
			}
			now := time.Date(2030, 1, 15, 0, 0, 0, 0, time.UTC)
			var want []cardRow
			for _, typ := range card.Types() {
				for _, st := range card.Statuses() {
					for _, bulk := range []string{"", "b1"} {
						c := card.Card{OrgID: "org", Token: fmt.Sprintf("%s-%s-%s", typ, st, bulk), Type: typ, Status: st,
							Mode: card.Credit, Name: fmt.Sprintf("n%d", len(want)), BulkID: bulk, IssuingDate: now,
							ExpirationDate: now.AddDate(1, 0, 0), ValidUntil: now.AddDate(0, 1, 0), Version: 1,
							CreatedAt: now, UpdatedAt: now}
						if bulk != "" {
							c.ExternalID = c.Token
						}
						r := rowOf(&c)
						want = append(want, r)
						bare := r
						bare.ExpiryDue, bare.ValidityDue, bare.AliasKey, bare.BulkStatus = time.Time{}, time.Time{}, "", ""
						if _, err := db.NewInsert().Model(&bare).Exec(ctx); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			if _, err := db.DB.ExecContext(ctx, backfill); err != nil {
				t.Fatal(err)
			}
			var got []cardRow
			if err := db.NewSelect().Model(&got).OrderExpr("id").Scan(ctx); err != nil {
				t.Fatal(err)
			}
			for i, g := range got {
				w := want[i]
				if !g.ExpiryDue.Equal(w.ExpiryDue) || !g.ValidityDue.Equal(w.ValidityDue) || g.AliasKey != w.AliasKey || g.BulkStatus != w.BulkStatus {
					t.Errorf("%s: backfilled (%v, %v, %q, %q), derive gives (%v, %v, %q, %q)", w.Token,
						g.ExpiryDue, g.ValidityDue, g.AliasKey, g.BulkStatus, w.ExpiryDue, w.ValidityDue, w.AliasKey, w.BulkStatus)
				}
			}
		})
	}
}

// A card read in a transaction is remembered with its derived keys, so a
// save writes them only when they change; a card the transaction inserted
// is remembered as stored.
func TestLoadedRowHasDerivedKeys(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			s, _ := storeForPlan(t, kind)
			ctx := t.Context()
			now := time.Date(2030, 1, 15, 0, 0, 0, 0, time.UTC)
			c := card.Card{OrgID: "org", Type: card.Virtual, Status: card.Normal, Mode: card.Credit, Name: "alias",
				IssuingDate: now, ExpirationDate: now.AddDate(1, 0, 0), ValidUntil: now.AddDate(0, 1, 0),
				TrackNumber: 1, PINLength: 4, Version: 1, CreatedAt: now, UpdatedAt: now}
			err := s.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
				if err := tx.Save(ctx, &c, events.Created(card.Create, now)); err != nil {
					return err
				}
				inserted := tx.(*txn).loaded[c.ID]
				got, err := tx.Card(ctx, "org", c.ID)
				if err != nil {
					return err
				}
				loaded := tx.(*txn).loaded[c.ID]
				for _, col := range cardTable {
					if !col.same(&inserted, &loaded) {
						t.Errorf("the row remembered by the insert has %s = %v, the stored one %v", col.name, col.arg(s.q.text, &inserted), col.arg(s.q.text, &loaded))
					}
				}
				want := rowOf(&got)
				if loaded.AliasKey != "alias" || !loaded.ExpiryDue.Equal(want.ExpiryDue) || !loaded.ValidityDue.Equal(want.ValidityDue) || loaded.BulkStatus != "" {
					t.Errorf("loaded keys (%q, %v, %v, %q), want those of %+v", loaded.AliasKey, loaded.ExpiryDue, loaded.ValidityDue, loaded.BulkStatus, want)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// On SQLite a write transaction queues for the store's writer slot; one
// whose context ends while it waits returns the context's error and never
// runs.
func TestWriterQueueHonoursContext(t *testing.T) {
	s, _ := storeForPlan(t, "sqlite")
	s.writer <- struct{}{} // another transaction holds the lock
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	ran := false
	err := s.Update(ctx, func(context.Context, storage.Tx) error { ran = true; return nil })
	if !errors.Is(err, context.DeadlineExceeded) || ran {
		t.Errorf("Update = %v, ran %v; want the deadline error, not run", err, ran)
	}
	<-s.writer
	if err := s.Update(t.Context(), func(context.Context, storage.Tx) error { ran = true; return nil }); err != nil || !ran {
		t.Errorf("Update after the lock is free = %v, ran %v", err, ran)
	}
}

// A store bound to a host's transaction does not queue for the store's
// writer slot: the host's transaction holds SQLite's write lock already,
// and the transaction holding the slot may be waiting for it.
func TestInTxTakesNoWriterSlot(t *testing.T) {
	s, db := storeForPlan(t, "sqlite")
	tx, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // rolled back once the check is done
	// Another transaction of the store holds the slot, waiting for
	// SQLite's lock.
	s.writer <- struct{}{}
	defer func() { <-s.writer }()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	err = s.InTx(tx).Update(ctx, func(ctx context.Context, tx storage.Tx) error {
		c := card.Card{OrgID: "org", Type: card.Plastic, Status: card.Created, Mode: card.Credit, Name: "PLASTIC",
			Version: 1, PINLength: 4, TrackNumber: 1}
		return tx.Save(ctx, &c, events.Created(card.Create, time.Now()))
	})
	if err != nil {
		t.Errorf("Update of the bound store while the writer slot is taken: %v", err)
	}
}

// An org that PostgreSQL's statistics do not know yet (one whose cards
// came after the last ANALYZE, as a new issuer's first bulk does) looks to
// the planner like an org of one card. No index may then look as cheap
// for it as the one the query needs: an index that leads with org_id
// would be read through all the org's entries for every card (a card read
// on the 1,200,000-card bench database took 33 ms instead of 0.8 that
// way, reading the new org's 100,000 entries of cardcore_cards_account).
// The card's read by id, by token, a bulk's UNBOUND cards and the due
// sweeps read their own indexes for such an org.
func TestQueriesOfANewOrgUseTheirIndexes(t *testing.T) {
	db := openForPlan(t, "postgres")
	ctx := t.Context()
	insert := func(org string, bulk string) {
		t.Helper()
		if _, err := db.ExecContext(ctx, `INSERT INTO cardcore_cards
  (token, org_id, program_id, account_id, customer_id, type, mode, status, name, issuing_date, expiration_date, expiry_due,
   track_number, pin_length, contactless_enabled, version, created_at, updated_at, bulk_id, external_id, bulk_status)
  SELECT gen_random_uuid()::text, ?, 1, 'acct-' || (i % 50), 'cust', 'PLASTIC', 'CREDIT', 'UNBOUND', 'PLASTIC', now(), e, e,
   1, 4, true, 1, now(), now(), ?, i::text, 'UNBOUND'
  FROM generate_series(1, 20000) AS i,
   LATERAL (SELECT CASE WHEN i % 100 = 0 THEN now() - interval '2 months' ELSE now() + interval '3 years' END AS e) AS x`, org, bulk); err != nil {
			t.Fatal(err)
		}
	}
	insert("known", "bulk-known")
	if _, err := db.ExecContext(ctx, "ANALYZE cardcore_cards"); err != nil {
		t.Fatal(err)
	}
	insert("new", "bulk-new")
	var id int64
	var token string
	if err := db.QueryRowContext(ctx, "SELECT id, token FROM cardcore_cards WHERE org_id = 'new' ORDER BY id DESC LIMIT 1").Scan(&id, &token); err != nil {
		t.Fatal(err)
	}
	var r cardRow
	var rows []cardRow
	now := time.Now() // one card in a hundred expired
	for _, c := range []struct {
		query, index string
	}{
		// the store's prepared read, with the values PostgreSQL plans its
		// first executions (custom plans) with
		{strings.NewReplacer("$1", "'new'", "$2", strconv.FormatInt(id, 10)).Replace(newQueries(true).card), "cardcore_cards_pkey"},
		{strings.NewReplacer("$1", "'new'", "$2", strconv.FormatInt(id, 10)).Replace(newQueries(true).cardLocked), "cardcore_cards_pkey"},
		{tokenQuery(db, &r, "new", token).String(), "cardcore_cards_token"},
		{unboundQuery(db, &rows, "new", "bulk-new", nil, 0, 100).String(), "cardcore_cards_bulk_status"},
		{expiredQuery(db, &rows, now, 500).Where("org_id = ?", "new").String(), "cardcore_cards_expiry"},
	} {
		if plan := explainLines(t, db, "EXPLAIN "+c.query); !strings.Contains(plan, c.index) {
			t.Errorf("plan of %s does not use %s:\n%s", c.query, c.index, plan)
		}
	}
}

// On SQLite, where cardcore_cards_account still leads with org_id, a card
// read by id looks the card up by its rowid, whatever ANALYZE recorded:
// SQLite's statistics have no per-value counts that could make an org
// look like one of a single card.
func TestCardReadUsesTheRowidSQLite(t *testing.T) {
	db := openForPlan(t, "sqlite")
	ctx := t.Context()
	if _, err := db.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
INSERT INTO cardcore_cards (token, org_id, program_id, account_id, customer_id, type, mode, status, name, issuing_date,
  track_number, pin_length, contactless_enabled, version, created_at, updated_at)
SELECT 'tok-' || i, 'org-' || (i % 2), 1, 'acct-' || (i % 50), 'cust', 'PLASTIC', 'CREDIT', 'NORMAL', 'PLASTIC',
  '2026-12-07 00:00:00+00:00', 1, 4, 1, 1, '2026-12-07 00:00:00+00:00', '2026-12-07 00:00:00+00:00' FROM n`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{newQueries(false).card, newQueries(false).cardLocked} {
		q = strings.Replace(strings.Replace(q, "?", "'org-1'", 1), "?", "4999", 1) // org_id, then id
		if plan := explainLines(t, db, "EXPLAIN QUERY PLAN "+q); !strings.Contains(plan, "INTEGER PRIMARY KEY") {
			t.Errorf("plan of %s does not look the card up by its rowid:\n%s", q, plan)
		}
	}
}
