package bunstore_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/cardcore/cardcore/adapters/bunstore"
	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/faultdb"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/internal/testdb/pgschema"
	"github.com/cardcore/cardcore/storage"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/migrate"
	"modernc.org/sqlite"
)

// freshDatabase returns a function that opens a pool of its own, as a
// process of its own would, on one new, empty database of kind: a SQLite
// file, or a PostgreSQL schema.
func freshDatabase(t *testing.T, kind string) func() *bun.DB {
	t.Helper()
	if kind == "sqlite" {
		path := filepath.Join(t.TempDir(), "migrate.db")
		return func() *bun.DB { return testdb.SQLite(t, path) }
	}
	cfg, err := pgx.ParseConfig(pgschema.URL(t, "cardcore_migrate_"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	return func() *bun.DB {
		db := bun.NewDB(stdlib.OpenDB(*cfg), pgdialect.New())
		t.Cleanup(func() { db.Close() })
		return db
	}
}

// migratedOnce checks that db records each embedded migration exactly
// once, has none pending, and has the schema of a database migrated alone.
func migratedOnce(t *testing.T, db *bun.DB, kind string) {
	t.Helper()
	var names []string
	if err := db.NewSelect().Table(bunstore.MigrationTable).Column("name").OrderExpr("name").Scan(t.Context(), &names); err != nil {
		t.Fatalf("read %s: %v", bunstore.MigrationTable, err)
	}
	var want []string
	for _, m := range embedded(t, db) {
		want = append(want, m[:strings.IndexByte(m, '_')])
	}
	if !slices.Equal(names, want) {
		t.Errorf("%s records %v, want each of %v once", bunstore.MigrationTable, names, want)
	}
	if pending, err := bunstore.Pending(t.Context(), db); err != nil || len(pending) != 0 {
		t.Errorf("Pending = %v, %v; want none", pending, err)
	}
	if got, want := testdb.Schema(t, db), testdb.Schema(t, testdb.Open(t, kind)); !slices.Equal(got, want) {
		t.Errorf("the schema differs from a database migrated alone:\ngot  %q\nwant %q", got, want)
	}
}

// Processes that start at once on a fresh database all migrate it
// without an error, and the migrations run once.
func TestMigrateConcurrently(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			open := freshDatabase(t, kind)
			const n = 8
			dbs := make([]*bun.DB, n)
			for i := range dbs {
				dbs[i] = open()
				if err := dbs[i].PingContext(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			errs := make([]error, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i, db := range dbs {
				wg.Go(func() {
					<-start
					errs[i] = bunstore.Migrate(t.Context(), db)
				})
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("migrator %d of %d: %v", i+1, n, err)
				}
			}
			migratedOnce(t, dbs[0], kind)
		})
	}
}

// A process of an earlier version that was killed while migrating left
// its row in cardcore_migration_locks, which blocked every later
// Migrate: Migrate now ignores that table and drops it, and applies what
// the killed process had not.
func TestMigrateAfterAStaleLockRow(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			db := freshDatabase(t, kind)()
			// The earlier version: bun's migrator and its lock table, all
			// migrations but the last applied, killed before it unlocked.
			ups := embedded(t, db)
			m := migrateBefore(t, db, ups[len(ups)-1])
			if err := m.Lock(t.Context()); err != nil {
				t.Fatal(err)
			}

			if err := bunstore.Migrate(t.Context(), db); err != nil {
				t.Fatalf("Migrate with a stale row in %s: %v", bunstore.MigrationLocksTable, err)
			}
			migratedOnce(t, db, kind)
			if _, err := db.NewSelect().Table(bunstore.MigrationLocksTable).Count(t.Context()); err == nil {
				t.Errorf("%s is still there after Migrate", bunstore.MigrationLocksTable)
			}
		})
	}
}

// migrateBefore applies the embedded migrations of db's dialect that come
// before the one named first (its version and name, as embedded returns
// them) with bun's migrator, as an earlier version of the store did, and
// returns the migrator.
func migrateBefore(t *testing.T, db *bun.DB, first string) *migrate.Migrator {
	t.Helper()
	if !slices.Contains(embedded(t, db), first) {
		t.Fatalf("no migration %s", first)
	}
	files, err := bunstore.Migrations(db.Dialect().Name())
	if err != nil {
		t.Fatal(err)
	}
	old := fstest.MapFS{}
	matches, err := fs.Glob(files, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range matches {
		if name >= first {
			continue
		}
		b, err := fs.ReadFile(files, name)
		if err != nil {
			t.Fatal(err)
		}
		old[name] = &fstest.MapFile{Data: b}
	}
	ms := migrate.NewMigrations()
	if err := ms.Discover(old); err != nil {
		t.Fatal(err)
	}
	m := migrate.NewMigrator(db, ms, migrate.WithTableName(bunstore.MigrationTable),
		migrate.WithLocksTableName(bunstore.MigrationLocksTable), migrate.WithMarkAppliedOnSuccess(true))
	if err := m.Init(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return m
}

// The SQLite outbox's seq was an AUTOINCREMENT key, which wrote
// sqlite_sequence on every commit; the upgrade to a plain rowid keeps
// every event and its seq, and a new event goes on above the head that
// the purge kept.
func TestOutboxUpgradeKeepsPositionsSQLite(t *testing.T) {
	db := freshDatabase(t, "sqlite")()
	ctx := t.Context()
	migrateBefore(t, db, "20261206000001_outbox_rowid")
	insert := func() int64 {
		var seq int64
		err := db.QueryRowContext(ctx, `INSERT INTO cardcore_outbox (event_id, org_id, card_id, event_type, cid, occurred_at, data)
			VALUES (hex(randomblob(16)), 'acme', 7, 'card.updated', 'c', '2026-12-01 00:00:00', '{"version":1}') RETURNING seq`).Scan(&seq)
		if err != nil {
			t.Fatal(err)
		}
		return seq
	}
	for range 5 {
		insert()
	}
	// A purge of the old version: all but the head.
	if _, err := db.ExecContext(ctx, `DELETE FROM cardcore_outbox WHERE seq < 5`); err != nil {
		t.Fatal(err)
	}
	if err := bunstore.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	migratedOnce(t, db, "sqlite")
	var ddl string
	if err := db.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE name = 'cardcore_outbox'`).Scan(&ddl); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.ToUpper(ddl), "AUTOINCREMENT") {
		t.Errorf("the outbox is still AUTOINCREMENT after the upgrade: %s", ddl)
	}
	var seqs []int64
	if err := db.NewSelect().Table("cardcore_outbox").Column("seq").OrderExpr("seq").Scan(ctx, &seqs); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seqs, []int64{5}) {
		t.Fatalf("after the upgrade the outbox holds seqs %v, want the head 5", seqs)
	}
	if got := insert(); got != 6 {
		t.Errorf("the first event after the upgrade takes seq %d, want 6", got)
	}
}

// The SQLite card history was an index of the outbox; the upgrade to the
// chain links every event already stored to its card's previous one, and
// the events written after it follow on: the history reads the same
// before and after, and an event of another org naming the card's id is
// in neither.
func TestCardChainUpgradeSQLite(t *testing.T) {
	db := freshDatabase(t, "sqlite")()
	ctx := t.Context()
	migrateBefore(t, db, "20261206000002_card_chain")
	s := newStore(t, db)
	a, b := insert(t, s, virtualCard("a", card.Normal)), insert(t, s, virtualCard("b", card.Normal))
	appendFor := func(org string, id, version int64) events.Event {
		e, err := events.New(ctx, events.CardUpdated, org, map[string]int64{"card_id": id, "version": version}, testNow())
		if err != nil {
			t.Fatal(err)
		}
		e.CardID = id
		if err := s.Update(ctx, func(ctx context.Context, tx storage.Tx) error { return tx.Append(ctx, e) }); err != nil {
			t.Fatal(err)
		}
		return e
	}
	for v := int64(2); v <= 4; v++ {
		appendFor("org", a.ID, v)
		appendFor("org", b.ID, v)
		appendFor("other", a.ID, 1) // a version below the card's: a walk through it would stop there
	}
	history := func(id, after int64) []string {
		t.Helper()
		evs, err := s.CardEvents(ctx, "org", id, after, 100)
		if err != nil {
			t.Fatal(err)
		}
		return eventIDs(evs)
	}
	before := make([][]string, 2) // each card's events in org's feed
	for _, e := range feed(t, s) {
		for i, id := range []int64{a.ID, b.ID} {
			if e.CardID == id {
				before[i] = append(before[i], e.ID)
			}
		}
	}
	if len(before[0]) != 4 || len(before[1]) != 4 {
		t.Fatalf("before the upgrade the cards have %d and %d events, want 4 each", len(before[0]), len(before[1]))
	}
	if err := bunstore.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	migratedOnce(t, db, "sqlite")
	var indexes int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = 'cardcore_outbox_card_history'`).Scan(&indexes); err != nil {
		t.Fatal(err)
	}
	if indexes != 0 {
		t.Error("the upgrade kept the index cardcore_outbox_card_history")
	}
	for i, id := range []int64{a.ID, b.ID} {
		if got := history(id, 0); !slices.Equal(got, before[i]) {
			t.Errorf("card %d: after the upgrade the history is %v, want %v", id, got, before[i])
		}
		if got := history(id, 2); !slices.Equal(got, before[i][2:]) {
			t.Errorf("card %d: after the upgrade the history after version 2 is %v, want %v", id, got, before[i][2:])
		}
	}
	next := appendFor("org", a.ID, 5)
	if got, want := history(a.ID, 0), append(before[0], next.ID); !slices.Equal(got, want) {
		t.Errorf("after the upgrade and an event: history %v, want %v", got, want)
	}
}

// firstMigration is the SQL of the first embedded migration of db's
// dialect, its statements apart.
func firstMigration(t *testing.T, db *bun.DB) []string {
	t.Helper()
	files, err := bunstore.Migrations(db.Dialect().Name())
	if err != nil {
		t.Fatal(err)
	}
	b, err := fs.ReadFile(files, embedded(t, db)[0]+".tx.up.sql")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(string(b), "--bun:split\n")
}

// On PostgreSQL a migrating session holds an advisory lock that the
// server releases when the session ends: a migrator that dies halfway
// (its backend terminated) blocks the next one until then, and leaves
// nothing behind.
func TestMigrateAfterAMigratorDiesPostgres(t *testing.T) {
	open := freshDatabase(t, "postgres")
	dying := open()
	conn, err := dying.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	if err := conn.QueryRowContext(t.Context(), "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	admin := open()
	die := func() error {
		_, err := admin.ExecContext(context.Background(), "SELECT pg_terminate_backend(?)", pid)
		return err
	}
	t.Cleanup(func() { _ = die() }) // should the test stop before it dies
	// The lock package bunstore documents: class "card", object the hash
	// of the schema's name.
	if _, err := conn.ExecContext(t.Context(), "SELECT pg_advisory_lock(x'63617264'::int, hashtext(current_schema()))"); err != nil {
		t.Fatal(err)
	}
	tx, err := conn.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range firstMigration(t, dying) {
		if _, err := tx.ExecContext(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}

	next := open()
	done := make(chan error, 1)
	go func() { done <- bunstore.Migrate(t.Context(), next) }()
	waiting := func() bool {
		var n int
		err := admin.QueryRowContext(t.Context(), `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
			AND classid = x'63617264'::int::oid AND objid = hashtext(current_schema())::oid AND objsubid = 2`).Scan(&n)
		return err == nil && n > 0
	}
	for deadline := time.Now().Add(10 * time.Second); !waiting(); time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-done:
			t.Fatalf("Migrate returned (%v) while another session held the migration lock", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("Migrate never waited for the migration lock of the other session")
		}
	}
	if err := die(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Migrate after the migrator died: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Migrate still waits after the session holding the lock died")
	}
	migratedOnce(t, next, "postgres")
}

// holdEnv names the SQLite file a helper process of
// TestMigrateAfterAMigratorIsKilledSQLite migrates halfway and holds, and
// the statement it stops at: "path|N".
const holdEnv = "CARDCORE_TEST_HOLD_MIGRATION"

// On SQLite a migrating process holds the database's write lock in one
// transaction: when it is killed halfway, the operating system releases
// the lock, its writes are rolled back (the WAL frames of a transaction
// that never committed are ignored), and a process waiting to migrate
// goes on and migrates the whole database. The process killed runs the
// real Migrate, stopped (faultdb's Stall) at the middle statement of its
// transaction: an earlier Migrate, bun's migrator with its lock table,
// left its lock row there and every later Migrate failed.
func TestMigrateAfterAMigratorIsKilledSQLite(t *testing.T) {
	if v := os.Getenv(holdEnv); v != "" {
		path, n, _ := strings.Cut(v, "|")
		holdMigration(t, path, n)
		return
	}
	// The statements of a whole Migrate of a fresh file, counted.
	plan := faultdb.NewPlan()
	counted := holdDB(t, filepath.Join(t.TempDir(), "counted.db"), plan)
	plan.Start(nil)
	if err := bunstore.Migrate(t.Context(), counted); err != nil {
		t.Fatal(err)
	}
	var ddl []faultdb.Op // the statements of the migrations' schema
	for _, op := range plan.Stop().Trace {
		if q := strings.ToUpper(strings.TrimSpace(op.Query)); op.Kind == faultdb.Statement && strings.HasPrefix(q, "CREATE") {
			ddl = append(ddl, op)
		}
	}
	if len(ddl) < 3 {
		t.Fatalf("Migrate ran %d CREATE statements, want many", len(ddl))
	}
	at := ddl[len(ddl)/2]
	t.Logf("the killed Migrate stops at its CREATE %d of %d: %s", len(ddl)/2+1, len(ddl), strings.SplitN(strings.TrimSpace(at.Query), "\n", 2)[0])

	path := filepath.Join(t.TempDir(), "killed.db")
	holder := exec.Command(os.Args[0], "-test.run=^TestMigrateAfterAMigratorIsKilledSQLite$")
	holder.Env = append(os.Environ(), holdEnv+"="+path+"|"+strconv.Itoa(at.N))
	holder.Stderr = os.Stderr
	out, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer holder.Process.Kill() //nolint:errcheck // killed below; this covers a failure before
	lines := bufio.NewScanner(out)
	for lines.Scan() && lines.Text() != "holding" {
	}
	if lines.Text() != "holding" {
		t.Fatalf("the helper process ended without holding the migration (%v)", lines.Err())
	}
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
		t.Fatalf("the helper's transaction wrote nothing to the WAL (%v)", err)
	}

	db := testdb.SQLite(t, path)
	done := make(chan error, 1)
	go func() { done <- bunstore.Migrate(t.Context(), db) }()
	time.Sleep(200 * time.Millisecond) // Migrate waits in the busy handler meanwhile
	select {
	case err := <-done:
		t.Fatalf("Migrate returned (%v) while another process was migrating", err)
	default:
	}
	if err := holder.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = holder.Wait()
	if err := <-done; err != nil {
		t.Fatalf("Migrate after the migrator was killed: %v", err)
	}
	migratedOnce(t, db, "sqlite")
}

// holdDB opens the SQLite file at path through plan, with a page cache so
// small that a transaction's writes spill to the WAL before it commits.
func holdDB(t *testing.T, path string, plan *faultdb.Plan) *bun.DB {
	t.Helper()
	dsn := bunstore.ModerncDSN(path) + "&_pragma=cache_size(1)"
	db := bun.NewDB(sql.OpenDB(faultdb.NewConnector(faultdb.DSNConnector(&sqlite.Driver{}, dsn), plan)), sqlitedialect.New())
	t.Cleanup(func() { db.Close() })
	return db
}

// holdMigration is the helper process: it runs Migrate on the file at
// path, stopped before its nth statement, says so, and waits to be
// killed.
func holdMigration(t *testing.T, path, n string) {
	at, err := strconv.Atoi(n)
	if err != nil {
		t.Fatal(err)
	}
	plan := faultdb.NewPlan()
	db := holdDB(t, path, plan)
	plan.Start(&faultdb.Fault{Kind: faultdb.Statement, N: at, Mode: faultdb.Stall})
	done := make(chan error, 1)
	go func() { done <- bunstore.Migrate(context.Background(), db) }()
	select {
	case <-plan.Stalled():
	case err := <-done:
		t.Fatalf("Migrate ended (%v) before its statement %d", err, at)
	}
	fmt.Println("holding")
	time.Sleep(time.Minute)
	t.Fatal("the helper process was not killed")
}
