package noname_test

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/cardtest"
	"github.com/cardcore/cardcore/lifecycle"
	"github.com/cardcore/cardcore/noname"
)

func TestBind(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		b, cs := startedBulk(t, e, "a", "b", "c")
		seq := e.Outbox(t, org).LastSeq()

		res, err := e.Noname.Bind(t.Context(), noname.BindRequest{OrgID: org, CardID: cs["a"].ID,
			AccountID: "acct-1", CustomerID: "cust-1", PrintedName: "JANE DOE"})
		if err != nil {
			t.Fatal(err)
		}
		c := res.Card
		if c.ID != cs["a"].ID || c.Status != card.Created || c.PreviousStatus != card.Unbound || c.Version != 2 ||
			c.AccountID != "acct-1" || c.CustomerID != "cust-1" || c.PrintedName != "JANE DOE" ||
			c.BulkID != b.ID || c.ExternalID != "a" || c.Type != card.Plastic || c.TrackNumber != 1 ||
			c.ReissuedCardID != 0 || res.Replaced != nil {
			t.Fatalf("bound %+v, replaced %v", c, res.Replaced)
		}
		if got := e.Card(t, org, c.ID); !reflect.DeepEqual(got, c) {
			t.Fatalf("stored %+v\nanswered %+v", got, c)
		}
		evs := e.Outbox(t, org).Since(seq)
		if len(evs) != 1 || evs[0].Type != events.CustomerBound || evs[0].CardID != c.ID {
			t.Fatalf("bind emitted %v; want one bind_card-1", evs)
		}
		d := evs[0].Card
		if d.AccountID != "acct-1" || d.CustomerID != "cust-1" || d.CardStatus != "CREATED" ||
			d.CardPreviousStatus != "UNBOUND" || d.Version != 2 || d.BulkID != b.ID || d.ExternalID != "a" ||
			d.CardPrintedName != "JANE DOE" {
			t.Fatalf("bind_card-1 data %s", evs[0].Data)
		}

		// Without a printed name the card keeps none.
		res = mustBind(t, e, noname.BindRequest{CardID: cs["b"].ID, AccountID: "acct-2", CustomerID: "cust-2"})
		if res.Card.PrintedName != "" || res.Card.AccountID != "acct-2" || res.Card.Status != card.Created {
			t.Fatalf("bound %+v", res.Card)
		}

		before := snap(t, e, org)
		for _, req := range []noname.BindRequest{
			{CardID: cs["a"].ID, AccountID: "acct-1", CustomerID: "cust-1"},
			{CardID: cs["a"].ID, AccountID: "acct-9", CustomerID: "cust-9", PrintedName: "JOHN DOE"},
		} {
			req.OrgID = org
			_, err := e.Noname.Bind(t.Context(), req)
			ce := cardtest.WantConflict(t, err, "bind a CREATED card")
			if ce.CardID != cs["a"].ID || ce.Status != card.Created {
				t.Fatalf("conflict %+v; want one naming card %d in CREATED", ce, cs["a"].ID)
			}
		}
		unchanged(t, e, org, before, "a second bind")
		if got := e.Card(t, org, cs["a"].ID); got.CustomerID != "cust-1" {
			t.Fatalf("the card now belongs to %s", got.CustomerID)
		}

		// An activated card is not UNBOUND either.
		if _, err := e.Cards.Activate(t.Context(), org, cs["a"].ID); err != nil {
			t.Fatal(err)
		}
		before = snap(t, e, org)
		_, err = e.Noname.Bind(t.Context(), noname.BindRequest{OrgID: org, CardID: cs["a"].ID, AccountID: "acct-1", CustomerID: "cust-1"})
		cardtest.WantConflict(t, err, "bind a NORMAL card")
		unchanged(t, e, org, before, "a bind of a NORMAL card")

		for _, id := range []int64{1 << 40, 0, -1} {
			_, err = e.Noname.Bind(t.Context(), noname.BindRequest{OrgID: org, CardID: id, AccountID: "acct-1", CustomerID: "cust-1"})
			cardtest.WantNotFound(t, err, fmt.Sprintf("bind unknown card %d", id))
		}
		unchanged(t, e, org, before, "a bind of an unknown card")
	})
}

func TestBindCanceledCard(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		b, cs := startedBulk(t, e, "a", "b")
		if _, _, err := e.Noname.Cancel(t.Context(), org, b.ID, noname.CancelPartial, []string{"a"}); err != nil {
			t.Fatal(err)
		}
		before := snap(t, e, org)
		_, err := e.Noname.Bind(t.Context(), noname.BindRequest{OrgID: org, CardID: cs["a"].ID, AccountID: "acct-1", CustomerID: "cust-1"})
		if ce := cardtest.WantConflict(t, err, "bind a CANCELED card"); ce.Status != card.Canceled {
			t.Fatalf("conflict %+v; want it to name CANCELED", ce)
		}
		unchanged(t, e, org, before, "a bind of a CANCELED card")

		// A card of a fully canceled bulk, too.
		if _, _, err := e.Noname.Cancel(t.Context(), org, b.ID, noname.CancelFull, nil); err != nil {
			t.Fatal(err)
		}
		before = snap(t, e, org)
		_, err = e.Noname.Bind(t.Context(), noname.BindRequest{OrgID: org, CardID: cs["b"].ID, AccountID: "acct-1", CustomerID: "cust-1"})
		cardtest.WantConflict(t, err, "bind a card of a CANCELED bulk")
		unchanged(t, e, org, before, "a bind of a CANCELED card")
	})
}

// TestBindNamedCard: a card made for a customer was never UNBOUND.
func TestBindNamedCard(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		c := named(t, e, card.Plastic, "acct-1", card.Created)
		before := snap(t, e, org)
		_, err := e.Noname.Bind(t.Context(), noname.BindRequest{OrgID: org, CardID: c.ID, AccountID: "acct-1", CustomerID: "cust-1"})
		cardtest.WantConflict(t, err, "bind a named card")
		unchanged(t, e, org, before, "a bind of a named card")
	})
}

func TestBindInvalid(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		_, cs := startedBulk(t, e, "a")
		id := cs["a"].ID
		old := named(t, e, card.Plastic, "acct-1", card.Normal)
		before := snap(t, e, org)
		for _, tc := range []struct {
			name  string
			req   noname.BindRequest
			field string
		}{
			{"no account", noname.BindRequest{CustomerID: "cust-1"}, "account_id"},
			{"long account", noname.BindRequest{AccountID: strings.Repeat("1", 65), CustomerID: "cust-1"}, "account_id"},
			{"control character in account", noname.BindRequest{AccountID: "acct\n1", CustomerID: "cust-1"}, "account_id"},
			{"no customer", noname.BindRequest{AccountID: "acct-1"}, "customer_id"},
			{"long customer", noname.BindRequest{AccountID: "acct-1", CustomerID: strings.Repeat("c", 65)}, "customer_id"},
			{"invalid UTF-8 customer", noname.BindRequest{AccountID: "acct-1", CustomerID: "cust\xff"}, "customer_id"},
			{"printed name too short", noname.BindRequest{AccountID: "acct-1", CustomerID: "cust-1", PrintedName: "J"}, "printed_name"},
			{"printed name too long", noname.BindRequest{AccountID: "acct-1", CustomerID: "cust-1", PrintedName: strings.Repeat("J", 27)}, "printed_name"},
			{"printed name with a digit", noname.BindRequest{AccountID: "acct-1", CustomerID: "cust-1", PrintedName: "JANE DOE 2"}, "printed_name"},
			{"printed name with a hyphen", noname.BindRequest{AccountID: "acct-1", CustomerID: "cust-1", PrintedName: "JANE-DOE"}, "printed_name"},
			{"printed name not ASCII", noname.BindRequest{AccountID: "acct-1", CustomerID: "cust-1", PrintedName: "JOSÉ"}, "printed_name"},
			{"bad field and replaced card", noname.BindRequest{AccountID: "", CustomerID: "cust-1", ReissuedCardID: old.ID}, "account_id"},
			{"replaces itself", noname.BindRequest{AccountID: "acct-1", CustomerID: "cust-1", ReissuedCardID: id}, "reissued_card_id"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				tc.req.OrgID, tc.req.CardID = org, id
				_, err := e.Noname.Bind(t.Context(), tc.req)
				cardtest.WantInvalid(t, err, tc.field)
				unchanged(t, e, org, before, "a refused bind")
			})
		}
		if c := e.Card(t, org, id); c.Status != card.Unbound || c.Version != 1 {
			t.Fatalf("after refused binds: %+v", c)
		}
	})
}

// TestBindReplacing binds noname cards that replace a card, by SPEC
// section 4: the old card's fate is that of a PLASTIC reissue without
// must_block.
func TestBindReplacing(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		_, cs := startedBulk(t, e, extIDs("n", 20)...)
		next := 0
		fresh := func() card.Card {
			next++
			return cs[fmt.Sprintf("n-%d", next)]
		}
		bind := func(n, old card.Card) (noname.BindResult, cardtest.Events) {
			t.Helper()
			seq := e.Outbox(t, org).LastSeq()
			res := mustBind(t, e, noname.BindRequest{CardID: n.ID, AccountID: "acct-1", CustomerID: "cust-1", ReissuedCardID: old.ID})
			if res.Card.ReissuedCardID != old.ID || res.Card.TrackNumber != old.TrackNumber+1 ||
				res.Card.Status != card.Created || res.Card.AccountID != "acct-1" {
				t.Fatalf("bound %+v; want the successor of %d with track %d", res.Card, old.ID, old.TrackNumber+1)
			}
			if got := e.Card(t, org, n.ID); !reflect.DeepEqual(got, res.Card) {
				t.Fatalf("stored %+v\nanswered %+v", got, res.Card)
			}
			if res.Replaced == nil || res.Replaced.ID != old.ID {
				t.Fatalf("replaced %v; want card %d", res.Replaced, old.ID)
			}
			if got := e.Card(t, org, old.ID); !reflect.DeepEqual(got, *res.Replaced) {
				t.Fatalf("stored old card %+v\nanswered %+v", got, *res.Replaced)
			}
			evs := e.Outbox(t, org).Since(seq)
			bound := evs.OfCard(n.ID)
			if len(bound) != 1 || bound[0].Type != events.CustomerBound || bound[0].Card.ReissuedCardID != old.ID ||
				bound[0].Card.TrackNumber != old.TrackNumber+1 || bound[0].Card.AccountID != "acct-1" || bound[0].Card.CustomerID != "cust-1" {
				t.Fatalf("events of the bound card: %v", bound)
			}
			if successors(t, e, org, old.ID) != 1 {
				t.Fatalf("card %d has %d successors", old.ID, successors(t, e, org, old.ID))
			}
			return res, evs
		}
		// oldEvents fails unless evs hold the one update-1 of old moving to
		// status, or none when status is "".
		oldEvents := func(evs cardtest.Events, old card.Card, status string) {
			t.Helper()
			es := evs.OfCard(old.ID)
			if status == "" {
				if len(es) != 0 || len(evs) != 1 {
					t.Fatalf("the old card, unchanged, got events %v (of %d)", es, len(evs))
				}
				return
			}
			if len(es) != 1 || len(evs) != 2 || es[0].Type != events.CardUpdated || es[0].Card.CardStatus != status ||
				es[0].Card.CardPreviousStatus != old.Status.String() || es[0].Card.Version != old.Version+1 {
				t.Fatalf("events of the old card: %v (of %d); want one update-1 to %s", es, len(evs), status)
			}
		}

		t.Run("NORMAL PLASTIC", func(t *testing.T) {
			old := named(t, e, card.Plastic, "acct-1", card.Normal)
			n := fresh()
			res, evs := bind(n, old)
			if r := res.Replaced; r.Status != card.Reissued || r.PreviousStatus != card.Normal || r.Version != old.Version+1 {
				t.Fatalf("old card %+v; want REISSUED", r)
			}
			oldEvents(evs, old, "REISSUED")

			// Activating the noname card cancels its REISSUED predecessor.
			seq := e.Outbox(t, org).LastSeq()
			if _, err := e.Cards.Activate(t.Context(), org, n.ID); err != nil {
				t.Fatal(err)
			}
			if got := e.Card(t, org, old.ID); got.Status != card.Canceled || got.PreviousStatus != card.Reissued {
				t.Fatalf("predecessor after activation: %+v", got)
			}
			if es := e.Outbox(t, org).Since(seq).OfCard(old.ID); len(es) != 1 || es[0].Card.CardStatus != "CANCELED" {
				t.Fatalf("predecessor events after activation: %v", es)
			}
		})
		t.Run("VIRTUAL", func(t *testing.T) {
			old := named(t, e, card.Virtual, "acct-1", card.Normal)
			res, evs := bind(fresh(), old)
			if r := res.Replaced; r.Status != card.Canceled || r.PreviousStatus != card.Normal {
				t.Fatalf("old card %+v; want CANCELED", r)
			}
			oldEvents(evs, old, "CANCELED")
		})
		t.Run("BLOCKED PLASTIC", func(t *testing.T) {
			old := named(t, e, card.Plastic, "acct-1", card.Blocked)
			n := fresh()
			res, evs := bind(n, old)
			if !reflect.DeepEqual(*res.Replaced, old) {
				t.Fatalf("old card %+v; want it unchanged %+v", *res.Replaced, old)
			}
			oldEvents(evs, old, "")
			if _, err := e.Cards.Activate(t.Context(), org, n.ID); err != nil {
				t.Fatal(err)
			}
			if got := e.Card(t, org, old.ID); got.Status != card.Canceled || got.PreviousStatus != card.Blocked {
				t.Fatalf("BLOCKED predecessor after activation: %+v", got)
			}
		})
		t.Run("LOST PLASTIC", func(t *testing.T) {
			old := named(t, e, card.Plastic, "acct-1", card.Lost)
			n := fresh()
			res, evs := bind(n, old)
			if !reflect.DeepEqual(*res.Replaced, old) {
				t.Fatalf("old card %+v; want it unchanged", *res.Replaced)
			}
			oldEvents(evs, old, "")
			if _, err := e.Cards.Activate(t.Context(), org, n.ID); err != nil {
				t.Fatal(err)
			}
			if got := e.Card(t, org, old.ID); !reflect.DeepEqual(got, old) {
				t.Fatalf("terminated predecessor after activation: %+v", got)
			}
		})
		t.Run("CREATED PLASTIC", func(t *testing.T) {
			old := named(t, e, card.Plastic, "acct-1", card.Created)
			_, evs := bind(fresh(), old)
			oldEvents(evs, old, "")
		})
		t.Run("track number", func(t *testing.T) {
			first := named(t, e, card.Plastic, "acct-1", card.Normal)
			second, _ := bind(fresh(), first)
			third, _ := bind(fresh(), second.Card)
			if second.Card.TrackNumber != 2 || third.Card.TrackNumber != 3 {
				t.Fatalf("track numbers %d, %d; want 2, 3", second.Card.TrackNumber, third.Card.TrackNumber)
			}
		})

		refuse := func(t *testing.T, n card.Card, req noname.BindRequest, what string) *card.ConflictError {
			t.Helper()
			before := snap(t, e, org)
			req.OrgID, req.CardID = org, n.ID
			if req.AccountID == "" {
				req.AccountID, req.CustomerID = "acct-1", "cust-1"
			}
			_, err := e.Noname.Bind(t.Context(), req)
			ce := cardtest.WantConflict(t, err, what)
			unchanged(t, e, org, before, what)
			if c := e.Card(t, org, n.ID); c.Status != card.Unbound || c.Version != 1 {
				t.Fatalf("%s: the noname card is now %+v", what, c)
			}
			return ce
		}
		t.Run("another account", func(t *testing.T) {
			// Refused in the words of a card that does not exist, naming
			// neither its status nor its account (SPEC 11).
			old := named(t, e, card.Plastic, "acct-2", card.Normal)
			other := refuse(t, fresh(), noname.BindRequest{ReissuedCardID: old.ID}, "replace a card of another account")
			missing := refuse(t, fresh(), noname.BindRequest{ReissuedCardID: old.ID + 1<<40}, "replace a card that does not exist")
			if !other.Status.IsZero() || strings.Contains(other.Error(), "acct-2") {
				t.Errorf("the conflict about a card of another account tells of it: %+v", other)
			}
			if other.Reason != missing.Reason || other.Operation != missing.Operation || other.Status != missing.Status ||
				strings.ReplaceAll(other.Error(), strconv.FormatInt(old.ID, 10), "N") !=
					strings.ReplaceAll(missing.Error(), strconv.FormatInt(old.ID+1<<40, 10), "N") {
				t.Errorf("a card of another account: %q; one that does not exist: %q; want the same words", other, missing)
			}
		})
		t.Run("already has a successor", func(t *testing.T) {
			old := named(t, e, card.Plastic, "acct-1", card.Normal)
			bind(fresh(), old)
			refuse(t, fresh(), noname.BindRequest{ReissuedCardID: old.ID}, "replace a replaced card")
			if successors(t, e, org, old.ID) != 1 {
				t.Fatalf("card %d has %d successors", old.ID, successors(t, e, org, old.ID))
			}
		})
		t.Run("not eligible", func(t *testing.T) {
			unbound := fresh()
			for _, old := range []card.Card{
				unbound,
				unnumbered(t, e, "acct-1"),
				named(t, e, card.Plastic, "acct-1", card.Deleted),
			} {
				ce := refuse(t, fresh(), noname.BindRequest{ReissuedCardID: old.ID}, "replace a card in "+old.Status.String())
				if ce.CardID != old.ID || ce.Status != old.Status {
					t.Fatalf("conflict %+v; want it to name card %d in %s", ce, old.ID, old.Status)
				}
			}
		})
		t.Run("nonexistent", func(t *testing.T) {
			refuse(t, fresh(), noname.BindRequest{ReissuedCardID: 1 << 40}, "replace a card that does not exist")
		})
		t.Run("another org", func(t *testing.T) {
			otherOrgCard, err := e.Cards.Create(t.Context(), lifecycle.CreateRequest{OrgID: "org-2",
				AccountID: "acct-1", CustomerID: "cust-1", Type: card.Plastic})
			if err != nil {
				t.Fatal(err)
			}
			refuse(t, fresh(), noname.BindRequest{ReissuedCardID: otherOrgCard.ID}, "replace a card of another org")
		})
	})
}
