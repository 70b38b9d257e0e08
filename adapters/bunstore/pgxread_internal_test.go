package bunstore

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestPgxCardReadsWhatDatabaseSQLReads reads cards through pgx's own API
// (pgxCard: the store decodes PostgreSQL's binary values itself,
// pgxdecode.go) and through database/sql (pgx's stdlib driver decodes
// them, and the scan destinations' sql.Scanner methods read them), and
// wants both to give back the row as written: every column set, then
// every nullable one NULL. A timestamp PostgreSQL holds as infinity is an
// error, not some time.
func TestPgxCardReadsWhatDatabaseSQLReads(t *testing.T) {
	db := openForPlan(t, "postgres")
	ctx := t.Context()
	full, sparse := fullAndSparseRows()
	for _, r := range []cardRow{full, sparse} {
		if _, err := db.NewInsert().Model(&r).Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	q := newQueries(true).card
	conn, err := db.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, want := range []cardRow{full, sparse} {
		got, _, scanned, ok, err := pgxCard(ctx, conn, q, want.OrgID, want.ID)
		if err != nil || !ok || !scanned {
			t.Fatalf("card %d through pgx: scanned %v, ok %v, err %v", want.ID, scanned, ok, err)
		}
		viaSQL, _, _, err := sqlText{pg: true}.scanCard(conn.QueryRowContext(ctx, q, want.OrgID, want.ID))
		if err != nil {
			t.Fatalf("card %d through database/sql: %v", want.ID, err)
		}
		for name, r := range map[string]cardRow{"pgx": got, "database/sql": viaSQL} {
			r.chain, r.ExpiryDue, r.ValidityDue, r.AliasKey, r.BulkStatus = chainLink{}, time.Time{}, time.Time{}, "", ""
			if !reflect.DeepEqual(r, want) {
				t.Errorf("card %d through %s:\n got %+v\nwant %+v", want.ID, name, r, want)
			}
		}
	}

	if _, err := conn.ExecContext(ctx, "UPDATE cardcore_cards SET close_date = 'infinity' WHERE id = 41"); err != nil {
		t.Fatal(err)
	}
	if _, _, _, _, err := pgxCard(ctx, conn, q, "org", 41); err == nil || !strings.Contains(err.Error(), "infinite") {
		t.Errorf("an infinite close_date read through pgx: err %v, want the infinite timestamp's error", err)
	}
}

// TestPgxCardAllocations counts the allocations of a card read through
// pgx. With pgx planning the destinations as sql.Scanners it was about 80
// (a plan per column and each value boxed); through pgx's scanner
// interfaces, 24; decoded by the store (pgxdecode.go), 10, two of which
// are pgx's watch of the test's context, which can be canceled.
func TestPgxCardAllocations(t *testing.T) {
	read := oneCardThroughPgx(t)
	allocs := testing.AllocsPerRun(200, func() {
		if err := read(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 14 {
		t.Errorf("a card read through pgx allocates %.0f times, want at most 14", allocs)
	}
	t.Logf("%.0f allocations per card read through pgx", allocs)
}

// BenchmarkPgxCard reads one card through pgx, over and over, on
// PostgreSQL (CARDCORE_TEST_PG_DSN).
func BenchmarkPgxCard(b *testing.B) {
	read := oneCardThroughPgx(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := read(); err != nil {
			b.Fatal(err)
		}
	}
}

// oneCardThroughPgx stores one card on PostgreSQL and returns a read of
// it through pgx, on a connection held until tb ends.
func oneCardThroughPgx(tb testing.TB) (read func() error) {
	db := openForPlan(tb, "postgres")
	ctx := tb.Context()
	at := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	r := cardRow{ID: 1, Token: "t", OrgID: "org", Type: "VIRTUAL", Mode: "DEBIT", Status: "NORMAL", Name: "n",
		IssuingDate: at, Version: 1, CreatedAt: at, UpdatedAt: at}
	if _, err := db.NewInsert().Model(&r).Exec(ctx); err != nil {
		tb.Fatal(err)
	}
	conn, err := db.DB.Conn(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	q := newQueries(true).card
	return func() error {
		_, _, _, _, err := pgxCard(ctx, conn, q, "org", 1)
		return err
	}
}

// fullAndSparseRows are two cards' rows: every column set, with times
// before 2000 and 1970 (negative microseconds for PostgreSQL, negative
// seconds for Unix) as well as after, then every nullable column NULL.
func fullAndSparseRows() (full, sparse cardRow) {
	at := time.Date(2026, 12, 6, 23, 59, 58, 123456000, time.UTC)
	hours := 36
	full = cardRow{
		ID: 41, Token: "tok-41", OrgID: "org", ProgramID: 7, AccountID: "acct", CustomerID: "cust",
		Type: "PLASTIC", Mode: "CREDIT", Status: "BLOCKED", PreviousStatus: "NORMAL", Name: "Ana",
		PrintedName: "ANA", Brand: "VISA", BIN: "411111", Last4: "1234", PANHash: "hash",
		IssuingDate: time.Date(1999, 12, 31, 23, 59, 59, 999999000, time.UTC), ExpirationDate: at.AddDate(3, 0, 0),
		ActivationDate:      time.Date(1969, 7, 20, 20, 17, 40, 654321000, time.UTC),
		ValidityPeriodHours: 48, ValidUntil: at.Add(48 * time.Hour), TrackNumber: 2, ReissuedCardID: 99,
		BulkID: "bulk", ExternalID: "ext", Synced: true, CloseDate: at.Add(2 * time.Hour), Metadata: `{"a":1}`,
		EmbossingCustomField: "emb", EmbossingGroup: "grp", PINLength: 6, ContactlessEnabled: true,
		TransactionLimit: "100.00", TemplateID: "tpl", CVVRotationIntervalHours: &hours, PasswordTries: 2,
		Version: 5, CreatedAt: at, UpdatedAt: at.Add(time.Minute),
	}
	sparse = cardRow{ID: 42, Token: "tok-42", OrgID: "org", Type: "VIRTUAL", Mode: "DEBIT", Status: "NORMAL",
		IssuingDate: at, Version: 1, CreatedAt: at, UpdatedAt: at}
	return full, sparse
}
