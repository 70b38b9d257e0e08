package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/cardcore/cardcore"
	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/lifecycle"
)

// TestDemoLeavesOtherOrgsAlone runs the demo on a database in use: another
// org holds a card the demo's clock finds expired, one whose validity
// period it finds elapsed, and events its relay has not delivered yet.
// The demo sweeps and delivers its own org only: after it those cards,
// events and the relay's cursor are as they were, and no subscription of
// the demo's is left.
func TestDemoLeavesOtherOrgsAlone(t *testing.T) {
	for _, db := range []struct {
		name   string
		target func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "shared.db") }},
		{"postgres", postgresURL},
	} {
		t.Run(db.name, func(t *testing.T) {
			target := db.target(t)
			ctx := t.Context()
			sqldb, _, err := openDB(ctx, target, true)
			if err != nil {
				t.Fatal(err)
			}
			defer sqldb.Close()
			core, err := cardcore.New(ctx, sqldb, cardcore.WithLogger(slog.New(slog.DiscardHandler)))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = core.Close() })

			const org, relay = "acme", "acme-relay"
			// Expires long before the demo's cards, which the demo's clock
			// passes; and valid for a day, which the demo's first sweep is
			// past.
			expiring, err := core.Cards.Create(ctx, lifecycle.CreateRequest{OrgID: org, AccountID: "1001", CustomerID: "2001",
				Type: card.Virtual, Name: "expiring", CVVRotationIntervalHours: hours(24), ExpirationDate: expiringSoon()})
			if err != nil {
				t.Fatal(err)
			}
			// The org's relay delivered the first event; the next ones wait.
			dl, err := events.NewDeliverer(core.Store, relay, events.Publishing(events.PublisherFunc(
				func(context.Context, events.Event) error { return nil })), events.DelivererConfig{
				Select: func(e events.Event) bool { return e.OrgID == org }})
			if err != nil {
				t.Fatal(err)
			}
			if n, err := dl.Flush(ctx); err != nil || n != 1 {
				t.Fatalf("the relay delivered %d events: %v", n, err)
			}
			oneDay, err := core.Cards.Create(ctx, lifecycle.CreateRequest{OrgID: org, AccountID: "1001", CustomerID: "2001",
				Type: card.Virtual, Name: "one day", CVVRotationIntervalHours: hours(24), ValidityPeriodHours: 24})
			if err != nil {
				t.Fatal(err)
			}
			if oneDay, err = core.Cards.UpdateStatus(ctx, org, oneDay.ID, card.Blocked); err != nil {
				t.Fatal(err)
			}
			type state struct {
				Cards  []card.Card
				Feed   []events.Event
				Cursor map[string]int64
			}
			snapshot := func() state {
				t.Helper()
				var s state
				for _, id := range []int64{expiring.ID, oneDay.ID} {
					c, err := core.Cards.Get(ctx, org, id)
					if err != nil {
						t.Fatal(err)
					}
					s.Cards = append(s.Cards, c)
				}
				if s.Feed, err = core.Store.Feed(ctx, org, 0, 1000); err != nil {
					t.Fatal(err)
				}
				subs, err := core.Store.ListSubscriptions(ctx)
				if err != nil {
					t.Fatal(err)
				}
				s.Cursor = map[string]int64{}
				for _, sub := range subs {
					s.Cursor[sub.Name] = sub.Cursor
				}
				return s
			}
			before := snapshot()
			if len(before.Feed) != 3 || before.Cursor[relay] == 0 || before.Cursor[relay] >= before.Feed[2].Seq {
				t.Fatalf("the fixture: feed %d events, relay cursor %v; want 3 events, the last ones pending", len(before.Feed), before.Cursor)
			}

			code, out, errOut := runCmd(t, "demo", "--db", target)
			if code != exitOK {
				t.Fatalf("demo exited %d; stderr:\n%s\nstdout:\n%s", code, errOut, out)
			}
			checkDemo(t, out)
			after := snapshot()
			for i, c := range after.Cards {
				if !reflect.DeepEqual(c, before.Cards[i]) {
					t.Errorf("the demo changed card %d of org %s: %s v%d -> %s v%d", c.ID, org,
						before.Cards[i].Status, before.Cards[i].Version, c.Status, c.Version)
				}
			}
			if !reflect.DeepEqual(after.Feed, before.Feed) {
				t.Errorf("org %s's feed changed: %d events before the demo, %d after", org, len(before.Feed), len(after.Feed))
			}
			if !reflect.DeepEqual(after.Cursor, before.Cursor) {
				t.Errorf("subscriptions %v after the demo, want %v", after.Cursor, before.Cursor)
			}
		})
	}
}

// expiringSoon is the expiration month (yymm) of a card that expires next
// year, years before the demo's cards.
func expiringSoon() string {
	return card.FormatExpiration(card.MonthOf(time.Now().UTC()).AddDate(1, 0, 0))
}
