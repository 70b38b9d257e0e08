package lifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/internal/exampledb"
	"github.com/cardcore/cardcore/lifecycle"
)

// A card's status changes only as the transition table allows: a person
// blocks and unblocks a card, a refused change says why, and setting the
// status a card already has writes nothing.
func ExampleCards_UpdateStatus() {
	ctx := context.Background()
	cc, done := exampledb.Open()
	defer done()

	c, err := cc.Cards.Create(ctx, lifecycle.CreateRequest{OrgID: "acme", AccountID: "42", CustomerID: "7",
		Type: card.Plastic, PrintedName: "ADA LOVELACE"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created:", c.Status)

	_, err = cc.Cards.UpdateStatus(ctx, "acme", c.ID, card.Normal)
	var refused *card.ConflictError
	if errors.As(err, &refused) {
		fmt.Println("refused:", refused.Status, "->", refused.Requested, "|", refused.Reason)
	}
	if c, err = cc.Cards.Activate(ctx, "acme", c.ID); err != nil {
		log.Fatal(err)
	}
	fmt.Println("activated:", c.Status, "version", c.Version)
	for _, to := range []card.Status{card.Blocked, card.Blocked, card.Normal, card.Lost} {
		if c, err = cc.Cards.UpdateStatus(ctx, "acme", c.ID, to); err != nil {
			log.Fatal(err)
		}
		fmt.Println("status:", c.Status, "version", c.Version)
	}
	_, err = cc.Cards.UpdateStatus(ctx, "acme", c.ID, card.Normal)
	fmt.Println("terminated:", errors.Is(err, card.ErrConflict), err.(*card.ConflictError).Reason)
	// Output:
	// created: CREATED
	// refused: CREATED -> NORMAL | a CREATED card becomes NORMAL only by activation
	// activated: NORMAL version 2
	// status: BLOCKED version 3
	// status: BLOCKED version 3
	// status: NORMAL version 4
	// status: LOST version 5
	// terminated: true a terminated card never returns to an active or temporary status
}

// Allowed answers from the transition table alone, without a card.
func ExampleAllowed() {
	fmt.Println(lifecycle.Allowed(card.UpdateStatus, card.Normal, card.Blocked))
	fmt.Println(lifecycle.Allowed(card.UpdateStatus, card.Normal, card.Inoperative))
	fmt.Println(lifecycle.Allowed(card.Activate, card.Created, card.Normal))
	// Output:
	// true
	// false
	// true
}
