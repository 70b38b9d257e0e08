package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/cardcore/cardcore"
	"github.com/cardcore/cardcore/adapters/bunstore"
	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/lifecycle"
	"github.com/cardcore/cardcore/storage"
	"github.com/google/uuid"
)

// setupDemo is "cardcore demo": a guided tour of the library on a real
// database. It makes its own org and touches nothing else, so it may run on
// a database that already holds cards: its sweeps cover its org only
// (lifecycle.OnlyOrg), and it delivers its org's events alone, through a
// subscription of its own that it drops.
func setupDemo(fs *flag.FlagSet) runFunc {
	target := fs.String("db", "", dbUsage+" (default: a new SQLite file in a temporary directory)")
	return func(ctx context.Context, out io.Writer, log *slog.Logger) error {
		path := *target
		if path == "" {
			dir, err := os.MkdirTemp("", "cardcore-demo-")
			if err != nil {
				return err
			}
			path = filepath.Join(dir, "cardcore.db")
		}
		return runDemo(ctx, out, log, path)
	}
}

// demo holds what the steps share.
type demo struct {
	out      io.Writer
	core     *cardcore.Core
	clock    *clock
	org      string
	account  string
	customer string
}

// clock is the demo's time, moved forward by hand to make the sweep's
// transitions due without waiting years.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

// Card fields the demo's requests share.
const (
	demoAccount  = "acct-1"
	demoCustomer = "cust-1"
	demoKey      = "demo-virtual" // the idempotency key of the VIRTUAL card's create
	validity     = 24             // hours of the validity-period card
)

func runDemo(ctx context.Context, out io.Writer, log *slog.Logger, target string) error {
	db, desc, err := openDB(ctx, target, true)
	if err != nil {
		return err
	}
	defer db.Close()
	log.Info("demo starting", "db", desc)

	org := "demo-" + randomHex(4)
	ctx = events.WithCorrelationID(ctx, uuid.NewString())
	d := &demo{out: out, clock: &clock{now: time.Now().UTC().Truncate(time.Second)},
		org: org, account: demoAccount, customer: demoCustomer}

	fmt.Fprintln(out, "cardcore demo")
	fmt.Fprintf(out, "  database  %s\n", desc)
	fmt.Fprintf(out, "  org       %s (account %s, customer %s)\n", org, demoAccount, demoCustomer)
	fmt.Fprintf(out, "  clock     %s (the demo moves it forward to show the sweep)\n", stamp(d.clock.now))

	d.section("1. migrate")
	if d.core, err = cardcore.New(ctx, db, cardcore.WithClock(d.clock.Now), cardcore.WithLogger(log)); err != nil {
		return err
	}
	defer d.core.Close() // before the database's Close, deferred earlier
	fmt.Fprintf(out, "  tables ready; applied migrations are recorded in %s\n", bunstore.MigrationTable)

	cs, err := d.create(ctx)
	if err != nil {
		return err
	}
	if err := d.walk(ctx, cs); err != nil {
		return err
	}
	if err := d.idempotency(ctx, cs.virtual); err != nil {
		return err
	}
	if err := d.replace(ctx, cs); err != nil {
		return err
	}
	if err := d.sweep(ctx, cs); err != nil {
		return err
	}
	if err := d.final(ctx); err != nil {
		return err
	}
	if err := d.relay(ctx); err != nil {
		return err
	}
	log.Info("demo done", "org", org)
	return nil
}

// demoCards are the cards the demo makes, one per type, and one with a
// validity period; then the PLASTIC card's successor and the noname card
// bound to the account.
type demoCards struct {
	plastic, virtual, temporary, recurring, oneDay card.Card
	successor, bound                               card.Card
}

// all returns the cards made so far.
func (cs *demoCards) all() []*card.Card {
	var out []*card.Card
	for _, c := range []*card.Card{&cs.plastic, &cs.virtual, &cs.temporary, &cs.recurring, &cs.oneDay, &cs.successor, &cs.bound} {
		if c.ID != 0 {
			out = append(out, c)
		}
	}
	return out
}

func (d *demo) section(title string) { fmt.Fprintf(d.out, "\n%s\n", title) }

// say prints one step about c.
func (d *demo) say(label string, c *card.Card, format string, args ...any) {
	fmt.Fprintf(d.out, "  %-12s card %d %-9s  %s\n", label, c.ID, c.Type, fmt.Sprintf(format, args...))
}

func (d *demo) request(t card.Type, name string) lifecycle.CreateRequest {
	return lifecycle.CreateRequest{OrgID: d.org, AccountID: d.account, CustomerID: d.customer, Type: t, Name: name}
}

// virtualRequest is the VIRTUAL card's create, made once and replayed.
func (d *demo) virtualRequest() lifecycle.CreateRequest {
	req := d.request(card.Virtual, "online shopping")
	req.CVVRotationIntervalHours = hours(24)
	req.IdempotencyKey = demoKey
	return req
}

func (d *demo) create(ctx context.Context) (*demoCards, error) {
	d.section("2. create a card of each type")
	var cs demoCards
	steps := []struct {
		dst  *card.Card
		req  lifecycle.CreateRequest
		note func(c *card.Card) string
	}{
		{&cs.plastic, func() lifecycle.CreateRequest {
			r := d.request(card.Plastic, "")
			r.PrintedName = "ADA LOVELACE"
			return r
		}(), func(c *card.Card) string {
			return fmt.Sprintf("printed name %q; a PLASTIC card waits in CREATED until it is activated", c.PrintedName)
		}},
		{&cs.virtual, d.virtualRequest(), func(c *card.Card) string {
			return fmt.Sprintf("CVV rotates every %d h; created with idempotency key %s", *c.CVVRotationIntervalHours, demoKey)
		}},
		{&cs.temporary, d.request(card.Temporary, "travel"), func(*card.Card) string { return "" }},
		//lint:ignore SA1019 the demo shows that RECURRING is still accepted
		{&cs.recurring, d.request(card.Recurring, "subscriptions"), func(*card.Card) string {
			return "RECURRING is deprecated: accepted for compatibility, new integrations issue VIRTUAL"
		}},
		{&cs.oneDay, func() lifecycle.CreateRequest {
			r := d.request(card.Virtual, "one day")
			r.CVVRotationIntervalHours = hours(0)
			r.ValidityPeriodHours = validity
			return r
		}(), func(c *card.Card) string {
			return fmt.Sprintf("validity period %d h: valid until %s; CVV never rotates", c.ValidityPeriodHours, stamp(c.ValidUntil))
		}},
	}
	for _, s := range steps {
		c, err := d.core.Cards.Create(ctx, s.req)
		if err != nil {
			return nil, fmt.Errorf("create %s card: %w", s.req.Type, err)
		}
		*s.dst = c
		msg := fmt.Sprintf("%s, %s, name %q, expires %s", c.Status, c.Mode, c.Name, card.FormatExpiration(c.ExpirationDate))
		if note := s.note(&c); note != "" {
			msg += "; " + note
		}
		d.say("created", &c, "%s", msg)
	}
	return &cs, nil
}

func (d *demo) walk(ctx context.Context, cs *demoCards) error {
	d.section("3. walk the lifecycle")
	if err := d.update(ctx, "block", &cs.virtual, card.Blocked); err != nil {
		return err
	}
	if err := d.update(ctx, "unblock", &cs.virtual, card.Normal); err != nil {
		return err
	}
	if err := d.update(ctx, "same status", &cs.virtual, card.Normal); err != nil {
		return err
	}

	from := cs.plastic.Status
	c, err := d.core.Cards.Activate(ctx, d.org, cs.plastic.ID)
	if err != nil {
		return fmt.Errorf("activate card %d: %w", cs.plastic.ID, err)
	}
	cs.plastic = c
	d.say("activate", &c, "%s -> %s (version %d, activated %s)", from, c.Status, c.Version, stamp(c.ActivationDate))

	_, err = d.core.Cards.Activate(ctx, d.org, cs.virtual.ID)
	if err := d.refused("activate", &cs.virtual, err); err != nil {
		return err
	}
	if err := d.update(ctx, "cancel", &cs.temporary, card.Canceled); err != nil {
		return err
	}
	_, err = d.core.Cards.UpdateStatus(ctx, d.org, cs.temporary.ID, card.Normal)
	if err := d.refused("reopen", &cs.temporary, err); err != nil {
		return err
	}
	_, err = d.core.Cards.UpdateStatus(ctx, d.org, cs.virtual.ID, card.Inoperative)
	return d.refused("by hand", &cs.virtual, err)
}

// update sets c's status by hand and reports the change.
func (d *demo) update(ctx context.Context, label string, c *card.Card, to card.Status) error {
	from, version := c.Status, c.Version
	got, err := d.core.Cards.UpdateStatus(ctx, d.org, c.ID, to)
	if err != nil {
		return fmt.Errorf("%s card %d: %w", label, c.ID, err)
	}
	*c = got
	if got.Version == version {
		d.say(label, c, "%s -> %s: nothing changes, no event (version %d)", from, to, got.Version)
		return nil
	}
	d.say(label, c, "%s -> %s (version %d)", from, got.Status, got.Version)
	return nil
}

// refused reports the conflict an operation on c was expected to meet; any
// other outcome is an error of the demo.
func (d *demo) refused(label string, c *card.Card, err error) error {
	var ce *card.ConflictError
	if !errors.As(err, &ce) {
		if err == nil {
			err = errors.New("succeeded")
		}
		return fmt.Errorf("%s card %d: want a conflict, got: %w", label, c.ID, err)
	}
	d.say(label, c, "refused: %v", err)
	return nil
}

func (d *demo) idempotency(ctx context.Context, virtual card.Card) error {
	d.section("4. idempotent create")
	got, err := d.core.Cards.Create(ctx, d.virtualRequest())
	if err != nil {
		return fmt.Errorf("replay create: %w", err)
	}
	if got.ID != virtual.ID {
		return fmt.Errorf("replay create: got card %d, want card %d", got.ID, virtual.ID)
	}
	d.say("replay", &got, "key %s: the first result again (%s, version %d); nothing written", demoKey, got.Status, got.Version)

	other := d.virtualRequest()
	other.Name = "another alias"
	_, err = d.core.Cards.Create(ctx, other)
	return d.refused("other body", &got, err)
}

func (d *demo) sweep(ctx context.Context, cs *demoCards) error {
	d.section("6. sweep: the system transitions (the demo sweeps its own org only)")
	d.clock.now = cs.oneDay.ValidUntil.Add(time.Hour)
	fmt.Fprintf(d.out, "  clock        %s (past card %d's valid until)\n", stamp(d.clock.now), cs.oneDay.ID)
	if err := d.sweepOnce(ctx, cs); err != nil {
		return err
	}
	if cs.oneDay.Status != card.Inoperative {
		return fmt.Errorf("card %d is %s after its validity elapsed, want INOPERATIVE", cs.oneDay.ID, cs.oneDay.Status)
	}

	from := cs.oneDay.Status
	c, err := d.core.Cards.RenewValidity(ctx, d.org, cs.oneDay.ID)
	if err != nil {
		return fmt.Errorf("renew card %d: %w", cs.oneDay.ID, err)
	}
	cs.oneDay = c
	d.say("renew", &c, "%s -> %s, valid until %s (version %d)", from, c.Status, stamp(c.ValidUntil), c.Version)

	var last time.Time
	for _, c := range cs.all() {
		if c.ExpiresAt().After(last) {
			last = c.ExpiresAt()
		}
	}
	d.clock.now = last
	fmt.Fprintf(d.out, "  clock        %s (the first instant after the expiration month %s)\n",
		stamp(d.clock.now), card.FormatExpiration(cs.plastic.ExpirationDate))
	if err := d.sweepOnce(ctx, cs); err != nil {
		return err
	}
	for _, c := range cs.all() {
		if c.Status != card.Expired && c.Status != card.Canceled {
			return fmt.Errorf("card %d is %s after its expiration, want EXPIRED", c.ID, c.Status)
		}
	}
	return nil
}

// sweepOnce runs the sweep of the demo's org at the clock's time, which
// is years ahead, and reports what it did to the demo's cards. The cards of
// other orgs in the database are not its to change.
func (d *demo) sweepOnce(ctx context.Context, cs *demoCards) error {
	res, err := d.core.Cards.Sweep(ctx, lifecycle.OnlyOrg(d.org))
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	fmt.Fprintf(d.out, "  sweep        expired %d, inoperative %d\n", res.Expired, res.Inoperative)
	for _, c := range cs.all() {
		got, err := d.core.Cards.Get(ctx, d.org, c.ID)
		if err != nil {
			return err
		}
		if got.Status != c.Status {
			d.say("swept", &got, "%s -> %s (version %d)", c.Status, got.Status, got.Version)
		}
		*c = got
	}
	return nil
}

func (d *demo) final(ctx context.Context) error {
	d.section("7. the account's cards now")
	list, err := d.core.Cards.ListByAccount(ctx, d.org, d.account, storage.Page{Limit: 100})
	if err != nil {
		return err
	}
	for i := range list {
		c := &list[i]
		d.say("now", c, "%-9s previous %-9s version %d, name %q", c.Status, c.PreviousStatus, c.Version, c.Name)
	}
	return nil
}

// relay delivers the demo org's events through a subscription of its
// own, to a destination that prints each envelope, checks that every event
// of the org was delivered, and drops the subscription, so that retention
// does not wait for it. The events of other orgs sharing the database are
// passed over, not delivered.
func (d *demo) relay(ctx context.Context) error {
	d.section("8. deliver the org's events through a subscription (events carry no PAN)")
	name := "demo:" + d.org
	print := events.PublisherFunc(func(_ context.Context, e events.Event) error {
		_, err := fmt.Fprintf(d.out, "  %s\n", e)
		return err
	})
	dl, err := events.NewDeliverer(d.core.Store, name, events.Publishing(print), events.DelivererConfig{
		Select: func(e events.Event) bool { return e.OrgID == d.org },
	})
	if err != nil {
		return err
	}
	n, err := dl.Flush(ctx)
	if err != nil {
		return err
	}
	if err := d.core.Store.Drop(ctx, name); err != nil {
		return err
	}
	all, err := d.core.Store.Feed(ctx, d.org, 0, 10000)
	if err != nil {
		return err
	}
	if n != len(all) {
		return fmt.Errorf("delivered %d events of the %d in the org's feed", n, len(all))
	}
	fmt.Fprintf(d.out, "  relayed %d events, every event of org %s; subscription %s dropped\n", n, d.org, name)
	return nil
}

func hours(n int) *int { return &n }

func stamp(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}
