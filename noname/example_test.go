package noname_test

import (
	"context"
	"fmt"
	"log"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/internal/exampledb"
	"github.com/cardcore/cardcore/noname"
)

// Noname cards are made in bulk, one per external id, UNBOUND; binding one
// to a customer makes it CREATED, ready for activation.
func ExampleService_Bind() {
	ctx := context.Background()
	cc, done := exampledb.Open()
	defer done()

	b, err := cc.Noname.Create(ctx, noname.CreateRequest{OrgID: "acme", ExternalIDs: []string{"kit-1", "kit-2", "kit-3"}})
	if err != nil {
		log.Fatal(err)
	}
	if b, err = cc.Noname.Start(ctx, "acme", b.ID); err != nil {
		log.Fatal(err)
	}
	view, err := cc.Noname.Get(ctx, "acme", b.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("bulk:", view.Status, "unbound cards:", view.Cards[card.Unbound])

	res, err := cc.Noname.Bind(ctx, noname.BindRequest{OrgID: "acme", CardID: 2, AccountID: "42", CustomerID: "7",
		PrintedName: "GRACE HOPPER"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("bound:", res.Card.ID, res.Card.ExternalID, res.Card.Status, res.Card.AccountID)
	if _, err := cc.Noname.Bind(ctx, noname.BindRequest{OrgID: "acme", CardID: 2, AccountID: "43", CustomerID: "8"}); err != nil {
		fmt.Println("bound again:", err)
	}
	view, err = cc.Noname.Get(ctx, "acme", b.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("unbound:", view.Cards[card.Unbound], "created:", view.Cards[card.Created])
	// Output:
	// bulk: STARTED unbound cards: 3
	// bound: 2 kit-2 CREATED 42
	// bound again: conflict: bind card 2 in status CREATED: only an UNBOUND card is bound
	// unbound: 2 created: 1
}
