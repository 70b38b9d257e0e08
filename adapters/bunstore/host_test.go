package bunstore_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cardcore/cardcore/adapters/bunstore"
	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/storage"
	"github.com/uptrace/bun"
)

// hostDB returns a migrated database with a table of the host's own, and
// a store over it.
func hostDB(t *testing.T, db *bun.DB) *bunstore.Store {
	t.Helper()
	if _, err := db.ExecContext(t.Context(), "CREATE TABLE host_orders (id INTEGER PRIMARY KEY, note TEXT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	return newStore(t, db)
}

// order writes a row of the host's table in tx.
func order(t *testing.T, tx bun.Tx, id int, note string) {
	t.Helper()
	if _, err := tx.ExecContext(t.Context(), "INSERT INTO host_orders (id, note) VALUES (?, ?)", id, note); err != nil {
		t.Fatalf("the host's insert: %v", err)
	}
}

// orders returns the notes of the host's committed rows, by id.
func orders(t *testing.T, db *bun.DB) []string {
	t.Helper()
	var notes []string
	if err := db.NewSelect().Table("host_orders").Column("note").OrderExpr("id").Scan(t.Context(), &notes); err != nil {
		t.Fatal(err)
	}
	return notes
}

// begin opens the host's transaction; it is rolled back when the test
// ends without a commit.
func begin(t *testing.T, db *bun.DB) bun.Tx {
	t.Helper()
	tx, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback() })
	return tx
}

// hostChange writes a row of the host's table and a card through the
// store bound to the host's transaction, and checks that the bound store
// reads the card while the store's own connections do not yet.
func hostChange(t *testing.T, db *bun.DB, s *bunstore.Store) (bun.Tx, card.Card) {
	t.Helper()
	tx := begin(t, db)
	order(t, tx, 1, "order")
	bound := s.InTx(tx)
	c := insert(t, bound, validCard(testNow()))
	if got, err := bound.Card(t.Context(), "org", c.ID); err != nil || got.Version != 1 {
		t.Errorf("the bound store's Card in the host's transaction: version %d, %v", got.Version, err)
	}
	if got, err := bound.CardsByAccount(t.Context(), "org", c.AccountID, storage.Page{Limit: 10}); err != nil || len(got) != 1 {
		t.Errorf("the bound store's CardsByAccount in the host's transaction: %d cards, %v", len(got), err)
	}
	if _, err := s.Card(t.Context(), "org", c.ID); !errors.Is(err, card.ErrNotFound) {
		t.Errorf("the store's Card before the host commits: %v, want not found", err)
	}
	if evs := feed(t, s); len(evs) != 0 {
		t.Errorf("the feed before the host commits holds %d events, want none", len(evs))
	}
	return tx, c
}

// The host's commit keeps its row, the card and the card's event; its
// rollback keeps neither its row nor the card, nor its event.
func TestInTxEndsWithTheHost(t *testing.T) {
	for _, c := range []struct {
		end  string
		kept bool
	}{{"commit", true}, {"rollback", false}} {
		t.Run(c.end, func(t *testing.T) {
			testdb.Each(t, func(t *testing.T, db *bun.DB) {
				s := hostDB(t, db)
				tx, cd := hostChange(t, db, s)
				end := tx.Rollback
				if c.kept {
					end = tx.Commit
				}
				if err := end(); err != nil {
					t.Fatal(err)
				}
				var wantOrders []string
				if c.kept {
					wantOrders = []string{"order"}
				}
				if got := orders(t, db); !slices.Equal(got, wantOrders) {
					t.Errorf("the host's rows after %s: %v, want %v", c.end, got, wantOrders)
				}
				_, err := s.Card(t.Context(), "org", cd.ID)
				if c.kept && err != nil || !c.kept && !errors.Is(err, card.ErrNotFound) {
					t.Errorf("the card after the host's %s: %v, want it found: %t", c.end, err, c.kept)
				}
				evs := feed(t, s)
				if c.kept && (len(evs) != 1 || evs[0].CardID != cd.ID) || !c.kept && len(evs) != 0 {
					t.Errorf("the feed after the host's %s: %v, want the card's creation: %t", c.end, evs, c.kept)
				}
			})
		})
	}
}

// An Update of the bound store whose function fails, by its own refusal or
// by a statement the database refused (which aborts a PostgreSQL
// transaction), leaves nothing of itself, and the host's transaction goes
// on and commits what it and the other Updates wrote. An Update nested in
// another rolls back alone.
func TestInTxFailedUpdateLeavesNothingOfItself(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := t.Context()
		s := hostDB(t, db)
		tx := begin(t, db)
		order(t, tx, 1, "before")
		bound := s.InTx(tx)
		refusal := errors.New("the use case refuses")
		// refusing saves a card of alias, then refuses.
		refusing := func(alias string) error {
			return bound.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
				c := virtualCard(alias, card.Normal)
				if err := tx.Save(ctx, &c, created); err != nil {
					return err
				}
				return refusal
			})
		}
		err := refusing("refused")
		if !errors.Is(err, refusal) {
			t.Fatalf("the refusing Update: %v, want the refusal", err)
		}
		kept := insert(t, bound, virtualCard("alias", card.Normal))
		err = bound.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
			dup := virtualCard("alias", card.Normal)
			return tx.Save(ctx, &dup, created)
		})
		if !errors.Is(err, card.ErrConflict) {
			t.Fatalf("the Update breaking the alias rule: %v, want a conflict", err)
		}
		err = bound.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
			c := virtualCard("outer", card.Normal)
			if err := tx.Save(ctx, &c, created); err != nil {
				return err
			}
			if err := refusing("inner"); !errors.Is(err, refusal) {
				t.Errorf("the nested Update: %v, want the refusal", err)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("the Update around the nested one: %v", err)
		}
		order(t, tx, 2, "after")
		if err := tx.Commit(); err != nil {
			t.Fatalf("the host's commit: %v", err)
		}
		if got := orders(t, db); !slices.Equal(got, []string{"before", "after"}) {
			t.Errorf("the host's rows: %v, want before and after", got)
		}
		// The failed Updates' cards are of the same account: only the
		// others are there.
		cards, err := s.CardsByAccount(ctx, "org", "a1", storage.Page{Limit: 10})
		if err != nil || len(cards) != 2 || cards[0].ID != kept.ID || cards[1].Name != "outer" {
			t.Errorf("the cards after the host's commit: %v (%v), want card %d and the outer one", cards, err, kept.ID)
		}
		if evs := feed(t, s); len(evs) != 2 || evs[0].CardID != cards[0].ID || evs[1].CardID != cards[1].ID {
			t.Errorf("the feed after the host's commit: %v, want the creations of the two kept cards", evs)
		}
	})
}

// Every read of the bound store runs in the host's transaction and sees
// what it wrote before it commits; the store's own reads see it after.
func TestInTxReadsSeeTheHostsWrites(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := t.Context()
		s := newStore(t, db)
		tx := begin(t, db)
		bound := s.InTx(tx)
		c := validCard(testNow())
		c.Status, c.BulkID, c.ExternalID, c.AccountID, c.CustomerID = card.Unbound, "b1", "e1", "", ""
		r := card.Reason{OrgID: "org", Description: "Lost", Type: "LOST", Cost: "0", Enabled: true, CreatedAt: testNow(), UpdatedAt: testNow()}
		b := card.Bulk{ID: "b1", OrgID: "org", ProgramID: 1, Status: card.BulkStarted, PINLength: 4, Version: 1, CreatedAt: testNow(), UpdatedAt: testNow()}
		err := bound.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
			return errors.Join(tx.Save(ctx, &c, created), tx.SaveReason(ctx, &r), tx.SaveBulk(ctx, &b))
		})
		if err != nil {
			t.Fatal(err)
		}
		reads := map[string]func(s *bunstore.Store) error{
			"Card":        func(s *bunstore.Store) error { _, err := s.Card(ctx, "org", c.ID); return err },
			"CardByToken": func(s *bunstore.Store) error { _, err := s.CardByToken(ctx, "org", c.Token); return err },
			"Reason":      func(s *bunstore.Store) error { _, err := s.Reason(ctx, "org", r.ID); return err },
			"Bulk":        func(s *bunstore.Store) error { _, err := s.Bulk(ctx, "org", b.ID); return err },
			"Reasons": func(s *bunstore.Store) error {
				rs, err := s.Reasons(ctx, "org", nil, storage.Page{Limit: 10})
				return found(len(rs), err)
			},
			"BulkView": func(s *bunstore.Store) error {
				_, counts, err := s.BulkView(ctx, "org", b.ID)
				return found(counts[card.Unbound], err)
			},
		}
		for name, read := range reads {
			if err := read(bound); err != nil {
				t.Errorf("the bound store's %s in the host's transaction: %v", name, err)
			}
			if err := read(s); !errors.Is(err, card.ErrNotFound) {
				t.Errorf("the store's %s before the host commits: %v, want not found", name, err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		for name, read := range reads {
			if err := read(s); err != nil {
				t.Errorf("the store's %s after the host's commit: %v", name, err)
			}
		}
	})
}

// found is card.ErrNotFound when a list read found n = 0 things.
func found(n int, err error) error {
	if err == nil && n == 0 {
		return card.ErrNotFound
	}
	return err
}

// The bound store never retries: a PostgreSQL deadlock between two host
// transactions comes back from Update after one run of its function,
// translated (no driver type) and reported by Retryable, for the host to
// run its whole transaction again.
func TestInTxDeadlockIsReturnedNotRetried(t *testing.T) {
	db := testdb.Open(t, "postgres")
	ctx := t.Context()
	s := newStore(t, db)
	a, b := insert(t, s, validCard(testNow())), insert(t, s, validCard(testNow()))
	var runs [2]int
	errs := make([]error, 2)
	locked := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for i, order := range [][2]card.Card{{a, b}, {b, a}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				errs[i] = err
				return
			}
			defer tx.Rollback() //nolint:errcheck // the test only reads the Updates' errors
			errs[i] = s.InTx(tx).Update(ctx, func(ctx context.Context, tx storage.Tx) error {
				runs[i]++
				if _, err := tx.Card(ctx, "org", order[0].ID); err != nil {
					return err
				}
				locked <- struct{}{}
				for len(locked) < 2 && ctx.Err() == nil { // both hold their first card
					time.Sleep(time.Millisecond)
				}
				_, err := tx.Card(ctx, "org", order[1].ID)
				return err
			})
		}()
	}
	wg.Wait()
	failed := 0
	for i, err := range errs {
		if err == nil {
			continue
		}
		failed++
		var pg interface{ SQLState() string }
		if !bunstore.Retryable(err) || errors.As(err, &pg) {
			t.Errorf("transaction %d: %v, want a deadlock that Retryable reports and no driver error", i, err)
		}
	}
	if failed != 1 || runs != [2]int{1, 1} {
		t.Errorf("%d of the two transactions failed, their functions ran %v times; want one deadlock and one run each", failed, runs)
	}
}
