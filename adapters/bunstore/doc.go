// Package bunstore is the storage.Store of cardcore over uptrace/bun, for
// SQLite (the embedded default) and PostgreSQL (production and scale-out).
//
// The host opens the database with the driver of its choice and hands the
// *bun.DB to Migrate and New; the library never picks a driver. For SQLite
// with modernc.org/sqlite (pure Go), open ModerncDSN(path) with
// sqlitedialect; for PostgreSQL, pgx through database/sql with pgdialect.
//
// # Tables and migrations
//
// Every table is prefixed cardcore_, so the store can share a database with
// the host's own tables. Migrate applies the embedded migrations and records
// them in cardcore_migrations (locked through cardcore_migration_locks),
// apart from the host's bun_migrations; it is safe to call on every start.
// Hosts that apply migrations with their own tool read them from Migrations.
//
// Unique indexes hold the rules that must survive concurrent writers: a card
// has at most one successor (one card per reissued_card_id), a customer's
// VIRTUAL cards that are not terminated have distinct aliases, an external
// id appears once in a bulk, a card token is never reused, and there is one
// synced card per (org, account, customer, last4): the partial index
// cardcore_cards_synced covers synced cards only, so cards made by other
// APIs may share last four digits by chance. A write that
// breaks one is a card.ErrConflict naming the rule. Other database errors
// are reported by message only, so no driver or bun type leaves the package.
//
// Enums are stored by name and times in UTC to the microsecond, so the
// tables read well without the library.
//
// # SQLite
//
// SQLite has one writer at a time. Every Update takes the write lock with
// its first statement (a write that changes nothing, which locks as BEGIN
// IMMEDIATE does, whatever the DSN's transaction mode), so a transaction
// never fails upgrading a read lock. A store's own write transactions queue
// for the lock in the store, which hands it over as soon as it is free;
// writers of other stores and processes wait in SQLite's busy handler,
// which sleeps and polls. New refuses a connection without a busy timeout (writers would
// fail at once instead of waiting) and turns on WAL, so readers do not wait
// for the writer.
//
// # PostgreSQL
//
// Update runs at the server's default isolation, READ COMMITTED unless the
// server is configured otherwise, and locks the cards it reads with
// SELECT ... FOR UPDATE; the sweep adds SKIP LOCKED, so concurrent sweeps
// share the due cards instead of queueing on them. A transaction aborted as a deadlock or
// serialization failure is run again, up to WithRetries times (default 3).
// A second request with an idempotency key that is in flight waits for the
// first one's transaction, then replays its result.
//
// # Speed
//
// bun formats every argument into the SQL text, so each statement it sends
// is new to the database. The statements every request runs (read a card,
// save it, append its event, take SQLite's write lock) are instead prepared
// once per connection and run with bound arguments; they are written by
// hand on the same tables and bypass bun's query hooks. A transaction never
// waits for a second connection to prepare a new text: it prepares it for
// itself, and the next Update prepares it on the pool before it begins. On
// PostgreSQL behind a pooler in transaction mode, prepared statements need
// the pooler's support for them (PgBouncer 1.21 and later).
//
// On PostgreSQL a change (save a card the transaction read and locked,
// then append its event) is one statement: the UPDATE is held back and
// sent with the event's INSERT (WITH saved AS (UPDATE ... RETURNING id)
// INSERT ... SELECT ... FROM saved), one round trip fewer per change. Any
// other call, and the commit, sends a held UPDATE first.
//
// A save writes only the columns that changed since the card was read in
// the transaction. No index names the status: the indexes the status
// decides (the sweep's, the VIRTUAL alias rule, a bulk's cards by status)
// are on keys derived from it, which change only when the status enters or
// leaves their set. So the commonest writes, such as NORMAL <-> BLOCKED,
// rewrite no index entry on SQLite and are heap-only updates on
// PostgreSQL.
//
// # Idempotency records
//
// Idempotency records are kept in cardcore_idempotency with their creation
// time; nothing purges them yet.
package bunstore
