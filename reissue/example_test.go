package reissue_test

import (
	"context"
	"fmt"
	"log"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/internal/exampledb"
	"github.com/cardcore/cardcore/lifecycle"
	"github.com/cardcore/cardcore/reissue"
)

// A PLASTIC card reissued for a reason without must_block stays usable as
// REISSUED until its successor is activated, which cancels it.
func ExampleService_Reissue() {
	ctx := context.Background()
	cc, done := exampledb.Open()
	defer done()

	reason, err := cc.Reissue.CreateReason(ctx, card.Reason{OrgID: "acme", Description: "Worn out",
		Type: "DAMAGED", Cost: "0", Enabled: true})
	if err != nil {
		log.Fatal(err)
	}
	old, err := cc.Cards.Create(ctx, lifecycle.CreateRequest{OrgID: "acme", AccountID: "42", CustomerID: "7",
		Type: card.Plastic, PrintedName: "ADA LOVELACE"})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := cc.Cards.Activate(ctx, "acme", old.ID); err != nil {
		log.Fatal(err)
	}

	res, err := cc.Reissue.Reissue(ctx, reissue.Request{OrgID: "acme", CardID: old.ID, ReasonID: reason.ID,
		IdempotencyKey: "reissue-1"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("old:", res.Old.ID, res.Old.Status)
	fmt.Println("new:", res.New.ID, res.New.Status, "track", res.New.TrackNumber, "replaces", res.New.ReissuedCardID)

	again, err := cc.Reissue.Reissue(ctx, reissue.Request{OrgID: "acme", CardID: old.ID, ReasonID: reason.ID,
		IdempotencyKey: "reissue-1"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("replayed:", again.Existing, again.New.ID)

	if _, err := cc.Cards.Activate(ctx, "acme", res.New.ID); err != nil {
		log.Fatal(err)
	}
	o, err := cc.Cards.Get(ctx, "acme", old.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("old after the activation:", o.Status)
	// Output:
	// old: 1 REISSUED
	// new: 2 CREATED track 2 replaces 1
	// replayed: true 2
	// old after the activation: CANCELED
}
