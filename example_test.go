package cardcore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/cardcore/cardcore"
	"github.com/cardcore/cardcore/adapters/bunstore"
	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/internal/exampledb"
	"github.com/cardcore/cardcore/lifecycle"
	"github.com/cardcore/cardcore/storage"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	_ "modernc.org/sqlite" // the "sqlite" driver, pure Go
)

// New applies the migrations and returns the use cases: create a card,
// change its status, and meet a transition the lifecycle refuses. The
// host opens its database with the driver of its choice; a SQLite file
// is opened the way the store wants it (bunstore.ModerncDSN).
func ExampleNew() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "cardcore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sqldb, err := sql.Open("sqlite", bunstore.ModerncDSN(filepath.Join(dir, "service.db")))
	if err != nil {
		log.Fatal(err)
	}
	db := bun.NewDB(sqldb, sqlitedialect.New())
	defer db.Close()

	cc, err := cardcore.New(ctx, db, cardcore.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		log.Fatal(err)
	}
	defer cc.Close()
	never := 0
	c, err := cc.Cards.Create(ctx, lifecycle.CreateRequest{OrgID: "acme", AccountID: "42", CustomerID: "7",
		Type: card.Virtual, Name: "online shopping", CVVRotationIntervalHours: &never})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created card", c.ID, c.Type, c.Status)
	if c, err = cc.Cards.UpdateStatus(ctx, "acme", c.ID, card.Blocked); err != nil {
		log.Fatal(err)
	}
	fmt.Println("blocked:", c.Status, "version", c.Version)
	_, err = cc.Cards.UpdateStatus(ctx, "acme", c.ID, card.Inoperative)
	fmt.Println("refused:", errors.Is(err, card.ErrConflict))
	// Output:
	// created card 1 VIRTUAL NORMAL
	// blocked: BLOCKED version 2
	// refused: true
}

// The host's transaction: the service's account row and the account's
// first card commit together, with the card's event, or not at all.
func ExampleCore_RunInTx() {
	ctx := context.Background()
	db, done := exampledb.DB()
	defer done()
	cc, err := cardcore.New(ctx, db, cardcore.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		log.Fatal(err)
	}
	defer cc.Close()
	if _, err := db.ExecContext(ctx, "CREATE TABLE accounts (id TEXT PRIMARY KEY, owner TEXT NOT NULL)"); err != nil {
		log.Fatal(err)
	}

	open := func(id, owner string, commit bool) error {
		return cc.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx, cc *cardcore.Core) error {
			if _, err := tx.ExecContext(ctx, "INSERT INTO accounts (id, owner) VALUES (?, ?)", id, owner); err != nil {
				return err
			}
			_, err := cc.Cards.Create(ctx, lifecycle.CreateRequest{OrgID: "acme", AccountID: id, CustomerID: owner,
				Type: card.Plastic, PrintedName: "ADA LOVELACE"})
			if err == nil && !commit {
				err = errors.New("the account is not opened after all")
			}
			return err
		})
	}
	fmt.Println("open 42:", open("42", "ada", true))
	fmt.Println("open 43:", open("43", "grace", false))

	for _, id := range []string{"42", "43"} {
		var rows int
		if err := db.NewRaw("SELECT count(*) FROM accounts WHERE id = ?", id).Scan(ctx, &rows); err != nil {
			log.Fatal(err)
		}
		cards, err := cc.Cards.ListByAccount(ctx, "acme", id, storage.Page{Limit: 10})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("account %s: rows %d, cards %d\n", id, rows, len(cards))
	}
	evs, err := cc.Store.Feed(ctx, "acme", 0, 10)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("events:", len(evs), evs[0].Type)
	// Output:
	// open 42: <nil>
	// open 43: the account is not opened after all
	// account 42: rows 1, cards 1
	// account 43: rows 0, cards 0
	// events: 1 create-1
}
