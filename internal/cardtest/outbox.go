package cardtest

import (
	"context"
	"encoding/json"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
)

// Event is an outbox event with its data decoded.
type Event struct {
	events.Event
	Card   events.CardData         // the data of a card event
	Cancel events.CancellationData // the data of a noname_cancellation-1
}

// Keys returns the keys of the event's data, to see which it carries.
func (e Event) Keys() map[string]json.RawMessage {
	var keys map[string]json.RawMessage
	_ = json.Unmarshal(e.Data, &keys) // Outbox has decoded it once already
	return keys
}

// Events are outbox events in outbox order.
type Events []Event

// Outbox returns the committed events of org in feed order, but for those
// of the fixtures Insert wrote, each with a well-formed envelope and, for a
// card event, data naming the card of the envelope.
func (e *Env) Outbox(t TB, org string) Events {
	t.Helper()
	evs := e.feed(t, org)
	e.mu.Lock()
	defer e.mu.Unlock()
	var out Events
	for _, ev := range evs {
		if e.fixtures[ev.ID] {
			continue
		}
		x := Event{Event: ev}
		data := any(&x.Card)
		if ev.Type == events.NonameCancellation {
			data = &x.Cancel
		}
		if err := json.Unmarshal(ev.Data, data); err != nil {
			t.Fatalf("event %d data %s: %v", ev.Seq, ev.Data, err)
		}
		if ev.Type != events.NonameCancellation && x.Card.CardID != ev.CardID {
			t.Fatalf("event %d: data card_id %d, envelope card %d", ev.Seq, x.Card.CardID, ev.CardID)
		}
		if ev.Domain != events.Domain || ev.SchemaVersion != events.SchemaVersion || ev.ID == "" || ev.CID == "" {
			t.Fatalf("event %d has a bad envelope: %+v", ev.Seq, ev)
		}
		out = append(out, x)
	}
	return out
}

// feed returns org's whole feed.
func (e *Env) feed(t TB, org string) []events.Event {
	t.Helper()
	var all []events.Event
	for after := int64(0); ; {
		page, err := e.Store.Feed(context.Background(), org, after, 10000)
		if err != nil {
			t.Fatalf("read the feed of %s: %v", org, err)
		}
		if len(page) == 0 {
			return all
		}
		all = append(all, page...)
		after = page[len(page)-1].Seq
	}
}

// WantEvents fails unless org's outbox holds n events, and returns them.
func (e *Env) WantEvents(t TB, org string, n int) Events {
	t.Helper()
	evs := e.Outbox(t, org)
	if len(evs) != n {
		t.Fatalf("the outbox of %s holds %d events, want %d: %v", org, len(evs), n, evs)
	}
	return evs
}

// ByCard groups the events by card; events of no card are under 0.
func (es Events) ByCard() map[int64]Events {
	out := map[int64]Events{}
	for _, e := range es {
		out[e.CardID] = append(out[e.CardID], e)
	}
	return out
}

// Since returns the events after seq.
func (es Events) Since(seq int64) Events {
	i := 0
	for i < len(es) && es[i].Seq <= seq {
		i++
	}
	return es[i:]
}

// LastSeq is the seq of the last event, 0 for none.
func (es Events) LastSeq() int64 {
	if len(es) == 0 {
		return 0
	}
	return es[len(es)-1].Seq
}

// OfCard returns the events of card id.
func (es Events) OfCard(id int64) Events {
	var out Events
	for _, e := range es {
		if e.CardID == id {
			out = append(out, e)
		}
	}
	return out
}

// OfType returns the events of type typ.
func (es Events) OfType(typ events.Type) Events {
	var out Events
	for _, e := range es {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// WantTypes fails unless es, the events of card id, are of the given
// types, in order.
func WantTypes(t TB, id int64, es Events, types ...events.Type) {
	t.Helper()
	if len(es) != len(types) {
		t.Fatalf("card %d has %d events, want %v", id, len(es), types)
	}
	for i, e := range es {
		if e.Type != types[i] {
			t.Fatalf("card %d: event %d is %s, want %s", id, i, e.Type, types[i])
		}
	}
}

// CheckVersions fails unless es, the events of card id, carry versions
// 1..c.Version in order, the first a create-1 and the others update-1, the
// last one with the card's status: one event per committed change.
func CheckVersions(t TB, id int64, es Events, c card.Card) {
	t.Helper()
	if int64(len(es)) != c.Version {
		t.Fatalf("card %d at version %d has %d events with versions %v", id, c.Version, len(es), es.versions())
	}
	for i, e := range es {
		want := int64(i + 1)
		if e.Card.Version != want {
			t.Fatalf("card %d: event %d has version %d (versions %v)", id, i, e.Card.Version, es.versions())
		}
		wantType := events.CardUpdated
		if want == 1 {
			wantType = events.CardCreated
		}
		if e.Type != wantType {
			t.Fatalf("card %d: the event of version %d is %s, want %s", id, want, e.Type, wantType)
		}
	}
	if n := len(es); n > 0 && es[n-1].Card.CardStatus != c.Status.String() {
		t.Fatalf("card %d is %s but its last event says %s", id, c.Status, es[n-1].Card.CardStatus)
	}
}

func (es Events) versions() []int64 {
	vs := make([]int64, len(es))
	for i, e := range es {
		vs[i] = e.Card.Version
	}
	return vs
}
