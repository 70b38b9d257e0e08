package cardcore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/cardcore/cardcore"
	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/noname"
	"github.com/cardcore/cardcore/storage"
	"github.com/uptrace/bun"
)

// hostAccount is a row of the host's own table.
type hostAccount struct {
	bun.BaseModel `bun:"table:host_accounts"`
	ID            string `bun:"id,pk"`
	Name          string `bun:"name,notnull"`
}

// hostEnv is cardcore beside a table of the host's, in one database.
type hostEnv struct {
	db *bun.DB
	cc *cardcore.Core
}

func newHostEnv(t *testing.T, db *bun.DB) *hostEnv {
	t.Helper()
	cc, err := cardcore.New(t.Context(), db, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	if _, err := db.NewCreateTable().Model((*hostAccount)(nil)).Exec(t.Context()); err != nil {
		t.Fatal(err)
	}
	return &hostEnv{db: db, cc: cc}
}

// openAccount is the host's use case: its account row and the account's
// first card, in the host's transaction.
func openAccount(ctx context.Context, tx bun.Tx, cc *cardcore.Core, id string) (card.Card, error) {
	if _, err := tx.NewInsert().Model(&hostAccount{ID: id, Name: "account " + id}).Exec(ctx); err != nil {
		return card.Card{}, err
	}
	return cc.Cards.Create(ctx, virtual(id, "first card"))
}

// state is what the database holds of account id once the transaction
// ended: the host's row, the account's cards and the org's events.
func (e *hostEnv) state(t *testing.T, id string) (rows int, cards []card.Card, evs []events.Event) {
	t.Helper()
	n, err := e.db.NewSelect().Model((*hostAccount)(nil)).Where("id = ?", id).Count(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	rows = int(n)
	if cards, err = e.cc.Cards.ListByAccount(t.Context(), org, id, storage.Page{Limit: 100}); err != nil {
		t.Fatal(err)
	}
	if evs, err = e.cc.Store.Feed(t.Context(), org, 0, 100); err != nil {
		t.Fatal(err)
	}
	return rows, cards, evs
}

// The host's row and the account's first card commit together, with the
// card's event: it is in the feed once the host commits. Inside, cardcore
// reads the host's uncommitted card; outside, nobody does.
func TestHostTransactionCommits(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		e := newHostEnv(t, db)
		var c card.Card
		err := e.cc.RunInTx(t.Context(), nil, func(ctx context.Context, tx bun.Tx, cc *cardcore.Core) error {
			var err error
			if c, err = openAccount(ctx, tx, cc, "acct-1"); err != nil {
				return err
			}
			if got, err := cc.Cards.Get(ctx, org, c.ID); err != nil || got.Version != c.Version {
				t.Errorf("inside the transaction: card %d v%d, %v; want the new card", got.ID, got.Version, err)
			}
			if _, err := e.cc.Cards.Get(ctx, org, c.ID); !errors.Is(err, card.ErrNotFound) {
				t.Errorf("outside the transaction before its commit: %v, want not found", err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		rows, cards, evs := e.state(t, "acct-1")
		if rows != 1 || len(cards) != 1 || cards[0].ID != c.ID {
			t.Errorf("after the commit: %d host rows, cards %v; want the row and card %d", rows, cards, c.ID)
		}
		if len(evs) != 1 || evs[0].CardID != c.ID || evs[0].Type != events.CardCreated {
			t.Errorf("feed after the commit: %v, want the card's create-1", evs)
		}
	})
}

// When the host rolls back, neither its row nor the card nor its event is
// kept: with an error of the function, and with InTx on a transaction the
// host rolls back itself.
func TestHostTransactionRollsBack(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		e := newHostEnv(t, db)
		changedItsMind := errors.New("the host changed its mind")
		err := e.cc.RunInTx(t.Context(), nil, func(ctx context.Context, tx bun.Tx, cc *cardcore.Core) error {
			if _, err := openAccount(ctx, tx, cc, "acct-1"); err != nil {
				return err
			}
			return changedItsMind
		})
		if !errors.Is(err, changedItsMind) {
			t.Fatalf("RunInTx: %v, want the function's error", err)
		}

		tx, err := db.BeginTx(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := openAccount(t.Context(), tx, e.cc.InTx(tx), "acct-2"); err != nil {
			t.Fatal(err)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}

		for _, id := range []string{"acct-1", "acct-2"} {
			rows, cards, evs := e.state(t, id)
			if rows != 0 || len(cards) != 0 || len(evs) != 0 {
				t.Errorf("%s after the rollback: %d host rows, %d cards, %d events; want none", id, rows, len(cards), len(evs))
			}
		}
	})
}

// A use case that cardcore refuses inside the host's transaction leaves
// nothing of its own and the transaction usable: a refused transition, and
// a bulk increment whose duplicate external id the database refuses after
// it added another id (on PostgreSQL, a failed statement would abort the
// whole transaction but for the savepoint). A nested RunInTx that fails
// leaves nothing either.
func TestHostTransactionSurvivesARefusal(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		e := newHostEnv(t, db)
		var c card.Card
		var bulk card.Bulk
		err := e.cc.RunInTx(t.Context(), nil, func(ctx context.Context, tx bun.Tx, cc *cardcore.Core) error {
			var err error
			if c, err = openAccount(ctx, tx, cc, "acct-1"); err != nil {
				return err
			}
			if _, err := cc.Cards.UpdateStatus(ctx, org, c.ID, card.Inoperative); !errors.Is(err, card.ErrConflict) {
				t.Errorf("INOPERATIVE by hand: %v, want a conflict", err)
			}
			if bulk, err = cc.Noname.Create(ctx, noname.CreateRequest{OrgID: org, ExternalIDs: []string{"a", "b"}}); err != nil {
				return err
			}
			if _, err := cc.Noname.Increment(ctx, org, bulk.ID, []string{"c", "a"}); !errors.Is(err, card.ErrConflict) {
				t.Errorf("increment with an id the bulk holds: %v, want a conflict", err)
			}
			if _, err := tx.NewInsert().Model(&hostAccount{ID: "acct-2", Name: "after the refusals"}).Exec(ctx); err != nil {
				return err
			}
			if _, err := cc.Noname.Increment(ctx, org, bulk.ID, []string{"c"}); err != nil {
				return err
			}
			// RunInTx of the bound core is a savepoint: rolled back alone.
			nested := errors.New("the nested step failed")
			err = cc.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx, cc *cardcore.Core) error {
				if _, err := openAccount(ctx, tx, cc, "acct-3"); err != nil {
					return err
				}
				return nested
			})
			if !errors.Is(err, nested) {
				t.Errorf("nested RunInTx: %v, want its function's error", err)
			}
			c, err = cc.Cards.UpdateStatus(ctx, org, c.ID, card.Blocked)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		rows, cards, evs := e.state(t, "acct-1")
		if rows != 1 || len(cards) != 1 || cards[0].Status != card.Blocked || cards[0].Version != 2 {
			t.Errorf("after the commit: %d host rows, cards %v; want the row and the card BLOCKED at version 2", rows, cards)
		}
		if rows, _, _ := e.state(t, "acct-2"); rows != 1 {
			t.Errorf("the host's row written after the refusals: %d rows, want 1", rows)
		}
		if rows, cards, _ := e.state(t, "acct-3"); rows != 0 || len(cards) != 0 {
			t.Errorf("the nested transaction rolled back: %d host rows, %d cards; want none", rows, len(cards))
		}
		if len(evs) != 2 || evs[0].Type != events.CardCreated || evs[1].Type != events.CardUpdated {
			t.Errorf("feed: %v, want the card's create-1 and update-1", evs)
		}
		v, err := e.cc.Noname.Get(t.Context(), org, bulk.ID)
		if err != nil || v.ExternalIDs != 3 || v.Version != 2 {
			t.Errorf("bulk: %d external ids, version %d, %v; want a, b, c at version 2", v.ExternalIDs, v.Version, err)
		}
	})
}
