package events

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Publisher delivers events to the outside world (a broker, a webhook, a
// log). Publish must be safe to call again with the same event: the relay
// delivers at least once, and consumers de-duplicate on Event.ID. Publish is
// called from one goroutine at a time by a Relay.
type Publisher interface {
	Publish(ctx context.Context, e Event) error
}

// PublisherFunc adapts a function to Publisher.
type PublisherFunc func(ctx context.Context, e Event) error

// Publish calls f.
func (f PublisherFunc) Publish(ctx context.Context, e Event) error { return f(ctx, e) }

// Outbox is the store side of the transactional outbox: the events written
// in the same transaction as the changes they describe, read back in commit
// order. A store implements it.
type Outbox interface {
	// Pending returns up to limit events not yet marked published, in
	// outbox order (ascending Seq).
	Pending(ctx context.Context, limit int) ([]Event, error)
	// MarkPublished records that the events with these seqs were delivered.
	MarkPublished(ctx context.Context, seqs ...int64) error
}

// Relay moves events from an Outbox to a Publisher, at least once and in
// outbox order, so a card's events arrive in the order of its versions.
// When Publish fails the relay stops at that event and retries it on the
// next pass: no later event overtakes it.
type Relay struct {
	outbox Outbox
	pub    Publisher
	batch  int
	every  time.Duration
}

// RelayOption configures a Relay.
type RelayOption func(*Relay)

// WithBatch sets how many events a pass reads (default 100).
func WithBatch(n int) RelayOption { return func(r *Relay) { r.batch = n } }

// WithInterval sets how long Run waits when the outbox is empty or a
// publish failed (default 1s).
func WithInterval(d time.Duration) RelayOption { return func(r *Relay) { r.every = d } }

// NewRelay returns a relay from outbox to pub.
func NewRelay(outbox Outbox, pub Publisher, opts ...RelayOption) (*Relay, error) {
	if outbox == nil || pub == nil {
		return nil, errors.New("events: NewRelay needs an outbox and a publisher")
	}
	r := &Relay{outbox: outbox, pub: pub, batch: 100, every: time.Second}
	for _, o := range opts {
		o(r)
	}
	if r.batch <= 0 || r.every <= 0 {
		return nil, errors.New("events: relay batch and interval must be positive")
	}
	return r, nil
}

// Flush publishes pending events until the outbox is drained or a publish
// fails. It returns how many events it delivered.
func (r *Relay) Flush(ctx context.Context) (int, error) {
	total := 0
	for {
		evs, err := r.outbox.Pending(ctx, r.batch)
		if err != nil {
			return total, fmt.Errorf("events: read outbox: %w", err)
		}
		if len(evs) == 0 {
			return total, nil
		}
		for _, e := range evs {
			if err := r.pub.Publish(ctx, e); err != nil {
				return total, fmt.Errorf("events: publish %s (seq %d): %w", e.ID, e.Seq, err)
			}
			if err := r.outbox.MarkPublished(ctx, e.Seq); err != nil {
				return total, fmt.Errorf("events: mark seq %d published: %w", e.Seq, err)
			}
			total++
		}
	}
}

// Run flushes the outbox until ctx is done, waiting the interval between
// passes that found nothing or failed. It returns ctx's error.
func (r *Relay) Run(ctx context.Context, onError func(error)) error {
	t := time.NewTicker(r.every)
	defer t.Stop()
	for {
		if _, err := r.Flush(ctx); err != nil && onError != nil && ctx.Err() == nil {
			onError(err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
