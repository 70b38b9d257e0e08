package bunstore

import (
	"bufio"
	"bytes"
	"context"
	"database/sql/driver"
	"embed"
	"fmt"
	"io/fs"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/migrate"
)

//go:embed migrations
var migrationFiles embed.FS

// MigrationTable is where Migrate records the migrations it applied, in
// the format of bun's migrator, apart from the host's own bun_migrations.
const MigrationTable = "cardcore_migrations"

// MigrationLocksTable is the lock table of bun's migrator, which earlier
// versions of the store locked their migrations with: a process killed
// while it held that lock left its row behind, and every later Migrate
// failed with "migrations table is already locked". Migrate no longer uses
// the table, and drops it once it holds its own lock.
const MigrationLocksTable = "cardcore_migration_locks"

// migrationLockClass is the class of the PostgreSQL advisory lock that
// serialises migrations ("card" in ASCII, as the feed sequencer's); its
// object is hashtext(current_schema()), the schema the migrations create
// their tables in, so that stores in two schemas of one database migrate
// apart.
const migrationLockClass = 0x63617264

// Migrations returns the SQL migrations for db's dialect, for hosts that
// apply migrations with their own tool.
func Migrations(d dialect.Name) (fs.FS, error) {
	switch d {
	case dialect.SQLite:
		return fs.Sub(migrationFiles, "migrations/sqlite")
	case dialect.PG:
		return fs.Sub(migrationFiles, "migrations/postgres")
	}
	return nil, fmt.Errorf("bunstore: dialect %s is not supported", d)
}

// Migrate applies the store's migrations that db lacks, in order, each in
// one transaction with its record in MigrationTable. It is safe to call on
// every start, from any number of processes at once: they take turns under
// a lock that dies with the process holding it, and each one that gets the
// lock after the migrations were applied finds nothing to do. On
// PostgreSQL the lock is an advisory lock held by one session of db for
// the whole run (so db must reach the server directly, or through a pooler
// in session mode); the server releases it when the session ends, however
// it ends. On SQLite the whole run is one transaction begun with BEGIN
// IMMEDIATE: another migrator waits for it up to the busy timeout, and a
// process killed in the middle leaves nothing, as its transaction never
// committed.
func Migrate(ctx context.Context, db *bun.DB) error {
	d := db.Dialect().Name()
	ms, err := migrations(d)
	if err != nil {
		return err
	}
	files, err := Migrations(d)
	if err != nil {
		return err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return translate(ctx, "migrate: connect", err)
	}
	defer conn.Close()
	if d == dialect.SQLite {
		return migrateSQLite(ctx, conn, files, ms)
	}
	return migratePostgres(ctx, conn, files, ms)
}

// migrateSQLite applies ms on conn in one transaction that holds the
// database's write lock from its first statement, whatever the DSN's
// transaction mode.
func migrateSQLite(ctx context.Context, conn bun.Conn, files fs.FS, ms *migrate.Migrations) (err error) {
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return translate(ctx, "migrate: take the write lock", err)
	}
	defer func() {
		if err == nil {
			return
		}
		if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); rerr != nil {
			discard(conn) // closing the connection rolls the transaction back
		}
	}()
	if err := apply(ctx, conn, files, ms, func(fn func(bun.IDB) error) error { return fn(conn) }); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return translate(ctx, "migrate: commit", err)
	}
	return nil
}

// migratePostgres applies ms on conn under the migration lock of conn's
// session, each migration in a transaction of its own.
func migratePostgres(ctx context.Context, conn bun.Conn, files fs.FS, ms *migrate.Migrations) error {
	const lock = "SELECT pg_advisory_lock(?, hashtext(current_schema()))"
	const unlock = "SELECT pg_advisory_unlock(?, hashtext(current_schema()))"
	if _, err := conn.ExecContext(ctx, lock, migrationLockClass); err != nil {
		discard(conn) // the lock may have been granted as the wait was cancelled
		return translate(ctx, "migrate: take the migration lock", err)
	}
	defer func() {
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), unlock, migrationLockClass); err != nil {
			discard(conn) // the lock ends with the session
		}
	}()
	return apply(ctx, conn, files, ms, func(fn func(bun.IDB) error) error {
		return conn.RunInTx(ctx, nil, func(_ context.Context, tx bun.Tx) error { return fn(tx) })
	})
}

// discard closes conn's session instead of returning it to the pool, and
// with it the session's locks and open transaction.
func discard(conn bun.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
}

// apply creates MigrationTable if need be, drops the lock table of earlier
// versions, and runs the migrations of ms that idb has not recorded, in
// order, each with its record through inTx (one transaction on
// PostgreSQL; SQLite's one transaction is already open). All of them are
// recorded in one new group, as bun's migrator would. The caller holds the
// migration lock.
func apply(ctx context.Context, idb bun.IDB, files fs.FS, ms *migrate.Migrations, inTx func(fn func(bun.IDB) error) error) error {
	if _, err := idb.NewCreateTable().Model((*migrate.Migration)(nil)).ModelTableExpr(MigrationTable).IfNotExists().Exec(ctx); err != nil {
		return translate(ctx, "migrate: create "+MigrationTable, err)
	}
	if _, err := idb.NewDropTable().Table(MigrationLocksTable).IfExists().Exec(ctx); err != nil {
		return translate(ctx, "migrate: drop "+MigrationLocksTable, err)
	}
	applied, err := recorded(ctx, idb)
	if err != nil {
		return err
	}
	done := make(map[string]bool, len(applied))
	for _, m := range applied {
		done[m.Name] = true
	}
	group := applied.LastGroupID() + 1
	for _, m := range ms.Sorted() {
		if done[m.Name] {
			continue
		}
		queries, err := upQueries(files, m)
		if err != nil {
			return err
		}
		err = inTx(func(tx bun.IDB) error {
			for _, q := range queries {
				if _, err := tx.ExecContext(ctx, q); err != nil {
					return err
				}
			}
			_, err := tx.NewInsert().Model(&migrate.Migration{Name: m.Name, GroupID: group}).ModelTableExpr(MigrationTable).Exec(ctx)
			return err
		})
		if err != nil {
			return translate(ctx, "migrate: "+m.String(), err)
		}
	}
	return nil
}

// recorded returns the migrations idb records in MigrationTable.
func recorded(ctx context.Context, idb bun.IDB) (migrate.MigrationSlice, error) {
	var ms migrate.MigrationSlice
	if err := idb.NewSelect().Model(&ms).ModelTableExpr(MigrationTable).ColumnExpr("*").Scan(ctx); err != nil {
		return nil, translate(ctx, "read "+MigrationTable, err)
	}
	return ms, nil
}

// upQueries reads m's transactional up file from files and splits it into
// statements as bun's migrator does: at each --bun:split line, leaving out
// blank lines.
func upQueries(files fs.FS, m migrate.Migration) ([]string, error) {
	name := m.String() + ".tx.up.sql"
	b, err := fs.ReadFile(files, name)
	if err != nil {
		return nil, fmt.Errorf("bunstore: migration %s: %w", m, err)
	}
	var queries []string
	var query []byte
	lines := bufio.NewScanner(bytes.NewReader(b))
	for lines.Scan() {
		line := lines.Bytes()
		if d, ok := bytes.CutPrefix(line, []byte("--bun:")); ok {
			if string(d) != "split" {
				return nil, fmt.Errorf("bunstore: migration %s: unknown directive --bun:%s", name, d)
			}
			if len(query) > 0 {
				queries, query = append(queries, string(query)), nil
			}
			continue
		}
		if len(bytes.TrimSpace(line)) > 0 {
			query = append(append(query, line...), '\n')
		}
	}
	if len(query) > 0 {
		queries = append(queries, string(query))
	}
	return queries, lines.Err()
}

// Pending returns the names of the store's migrations that db has not
// applied (e.g. "20261122000005_index_keys"), in the order Migrate would
// apply them; none when db is up to date. It writes nothing and takes no
// lock, so a host that applies migrations with its own tool can check them
// at start.
func Pending(ctx context.Context, db *bun.DB) ([]string, error) {
	all, err := migrations(db.Dialect().Name())
	if err != nil {
		return nil, err
	}
	done := map[string]bool{} // a database the store never migrated lacks them all
	switch exists, err := tableExists(ctx, db, MigrationTable); {
	case err != nil:
		return nil, translate(ctx, "find "+MigrationTable, err)
	case exists:
		applied, err := recorded(ctx, db)
		if err != nil {
			return nil, err
		}
		for _, m := range applied {
			done[m.Name] = true
		}
	}
	var names []string
	for _, m := range all.Sorted() {
		if !done[m.Name] {
			names = append(names, m.String())
		}
	}
	return names, nil
}

// migrations are the store's migrations for dialect d.
func migrations(d dialect.Name) (*migrate.Migrations, error) {
	files, err := Migrations(d)
	if err != nil {
		return nil, err
	}
	ms := migrate.NewMigrations()
	if err := ms.Discover(files); err != nil {
		return nil, fmt.Errorf("bunstore: migrations: %w", err)
	}
	return ms, nil
}

// tableExists reports whether db has table name (on PostgreSQL, in the
// search path).
func tableExists(ctx context.Context, db *bun.DB, name string) (bool, error) {
	var n int
	q := "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
	if db.Dialect().Name() == dialect.PG {
		q = "SELECT count(*) FROM (SELECT to_regclass(?) AS t) AS r WHERE t IS NOT NULL"
	}
	err := db.QueryRowContext(ctx, q, name).Scan(&n)
	return n > 0, err
}
