package bunstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/storage"
	"github.com/google/uuid"
)

// The multi-row statements fit SQLite's bound on arguments, and a batch of
// any size is cut into full statements and at most a few distinct smaller
// ones, so the statement cache holds a handful of texts per table.
func TestBulkStatementShapes(t *testing.T) {
	const sqliteMaxArgs = 32766 // SQLITE_MAX_VARIABLE_NUMBER since 3.32
	for _, b := range []*bulkTable{cardInsert, eventInsert} {
		if n := len(b.cols) * b.sqliteRows; n > sqliteMaxArgs {
			t.Errorf("%s: a SQLite statement of %d rows has %d arguments, over %d", b.name, b.sqliteRows, n, sqliteMaxArgs)
		}
		if len(b.pgTypes) != len(b.cols) {
			t.Errorf("%s: %d PostgreSQL types for %d columns", b.name, len(b.pgTypes), len(b.cols))
		}
		sizes := map[int]bool{}
		for n := 1; n <= 3*b.sqliteRows+1; n++ {
			sum := 0
			for sum < n {
				size := b.sqliteRowsFor(n - sum)
				if size < 1 || size > n-sum {
					t.Fatalf("%s: %d rows left give a statement of %d", b.name, n-sum, size)
				}
				sizes[size] = true
				sum += size
			}
		}
		if len(sizes) > 8 {
			t.Errorf("%s: %d statement sizes %v", b.name, len(sizes), sizes)
		}
	}
	if cardInsert.cols[0] != "token" || len(cardInsert.cols) != len(cardTable)-1 {
		t.Errorf("card columns %v, want every column of cardTable but id", cardInsert.cols)
	}
}

// SaveNew writes batches of sizes that are not multiples of a
// statement's rows, on both databases: every column reads back as given,
// NULL and not, each id belongs to its card's token, and ids ascend in
// slice order.
func TestBulkInsertCardsRoundTrip(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			s, db := storeForPlan(t, kind)
			var seq int
			var last int64
			for _, n := range []int{1, 5, 99, 101, 1000, 1234, bulkBatch + 3} {
				cs := make([]card.Card, n)
				for i := range cs {
					seq++
					cs[i] = variedCard(seq)
				}
				err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
					return tx.SaveNew(ctx, cs, events.Created(card.StartBulk, time.Now()))
				})
				if err != nil {
					t.Fatalf("SaveNew of %d: %v", n, err)
				}
				for i := range cs {
					if cs[i].ID <= last {
						t.Fatalf("batch of %d: card %d has id %d, not above %d", n, i, cs[i].ID, last)
					}
					last = cs[i].ID
					var got cardRow
					dests := make([]any, len(cardTable))
					for j, c := range cardTable {
						dests[j] = c.dest(&got)
					}
					err := db.DB.QueryRowContext(t.Context(), storedRow+s.q.text.ph(1), cs[i].ID).Scan(dests...)
					if err != nil {
						t.Fatalf("batch of %d: read card %d (id %d): %v", n, i, cs[i].ID, err)
					}
					want := rowOf(&cs[i])
					for _, c := range cardTable {
						if !c.same(&got, &want) {
							t.Errorf("batch of %d, card %d: %s = %v, want %v", n, i, c.name, c.arg(s.q.text, &got), c.arg(s.q.text, &want))
						}
					}
				}
			}
		})
	}
}

// storedRow reads every column of cardTable, derived keys included, of
// the card whose id follows.
var storedRow = func() string {
	names := make([]string, len(cardTable))
	for i, c := range cardTable {
		names[i] = c.name
	}
	return "SELECT " + strings.Join(names, ", ") + " FROM cardcore_cards WHERE id = "
}()

// variedCard returns a new card, distinct by n, whose nullable columns
// are all set when n is even and all NULL when n is odd; a CVV rotation of
// 0 is a value, not NULL.
func variedCard(n int) card.Card {
	zone := time.FixedZone("UTC+3", 3*60*60)
	at := time.Date(2030, 1, 2, 3, 4, 5, 123456789, zone).Add(time.Duration(n) * time.Minute)
	c := card.Card{
		OrgID: "org", ProgramID: int64(n), AccountID: fmt.Sprint("acct-", n), CustomerID: fmt.Sprint("cust-", n),
		Type: card.Plastic, Mode: card.Credit, Status: card.Canceled, PreviousStatus: card.Normal,
		Name: card.PlasticName, PrintedName: `O'Brien "Jo" \ Ünïcode`, Brand: card.Visa,
		BIN: "411111", Last4: fmt.Sprintf("%04d", n%10000), PANHash: fmt.Sprint("hash-", n),
		IssuingDate: at, ValidityPeriodHours: n % 3, TrackNumber: n%5 + 1,
		EmbossingCustomField: "emb", EmbossingGroup: "grp", PINLength: 4 + 2*(n%2),
		ContactlessEnabled: n%3 == 0, TransactionLimit: "100.50", TemplateID: "tpl",
		Version: 1, CreatedAt: at, UpdatedAt: at.Add(time.Second),
	}
	if n%2 == 0 {
		cvv := n % 4 // 0 for every other even card
		c.Type, c.Status, c.Name = card.Virtual, card.Normal, fmt.Sprint("alias-", n)
		c.ExpirationDate = card.MonthOf(at).AddDate(3, 0, 0)
		c.ActivationDate = at.Add(time.Hour)
		c.ValidUntil = at.Add(48 * time.Hour)
		c.ReissuedCardID = int64(1_000_000 + n)
		c.BulkID, c.ExternalID = "bulk", fmt.Sprint("ext-", n)
		c.Synced, c.CloseDate = true, at.Add(72*time.Hour)
		c.Metadata = json.RawMessage(fmt.Sprintf(`{"n": %d, "s": "it's"}`, n))
		c.CVVRotationIntervalHours = &cvv
	}
	if n%7 == 0 {
		c.Token = uuid.NewString() // a given token is kept
	}
	return c
}

// Append of many events writes them in slice order (seq ascending), with
// card_id NULL for an event of no card and every field as given, on both
// databases.
func TestBulkAppendKeepsOrder(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			s, db := storeForPlan(t, kind)
			zone := time.FixedZone("UTC-5", -5*60*60)
			for _, n := range []int{appendOneByOne + 1, 33, 1000, bulkBatch + 7} {
				org := fmt.Sprint("org-", n)
				evs := make([]events.Event, n)
				for i := range evs {
					evs[i] = events.Event{
						ID: uuid.NewString(), OrgID: org, Type: events.CardCreated, CID: fmt.Sprint("cid-", i),
						Timestamp: time.Date(2030, 5, 6, 7, 8, 9, 987654321, zone).Add(-time.Duration(i) * time.Second),
						Data:      json.RawMessage(fmt.Sprintf(`{"i": %d, "q": "\"'"}`, i)),
					}
					if i%3 != 0 {
						evs[i].CardID = int64(n*10 + i)
					}
				}
				if err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error { return tx.Append(ctx, evs...) }); err != nil {
					t.Fatalf("Append of %d: %v", n, err)
				}
				rows, err := db.DB.QueryContext(t.Context(),
					"SELECT seq, event_id, org_id, card_id, event_type, cid, occurred_at, data FROM cardcore_outbox WHERE org_id = "+s.q.text.ph(1)+" ORDER BY seq", org)
				if err != nil {
					t.Fatal(err)
				}
				i := 0
				for ; rows.Next(); i++ {
					var seq int64
					var id, gotOrg, typ, cid, data string
					var cardID sql.NullInt64
					var at time.Time
					if err := rows.Scan(&seq, &id, &gotOrg, &cardID, &typ, &cid, timeDest{&at}, &data); err != nil {
						t.Fatal(err)
					}
					if i >= n {
						continue
					}
					e := evs[i]
					if id != e.ID || gotOrg != e.OrgID || typ != string(e.Type) || cid != e.CID || data != string(e.Data) || !at.Equal(utc(e.Timestamp)) {
						t.Errorf("Append of %d: row %d (seq %d) is (%s, %s, %s, %s, %v, %s), want event %d %+v", n, i, seq, id, gotOrg, typ, cid, at, data, i, e)
					}
					if cardID.Valid != (e.CardID != 0) || cardID.Int64 != e.CardID {
						t.Errorf("Append of %d: row %d has card_id %v, want %d (NULL for 0)", n, i, cardID, e.CardID)
					}
				}
				if err := rows.Err(); err != nil {
					t.Fatal(err)
				}
				rows.Close()
				if i != n {
					t.Errorf("Append of %d wrote %d rows", n, i)
				}
			}
		})
	}
}

// A card stored without a token gets a version 7 UUID (newToken), and the
// tokens the store makes ascend with the cards' ids, whatever wrote them:
// Save's insert, SaveNew's multi-row statements, and on PostgreSQL its
// COPY (copyMin cards or more). A given token is kept.
func TestStoredTokensAscend(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			s, _ := storeForPlan(t, kind)
			var made []card.Card
			for _, n := range []int{1, 3, copyMin, 2*copyMin + 5} {
				cs := make([]card.Card, n)
				for i := range cs {
					cs[i] = variedCard(len(made) + i + 1)
					cs[i].Token = ""
				}
				err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
					if n == 1 {
						return tx.Save(ctx, &cs[0], events.Created(card.Create, time.Now()))
					}
					return tx.SaveNew(ctx, cs, events.Created(card.StartBulk, time.Now()))
				})
				if err != nil {
					t.Fatalf("save %d: %v", n, err)
				}
				made = append(made, cs...)
			}
			given := []card.Card{variedCard(7)}
			want := given[0].Token
			if err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
				return tx.SaveNew(ctx, given, events.Created(card.StartBulk, time.Now()))
			}); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Card(t.Context(), given[0].OrgID, given[0].ID); err != nil || got.Token != want {
				t.Errorf("a card saved with token %s reads back %q, %v", want, got.Token, err)
			}
			for i, c := range made {
				stored, err := s.Card(t.Context(), c.OrgID, c.ID)
				if err != nil {
					t.Fatal(err)
				}
				u, err := uuid.Parse(stored.Token)
				if err != nil || u.Version() != 7 || stored.Token != c.Token {
					t.Fatalf("card %d (id %d): token %q (version %d, %v), given back %q; want a stored version 7 UUID",
						i, c.ID, stored.Token, u.Version(), err, c.Token)
				}
				if i > 0 && (c.ID <= made[i-1].ID || c.Token <= made[i-1].Token) {
					t.Fatalf("card %d: id %d token %s after id %d token %s; want both ascending",
						i, c.ID, c.Token, made[i-1].ID, made[i-1].Token)
				}
			}
		})
	}
}
