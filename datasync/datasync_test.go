package datasync_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/datasync"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/cardtest"
	"github.com/google/uuid"
)

func isNotFound(err error) bool { return errors.Is(err, card.ErrNotFound) }

// The document's example: one OPEN card created, one CLOSED card created.
func TestDocumentExample(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		ctx := context.Background()
		id, err := e.Sync.Apply(ctx, batch(open("2345"), closing("6789")))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := uuid.Parse(id); err != nil {
			t.Errorf("requestId %q is not a UUID", id)
		}
		first, second := mustSynced(t, e, "2345"), mustSynced(t, e, "6789")
		for _, tc := range []struct {
			c           card.Card
			status      card.Status
			bin         string
			closeDate   time.Time
			description string
		}{
			{first, card.Normal, "123456", time.Time{}, "the OPEN card"},
			{second, card.Canceled, "873452", closed, "the CLOSED card"},
		} {
			c := tc.c
			switch {
			case c.Status != tc.status || !c.PreviousStatus.IsZero():
				t.Errorf("%s: status %s (previous %s), want %s", tc.description, c.Status, c.PreviousStatus, tc.status)
			case c.Type != card.Plastic || c.Name != card.PlasticName || c.Mode != card.Credit:
				t.Errorf("%s: type %s, name %q, mode %s; want PLASTIC, PLASTIC, CREDIT", tc.description, c.Type, c.Name, c.Mode)
			case c.Brand != card.Mastercard || c.BIN != tc.bin:
				t.Errorf("%s: brand %s, BIN %s; want MASTERCARD, %s", tc.description, c.Brand, c.BIN, tc.bin)
			case !c.Synced || c.AccountID != acct || c.CustomerID != cust || c.ProgramID != card.DefaultProgramID:
				t.Errorf("%s: synced %v, account %q, customer %q, program %d", tc.description, c.Synced, c.AccountID, c.CustomerID, c.ProgramID)
			case !c.IssuingDate.Equal(opened) || !c.CloseDate.Equal(tc.closeDate):
				t.Errorf("%s: issued %v, closed %v; want %v, %v", tc.description, c.IssuingDate, c.CloseDate, opened, tc.closeDate)
			case !c.ExpirationDate.IsZero() || c.ValidityPeriodHours != 0 || !c.ValidUntil.IsZero():
				t.Errorf("%s: expiration %v, validity %d h; want none", tc.description, c.ExpirationDate, c.ValidityPeriodHours)
			case c.Version != 1 || c.PANHash != "" || c.TrackNumber != 1:
				t.Errorf("%s: version %d, hash %q, track %d", tc.description, c.Version, c.PANHash, c.TrackNumber)
			}
			if err := c.Validate(); err != nil {
				t.Errorf("%s is not a valid card: %v", tc.description, err)
			}
		}
		evs := e.Outbox(t, org)
		if len(evs) != 2 {
			t.Fatalf("%d events, want 2 create-1", len(evs))
		}
		for i, c := range []card.Card{first, second} {
			ev := evs[i]
			if ev.Type != events.CardCreated || ev.Card.CardID != c.ID || ev.Card.CardToken != c.Token ||
				ev.Card.CardStatus != c.Status.String() || ev.Card.OperationType != card.Sync.OperationType() || ev.Card.Version != 1 {
				t.Errorf("event %d: %s %+v, want create-1 of card %d (%s, token %s, CARD_SYNC, version 1)",
					i, ev.Type, ev.Card, c.ID, c.Status, c.Token)
			}
			if ev.CID != id {
				t.Errorf("event %d has cid %q, want the requestId %q", i, ev.CID, id)
			}
		}
	})
}

// An update changes the fields it gives, one at a time, and nothing else;
// each change is one update-1.
func TestUpdateChangesOnlyPresentFields(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		mustApply(t, e, batch(open("2345")))
		want := mustSynced(t, e, "2345")
		later := opened.Add(36*time.Hour + 250*time.Millisecond)
		for _, tc := range []struct {
			name   string
			set    func(en *datasync.Entry)
			change func(c *card.Card)
		}{
			{"cardType", func(en *datasync.Entry) { en.CardType = cardtest.Ptr("DEBIT") }, func(c *card.Card) { c.Mode = card.Debit }},
			{"networkIdentifier", func(en *datasync.Entry) { en.NetworkIdentifier = cardtest.Ptr(4) }, func(c *card.Card) { c.Brand = card.Visa }},
			{"iin", func(en *datasync.Entry) { en.IIN = cardtest.Ptr("44445555") }, func(c *card.Card) { c.BIN = "44445555" }},
			{"openDate", func(en *datasync.Entry) { en.OpenDate = cardtest.Ptr(later.In(time.FixedZone("UTC-3", -3*3600))) },
				func(c *card.Card) { c.IssuingDate = later }},
		} {
			en := key("2345")
			tc.set(&en)
			mustApply(t, e, batch(en))
			tc.change(&want)
			want.Version++
			want.UpdatedAt = cardtest.T0
			got := mustSynced(t, e, "2345")
			if d := diff(want, got); d != "" {
				t.Errorf("after an update of %s: %s", tc.name, d)
			}
		}
		evs := e.Outbox(t, org)
		if len(evs) != 5 {
			t.Fatalf("%d events, want create-1 and 4 update-1", len(evs))
		}
		for i, ev := range evs[1:] {
			if ev.Type != events.CardUpdated || ev.Card.Version != int64(i+2) || ev.Card.CardStatus != "NORMAL" || ev.Card.OperationType != card.Sync.OperationType() {
				t.Errorf("event %d: %s %+v, want update-1 at version %d", i+1, ev.Type, ev.Card, i+2)
			}
		}
	})
}

// diff describes the fields a sync keeps that differ between want and got.
func diff(want, got card.Card) string {
	var out []string
	check := func(name string, w, g any) {
		if w != g {
			out = append(out, fmt.Sprintf("%s: got %v, want %v", name, g, w))
		}
	}
	check("id", want.ID, got.ID)
	check("status", want.Status, got.Status)
	check("previous status", want.PreviousStatus, got.PreviousStatus)
	check("mode", want.Mode, got.Mode)
	check("brand", want.Brand, got.Brand)
	check("bin", want.BIN, got.BIN)
	check("last4", want.Last4, got.Last4)
	check("issuing date", want.IssuingDate.UTC(), got.IssuingDate.UTC())
	check("close date", want.CloseDate.UTC(), got.CloseDate.UTC())
	check("version", want.Version, got.Version)
	check("updated at", want.UpdatedAt.UTC(), got.UpdatedAt.UTC())
	return strings.Join(out, "; ")
}

// Sending a card again as it is stored writes nothing and emits nothing,
// the full create entry included.
func TestUnchangedEntryWritesNothing(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		mustApply(t, e, batch(open("2345"), closing("6789")))
		before := []card.Card{mustSynced(t, e, "2345"), mustSynced(t, e, "6789")}
		closedAgain := key("6789")
		closedAgain.Status, closedAgain.CloseDate = cardtest.Ptr("CLOSED"), cardtest.Ptr(closed)
		for _, b := range []datasync.Batch{
			batch(open("2345"), closing("6789")),
			batch(key("2345"), key("6789")),
			batch(closedAgain),
		} {
			if id := mustApply(t, e, b); id == "" {
				t.Error("no requestId for a batch that changed nothing")
			}
		}
		for i, last4 := range []string{"2345", "6789"} {
			if d := diff(before[i], mustSynced(t, e, last4)); d != "" {
				t.Errorf("card %s changed: %s", last4, d)
			}
		}
		if n := len(e.Outbox(t, org)); n != 2 {
			t.Errorf("%d events, want the 2 create-1 only", n)
		}
	})
}

// CLOSED needs a closeDate; with one the card becomes CANCELED.
func TestClose(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		mustApply(t, e, batch(open("2345")))
		en := key("2345")
		en.Status = cardtest.Ptr("CLOSED")
		_, err := e.Sync.Apply(context.Background(), batch(en))
		cardtest.WantInvalid(t, err, "cards[0].closeDate")
		if c := mustSynced(t, e, "2345"); c.Status != card.Normal || c.Version != 1 {
			t.Fatalf("a refused close changed the card: %s at version %d", c.Status, c.Version)
		}
		en.CloseDate = cardtest.Ptr(closed)
		mustApply(t, e, batch(en))
		c := mustSynced(t, e, "2345")
		if c.Status != card.Canceled || c.PreviousStatus != card.Normal || !c.CloseDate.Equal(closed) || c.Version != 2 {
			t.Errorf("closed card: %s (previous %s), closed %v, version %d", c.Status, c.PreviousStatus, c.CloseDate, c.Version)
		}
		evs := e.Outbox(t, org)
		if last := evs[len(evs)-1]; len(evs) != 2 || last.Type != events.CardUpdated ||
			last.Card.CardStatus != "CANCELED" || last.Card.CardPreviousStatus != "NORMAL" {
			t.Errorf("events %+v, want create-1 then update-1 NORMAL -> CANCELED", evs)
		}
		// A closed card's closeDate may be corrected on its own.
		fixed := key("2345")
		fixed.CloseDate = cardtest.Ptr(closed.Add(time.Hour))
		mustApply(t, e, batch(fixed))
		if c := mustSynced(t, e, "2345"); !c.CloseDate.Equal(closed.Add(time.Hour)) || c.Version != 3 || c.Status != card.Canceled {
			t.Errorf("after a closeDate correction: closed %v, version %d, %s", c.CloseDate, c.Version, c.Status)
		}
	})
}

// A CLOSED card is never reopened: the batch fails as a conflict and
// nothing of it is written, its valid entries included.
func TestReopenIsConflict(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		mustApply(t, e, batch(closing("6789")))
		before := mustSynced(t, e, "6789")
		reopen := key("6789")
		reopen.Status = cardtest.Ptr("OPEN")
		for _, b := range []datasync.Batch{
			batch(reopen),
			batch(open("2345"), reopen),
			batch(closing("6789"), open("6789")), // every create field is an update too
		} {
			_, err := e.Sync.Apply(context.Background(), b)
			var ce *card.ConflictError
			if !errors.Is(err, card.ErrConflict) || !errors.As(err, &ce) {
				t.Fatalf("reopen: %v, want a conflict", err)
			}
			if ce.Status != card.Canceled || ce.Requested != card.Normal || ce.CardID != before.ID || !strings.Contains(ce.Reason, "cards[") {
				t.Errorf("conflict %+v, want card %d from CANCELED to NORMAL naming the entry", ce, before.ID)
			}
			if d := diff(before, mustSynced(t, e, "6789")); d != "" {
				t.Errorf("the refused batch changed the card: %s", d)
			}
			if _, ok := synced(t, e, acct, cust, "2345"); ok {
				t.Error("the refused batch created its other card")
			}
			if n := len(e.Outbox(t, org)); n != 1 {
				t.Errorf("%d events after the refused batch, want 1", n)
			}
		}
	})
}

// The network identifier is the brand, as the document lists it.
func TestNetworkIdentifier(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		for i, want := range map[int]card.Brand{3: card.Mastercard, 4: card.Visa, 5: card.Discover, 6: card.Amex} {
			last4 := fmt.Sprintf("000%d", i)
			en := open(last4)
			en.NetworkIdentifier = cardtest.Ptr(i)
			mustApply(t, e, batch(en))
			if got := mustSynced(t, e, last4).Brand; got != want {
				t.Errorf("networkIdentifier %d: brand %s, want %s", i, got, want)
			}
		}
		for _, bad := range []int{0, 1, 2, 7, 9, 34, -4} {
			en := open("1111")
			en.NetworkIdentifier = cardtest.Ptr(bad)
			_, err := e.Sync.Apply(context.Background(), batch(open("2222"), en))
			cardtest.WantInvalid(t, err, "cards[1].networkIdentifier")
		}
		if n := e.CountCards(t, org); n != 4 {
			t.Errorf("%d cards, want the 4 of valid network identifiers", n)
		}
	})
}

// Every rule of an entry, broken on its own, names the entry and the
// field; the batch leaves no card and no event, whatever else it holds.
func TestInvalidBatches(t *testing.T) {
	minus := func(f func(en *datasync.Entry)) datasync.Entry {
		en := open("1111")
		f(&en)
		return en
	}
	for _, tc := range []struct {
		name  string
		b     datasync.Batch
		field string
	}{
		{"no entries", batch(), "cards"},
		{"no path account", datasync.Batch{OrgID: org, SourceCustomerID: cust, Entries: []datasync.Entry{open("1111")}}, "sourceAccountId"},
		{"no path customer", datasync.Batch{OrgID: org, SourceAccountID: acct, Entries: []datasync.Entry{open("1111")}}, "sourceCustomerId"},
		{"no org", datasync.Batch{SourceAccountID: acct, SourceCustomerID: cust, Entries: []datasync.Entry{open("1111")}}, "org_id"},
		{"account of another path", batch(open("2222"), minus(func(en *datasync.Entry) { en.SourceAccountID = "other" })), "cards[1].sourceAccountId"},
		{"customer of another path", batch(open("2222"), minus(func(en *datasync.Entry) { en.SourceCustomerID = "other" })), "cards[1].sourceCustomerId"},
		{"no account", batch(minus(func(en *datasync.Entry) { en.SourceAccountID = "" })), "cards[0].sourceAccountId"},
		{"no customer", batch(minus(func(en *datasync.Entry) { en.SourceCustomerID = "" })), "cards[0].sourceCustomerId"},
		{"no last4", batch(minus(func(en *datasync.Entry) { en.Last4 = "" })), "cards[0].last4"},
		{"last4 of 5 digits", batch(minus(func(en *datasync.Entry) { en.Last4 = "12345" })), "cards[0].last4"},
		{"last4 not digits", batch(minus(func(en *datasync.Entry) { en.Last4 = "12a4" })), "cards[0].last4"},
		{"iin of 7 digits", batch(minus(func(en *datasync.Entry) { en.IIN = cardtest.Ptr("1234567") })), "cards[0].iin"},
		{"iin not digits", batch(minus(func(en *datasync.Entry) { en.IIN = cardtest.Ptr("12345x") })), "cards[0].iin"},
		{"unknown cardType", batch(minus(func(en *datasync.Entry) { en.CardType = cardtest.Ptr("GOLD") })), "cards[0].cardType"},
		{"lower-case cardType", batch(minus(func(en *datasync.Entry) { en.CardType = cardtest.Ptr("credit") })), "cards[0].cardType"},
		{"unknown status", batch(minus(func(en *datasync.Entry) { en.Status = cardtest.Ptr("ACTIVE") })), "cards[0].status"},
		{"a card status", batch(minus(func(en *datasync.Entry) { en.Status = cardtest.Ptr("NORMAL") })), "cards[0].status"},
		{"zero openDate", batch(minus(func(en *datasync.Entry) { en.OpenDate = cardtest.Ptr(time.Time{}) })), "cards[0].openDate"},
		{"CLOSED without closeDate", batch(minus(func(en *datasync.Entry) { en.Status = cardtest.Ptr("CLOSED") })), "cards[0].closeDate"},
		{"OPEN with closeDate", batch(minus(func(en *datasync.Entry) { en.CloseDate = cardtest.Ptr(closed) })), "cards[0].closeDate"},
		{"closed before opened", batch(minus(func(en *datasync.Entry) {
			en.Status, en.CloseDate = cardtest.Ptr("CLOSED"), cardtest.Ptr(opened.Add(-time.Second))
		})), "cards[0].closeDate"},
		{"create without iin", batch(open("2222"), minus(func(en *datasync.Entry) { en.IIN = nil })), "cards[1].iin"},
		{"create without cardType", batch(open("2222"), minus(func(en *datasync.Entry) { en.CardType = nil })), "cards[1].cardType"},
		{"create without status", batch(open("2222"), minus(func(en *datasync.Entry) { en.Status = nil })), "cards[1].status"},
		{"create without networkIdentifier", batch(open("2222"), minus(func(en *datasync.Entry) { en.NetworkIdentifier = nil })), "cards[1].networkIdentifier"},
		{"create without openDate", batch(open("2222"), minus(func(en *datasync.Entry) { en.OpenDate = nil })), "cards[1].openDate"},
		{"create from the key alone", batch(open("2222"), closing("3333"), key("1111")), "cards[2].iin"},
		{"the first broken entry wins", batch(open("2222"), minus(func(en *datasync.Entry) { en.IIN = nil }),
			minus(func(en *datasync.Entry) { en.Last4 = "1" })), "cards[2].last4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
				_, err := e.Sync.Apply(context.Background(), tc.b)
				cardtest.WantInvalid(t, err, tc.field)
				if n := e.CountCards(t, org); n != 0 {
					t.Errorf("%d cards after an invalid batch, want none", n)
				}
				if evs := e.Outbox(t, org); len(evs) != 0 {
					t.Errorf("%d events after an invalid batch, want none", len(evs))
				}
			})
		})
	}
}

// Rules that depend on the stored card: a closeDate for a card left
// OPEN, an openDate after the card's closeDate. And an invalid entry
// anywhere in the batch is reported before a refused reopening.
func TestInvalidAgainstTheStoredCard(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		mustApply(t, e, batch(open("2345"), closing("6789")))
		closeOpen := key("2345")
		closeOpen.CloseDate = cardtest.Ptr(closed)
		lateOpen := key("6789")
		lateOpen.OpenDate = cardtest.Ptr(closed.Add(time.Second))
		earlyClose := key("6789")
		earlyClose.CloseDate = cardtest.Ptr(opened.Add(-time.Second))
		reopen := key("6789")
		reopen.Status = cardtest.Ptr("OPEN")
		for _, tc := range []struct {
			name  string
			b     datasync.Batch
			field string
		}{
			{"closeDate of an OPEN card", batch(closeOpen), "cards[0].closeDate"},
			{"openDate after closeDate", batch(lateOpen), "cards[0].openDate"},
			{"closeDate before openDate", batch(earlyClose), "cards[0].closeDate"},
			{"invalid after a refused reopening", batch(reopen, open("1111"), key("2222")), "cards[2].iin"},
		} {
			_, err := e.Sync.Apply(context.Background(), tc.b)
			cardtest.WantInvalid(t, err, tc.field)
		}
		if n := len(e.Outbox(t, org)); n != 2 || e.CountCards(t, org) != 2 {
			t.Errorf("%d events and %d cards after the invalid batches, want 2 and 2", n, e.CountCards(t, org))
		}
	})
}

// One batch may name a card twice: its entries apply in order.
func TestSameCardTwiceInABatch(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		closeIt := key("2345")
		closeIt.Status, closeIt.CloseDate = cardtest.Ptr("CLOSED"), cardtest.Ptr(closed)
		mustApply(t, e, batch(open("2345"), closeIt))
		c := mustSynced(t, e, "2345")
		if c.Status != card.Canceled || c.Version != 2 {
			t.Errorf("card %s at version %d, want CANCELED at 2", c.Status, c.Version)
		}
		evs := e.Outbox(t, org)
		if len(evs) != 2 || evs[0].Type != events.CardCreated || evs[1].Type != events.CardUpdated || evs[0].CID != evs[1].CID {
			t.Errorf("events %+v, want create-1 then update-1 with one cid", evs)
		}
	})
}

// Status updates follow the transition table's status-update rows: OPEN
// lifts a temporary block, CLOSED ends any status, and no terminated card
// is reopened.
func TestStatusesThroughTheTable(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		ctx := context.Background()
		mustApply(t, e, batch(open("1111"), open("2222"), open("3333")))
		set := func(last4 string, to card.Status) {
			if _, err := e.Cards.UpdateStatus(ctx, org, mustSynced(t, e, last4).ID, to); err != nil {
				t.Fatalf("set %s to %s: %v", last4, to, err)
			}
		}
		set("1111", card.Blocked)
		set("2222", card.Lost)
		set("3333", card.Warning)
		status := func(last4, s string) datasync.Entry {
			en := key(last4)
			en.Status = cardtest.Ptr(s)
			if s == "CLOSED" {
				en.CloseDate = cardtest.Ptr(closed)
			}
			return en
		}
		mustApply(t, e, batch(status("1111", "OPEN"), status("2222", "CLOSED"), status("3333", "CLOSED")))
		for last4, want := range map[string]card.Status{"1111": card.Normal, "2222": card.Canceled, "3333": card.Canceled} {
			if got := mustSynced(t, e, last4).Status; got != want {
				t.Errorf("card %s is %s, want %s", last4, got, want)
			}
		}
		_, err := e.Sync.Apply(ctx, batch(status("2222", "OPEN")))
		if !errors.Is(err, card.ErrConflict) {
			t.Errorf("OPEN of a LOST then CANCELED card: %v, want a conflict", err)
		}
	})
}

// A card made by another API is not a synced card, even with the same
// account, customer and last four digits: a sync neither finds nor changes
// it, and makes its own card beside it.
func TestCardsNotSyncedAreLeftAlone(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		ctx := context.Background()
		zero := 0
		other := card.Card{
			OrgID: org, ProgramID: 1, AccountID: acct, CustomerID: cust, Type: card.Virtual, Mode: card.Credit,
			Status: card.Normal, Name: "online", Brand: card.Visa, BIN: "999999", Last4: "2345", PANHash: "ab",
			IssuingDate: cardtest.T0, TrackNumber: 1, PINLength: 4, CVVRotationIntervalHours: &zero,
			Version: 1, CreatedAt: cardtest.T0, UpdatedAt: cardtest.T0,
		}
		e.Insert(t, &other)
		mustApply(t, e, batch(closing("2345")))
		if c := mustSynced(t, e, "2345"); c.ID == other.ID || c.Status != card.Canceled {
			t.Errorf("the sync found card %d (%s), want a new synced card", c.ID, c.Status)
		}
		got, err := e.Cards.Get(ctx, org, other.ID)
		if err != nil || got.Status != card.Normal || got.Version != 1 {
			t.Errorf("the other card: %+v, %v; want it untouched", got, err)
		}
	})
}

// Synced cards have no expiration date, so the sweep never touches them,
// however old they are.
func TestSweepLeavesSyncedCards(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		old := open("2345")
		old.OpenDate = cardtest.Ptr(time.Date(1990, time.May, 1, 0, 0, 0, 0, time.UTC))
		mustApply(t, e, batch(old))
		res, err := e.Cards.Sweep(context.Background())
		if err != nil || res.Expired != 0 || res.Inoperative != 0 {
			t.Errorf("sweep: %+v, %v; want nothing done", res, err)
		}
		if c := mustSynced(t, e, "2345"); c.Status != card.Normal || c.Version != 1 {
			t.Errorf("after the sweep: %s at version %d", c.Status, c.Version)
		}
	})
}

// A correlation id in the context wins over the requestId; the requestId
// is new for every batch.
func TestCorrelationID(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		ctx := events.WithCorrelationID(context.Background(), "cid-1")
		first, err := e.Sync.Apply(ctx, batch(open("2345")))
		if err != nil {
			t.Fatal(err)
		}
		second := mustApply(t, e, batch(key("2345")))
		if first == second {
			t.Errorf("two batches got the requestId %s", first)
		}
		if evs := e.Outbox(t, org); len(evs) != 1 || evs[0].CID != "cid-1" {
			t.Errorf("events %+v, want one with cid-1", evs)
		}
	})
}

func TestNewNeedsItsDependencies(t *testing.T) {
	if _, err := datasync.New(nil, nil); err == nil {
		t.Error("New(nil, nil) succeeded")
	}
}
