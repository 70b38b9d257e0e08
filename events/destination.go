package events

import (
	"context"
	"fmt"
)

// Destination is where a subscription delivers the feed: a broker
// (NATS JetStream), a webhook endpoint, or any other system. A deliverer
// hands it the events after the subscription's cursor, in seq order, a
// batch at a time, from one goroutine at a time.
//
// Deliver returns how many events at the head of evs the destination has
// acknowledged: the deliverer moves the cursor past evs[:acked] and no
// further, so an event is never skipped. An error says why the rest was not
// acknowledged; the deliverer retries from evs[acked] with back-off, and
// nothing after it is delivered first. Delivery is at least once: after a
// crash or a lost lease an event may be delivered again, so a destination
// de-duplicates on Event.ID where it can (JetStream's Nats-Msg-Id, a
// webhook's webhook-id).
type Destination interface {
	Deliver(ctx context.Context, evs []Event) (acked int, err error)
}

// Publishing adapts a Publisher to a Destination: it publishes the events
// one at a time, in order, and stops at the first that fails.
func Publishing(p Publisher) Destination { return publishing{p} }

type publishing struct{ p Publisher }

func (d publishing) Deliver(ctx context.Context, evs []Event) (int, error) {
	for i, e := range evs {
		if err := d.p.Publish(ctx, e); err != nil {
			return i, fmt.Errorf("events: publish %s (seq %d): %w", e.ID, e.Seq, err)
		}
	}
	return len(evs), nil
}

// Publisher delivers one event to the outside world (a broker, a log).
// Publish must be safe to call again with the same event: delivery is at
// least once, and consumers de-duplicate on Event.ID. Publishing adapts a
// Publisher to a Destination.
type Publisher interface {
	Publish(ctx context.Context, e Event) error
}

// PublisherFunc adapts a function to Publisher.
type PublisherFunc func(ctx context.Context, e Event) error

// Publish calls f.
func (f PublisherFunc) Publish(ctx context.Context, e Event) error { return f(ctx, e) }
