package noname_test

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/cardtest"
	"github.com/cardcore/cardcore/noname"
)

func TestCreateBulk(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		b, err := e.Noname.Create(t.Context(), noname.CreateRequest{OrgID: org, ExternalIDs: []string{"a", "b", "c"}})
		if err != nil {
			t.Fatal(err)
		}
		if b.ID == "" || b.OrgID != org || b.ProgramID != card.DefaultProgramID || b.Status != card.BulkCreated ||
			b.ExternalIDs != 3 || b.Version != 1 || b.PINLength != 4 || !b.ContactlessEnabled {
			t.Fatalf("created %+v; want a CREATED bulk of program 1 with 3 external ids", b)
		}
		v, err := e.Noname.Get(t.Context(), org, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		if v.Bulk != b || len(v.Cards) != 0 {
			t.Fatalf("got %+v; want %+v with no cards", v, b)
		}
		if cs := bulkCards(t, e, org, b.ID); len(cs) != 0 {
			t.Fatalf("a CREATED bulk has %d cards", len(cs))
		}
		if evs := e.Outbox(t, org); len(evs) != 0 {
			t.Fatalf("creating a bulk emitted %d events", len(evs))
		}

		before := snap(t, e, org)
		for _, tc := range []struct {
			name  string
			req   noname.CreateRequest
			field string
		}{
			{"unknown program", noname.CreateRequest{OrgID: org, ProgramID: 99, ExternalIDs: []string{"a"}}, "program_id"},
			{"external id twice", noname.CreateRequest{OrgID: org, ExternalIDs: []string{"a", "b", "a"}}, "external_ids"},
			{"no external ids", noname.CreateRequest{OrgID: org, ExternalIDs: []string{}}, "external_ids"},
			{"nil external ids", noname.CreateRequest{OrgID: org}, "external_ids"},
			{"empty external id", noname.CreateRequest{OrgID: org, ExternalIDs: []string{"a", ""}}, "external_ids"},
			{"bad pin length", noname.CreateRequest{OrgID: org, ExternalIDs: []string{"a"}, PINLength: 5}, "pin_length"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := e.Noname.Create(t.Context(), tc.req)
				cardtest.WantInvalid(t, err, tc.field)
				unchanged(t, e, org, before, "a refused create")
			})
		}
	})
}

// TestCreateBulkOfProgram makes a bulk under a configured program: its
// cards take the program's expiration and the bulk's options.
func TestCreateBulkOfProgram(t *testing.T) {
	program7 := card.Program{ID: 7, BIN: "12345678", Brand: card.Visa, ExpirationMonths: 12}
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		off := false
		b, err := e.Noname.Create(t.Context(), noname.CreateRequest{OrgID: org, ProgramID: 7,
			ExternalIDs: []string{"a"}, PINLength: 6, ContactlessEnabled: &off})
		if err != nil {
			t.Fatal(err)
		}
		mustStart(t, e, b.ID)
		c := bulkCards(t, e, org, b.ID)["a"]
		if c.ProgramID != 7 || c.PINLength != 6 || c.ContactlessEnabled ||
			!c.ExpirationDate.Equal(card.MonthOf(cardtest.T0).AddDate(0, 12, 0)) {
			t.Fatalf("card of program 7: %+v", c)
		}
	}, cardtest.Programs(program7))
}

func TestStartBulk(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		ids := []string{"ext-a", "ext-b", "ext-c", "ext-d", "ext-e"}
		created := mustCreateBulk(t, e, ids...)
		b, err := e.Noname.Start(t.Context(), org, created.ID)
		if err != nil {
			t.Fatal(err)
		}
		if b.Status != card.BulkStarted || b.ExternalIDs != len(ids) || b.Version != 2 {
			t.Fatalf("started %+v", b)
		}
		cs := bulkCards(t, e, org, b.ID)
		if len(cs) != len(ids) {
			t.Fatalf("%d cards for %d external ids", len(cs), len(ids))
		}
		evs := e.Outbox(t, org)
		if len(evs) != len(ids) {
			t.Fatalf("%d events for %d cards", len(evs), len(ids))
		}
		for _, ext := range ids {
			c, ok := cs[ext]
			if !ok {
				t.Fatalf("no card for external id %s", ext)
			}
			if c.Status != card.Unbound || c.Type != card.Plastic || c.Name != card.PlasticName ||
				c.AccountID != "" || c.CustomerID != "" || c.BulkID != b.ID || c.Version != 1 ||
				c.TrackNumber != 1 || c.ReissuedCardID != 0 || c.ProgramID != card.DefaultProgramID ||
				!c.IssuingDate.Equal(cardtest.T0) || c.Token == "" {
				t.Fatalf("card of %s: %+v", ext, c)
			}
			es := evs.OfCard(c.ID)
			if len(es) != 1 || es[0].Type != events.CardCreated {
				t.Fatalf("card %d has events %v; want one create-1", c.ID, es)
			}
			d := es[0].Card
			if d.BulkID != b.ID || d.ExternalID != ext || d.CardStatus != "UNBOUND" || d.CardType != "PLASTIC" ||
				d.ProgramID != card.DefaultProgramID || d.Version != 1 || d.AccountID != "" || d.CustomerID != "" {
				t.Fatalf("create-1 of card %d: %s", c.ID, es[0].Data)
			}
			for _, key := range []string{"bulk_id", "external_id", "card_status", "card_id", "program_id"} {
				if _, ok := es[0].Keys()[key]; !ok {
					t.Fatalf("create-1 of card %d has no %s: %s", c.ID, key, es[0].Data)
				}
			}
		}
		v, err := e.Noname.Get(t.Context(), org, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		if v.Status != card.BulkStarted || len(v.Cards) != 1 || v.Cards[card.Unbound] != len(ids) {
			t.Fatalf("got %+v; want STARTED with %d UNBOUND cards", v, len(ids))
		}

		before := snap(t, e, org)
		_, err = e.Noname.Start(t.Context(), org, b.ID)
		cardtest.WantConflict(t, err, "start a STARTED bulk")
		unchanged(t, e, org, before, "a second start")

		_, err = e.Noname.Start(t.Context(), org, "no-such-bulk")
		cardtest.WantNotFound(t, err, "start an unknown bulk")
		unchanged(t, e, org, before, "a start of an unknown bulk")
	})
}

// TestStartBulkInBatches starts bulks larger than the batch, and ones whose
// size is a multiple of it: every external id gets exactly one card and
// one create-1.
func TestStartBulkInBatches(t *testing.T) {
	for _, tc := range []struct{ n, batch int }{{2345, 1000}, {2000, 1000}, {3, 1}, {10, 3}} {
		t.Run(fmt.Sprintf("%d by %d", tc.n, tc.batch), func(t *testing.T) {
			cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
				ids := extIDs("ext", tc.n)
				b := mustCreateBulk(t, e, ids...)
				b = mustStart(t, e, b.ID)
				cs := bulkCards(t, e, org, b.ID)
				if len(cs) != tc.n {
					t.Fatalf("%d cards for %d external ids", len(cs), tc.n)
				}
				creates := map[string]int{}
				for _, ev := range e.Outbox(t, org) {
					if ev.Type != events.CardCreated || ev.Card.BulkID != b.ID || ev.Card.CardStatus != "UNBOUND" {
						t.Fatalf("unexpected event %s %s", ev.Type, ev.Data)
					}
					if cs[ev.Card.ExternalID].ID != ev.CardID {
						t.Fatalf("create-1 of external id %s names card %d", ev.Card.ExternalID, ev.CardID)
					}
					creates[ev.Card.ExternalID]++
				}
				for _, ext := range ids {
					if c := cs[ext]; c.Status != card.Unbound || creates[ext] != 1 {
						t.Fatalf("external id %s: card %+v with %d create-1", ext, c, creates[ext])
					}
				}
				v, err := e.Noname.Get(t.Context(), org, b.ID)
				if err != nil || v.Cards[card.Unbound] != tc.n || len(v.Cards) != 1 || v.ExternalIDs != tc.n {
					t.Fatalf("got %+v, %v", v, err)
				}
			}, cardtest.BulkBatch(tc.batch))
		})
	}
}

func TestIncrementBulk(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		t.Run("created", func(t *testing.T) {
			b := mustCreateBulk(t, e, "a", "b")
			got, err := e.Noname.Increment(t.Context(), org, b.ID, []string{"c", "d"})
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != card.BulkCreated || got.ExternalIDs != 4 || got.Version != 2 {
				t.Fatalf("incremented %+v", got)
			}
			if cs := bulkCards(t, e, org, b.ID); len(cs) != 0 {
				t.Fatalf("incrementing a CREATED bulk made %d cards", len(cs))
			}
			if evs := e.Outbox(t, org); len(evs) != 0 {
				t.Fatalf("incrementing a CREATED bulk emitted %d events", len(evs))
			}

			before := snap(t, e, org)
			_, err = e.Noname.Increment(t.Context(), org, b.ID, []string{"e", "b"})
			cardtest.WantConflict(t, err, "increment with an id the bulk holds")
			unchanged(t, e, org, before, "a refused increment")

			mustStart(t, e, b.ID)
			cs := bulkCards(t, e, org, b.ID)
			if len(cs) != 4 {
				t.Fatalf("started with %d cards, want 4", len(cs))
			}
			if _, ok := cs["e"]; ok {
				t.Fatal("the refused increment added e")
			}
		})
		t.Run("started", func(t *testing.T) {
			b, _ := startedBulk(t, e, "a", "b")
			seq := e.Outbox(t, org).LastSeq()
			got, err := e.Noname.Increment(t.Context(), org, b.ID, []string{"x", "y"})
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != card.BulkStarted || got.ExternalIDs != 4 || got.Version != b.Version+1 {
				t.Fatalf("incremented %+v", got)
			}
			cs := bulkCards(t, e, org, b.ID)
			evs := e.Outbox(t, org).Since(seq)
			if len(cs) != 4 || len(evs) != 2 {
				t.Fatalf("%d cards and %d new events; want 4 and 2", len(cs), len(evs))
			}
			for _, ext := range []string{"x", "y"} {
				c := cs[ext]
				es := evs.OfCard(c.ID)
				if c.Status != card.Unbound || c.BulkID != b.ID || len(es) != 1 || es[0].Type != events.CardCreated ||
					es[0].Card.ExternalID != ext || es[0].Card.BulkID != b.ID || es[0].Card.CardStatus != "UNBOUND" {
					t.Fatalf("card of %s: %+v, events %v", ext, c, es)
				}
			}
			v, _ := e.Noname.Get(t.Context(), org, b.ID)
			if v.Cards[card.Unbound] != 4 || v.ExternalIDs != 4 {
				t.Fatalf("got %+v", v)
			}

			before := snap(t, e, org)
			_, err = e.Noname.Increment(t.Context(), org, b.ID, []string{"z", "x"})
			cardtest.WantConflict(t, err, "increment with an id the bulk holds")
			unchanged(t, e, org, before, "a refused increment")
			// z was not added: it can be added now.
			if _, err := e.Noname.Increment(t.Context(), org, b.ID, []string{"z"}); err != nil {
				t.Fatalf("increment with z after the refused one: %v", err)
			}
		})
		t.Run("invalid", func(t *testing.T) {
			b := mustCreateBulk(t, e, "a")
			before := snap(t, e, org)
			_, err := e.Noname.Increment(t.Context(), org, b.ID, []string{"b", "b"})
			cardtest.WantInvalid(t, err, "external_ids")
			_, err = e.Noname.Increment(t.Context(), org, b.ID, nil)
			cardtest.WantInvalid(t, err, "external_ids")
			unchanged(t, e, org, before, "a refused increment")
		})
		t.Run("same id in another bulk", func(t *testing.T) {
			b1, _ := startedBulk(t, e, "shared")
			b2, cs := startedBulk(t, e, "shared")
			if cs["shared"].BulkID != b2.ID || bulkCards(t, e, org, b1.ID)["shared"].ID == cs["shared"].ID {
				t.Fatal("two bulks share a card")
			}
		})
		t.Run("canceled", func(t *testing.T) {
			b, _ := startedBulk(t, e, "a")
			if _, _, err := e.Noname.Cancel(t.Context(), org, b.ID, noname.CancelFull, nil); err != nil {
				t.Fatal(err)
			}
			before := snap(t, e, org)
			_, err := e.Noname.Increment(t.Context(), org, b.ID, []string{"b"})
			cardtest.WantConflict(t, err, "increment a CANCELED bulk")
			unchanged(t, e, org, before, "an increment of a CANCELED bulk")
		})
	})
}

func TestCancelBulkFull(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		b, cs := cancelFixture(t, e)
		mustBind(t, e, noname.BindRequest{CardID: cs["c"].ID, AccountID: "acct-2", CustomerID: "cust-2"})
		if _, err := e.Cards.Activate(t.Context(), org, cs["c"].ID); err != nil {
			t.Fatal(err)
		}
		boundB, boundC := e.Card(t, org, cs["b"].ID), e.Card(t, org, cs["c"].ID)
		seq := e.Outbox(t, org).LastSeq()

		got, canceled, err := e.Noname.Cancel(t.Context(), org, b.ID, noname.CancelFull, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := sortedIDs([]int64{cs["a"].ID, cs["d"].ID})
		if got.Status != card.BulkCanceled || !slices.Equal(sortedIDs(canceled), want) {
			t.Fatalf("canceled %+v, cards %v; want CANCELED and cards %v", got, canceled, want)
		}
		for _, ext := range []string{"a", "d"} {
			c := e.Card(t, org, cs[ext].ID)
			if c.Status != card.Canceled || c.PreviousStatus != card.Unbound || c.Version != 2 || c.AccountID != "" {
				t.Fatalf("card of %s after a FULL cancel: %+v", ext, c)
			}
		}
		if c := e.Card(t, org, cs["b"].ID); !reflect.DeepEqual(c, boundB) {
			t.Fatalf("the cancel touched bound card b: %+v", c)
		}
		if c := e.Card(t, org, cs["c"].ID); !reflect.DeepEqual(c, boundC) {
			t.Fatalf("the cancel touched bound card c: %+v", c)
		}

		evs := e.Outbox(t, org).Since(seq)
		checkCancelEvents(t, evs, b.ID, noname.CancelFull, want)

		v, err := e.Noname.Get(t.Context(), org, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantCounts := map[card.Status]int{card.Canceled: 2, card.Created: 1, card.Normal: 1}
		if v.Status != card.BulkCanceled || !mapsEqual(v.Cards, wantCounts) {
			t.Fatalf("got %+v; want CANCELED with %v", v, wantCounts)
		}

		before := snap(t, e, org)
		_, _, err = e.Noname.Cancel(t.Context(), org, b.ID, noname.CancelFull, nil)
		cardtest.WantConflict(t, err, "cancel a CANCELED bulk")
		_, _, err = e.Noname.Cancel(t.Context(), org, b.ID, noname.CancelPartial, []string{"a"})
		cardtest.WantConflict(t, err, "cancel a CANCELED bulk partially")
		_, err = e.Noname.Start(t.Context(), org, b.ID)
		cardtest.WantConflict(t, err, "start a CANCELED bulk")
		unchanged(t, e, org, before, "a refused cancel")
	})
}

func TestCancelCreatedBulk(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		b := mustCreateBulk(t, e, "a", "b")
		before := snap(t, e, org)
		_, _, err := e.Noname.Cancel(t.Context(), org, b.ID, noname.CancelPartial, []string{"a"})
		cardtest.WantConflict(t, err, "PARTIAL cancel of a CREATED bulk")
		unchanged(t, e, org, before, "a PARTIAL cancel of a CREATED bulk")

		got, canceled, err := e.Noname.Cancel(t.Context(), org, b.ID, noname.CancelFull, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != card.BulkCanceled || len(canceled) != 0 {
			t.Fatalf("canceled %+v, cards %v", got, canceled)
		}
		evs := e.Outbox(t, org)
		checkCancelEvents(t, evs, b.ID, noname.CancelFull, []int64{})
		if string(evs[0].Keys()["card_ids"]) != "[]" {
			t.Fatalf("card_ids is %s, want []", evs[0].Keys()["card_ids"])
		}
		if cs := bulkCards(t, e, org, b.ID); len(cs) != 0 {
			t.Fatalf("a canceled CREATED bulk has %d cards", len(cs))
		}
		before = snap(t, e, org)
		_, err = e.Noname.Start(t.Context(), org, b.ID)
		cardtest.WantConflict(t, err, "start a CANCELED bulk")
		unchanged(t, e, org, before, "a start of a CANCELED bulk")
	})
}

func TestCancelBulkPartial(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		b, cs := cancelFixture(t, e)
		boundB := e.Card(t, org, cs["b"].ID)
		seq := e.Outbox(t, org).LastSeq()

		got, canceled, err := e.Noname.Cancel(t.Context(), org, b.ID, noname.CancelPartial, []string{"a", "b", "not-in-bulk"})
		if err != nil {
			t.Fatal(err)
		}
		want := []int64{cs["a"].ID}
		if got.Status != card.BulkStarted || !slices.Equal(canceled, want) {
			t.Fatalf("canceled %+v, cards %v; want STARTED and %v", got, canceled, want)
		}
		if c := e.Card(t, org, cs["a"].ID); c.Status != card.Canceled || c.PreviousStatus != card.Unbound || c.Version != 2 {
			t.Fatalf("card a: %+v", c)
		}
		if c := e.Card(t, org, cs["b"].ID); !reflect.DeepEqual(c, boundB) {
			t.Fatalf("the cancel touched bound card b: %+v", c)
		}
		for _, ext := range []string{"c", "d"} {
			if c := e.Card(t, org, cs[ext].ID); c.Status != card.Unbound || c.Version != 1 {
				t.Fatalf("unlisted card %s: %+v", ext, c)
			}
		}
		checkCancelEvents(t, e.Outbox(t, org).Since(seq), b.ID, noname.CancelPartial, want)
		v, _ := e.Noname.Get(t.Context(), org, b.ID)
		if want := map[card.Status]int{card.Canceled: 1, card.Created: 1, card.Unbound: 2}; v.Status != card.BulkStarted || !mapsEqual(v.Cards, want) {
			t.Fatalf("got %+v, want STARTED with %v", v, want)
		}

		// Listing only cards that are no longer UNBOUND cancels nothing.
		seq = e.Outbox(t, org).LastSeq()
		cards := snap(t, e, org).Cards
		_, canceled, err = e.Noname.Cancel(t.Context(), org, b.ID, noname.CancelPartial, []string{"a", "b"})
		if err != nil || len(canceled) != 0 {
			t.Fatalf("second PARTIAL cancel: %v, %v", canceled, err)
		}
		if after := snap(t, e, org).Cards; !reflect.DeepEqual(after, cards) {
			t.Fatal("a PARTIAL cancel of bound and canceled cards changed a card")
		}
		checkCancelEvents(t, e.Outbox(t, org).Since(seq), b.ID, noname.CancelPartial, []int64{})

		before := snap(t, e, org)
		for _, tc := range []struct {
			name, typ string
			ids       []string
			field     string
		}{
			{"PARTIAL without ids", noname.CancelPartial, nil, "external_ids"},
			{"PARTIAL with an empty list", noname.CancelPartial, []string{}, "external_ids"},
			{"PARTIAL with an id twice", noname.CancelPartial, []string{"c", "c"}, "external_ids"},
			{"FULL with ids", noname.CancelFull, []string{"c"}, "external_ids"},
			{"no type", "", nil, "cancel_type"},
			{"lower case", "full", nil, "cancel_type"},
			{"unknown type", "ALL", []string{"c"}, "cancel_type"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, _, err := e.Noname.Cancel(t.Context(), org, b.ID, tc.typ, tc.ids)
				cardtest.WantInvalid(t, err, tc.field)
				unchanged(t, e, org, before, "a refused cancel")
			})
		}

		// A FULL cancel then takes the UNBOUND cards that are left.
		seq = e.Outbox(t, org).LastSeq()
		_, canceled, err = e.Noname.Cancel(t.Context(), org, b.ID, noname.CancelFull, nil)
		want = sortedIDs([]int64{cs["c"].ID, cs["d"].ID})
		if err != nil || !slices.Equal(sortedIDs(canceled), want) {
			t.Fatalf("FULL after PARTIAL: %v, %v; want %v", canceled, err, want)
		}
		checkCancelEvents(t, e.Outbox(t, org).Since(seq), b.ID, noname.CancelFull, want)
	})
}

// checkCancelEvents fails unless evs are exactly the events of one bulk
// cancel: one noname_cancellation-1 whose data is {bulk_id, cancel_type,
// card_ids} naming exactly ids, and one update-1 per canceled card.
func checkCancelEvents(t *testing.T, evs cardtest.Events, bulk, cancelType string, ids []int64) {
	t.Helper()
	cancels := evs.OfType(events.NonameCancellation)
	if len(cancels) != 1 {
		t.Fatalf("%d noname_cancellation-1 events, want 1", len(cancels))
	}
	c := cancels[0]
	if len(c.Keys()) != 3 || c.Cancel.BulkID != bulk || c.Cancel.CancelType != cancelType ||
		!slices.Equal(sortedIDs(c.Cancel.CardIDs), ids) || c.CardID != 0 {
		t.Fatalf("noname_cancellation-1 %s; want bulk %s, %s, cards %v", c.Data, bulk, cancelType, ids)
	}
	updates := evs.OfType(events.CardUpdated)
	if len(updates) != len(ids) || len(evs) != len(ids)+1 {
		t.Fatalf("%d events with %d update-1 for %d canceled cards", len(evs), len(updates), len(ids))
	}
	var updated []int64
	for _, u := range updates {
		if u.Card.CardStatus != "CANCELED" || u.Card.CardPreviousStatus != "UNBOUND" || u.Card.BulkID != bulk || u.Card.Version != 2 {
			t.Fatalf("update-1 of a canceled card: %s", u.Data)
		}
		updated = append(updated, u.CardID)
	}
	if !slices.Equal(sortedIDs(updated), ids) {
		t.Fatalf("update-1 for cards %v, want %v", sortedIDs(updated), ids)
	}
}

func mapsEqual(got, want map[card.Status]int) bool {
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

func TestGetBulk(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		b := mustCreateBulk(t, e, "a", "b", "c", "d", "e")
		v, err := e.Noname.Get(t.Context(), org, b.ID)
		if err != nil || v.Cards == nil || len(v.Cards) != 0 || v.ExternalIDs != 5 || v.Status != card.BulkCreated {
			t.Fatalf("before start: %+v, %v; want CREATED with an empty, non-nil count", v, err)
		}
		mustStart(t, e, b.ID)
		cs := bulkCards(t, e, org, b.ID)
		mustBind(t, e, noname.BindRequest{CardID: cs["a"].ID, AccountID: "acct-1", CustomerID: "cust-1"})
		mustBind(t, e, noname.BindRequest{CardID: cs["b"].ID, AccountID: "acct-1", CustomerID: "cust-1"})
		if _, err := e.Cards.Activate(t.Context(), org, cs["b"].ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.Noname.Cancel(t.Context(), org, b.ID, noname.CancelPartial, []string{"c"}); err != nil {
			t.Fatal(err)
		}
		v, err = e.Noname.Get(t.Context(), org, b.ID)
		want := map[card.Status]int{card.Created: 1, card.Normal: 1, card.Canceled: 1, card.Unbound: 2}
		if err != nil || !mapsEqual(v.Cards, want) {
			t.Fatalf("got %v, %v; want %v (statuses with no card absent)", v.Cards, err, want)
		}
		for st, n := range v.Cards {
			if n == 0 {
				t.Fatalf("status %s is listed with 0 cards", st)
			}
		}
		_, err = e.Noname.Get(t.Context(), org, "no-such-bulk")
		cardtest.WantNotFound(t, err, "get an unknown bulk")
	})
}

// TestBulkOrgScoping: another org sees none of a bulk and cannot change it.
func TestBulkOrgScoping(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		created := mustCreateBulk(t, e, "x")
		started, cs := startedBulk(t, e, "a", "b")
		const other = "org-2"
		before := snap(t, e, org)
		for _, id := range []string{created.ID, started.ID} {
			_, err := e.Noname.Get(t.Context(), other, id)
			cardtest.WantNotFound(t, err, "get from another org")
			_, err = e.Noname.Start(t.Context(), other, id)
			cardtest.WantNotFound(t, err, "start from another org")
			_, err = e.Noname.Increment(t.Context(), other, id, []string{"c"})
			cardtest.WantNotFound(t, err, "increment from another org")
			_, _, err = e.Noname.Cancel(t.Context(), other, id, noname.CancelFull, nil)
			cardtest.WantNotFound(t, err, "cancel from another org")
			_, _, err = e.Noname.Cancel(t.Context(), other, id, noname.CancelPartial, []string{"a"})
			cardtest.WantNotFound(t, err, "cancel from another org")
		}
		_, err := e.Noname.Bind(t.Context(), noname.BindRequest{OrgID: other, CardID: cs["a"].ID, AccountID: "acct-1", CustomerID: "cust-1"})
		cardtest.WantNotFound(t, err, "bind from another org")
		unchanged(t, e, org, before, "calls from another org")
		if evs := e.Outbox(t, other); len(evs) != 0 {
			t.Fatalf("calls from another org emitted %d events", len(evs))
		}
	})
}
