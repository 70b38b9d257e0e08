package events_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/exampledb"
	"github.com/cardcore/cardcore/lifecycle"
)

// Every change commits with its events; a subscription's deliverer hands
// them to a destination (your broker) at least once, in feed order, and
// keeps its cursor in the store. Flush delivers the backlog and returns; a
// service runs Run instead, which goes on delivering until it is stopped.
func ExampleDeliverer_Flush() {
	ctx := context.Background()
	cc, done := exampledb.Open()
	defer done()

	never := 0
	c, err := cc.Cards.Create(ctx, lifecycle.CreateRequest{OrgID: "acme", AccountID: "42", CustomerID: "7",
		Type: card.Virtual, Name: "online", CVVRotationIntervalHours: &never})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := cc.Cards.UpdateStatus(ctx, "acme", c.ID, card.Blocked); err != nil {
		log.Fatal(err)
	}

	publish := events.PublisherFunc(func(ctx context.Context, e events.Event) error {
		var d events.CardData
		if err := json.Unmarshal(e.Data, &d); err != nil {
			return err
		}
		fmt.Println(e.Seq, e.Type, d.OperationType, d.CardStatus)
		return nil
	})
	d, err := events.NewDeliverer(cc.Store, "ledger", events.Publishing(publish), events.DelivererConfig{})
	if err != nil {
		log.Fatal(err)
	}
	n, err := d.Flush(ctx)
	fmt.Println("delivered", n, err, "cursor", d.Cursor())
	n, err = d.Flush(ctx)
	fmt.Println("again", n, err)
	// Output:
	// 1 create-1 CARD_CREATION NORMAL
	// 2 update-1 STATUS_UPDATE BLOCKED
	// delivered 2 <nil> cursor 2
	// again 0 <nil>
}
