package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/noname"
	"github.com/cardcore/cardcore/reissue"
)

// replace shows a reissue of the PLASTIC card and a noname bulk whose
// card is bound to the customer, then canceled with the rest of the bulk.
func (d *demo) replace(ctx context.Context, cs *demoCards) error {
	d.section("5. reissue and noname cards")
	rs := d.core.Reissue
	reason, err := rs.CreateReason(ctx, card.Reason{OrgID: d.org, Description: "Damaged card",
		Type: "DAMAGED", Cost: "0", Enabled: true})
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  reason       %d %s: %q, must_block %v\n", reason.ID, reason.Type, reason.Description, reason.MustBlock)

	from := cs.plastic.Status
	res, err := rs.Reissue(ctx, reissue.Request{OrgID: d.org, CardID: cs.plastic.ID, ReasonID: reason.ID})
	if err != nil {
		return fmt.Errorf("reissue card %d: %w", cs.plastic.ID, err)
	}
	cs.plastic = res.Old
	d.say("reissue", &res.Old, "%s -> %s; successor card %d", from, res.Old.Status, res.New.ID)
	d.say("successor", &res.New, "%s, track number %d, reissued_card_id %d", res.New.Status, res.New.TrackNumber, res.New.ReissuedCardID)
	again, err := rs.Reissue(ctx, reissue.Request{OrgID: d.org, CardID: cs.plastic.ID, ReasonID: reason.ID})
	if err != nil || !again.Existing || again.New.ID != res.New.ID {
		return fmt.Errorf("second reissue of card %d: got successor %d (existing %v), %v; want %d", cs.plastic.ID, again.New.ID, again.Existing, err, res.New.ID)
	}
	d.say("reissue", &res.Old, "again: the same successor, card %d; nothing written", again.New.ID)
	succ, err := d.core.Cards.Activate(ctx, d.org, res.New.ID)
	if err != nil {
		return fmt.Errorf("activate successor %d: %w", res.New.ID, err)
	}
	cs.successor = succ
	d.say("activate", &succ, "CREATED -> %s", succ.Status)
	old, err := d.core.Cards.Get(ctx, d.org, cs.plastic.ID)
	if err != nil {
		return err
	}
	if old.Status != card.Canceled {
		return fmt.Errorf("card %d is %s after its successor was activated, want CANCELED", old.ID, old.Status)
	}
	d.say("predecessor", &old, "%s -> %s when its successor was activated", cs.plastic.Status, old.Status)
	cs.plastic = old
	return d.bulk(ctx, cs)
}

func (d *demo) bulk(ctx context.Context, cs *demoCards) error {
	nn := d.core.Noname
	b, err := nn.Create(ctx, noname.CreateRequest{OrgID: d.org, ExternalIDs: []string{"gift-001", "gift-002", "gift-003"}})
	if err != nil {
		return err
	}
	if b, err = nn.Start(ctx, d.org, b.ID); err != nil {
		return err
	}
	view, err := nn.Get(ctx, d.org, b.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  bulk         %s %s: %d external ids, cards %v\n", b.ID, b.Status, b.ExternalIDs, view.Cards)
	ids, err := d.bulkCardIDs(ctx, b.ID)
	if err != nil {
		return err
	}
	bound, err := nn.Bind(ctx, noname.BindRequest{OrgID: d.org, CardID: ids[0],
		AccountID: d.account, CustomerID: d.customer, PrintedName: "GRACE HOPPER"})
	if err != nil {
		return fmt.Errorf("bind card %d: %w", ids[0], err)
	}
	cs.bound = bound.Card
	d.say("bind", &bound.Card, "UNBOUND -> %s for account %s, customer %s", bound.Card.Status, bound.Card.AccountID, bound.Card.CustomerID)
	_, err = nn.Bind(ctx, noname.BindRequest{OrgID: d.org, CardID: ids[0], AccountID: d.account, CustomerID: "cust-2"})
	if err := d.refused("bind again", &bound.Card, err); err != nil {
		return err
	}
	b, canceled, err := nn.Cancel(ctx, d.org, b.ID, noname.CancelFull, nil)
	if err != nil {
		return err
	}
	if view, err = nn.Get(ctx, d.org, b.ID); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  cancel bulk  FULL: cards %v canceled, the bound card untouched; bulk %s, cards %v\n", canceled, b.Status, view.Cards)
	return nil
}

// bulkCardIDs finds the ids of a started bulk's cards the way a client
// does: in the Card created events, which carry bulk_id.
func (d *demo) bulkCardIDs(ctx context.Context, bulk string) ([]int64, error) {
	feed, err := d.core.Store.Feed(ctx, d.org, 0, 10000)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, e := range feed {
		var data events.CardData
		if e.Type == events.CardCreated && json.Unmarshal(e.Data, &data) == nil && data.BulkID == bulk {
			ids = append(ids, data.CardID)
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("no Card created event for bulk %s", bulk)
	}
	return ids, nil
}
