package httpapi

import (
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cardcore/cardcore/adapters/bunstore"
	"github.com/cardcore/cardcore/internal/testdb/pgschema"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
)

// lockWait is how long the API's store waits for another writer in these
// tests: SQLite's busy timeout, PostgreSQL's lock_timeout.
const lockWait = 150 * time.Millisecond

// busyDB is a migrated database whose connections give up on another
// writer's lock after lockWait, and a second pool on it that stands for
// another process: lock takes the write lock there, with a write pending,
// until the function it returns releases it.
type busyDB struct {
	db   *bun.DB
	lock func(t *testing.T) (release func())
}

// openBusy opens a busyDB of kind ("sqlite" or "postgres"; PostgreSQL
// skips t unless CARDCORE_TEST_PG_DSN is set).
func openBusy(t *testing.T, kind dialect.Name) busyDB {
	t.Helper()
	var b busyDB
	var other *bun.DB
	switch kind {
	case dialect.SQLite:
		path := filepath.Join(t.TempDir(), "busy.db")
		b.db = openSQL(t, "sqlite", bunstore.ModerncDSN(path, bunstore.WithBusyTimeout(lockWait)))
		other = openSQL(t, "sqlite", bunstore.ModerncDSN(path))
	default:
		dsn := pgschema.URL(t, "cardcore_api_busy_")
		other = openSQL(t, "postgres", dsn)
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("lock_timeout", lockWait.String())
		u.RawQuery = q.Encode()
		b.db = openSQL(t, "postgres", u.String())
	}
	if err := bunstore.Migrate(t.Context(), b.db); err != nil {
		t.Fatal(err)
	}
	b.lock = func(t *testing.T) func() {
		t.Helper()
		tx, err := other.BeginTx(t.Context(), nil) // SQLite: BEGIN IMMEDIATE
		if err != nil {
			t.Fatal(err)
		}
		release := func() { _ = tx.Rollback() }
		t.Cleanup(release)
		lock := "UPDATE cardcore_cards SET version = version" // the write lock, and a write
		if kind != dialect.SQLite {
			// What SQLite's write lock does: writers wait, readers do not.
			var tables []string
			err := tx.NewSelect().Table("pg_tables").Column("tablename").
				Where("schemaname = current_schema() AND tablename LIKE 'cardcore\\_%'").Scan(t.Context(), &tables)
			if err != nil {
				t.Fatal(err)
			}
			lock = "LOCK TABLE " + strings.Join(tables, ", ") + " IN EXCLUSIVE MODE"
		}
		if _, err := tx.ExecContext(t.Context(), lock); err != nil {
			t.Fatal(err)
		}
		return release
	}
	return b
}

// openSQL opens dsn with driver "sqlite" (modernc) or "postgres" (pgx).
func openSQL(t *testing.T, driver, dsn string) *bun.DB {
	t.Helper()
	var db *bun.DB
	if driver == "sqlite" {
		sqldb, err := sql.Open("sqlite", dsn)
		if err != nil {
			t.Fatal(err)
		}
		db = bun.NewDB(sqldb, sqlitedialect.New())
	} else {
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			t.Fatal(err)
		}
		cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
		db = bun.NewDB(stdlib.OpenDB(*cfg), pgdialect.New())
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// wantUnavailable checks a 503 answer: Retry-After in seconds and the
// error body with code "unavailable".
func wantUnavailable(t *testing.T, a answer) {
	t.Helper()
	if a.status != http.StatusServiceUnavailable {
		t.Errorf("%s: want 503 while another process holds the write lock", a)
		return
	}
	if got := a.header.Get("Retry-After"); got != retryAfter {
		t.Errorf("%s: Retry-After %q, want %q", a, got, retryAfter)
	}
	if a.body["code"] != codeUnavailable {
		t.Errorf("%s: code %v, want %q", a, a.body["code"], codeUnavailable)
	}
}

// While another process holds the database's write lock longer than the
// busy timeout, creating a card answers 503 with Retry-After and the
// error body, and keeps nothing; once the lock is released, the same
// request (same idempotency key) creates the card.
func TestCreateWhileAnotherProcessWritesAnswers503(t *testing.T) {
	for _, kind := range []dialect.Name{dialect.SQLite, dialect.PG} {
		t.Run(kind.String(), func(t *testing.T) {
			b := openBusy(t, kind)
			e := newEnv(t, b.db)
			srv := serverTok(t, "o-busy")
			create := call{method: "POST", path: "/wallet/v2/cards", token: srv, body: virtual("Busy"),
				header: []string{"x-account-id", acct, "x-customer-id", cust, "x-idempotency-key", uuid.NewString()}}

			release := b.lock(t)
			busy := create
			busy.want = http.StatusServiceUnavailable
			wantUnavailable(t, e.send(t, busy))
			release()

			e.send(t, create).wantCard(t, http.StatusCreated)
			evs := e.do(t, "GET", "/events", srv, nil).want(t, http.StatusOK)["events"].([]any)
			if len(evs) != 1 {
				t.Errorf("the feed holds %d events after a refused and a granted create, want 1", len(evs))
			}
		})
	}
}

// busyStore runs every route that writes while another process holds the
// write lock of a database of kind: each answers 503 with Retry-After, as
// the document says.
func busyStore(t *testing.T, c *contract, kind dialect.Name) {
	b := openBusy(t, kind)
	c.e = newEnv(t, b.db)
	server := serverTok(t, "org-a")
	owner := []string{"x-account-id", "100", "x-customer-id", "200"}
	idem := func() []string { return []string{"Idempotency-Key", uuid.NewString()} }
	// What the routes act on, made before the lock: routes that find no
	// such thing answer 404 without writing.
	seed := func(k call) map[string]any { t.Helper(); k.token = server; return c.do(t, k).body }
	plastic := seed(call{method: "POST", path: "/wallet/v2/cards", header: owner, body: map[string]any{"type": "PLASTIC"}, want: 201})
	card := fmt.Sprintf("/wallet/v1/customers/200/accounts/100/cards/%d", integer(t, plastic, "id"))
	reason := seed(call{method: "POST", path: "/wallet/v1/reissue-reasons", body: map[string]any{"description": "Lost", "type": "LOST"}, want: 201})
	bulk := "/cards/v1/bulks/" + str(t, seed(call{method: "POST", path: "/cards/v1/bulks", body: map[string]any{"external_ids": []string{"e1"}}, want: 201}), "id")
	hook := "/webhooks/v1/endpoints/" + str(t, seed(call{method: "POST", path: "/webhooks/v1/endpoints", body: map[string]any{"url": publicHook}, want: 201}), "id")
	sandbox := "/simulator/cards/" + str(t, seed(call{method: "POST", path: "/accounts/" + uuid.NewString() + "/cards", header: idem(),
		body: map[string]any{"type": "VIRTUAL"}, sign: c.e.key.sign, want: 201}), "id")

	defer b.lock(t)()
	for _, k := range []call{
		{method: "POST", path: "/wallet/v2/cards", header: owner, body: map[string]any{"type": "PLASTIC"}},
		{method: "POST", path: "/wallet/v2/cards/1/noname/bind", header: owner},
		{method: "PUT", path: "/wallet/v2/cards/1/noname/bind", header: owner},
		{method: "PATCH", path: v2Path(integer(t, plastic, "id")), body: map[string]any{"printed_name": "ADA KING"}},
		{method: "PUT", path: v2Path(integer(t, plastic, "id")) + "/number", body: map[string]any{"last_4_digits": "4242", "pan_hash": panHash}},
		{method: "POST", path: v2Path(integer(t, plastic, "id")) + "/password-tries/increase"},
		{method: "POST", path: v2Path(integer(t, plastic, "id")) + "/password-tries/reset"},
		{method: "PUT", path: card + "/status", body: map[string]any{"status": "BLOCKED"}},
		{method: "PUT", path: card + "/activate"},
		{method: "POST", path: card + "/reissue", body: map[string]any{"reason_id": integer(t, reason, "id")}},
		{method: "POST", path: "/wallet/v1/reissue-reasons", body: map[string]any{"description": "Lost", "type": "LOST"}},
		{method: "POST", path: "/cards/v1/bulks", body: map[string]any{"external_ids": []string{"e1"}}},
		{method: "PUT", path: bulk, body: map[string]any{"external_ids": []string{"e1"}}},
		{method: "POST", path: bulk + "/start"},
		{method: "POST", path: bulk + "/cancel", body: map[string]any{"cancel_type": "FULL"}},
		{method: "POST", path: "/webhooks/v1/endpoints", body: map[string]any{"url": publicHook}},
		{method: "PATCH", path: hook, body: map[string]any{"enabled": false}},
		{method: "DELETE", path: hook},
		{method: "PUT", path: "/v2/data/customers/c/accounts/a/cards", body: map[string]any{"cards": []map[string]any{
			{"sourceAccountId": "a", "sourceCustomerId": "c", "last4": "1234", "status": "OPEN"}}}},
		{method: "POST", path: "/accounts/" + uuid.NewString() + "/cards", header: idem(), body: map[string]any{"type": "VIRTUAL"}, sign: c.e.key.sign},
		{method: "PATCH", path: sandbox + "/issue", header: idem(), sign: c.e.key.sign},
		{method: "PATCH", path: sandbox + "/fail", header: idem(), sign: c.e.key.sign},
	} {
		k.token, k.want = server, http.StatusServiceUnavailable
		wantUnavailable(t, c.do(t, k))
	}
}
