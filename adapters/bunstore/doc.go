// Package bunstore is the storage.Store of cardcore over uptrace/bun, for
// SQLite (the embedded default) and PostgreSQL (production and scale-out).
//
// The host opens the database with the driver of its choice and hands the
// *bun.DB to Migrate and New; the library never picks a driver. For SQLite
// with modernc.org/sqlite (pure Go), open ModerncDSN(path) with
// sqlitedialect; for PostgreSQL, pgx through database/sql with pgdialect.
// With pgx's driver the store reaches pgx's own API through sql.Conn.Raw
// where database/sql costs most: a bulk's rows go by COPY, and a card is
// read with pgx's QueryRow in its statement cache (39 columns decoded once,
// not converted again by database/sql), whatever query mode the host set;
// with another driver, and in a host's transaction (InTx), it uses
// database/sql alone.
//
// # Tables and migrations
//
// Every table is prefixed cardcore_, so the store can share a database with
// the host's own tables. Migrate applies the embedded migrations and records
// each one in cardcore_migrations, in the transaction that applies it, apart
// from the host's bun_migrations. Hosts that apply migrations with their own
// tool read them from Migrations, and Pending lists those a database lacks,
// without writing to it or taking a lock.
//
// Migrate is safe to call on every start, from any number of processes at
// once, and the migrations run exactly once: the processes take turns under
// a lock that ends with the process holding it, and one that gets the lock
// after the migrations were applied finds nothing to do. On PostgreSQL the
// lock is a session-level advisory lock (class 0x63617264, "card"; object
// hashtext(current_schema()), so stores in two schemas of one database
// migrate apart) held on one connection for the whole run, which the
// server releases when that session ends, however it ends: Migrate needs a
// session of its own, so reach the server directly or through a pooler in
// session mode. Each migration commits with its record, so a process killed
// halfway leaves the migrations before applied and nothing of the one it
// was running. On SQLite the whole run is one transaction begun with BEGIN
// IMMEDIATE: another migrator waits for it up to the busy timeout (then
// fails with card.ErrUnavailable), and a process killed halfway leaves
// nothing, as its transaction never committed. Earlier versions locked
// through bun's table cardcore_migration_locks, where a killed process left
// a row that failed every later start with "migrations table is already
// locked"; Migrate ignores that row and drops the table, so such a database
// upgrades without a manual step. Processes of those versions do not take
// the new lock: do not start them beside this one on a database that lacks
// migrations.
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
// for the writer. The store checkpoints the write-ahead log itself, after
// its writes and off their path (checkpoint.go, WithCheckpoints);
// ModerncDSN raises the connections' wal_autocheckpoint to
// DSNAutoCheckpoint so that commits checkpoint only when those fall
// behind.
//
// A write that waits longer than the busy timeout for another writer's
// lock (another store, another process) fails with an error wrapping
// card.ErrUnavailable that says the database is busy; nothing of it is
// written, and it is not Retryable, as the wait has been spent: the caller
// tries again later. ModerncDSN sets a busy timeout of DefaultBusyTimeout
// (WithBusyTimeout changes it) and synchronous FULL, so a commit survives
// a power loss; WithSynchronous(SynchronousNormal) commits faster and may
// lose the last commits on a power loss or OS crash. On PostgreSQL,
// card.ErrUnavailable reports a lock held past the host's lock_timeout, a
// server out of connections, and one shutting down or starting up.
//
// # PostgreSQL
//
// Update runs at READ COMMITTED, and locks the cards it reads with
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
// On a connection of pgx's database/sql driver (github.com/jackc/pgx/v5/stdlib)
// the store runs a PostgreSQL transaction on the connection itself, not
// through database/sql's Tx, and sends its BEGIN with its first statement:
// in one pipeline with the card's read when the transaction starts with
// one, as every change of a card does. The save of a card the transaction
// read is kept until the transaction's next statement, and goes in one
// pipeline with the COMMIT when that comes next (pgxtx.go's deferSave). A
// change is then two round trips (BEGIN with the read, the save with its
// event and the COMMIT) instead of four. Its statements run in pgx's
// statement cache, whatever query mode the host chose for its own.
// Whatever ends the transaction, its connection goes back to the pool
// outside any transaction, or is closed; a connection found lost at the
// transaction's first round trip is an error that Update retries on
// another, as are a lost connection under a read of a card (poolCard) and
// under the BEGIN of the feed's sequencing (beginOnConn). With another
// driver the transaction is database/sql's.
//
// A change of a card and its event are one call, Save, and on PostgreSQL
// one statement: WITH saved AS (UPDATE ... RETURNING id) INSERT INTO
// cardcore_outbox ... SELECT ... FROM saved, one round trip per change,
// whether or not the transaction read the card. The event's row is
// inserted only when the UPDATE found the version it saves over, so a
// stale version is a conflict that writes neither. (This replaced the held
// save: when a save and its event were two calls, the PostgreSQL
// transaction held the UPDATE back until the event came, and sent the
// held UPDATE before any other call.) A new card and its event are two
// statements, as the event carries the id the INSERT assigns; SaveNew
// writes a batch of cards, then their events, in multi-row statements. On
// SQLite, where a statement costs no round trip, a save and its event are
// two statements.
//
// On SQLite a card's columns are read as bare expressions (+name AS ""),
// which have no declared type and no name: modernc would otherwise copy
// both out of C for each column of each read, and parse a TIMESTAMP
// column's text by trying its own list of layouts; the store reads the
// text in the one layout it writes. A SQLite transaction's statements
// after the write lock wait for nothing, and run without the context's
// cancellation, which modernc watches with a goroutine per statement; the
// write lock's wait (BEGIN IMMEDIATE, or the store's first statement)
// keeps it, and a context done before the commit rolls the transaction
// back.
//
// A save writes only the columns that changed since the card was read in
// the transaction. No index names the status: the indexes the status
// decides (the sweep's, the VIRTUAL alias rule, a bulk's cards by status)
// are on keys derived from it, which change only when the status enters or
// leaves their set. So the commonest writes, such as NORMAL <-> BLOCKED,
// rewrite no index entry on SQLite and are heap-only updates on
// PostgreSQL.
//
// # A card's history
//
// CardEvents reads a stored card's events (SPEC 10.5). On PostgreSQL it
// goes through the index cardcore_outbox_card_history (org_id, card_id,
// seq). On SQLite there is no such index: each event of a card holds the
// seq of the card's event before it (cardcore_outbox.prev_seq) and the
// card holds that of its latest one (cardcore_cards.last_seq), both set by
// the trigger cardcore_outbox_card_chain on every insert of an event, so
// no write path can forget them. The history walks the chain back from the
// card while the events are above the version asked for. The index cost
// every change a b-tree insert and a WAL page; the chain's links are in
// rows the change writes anyway (the card's page is already dirty), which
// took a status update from 0.55 to 0.72 of the raw baseline (NORMAL, one
// worker, back to back). The trigger does nothing for an event whose card
// already names it, and the store's hot writes name it themselves: a bulk
// writes its new cards' last_seq and their events' seq, and the save of a
// card the transaction read (a status update, a bind) is chained: its
// UPDATE sets the card's last_seq to the next seq, and its event is
// written at that seq linked to the last_seq the read returned. The
// chained UPDATE changes the card only while its last_seq is still the one
// read; otherwise (an event of the card written in the transaction past
// the store) the save is sent again unchained and the trigger links it, so
// no write can break a chain. An event appended for an id no card of its org
// has is in the feed and in no card's history, on both databases.
//
// # The host's transaction
//
// InTx binds the store to a transaction the host opened on the same
// database, so the host's own rows and the library's changes, events
// included, commit together or not at all. Update of the bound store runs
// its function in a savepoint of the host's transaction: released when the
// function returns nil, rolled back to when it fails, so a refused use case
// leaves nothing of itself and the host's transaction goes on (on
// PostgreSQL, even after a statement the database refused). It never
// commits and never retries: a PostgreSQL deadlock or serialization
// failure comes back, reported by Retryable, and the host runs its whole
// transaction again. The bound store's reads of cards, reasons and bulks
// run in the host's transaction and see its uncommitted writes; the
// outbox side (Feed, After, Head) stays on the store's own
// connections, as an event is in the feed only once its transaction has
// committed.
//
// On SQLite the host's transaction holds the database's one write lock
// from its first write (from BEGIN when it is IMMEDIATE, as ModerncDSN's
// _txlock=immediate makes every transaction) to its commit, and every
// other writer, the store's own Updates included, waits for it meanwhile:
// keep such transactions short. The bound store does not queue for the
// store's writer slot, which an Update waiting for the host's lock may
// hold; each of its Updates takes the write lock at once, as Update does.
//
// # Telemetry
//
// Each Update is a span named cardcore.tx (status Error when it fails) from
// WithTracerProvider's provider. Once its transaction commits (for a bound
// store: once its savepoint is released, whatever the host then does) the
// counter cardcore.card.changes of WithMeterProvider's provider counts its
// card changes, with the attribute operation (card.Operation's name), and
// from and to when the status changed (to alone for a new card; neither
// for a card saved without being read in the transaction); the counter
// cardcore.tx counts every Update with the attribute outcome, committed or
// failed. The counter cardcore.operations counts every Update as a use
// case, with the attributes operation (the card operation of the first
// card change of its transaction, else that of its *card.ConflictError,
// else "other": a reason or bulk written, a card not found, an input
// refused inside the transaction) and outcome (ok, conflict, invalid,
// not_found, unavailable or error, by the sentinel the error wraps); the
// span carries them as cardcore.operation and cardcore.outcome. An input a
// use case refuses before it opens a transaction is not counted. When the
// provider collects, the gauges cardcore.feed.head (the feed position of
// the newest committed event) and cardcore.subscription.lag (by
// subscription: the head minus its cursor) are read from the database, in
// two queries of at most 5 s. By default both providers are the global
// ones of package otel, which do nothing until the host installs an SDK.
//
// The store adds no query hook to the host's *bun.DB: for a span per SQL
// statement, the host adds one, e.g. bunotel.NewQueryHook of
// github.com/uptrace/bun/extra/bunotel, as cardcore serve does.
//
// # Webhook endpoints
//
// cardcore_webhook_endpoints keeps each endpoint's secret as it is: it is
// the key that signs the deliveries (HMAC-SHA256), which the relay needs
// back, so it cannot be hashed. It is a credential: the store never logs
// it, and the API returns it once, when the endpoint is created. Protect
// the table (and its backups) as the host protects its other secrets. An
// endpoint's subscription ("webhook:<id>") is created with it, at the
// feed's head, and deleted with it.
//
// # Idempotency records
//
// Idempotency records are kept in cardcore_idempotency with their creation
// time; nothing purges them yet.
package bunstore
